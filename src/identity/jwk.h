// Jwk and KeySet: public verification keys from a JSON Web Key Set
// (RFC 7517), converted to OpenSSL EVP_PKEYs once, when the set is parsed.
//
// Supported: kty RSA (n, e; at least 2048 bits) for RS256 and kty EC on
// P-256 (x, y) for ES256. Other key types and curves are refused with a
// message naming them; a KeySet skips such keys (real issuers publish
// encryption keys and other algorithms beside their signing keys) and keeps
// the reasons, so that a token naming a skipped key gets a precise error.
//
// Thread-safety: a Jwk and a KeySet are immutable after construction; any
// number of threads may call verify() and find() concurrently.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

struct evp_pkey_st;

namespace portcullis::identity {

class Jwk {
 public:
  enum class Kind { Rsa, EcP256 };

  // `jwk` is one member of a JWKS "keys" array. Private members (d, p, q...)
  // are ignored; only the public part is used.
  static Result<Jwk> from_json(const Json& jwk);

  const std::string& kid() const { return kid_; }  // may be empty
  const std::string& alg() const { return alg_; }  // the JWK's own "alg"; may be empty
  Kind kind() const { return kind_; }
  const char* kind_name() const;  // "RSA" or "EC P-256"
  // The JWS algorithm this key verifies: "RS256" (Rsa) or "ES256" (EcP256).
  const char* jws_alg() const;

  // True when `signature` is a valid signature over `data` under this key
  // with its jws_alg(). ES256 signatures are JOSE raw r||s (64 bytes).
  bool verify(std::string_view data, std::string_view signature) const;

 private:
  std::shared_ptr<evp_pkey_st> pkey_;
  std::string kid_, alg_;
  Kind kind_ = Kind::Rsa;
};

struct KeySet {
  std::vector<Jwk> keys;
  std::vector<std::pair<std::string, std::string>> skipped;  // kid -> why it was not usable

  // Parses {"keys": [...]}; fails only when the document is not a key set at
  // all. Unusable keys land in `skipped`.
  static Result<KeySet> parse(const Json& jwks);
  const Jwk* find(std::string_view kid) const;
  // Why the key `kid` was skipped, or empty if it was not.
  std::string skipped_reason(std::string_view kid) const;
};

}  // namespace portcullis::identity
