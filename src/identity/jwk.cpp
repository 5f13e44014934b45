#include "identity/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "core/base64.h"
#include "core/text.h"

namespace portcullis::identity {

using text::quote;

namespace {

constexpr int kMinRsaBits = 2048;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

struct Params {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  ~Params() {
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
  }
};

// A base64url member of the JWK, decoded.
Result<std::string> member(const Json& jwk, const char* name, const std::string& what) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return fail(what + " has no " + quote(name) + " member");
  auto bytes = base64url_decode(it->get_ref<const std::string&>());
  if (!bytes || bytes->empty()) return fail(what + ": " + quote(name) + " is not valid base64url");
  return std::move(*bytes);
}

Result<std::shared_ptr<evp_pkey_st>> from_params(const char* type, Params& p,
                                                 const std::string& what) {
  p.params = OSSL_PARAM_BLD_to_param(p.bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = ctx && p.params && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, p.params) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) {
    EVP_PKEY_free(pkey);
    return fail(what + " is not a valid " + type + " public key");
  }
  // EVP_PKEY_fromdata does not check that an EC point lies on the curve.
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  ok = check && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!ok) {
    EVP_PKEY_free(pkey);
    return fail(what + " is not a valid " + type + " public key (public key check failed)");
  }
  return std::shared_ptr<evp_pkey_st>(pkey, EVP_PKEY_free);
}

Result<std::shared_ptr<evp_pkey_st>> rsa_key(const Json& jwk, const std::string& what) {
  auto n = member(jwk, "n", what);
  if (!n) return fail(n.error());
  auto e = member(jwk, "e", what);
  if (!e) return fail(e.error());
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()),
                    nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()),
                    nullptr));
  if (!bn_n || !bn_e) return fail(what + ": out of memory");
  if (BN_num_bits(bn_n.get()) < kMinRsaBits)
    return fail(what + " is a " + std::to_string(BN_num_bits(bn_n.get())) +
                "-bit RSA key; at least " + std::to_string(kMinRsaBits) + " bits are required");
  Params p;
  if (!p.bld || OSSL_PARAM_BLD_push_BN(p.bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(p.bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return fail(what + ": out of memory");
  return from_params("RSA", p, what);
}

Result<std::shared_ptr<evp_pkey_st>> ec_key(const Json& jwk, const std::string& what) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) return fail(what + " has no 'crv' member");
  if (*crv != "P-256")
    return fail(what + " uses curve " + quote(crv->get<std::string>()) +
                "; only P-256 (ES256) is supported");
  auto x = member(jwk, "x", what);
  if (!x) return fail(x.error());
  auto y = member(jwk, "y", what);
  if (!y) return fail(y.error());
  if (x->size() != 32 || y->size() != 32)
    return fail(what + ": P-256 coordinates must be 32 bytes each");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  Params p;
  char group[] = "prime256v1";
  if (!p.bld || OSSL_PARAM_BLD_push_utf8_string(p.bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(p.bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return fail(what + ": out of memory");
  return from_params("EC", p, what);
}

// JOSE ES256 signatures are r||s (32 bytes each); OpenSSL wants DER.
std::string ecdsa_raw_to_der(std::string_view raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (!sig) return {};
  const auto* b = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(b, 32, nullptr);
  BIGNUM* s = BN_bin2bn(b + 32, 32, nullptr);
  std::string der;
  if (r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = nullptr;  // owned by sig now
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    if (len > 0) der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return der;
}

}  // namespace

Result<Jwk> Jwk::from_json(const Json& jwk) {
  if (!jwk.is_object()) return fail("a JWKS key must be a JSON object");
  Jwk k;
  if (auto it = jwk.find("kid"); it != jwk.end() && it->is_string())
    k.kid_ = it->get<std::string>();
  if (auto it = jwk.find("alg"); it != jwk.end() && it->is_string())
    k.alg_ = it->get<std::string>();
  const std::string what = k.kid_.empty() ? std::string("key without kid") : "key " + quote(k.kid_);
  if (auto it = jwk.find("use"); it != jwk.end() && *it != "sig")
    return fail(what + " is not a signing key (use " + it->dump() + ")");
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return fail(what + " has no 'kty' member");
  Result<std::shared_ptr<evp_pkey_st>> pkey = fail("");
  if (*kty == "RSA") {
    k.kind_ = Kind::Rsa;
    pkey = rsa_key(jwk, what);
  } else if (*kty == "EC") {
    k.kind_ = Kind::EcP256;
    pkey = ec_key(jwk, what);
  } else {
    return fail(what + " has unsupported key type " + quote(kty->get<std::string>()) +
                " (supported: RSA, EC P-256)");
  }
  if (!pkey) return fail(pkey.error());
  if (!k.alg_.empty() && k.alg_ != k.jws_alg())
    return fail(what + " declares alg " + quote(k.alg_) +
                ", which this gateway does not verify with a " + k.kind_name() + " key");
  k.pkey_ = std::move(pkey).value();
  return k;
}

const char* Jwk::kind_name() const { return kind_ == Kind::Rsa ? "RSA" : "EC P-256"; }
const char* Jwk::jws_alg() const { return kind_ == Kind::Rsa ? "RS256" : "ES256"; }

bool Jwk::verify(std::string_view data, std::string_view signature) const {
  std::string der;
  if (kind_ == Kind::EcP256) {
    if (signature.size() != 64) return false;
    der = ecdsa_raw_to_der(signature);
    if (der.empty()) return false;
    signature = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx &&
            EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, pkey_.get(),
                                    nullptr) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<KeySet> KeySet::parse(const Json& jwks) {
  if (!jwks.is_object()) return fail("the JWKS document is not a JSON object");
  auto keys = jwks.find("keys");
  if (keys == jwks.end() || !keys->is_array()) return fail("the JWKS document has no 'keys' array");
  KeySet set;
  for (const Json& j : *keys) {
    auto k = Jwk::from_json(j);
    if (k) {
      set.keys.push_back(std::move(k).value());
    } else {
      std::string kid = j.is_object() && j.contains("kid") && j["kid"].is_string()
                            ? j["kid"].get<std::string>()
                            : "";
      set.skipped.emplace_back(kid, k.error());
    }
  }
  return set;
}

const Jwk* KeySet::find(std::string_view kid) const {
  for (const auto& k : keys)
    if (k.kid() == kid) return &k;
  return nullptr;
}

std::string KeySet::skipped_reason(std::string_view kid) const {
  for (const auto& [k, why] : skipped)
    if (k == kid) return why;
  return {};
}

}  // namespace portcullis::identity
