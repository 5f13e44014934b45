#include "identity/upstream_consent.h"

#include <spdlog/spdlog.h>

#include "core/crypto.h"
#include "core/scheduler.h"
#include "core/text.h"
#include "identity/auth_discovery.h"
#include "identity/clock.h"
#include "identity/oauth_wire.h"
#include "identity/pkce.h"

namespace portcullis::identity {

namespace {

std::string cache_key(const std::string& user_key, const std::string& upstream) {
  return std::to_string(user_key.size()) + ":" + user_key + "|" + upstream;
}

constexpr long long kRefreshBeforeS = 60;
// A cached token is checked against the vault this often, so a revocation
// (`portcullis credentials revoke`, another instance) takes effect soon.
constexpr long long kRecheckMs = 2000;
// After an upstream refuses a token, one refresh per this interval.
constexpr long long kRefusedRefreshMs = 10000;

long long now_s() { return unix_seconds(std::chrono::system_clock::now()); }
long long mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::shared_ptr<UpstreamConsent>> UpstreamConsent::open(const config::CredentialSettings& settings) {
  if (settings.key.size() != 32) return fail("the credential vault needs a 32-byte key (credentials.key)");
  auto vault = CredentialVault::open(settings.vault, settings.key);
  if (!vault.ok()) return fail("credential vault " + settings.vault + ": " + vault.error());
  return std::shared_ptr<UpstreamConsent>(
      new UpstreamConsent(settings, std::shared_ptr<CredentialVault>(std::move(vault).value())));
}

UpstreamConsent::UpstreamConsent(const config::CredentialSettings& settings, std::shared_ptr<CredentialVault> vault)
    : settings_(settings), redirect_uri_(settings.public_url + "/oauth/callback"), vault_(std::move(vault)) {}

std::shared_ptr<OAuthClient> UpstreamConsent::client_for(const config::UpstreamConfig& upstream) {
  const auto& a = upstream.auth;
  const std::string key = upstream.name + "\n" + a.client_id + "\n" + crypto::sha256_hex(a.client_secret);
  std::lock_guard lock(mu_);
  auto& c = clients_[key];
  if (c) return c;
  OAuthClientOptions o;
  o.redirect_uri = redirect_uri_;
  o.client_name = "Portcullis";
  // A Client ID Metadata Document must be served over https.
  if (text::starts_with(text::to_lower(settings_.public_url), "https://"))
    o.client_metadata_url = settings_.public_url + "/oauth/client-metadata.json";
  if (!a.client_id.empty()) {
    ClientRegistration r;
    r.client_id = a.client_id;
    r.client_secret = a.client_secret;
    r.source = "preregistered";
    r.redirect_uris = {redirect_uri_};
    o.preregistered.push_back(std::move(r));  // empty issuer: whichever server the upstream names
  }
  o.pending_lifetime = std::chrono::duration_cast<std::chrono::seconds>(settings_.consent_timeout);
  o.refresh_before_expiry = std::chrono::seconds(kRefreshBeforeS);
  c = std::make_shared<OAuthClient>(std::move(o), vault_);
  return c;
}

std::shared_ptr<std::mutex> UpstreamConsent::refresh_lock(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& m = refreshing_[key];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<std::optional<std::string>> UpstreamConsent::access_token(const std::string& user_key,
                                                                 const config::UpstreamConfig& upstream) {
  const std::string key = cache_key(user_key, upstream.name);
  auto fresh = [&](const Cached& c) {
    return (c.expires_at == 0 || now_s() + kRefreshBeforeS < c.expires_at) && mono_ms() - c.checked_ms < kRecheckMs;
  };
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && fresh(it->second)) return std::optional(it->second.token);
  }
  // Slow path: read the vault, refreshing if needed, one caller at a time.
  auto serial = refresh_lock(key);
  std::lock_guard one(*serial);
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && fresh(it->second)) return std::optional(it->second.token);
  }
  auto cred = client_for(upstream)->credential(user_key, upstream.name);
  if (!cred.ok()) {
    std::lock_guard lock(mu_);
    cache_.erase(key);
    if (text::starts_with(cred.error(), "no credential")) return std::optional<std::string>();
    return fail(cred.error());
  }
  std::lock_guard lock(mu_);
  cache_[key] = {cred->access_token, cred->expires_at, mono_ms()};
  return std::optional(cred->access_token);
}

