// TokenVerifier: decides whether a bearer token is a valid access token for
// this gateway: strict JWS parsing, the configured algorithm allow-list
// (never "none"; HS256 only with the configured secret, never against a
// JWK), the issuer's key chosen by kid from a JwksCache, and the claim checks
// of jwt.h with the configured issuer, audiences and leeway.
//
// Accepted audiences for a request to virtual-server path P: the resource,
// the resource + P (what an MCP client names when it asks for a token for
// that endpoint, RFC 8707), and auth.oauth.audience.
//
// Successful verifications are cached, keyed by SHA-256 of the token, until
// the token expires (bounded size), so a client reusing its token costs one
// hash and a shared-lock lookup per request; expiry and audience are still
// checked on every request.
//
// Thread-safety: verify() may be called concurrently from any thread.
#pragma once
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/json.h"
#include "core/result.h"
#include "identity/clock.h"
#include "identity/jwks.h"
#include "identity/jwt.h"

namespace portcullis::identity {

struct VerifiedToken {
  Json claims;
  std::string subject;
  std::string issuer;
  std::vector<std::string> scopes;
  long long expires_at = 0;  // unix seconds
};

struct TokenVerifierOptions {
  size_t cache_capacity = 10000;
  WallClock clock = system_clock();
};

class TokenVerifier {
 public:
  // `keys` may be shared with other verifiers of the same issuer.
  TokenVerifier(const config::OAuthSettings& oauth, std::string resource,
                std::shared_ptr<JwksCache> keys, TokenVerifierOptions options = {});

  // `path` is the virtual-server path of the request ("" for the gateway).
  Result<std::shared_ptr<const VerifiedToken>> verify(std::string_view token,
                                                      std::string_view path);

  size_t cached() const;  // entries in the verification cache

 private:
  Result<std::shared_ptr<const VerifiedToken>> verify_uncached(std::string_view token,
                                                               std::string_view path,
                                                               long long now);
  ClaimRules rules_for(std::string_view path) const;
  void remember(std::string key, std::shared_ptr<const VerifiedToken> v, long long now);

  const std::string issuer_;
  const std::string resource_;
  const std::vector<std::string> extra_audiences_;
  const std::vector<std::string> algorithms_;
  const std::string hs256_secret_;
  const std::chrono::seconds leeway_;
  const std::shared_ptr<JwksCache> keys_;
  const TokenVerifierOptions opt_;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const VerifiedToken>> cache_;
};

}  // namespace portcullis::identity
