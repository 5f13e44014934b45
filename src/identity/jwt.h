// Compact JWS access tokens (RFC 7515/7519, JWT profile RFC 9068): strict
// parsing, signature checks for RS256, ES256 and HS256, and claim checks.
// Choosing the key (JWKS, kid, allow-list) is TokenVerifier's job.
//
// Every failure is a value whose message says precisely what was wrong with
// the token, never the token itself. Pure functions, thread-safe.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "identity/jwk.h"

namespace portcullis::identity {

inline constexpr size_t kMaxTokenBytes = 16 * 1024;

struct Jwt {
  std::string alg;            // header "alg" (always present after parsing)
  std::string kid;            // header "kid"; empty when absent
  Json header;                // JSON object
  Json claims;                // JSON object
  std::string signing_input;  // "<header>.<payload>" exactly as received
  std::string signature;      // decoded signature bytes
};

// Three base64url segments (strict), a JSON-object header with a string
// "alg" and no "crit", a JSON-object payload and a non-empty signature.
Result<Jwt> parse_jwt(std::string_view compact);

// The signature under `key`; the token's alg must be the key's algorithm
// (an RS256 token is never checked with an EC key, nor HS256 with any JWK).
Result<void> verify_signature(const Jwt& jwt, const Jwk& key);
// HS256 with a shared secret; constant-time comparison.
Result<void> verify_hs256(const Jwt& jwt, std::string_view secret);

struct ClaimRules {
  std::string issuer;                  // `iss` must equal it exactly
  std::vector<std::string> audiences;  // `aud` must contain one of them
  std::chrono::seconds leeway{60};
};

// iss, aud, exp (required), nbf and iat (optional) and sub (required, string)
// at time `now` (unix seconds).
Result<void> check_claims(const Json& claims, const ClaimRules& rules, long long now);

// Granted scopes: `scope` (space-separated string) or `scp` (array of
// strings, or a space-separated string); empty when neither is present.
std::vector<std::string> scopes_of(const Json& claims);

// The claim `name`: a top-level member, or else a dotted path into nested
// objects ("realm_access.roles"). Null when absent.
const Json* find_claim(const Json& claims, std::string_view name);

}  // namespace portcullis::identity