void UpstreamConsent::token_refused(const std::string& user_key, const std::string& upstream) {
  const std::string key = cache_key(user_key, upstream);
  auto serial = refresh_lock(key);
  std::lock_guard one(*serial);
  {
    std::lock_guard lock(mu_);
    // Calls that failed together with the same token refresh it once.
    auto& last = refused_at_[key];
    if (last && mono_ms() - last < kRefusedRefreshMs) return;
    last = mono_ms();
    cache_.erase(key);
  }
  // Any client can refresh: the credential names its own token endpoint and
  // registration. The upstream's options only matter for a new consent.
  config::UpstreamConfig cfg;
  cfg.name = upstream;
  auto refreshed = client_for(cfg)->refresh(user_key, upstream);
  if (!refreshed.ok()) {
    spdlog::info("upstream '{}' refused a user's token and it could not be refreshed: {}", upstream, refreshed.error());
    return;
  }
  std::lock_guard lock(mu_);
  cache_[key] = {refreshed->access_token, refreshed->expires_at, mono_ms()};
}

Result<UpstreamConsent::Consent> UpstreamConsent::start(const std::string& user_key, const std::string& who,
                                                        const config::UpstreamConfig& upstream) {
  auto message = [&] {
    return "Portcullis needs your permission to use '" + upstream.name + "' (" + upstream.url + ") as " + who +
           ". Open the link to sign in there and approve; your token goes straight to Portcullis and never "
           "through this conversation.";
  };
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : pending_) {
      if (p->user_key == user_key && p->upstream == upstream.name && !p->settled && p->expires > now)
        return Consent{id, settings_.public_url + "/oauth/connect/" + id, message()};
    }
  }
  auto client = client_for(upstream);
  // Discovery and registration happen now, so a misconfigured upstream
  // fails this call with its reason instead of sending the user to a dead
  // link. The scopes configured for the upstream are what the user grants.
  auto begun = client->begin_authorization(user_key, upstream.name, upstream.url, nullptr, upstream.auth.scopes);
  if (!begun.ok()) return fail("cannot ask for consent to upstream '" + upstream.name + "': " + begun.error());
  auto p = std::make_shared<Pending>();
  p->id = crypto::random_hex(16);
  p->user_key = user_key;
  p->who = who;
  p->upstream = upstream.name;
  p->state = begun->state;
  p->client = std::move(client);
  p->url = begun->url;
  p->expires = now + settings_.consent_timeout;
  {
    std::lock_guard lock(mu_);
    // Expired consents go as new ones come.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second->settled || it->second->expires > now) {
        ++it;
        continue;
      }
      by_state_.erase(it->second->state);
      it = pending_.erase(it);
    }
    pending_[p->id] = p;
    by_state_[p->state] = p->id;
  }
  std::weak_ptr<UpstreamConsent> self = weak_from_this();
  Scheduler::shared().after(std::chrono::duration_cast<std::chrono::milliseconds>(settings_.consent_timeout),
                            [self, id = p->id] {
                              if (auto s = self.lock()) s->settle(id, "the consent link expired before it was used");
                            });
  spdlog::info("upstream '{}': asking {} for consent ({})", upstream.name, who, p->id);
  return Consent{p->id, settings_.public_url + "/oauth/connect/" + p->id, message()};
}

void UpstreamConsent::when_done(const std::string& id, std::function<void(const Result<void>&)> done) {
  std::unique_lock lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    lock.unlock();
    return done(fail("unknown consent"));
  }
  auto p = it->second;
  if (!p->settled) {
    p->waiters.push_back(std::move(done));
    return;
  }
  auto outcome = p->outcome;
  lock.unlock();
  done(outcome ? Result<void>(fail(*outcome)) : Result<void>());
}

void UpstreamConsent::abandon(const std::string& id, const std::string& why) { settle(id, why); }

void UpstreamConsent::given(const std::string& id) { settle(id, std::nullopt); }

void UpstreamConsent::settle(const std::string& id, std::optional<std::string> error) {
  std::vector<std::function<void(const Result<void>&)>> waiters;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second->settled) return;
    auto& p = *it->second;
    p.settled = true;
    p.outcome = error;
    waiters.swap(p.waiters);
    by_state_.erase(p.state);
    if (error) spdlog::info("upstream '{}': consent {} for {} ended: {}", p.upstream, id, p.who, *error);
  }
  Result<void> r = error ? Result<void>(fail(*error)) : Result<void>();
  for (auto& w : waiters) w(r);
  // A settled consent stays findable until the next sweep in start(), so a
  // late when_done() still hears the outcome; after its expiry it goes.
}

void UpstreamConsent::require_sign_in(std::optional<SignIn> s) {
  std::lock_guard lock(mu_);
  sign_in_ = std::move(s);
}

