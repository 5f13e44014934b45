#include "identity/token_verifier.h"

#include <algorithm>
#include <mutex>

#include "core/crypto.h"
#include "identity/jwt.h"

namespace portcullis::identity {

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

TokenVerifier::TokenVerifier(const config::OAuthSettings& oauth, std::string resource,
                             std::shared_ptr<JwksCache> keys, TokenVerifierOptions options)
    : issuer_(oauth.issuer),
      resource_(std::move(resource)),
      extra_audiences_(oauth.audience),
      algorithms_(oauth.algorithms),
      hs256_secret_(oauth.hs256_secret),
      leeway_(std::chrono::duration_cast<std::chrono::seconds>(oauth.leeway)),
      keys_(std::move(keys)),
      opt_(std::move(options)) {}

ClaimRules TokenVerifier::rules_for(std::string_view path) const {
  ClaimRules r;
  r.issuer = issuer_;
  r.leeway = leeway_;
  r.audiences.push_back(resource_);
  if (!path.empty()) r.audiences.push_back(resource_ + std::string(path));
  r.audiences.insert(r.audiences.end(), extra_audiences_.begin(), extra_audiences_.end());
  return r;
}

Result<std::shared_ptr<const VerifiedToken>> TokenVerifier::verify(std::string_view token,
                                                                   std::string_view path) {
  const long long now = unix_seconds(opt_.clock());
  std::string key = crypto::sha256_hex(token);
  std::shared_ptr<const VerifiedToken> hit;
  {
    std::shared_lock l(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) hit = it->second;
  }
  if (hit) {
    // The signature and issuer were checked when it was cached; time and
    // audience depend on the request.
    if (auto ok = check_claims(hit->claims, rules_for(path), now); !ok) return fail(ok.error());
    return hit;
  }
  auto v = verify_uncached(token, path, now);
  if (v) remember(std::move(key), v.value(), now);
  return v;
}

Result<std::shared_ptr<const VerifiedToken>> TokenVerifier::verify_uncached(std::string_view token,
                                                                            std::string_view path,
                                                                            long long now) {
  auto jwt = parse_jwt(token);
  if (!jwt) return fail(jwt.error());
  const std::string& alg = jwt->alg;
  if (alg == "none" || alg == "None" || alg == "NONE")
    return fail("unsigned token (alg 'none') refused");
  if (std::find(algorithms_.begin(), algorithms_.end(), alg) == algorithms_.end())
    return fail("token alg '" + alg + "' is not allowed (allowed: " + joined(algorithms_) + ")");
  // The issuer is checked before any key lookup so that tokens from other
  // issuers never cause a JWKS fetch.
  auto iss = jwt->claims.find("iss");
  if (iss == jwt->claims.end() || !iss->is_string()) return fail("token has no 'iss' claim");
  if (*iss != issuer_)
    return fail("token issuer '" + iss->get<std::string>() + "' is not the configured issuer '" +
                issuer_ + "'");
  if (alg == "HS256") {
    if (auto ok = verify_hs256(*jwt, hs256_secret_); !ok) return fail(ok.error());
  } else {
    auto key = keys_->key(jwt->kid);
    if (!key) return fail(key.error());
    if (auto ok = verify_signature(*jwt, *key); !ok) return fail(ok.error());
  }
  if (auto ok = check_claims(jwt->claims, rules_for(path), now); !ok) return fail(ok.error());
  auto v = std::make_shared<VerifiedToken>();
  v->subject = jwt->claims["sub"].get<std::string>();
  v->issuer = issuer_;
  v->scopes = scopes_of(jwt->claims);
  v->expires_at = static_cast<long long>(jwt->claims["exp"].get<double>());
  v->claims = std::move(jwt->claims);
  return std::shared_ptr<const VerifiedToken>(std::move(v));
}

void TokenVerifier::remember(std::string key, std::shared_ptr<const VerifiedToken> v,
                             long long now) {
  if (opt_.cache_capacity == 0) return;
  std::unique_lock l(mu_);
  if (cache_.size() >= opt_.cache_capacity) {
    const long long leeway = leeway_.count();
    for (auto it = cache_.begin(); it != cache_.end();)
      it = now > it->second->expires_at + leeway ? cache_.erase(it) : std::next(it);
    // Still full of live tokens: drop arbitrary ones; they are re-verified on next use.
    while (cache_.size() >= opt_.cache_capacity) cache_.erase(cache_.begin());
  }
  cache_.emplace(std::move(key), std::move(v));
}

size_t TokenVerifier::cached() const {
  std::shared_lock l(mu_);
  return cache_.size();
}

}  // namespace portcullis::identity
