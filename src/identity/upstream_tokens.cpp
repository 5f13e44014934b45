#include "identity/upstream_tokens.h"

#include <chrono>

#include "identity/clock.h"
#include "identity/oauth_client.h"

namespace portcullis::identity {
namespace {

// An exchanged token is renewed this long before it expires, so that a call
// never starts with a token about to lapse.
constexpr long long kRenewBeforeSeconds = 60;
// Without an expiry from the issuer, a token is reused for this long.
constexpr long long kDefaultLifetimeSeconds = 300;

}  // namespace

Result<UpstreamTokens::Token> UpstreamTokens::token_for(const Principal& who, const config::UpstreamConfig& up) {
  const config::UpstreamAuth& a = up.auth;
  if (a.type != config::CredentialType::TokenExchange) return fail("upstream '" + up.name + "' takes no per-user token");
  const auto key = std::make_pair(who.key(), up.name);
  const long long now = unix_seconds(std::chrono::system_clock::now());
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && now < it->second.expires_at - kRenewBeforeSeconds) {
      return it->second;
    }
  }
  if (who.method != AuthMethod::Bearer || who.bearer_token.empty()) {
    return fail("upstream '" + up.name + "' acts as each user with a token exchanged from theirs, and this request "
                "carries no OAuth token to exchange (" +
                std::string(who.method == AuthMethod::ApiKey ? "it authenticated with an API key" : "it is anonymous") +
                ")");
  }
  TokenExchangeRequest r;
  r.token_endpoint = a.token_endpoint;
  r.subject_token = who.bearer_token;
  r.audience = a.audience;
  r.resource = a.resource;
  r.scopes = a.scopes;
  r.client.client_id = a.client_id;
  r.client.client_secret = a.client_secret;
  auto exchanged = exchange_token(r);
  if (!exchanged.ok()) {
    return fail("upstream '" + up.name + "': the token exchange at " + a.token_endpoint + " failed: " + exchanged.error());
  }
  Token c;
  c.value = exchanged.value().access_token;
  c.expires_at = exchanged.value().expires_at ? exchanged.value().expires_at : now + kDefaultLifetimeSeconds;
  // Never outlive the token it was exchanged from.
  if (who.expires_at && who.expires_at < c.expires_at) c.expires_at = who.expires_at;
  std::lock_guard lock(mu_);
  cache_[key] = c;
  // Drop expired entries now and then, so users who left cost nothing.
  if (cache_.size() % 256 == 0) {
    for (auto it = cache_.begin(); it != cache_.end();) it = it->second.expires_at < now ? cache_.erase(it) : std::next(it);
  }
  return c;
}

void UpstreamTokens::forget(const Principal& who, const std::string& upstream) {
  std::lock_guard lock(mu_);
  cache_.erase({who.key(), upstream});
}

}  // namespace portcullis::identity