Result<std::string> UpstreamConsent::authorization_url(const std::string& id) {
  std::optional<SignIn> sign_in;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end())
      return fail("This consent link is unknown or has expired. Ask again from your MCP client.");
    const auto& p = *it->second;
    if (p.settled)
      return fail(p.outcome ? "This consent has ended: " + *p.outcome + "."
                            : "This consent was already given. You can close this window.");
    if (p.expires <= std::chrono::steady_clock::now())
      return fail("This consent link has expired. Ask again from your MCP client.");
    if (!sign_in_ || p.signed_in) return p.url;
    sign_in = sign_in_;
  }
  // Who opened the link? Sign in at the gateway's own issuer first.
  auto as = discover_issuer(sign_in->issuer);
  if (!as.ok()) return fail("Cannot reach the sign-in service: " + as.error());
  ClientRegistration client = sign_in->client;
  client.token_endpoint_auth_method = resolve_token_auth_method(client, as->token_endpoint_auth_methods_supported);
  Pkce pkce = make_pkce();
  std::string state = make_state();
  FormFields q = {{"response_type", "code"},
                  {"client_id", client.client_id},
                  {"redirect_uri", settings_.public_url + "/oauth/confirm"},
                  {"code_challenge", pkce.challenge},
                  {"code_challenge_method", Pkce::kMethod},
                  {"state", state},
                  {"resource", sign_in->resource}};
  if (!sign_in->scopes.empty()) q.emplace_back("scope", join_scopes(sign_in->scopes));
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = sign_ins_.begin(); it != sign_ins_.end();) it = it->second.expires <= now ? sign_ins_.erase(it) : std::next(it);
  sign_ins_[state] = {id, pkce.verifier, now + settings_.consent_timeout};
  return append_query(as->authorization_endpoint, q);
}

Result<std::string> UpstreamConsent::confirm(std::string_view query) {
  auto response = AuthorizationResponse::from_query(query);
  SignInState st;
  std::optional<SignIn> sign_in;
  {
    std::lock_guard lock(mu_);
    auto it = sign_ins_.find(response.state);
    if (response.state.empty() || it == sign_ins_.end() || it->second.expires <= std::chrono::steady_clock::now())
      return fail("This sign-in response is unknown, was already used, or expired.");
    st = std::move(it->second);
    sign_ins_.erase(it);
    sign_in = sign_in_;
  }
  if (!sign_in) return fail("Sign-in is not required here.");
  if (!response.error.empty()) return fail("The sign-in failed: " + response.error);
  auto as = discover_issuer(sign_in->issuer);
  if (!as.ok()) return fail("Cannot reach the sign-in service: " + as.error());
  ClientRegistration client = sign_in->client;
  client.token_endpoint_auth_method = resolve_token_auth_method(client, as->token_endpoint_auth_methods_supported);
  auto token = redeem_code({as->token_endpoint, response.code, st.verifier, settings_.public_url + "/oauth/confirm",
                            sign_in->resource, client});
  if (!token.ok()) return fail("The sign-in could not be completed: " + token.error());
  auto who = sign_in->verify(token->access_token);
  if (!who.ok()) return fail("The sign-in did not prove who you are: " + who.error());
  std::lock_guard lock(mu_);
  auto it = pending_.find(st.consent_id);
  if (it == pending_.end() || it->second->settled)
    return fail("This consent is no longer waiting. Ask again from your MCP client.");
  auto& p = *it->second;
  if (p.user_key != who.value()) {
    spdlog::warn("upstream '{}': a consent link for {} was opened by someone else; refused", p.upstream, p.who);
    return fail("This link was made for another user. Only the user who asked can give this consent.");
  }
  p.signed_in = true;
  return p.url;
}

Result<UpstreamConsent::Completed> UpstreamConsent::complete(std::string_view query) {
  auto response = AuthorizationResponse::from_query(query);
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lock(mu_);
    auto id = by_state_.find(response.state);
    if (id == by_state_.end()) return fail("This authorization response is unknown, was already used, or expired.");
    auto it = pending_.find(id->second);
    if (it == pending_.end()) return fail("This authorization response is unknown, was already used, or expired.");
    p = it->second;
  }
  auto stored = p->client->complete_authorization(response);
  if (!stored.ok()) {
    settle(p->id, "authorization at upstream '" + p->upstream + "' failed: " + stored.error());
    return fail(stored.error());
  }
  {
    std::lock_guard lock(mu_);
    cache_[cache_key(p->user_key, p->upstream)] = {stored->access_token, stored->expires_at, mono_ms()};
  }
  spdlog::info("upstream '{}': {} gave consent; token stored in the vault", p->upstream, p->who);
  return Completed{p->upstream, p->user_key, p->who, p->id};
}

Json UpstreamConsent::client_metadata_document() const {
  OAuthClientOptions o;
  o.redirect_uri = redirect_uri_;
  o.client_metadata_url = settings_.public_url + "/oauth/client-metadata.json";
  return OAuthClient(std::move(o), nullptr).client_metadata_document();
}

Result<std::vector<CredentialSummary>> UpstreamConsent::list(const std::string& user_key) { return vault_->list(user_key); }

Result<bool> UpstreamConsent::revoke(const std::string& user_key, const std::string& upstream) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(cache_key(user_key, upstream));
  }
  return vault_->drop(user_key, upstream);
}

}  // namespace portcullis::identity
