// UpstreamConsent: each user's own tokens for upstreams whose auth type is
// oauth_user, and the consent flow that obtains them.
//
// Tokens live in the CredentialVault (AES-256-GCM, SQLite) and, while in
// use, in a small memory cache. access_token() refreshes a token shortly
// before it expires (serialized per user and upstream, so a rotating
// refresh token is redeemed once); a refused refresh drops the credential,
// and the next call asks the user again.
//
// The consent flow, for a user without a token (MCP URL-mode elicitation,
// 2025-11-25):
//  1. start() discovers the upstream's authorization server (its RFC 9728
//     metadata), picks a client registration (pre-registered, Client ID
//     Metadata Document, or dynamic registration), and returns a consent:
//     an id and a link, <public_url>/oauth/connect/<id>. The link carries no
//     credential and no personal data. A user with a consent already under
//     way for that upstream gets the same one.
//  2. The user opens the link: authorization_url() gives the authorization
//     request (PKCE S256, state, RFC 8707 resource) to redirect to.
//  3. The authorization server sends the browser to
//     <public_url>/oauth/callback; complete() redeems the code and stores
//     the tokens for the user who started the consent.
//  4. Callers waiting in when_done() learn the outcome: success, or the
//     reason (refused, expired after the consent timeout, abandoned).
//
// Threading: every method is thread-safe. start(), complete() and
// access_token() may block on HTTP to the authorization server (bounded by
// its timeout); call them from request threads, not from timers. Callbacks
// given to when_done() run on the thread that settles the consent (an HTTP
// callback thread, or the shared scheduler for expiry) and must hand long
// work elsewhere.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/json.h"
#include "core/result.h"
#include "identity/credential_vault.h"
#include "identity/oauth_client.h"

namespace portcullis::identity {

class UpstreamConsent : public std::enable_shared_from_this<UpstreamConsent> {
 public:
  // Opens the vault named by `settings` (settings.key must be 32 bytes).
  static Result<std::shared_ptr<UpstreamConsent>> open(const config::CredentialSettings& settings);

  const std::string& redirect_uri() const { return redirect_uri_; }
  const config::CredentialSettings& settings() const { return settings_; }

  // The token to present to `upstream` as `user_key`, refreshed first when
  // it expires within a minute. nullopt: the user has none (or it was just
  // refused and could not be refreshed): start a consent.
  Result<std::optional<std::string>> access_token(const std::string& user_key, const config::UpstreamConfig& upstream);
  // The upstream refused the user's token (HTTP 401): refresh it now (at
  // most once per 10 s), or drop it when the authorization server refuses
  // too, so that the next call asks for consent again.
  void token_refused(const std::string& user_key, const std::string& upstream);

  struct Consent {
    std::string id;       // elicitationId
    std::string url;      // the link the user opens
    std::string message;  // what to tell the user
  };
  // Begins (or rejoins) a consent for `user_key` to `upstream`. `who` names
  // the user in the message (their subject); it is not put in the link.
  Result<Consent> start(const std::string& user_key, const std::string& who, const config::UpstreamConfig& upstream);
  // Calls `done` once, when consent `id` settles (at once if it already has).
  void when_done(const std::string& id, std::function<void(const Result<void>&)> done);
  // The user said no (declined the elicitation): the consent ends, and
  // its waiters hear `why`.
  void abandon(const std::string& id, const std::string& why);

  // Sign-in before consent (credentials.confirm_user): the browser that
  // opens a consent link first signs in at the gateway's own issuer, and
  // only the user the link was made for goes on to the upstream.
  struct SignIn {
    std::string issuer;    // auth.oauth.issuer
    std::string resource;  // auth.resource: the token asked for is the gateway's own
    std::vector<std::string> scopes;
    ClientRegistration client;  // credentials.confirm_user
    // The principal key (Principal::key()) an access token proves, or why not.
    std::function<Result<std::string>(const std::string& access_token)> verify;
  };
  // nullopt: no sign-in (the default).
  void require_sign_in(std::optional<SignIn> s);

  // Browser step 2: where to send the browser that opened consent `id`: the
  // sign-in first when required, else the upstream's authorization request.
  Result<std::string> authorization_url(const std::string& id);
  // The sign-in's redirect back (its query string): when it proves the user
  // the consent was made for, the upstream's authorization request.
  Result<std::string> confirm(std::string_view query);
  struct Completed {
    std::string upstream;
    std::string user_key;  // whose token it is
    std::string user;      // who the consent was for (as given to start())
    std::string id;        // the consent
  };
  // The redirect back from the authorization server (its query string):
  // stores the token. The consent's waiters hear of it at given(id), so the
  // caller can prepare first (list the upstream for the user's sessions).
  Result<Completed> complete(std::string_view query);
  void given(const std::string& id);

  // The Client ID Metadata Document served at <public_url>/oauth/client-metadata.json.
  Json client_metadata_document() const;

  // Operators: what the vault holds (never a token value), and forgetting it.
  Result<std::vector<CredentialSummary>> list(const std::string& user_key);
  Result<bool> revoke(const std::string& user_key, const std::string& upstream);

 private:
  struct Pending {
    std::string id, user_key, who, upstream;
    std::string state;  // the authorization request's state, once made
    std::shared_ptr<OAuthClient> client;
    std::string url;  // authorization request
    std::chrono::steady_clock::time_point expires;
    bool signed_in = false;  // the sign-in proved the right user (when required)
    bool settled = false;
    std::optional<std::string> outcome;  // error message; nullopt with settled = success
    std::vector<std::function<void(const Result<void>&)>> waiters;
  };
  struct Cached {
    std::string token;
    long long expires_at = 0;  // unix seconds; 0 = unknown
    long long checked_ms = 0;  // steady clock: when the vault last said so
  };

  UpstreamConsent(const config::CredentialSettings& settings, std::shared_ptr<CredentialVault> vault);
  std::shared_ptr<OAuthClient> client_for(const config::UpstreamConfig& upstream);
  void settle(const std::string& id, std::optional<std::string> error);
  std::shared_ptr<std::mutex> refresh_lock(const std::string& key);

  const config::CredentialSettings settings_;
  const std::string redirect_uri_;
  std::shared_ptr<CredentialVault> vault_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<OAuthClient>> clients_;  // (mu_) by upstream + client id
  std::map<std::string, std::shared_ptr<Pending>> pending_;       // (mu_) by consent id
  std::map<std::string, std::string> by_state_;                  // (mu_) state -> consent id
  std::map<std::string, Cached> cache_;                           // (mu_) user key + upstream
  std::map<std::string, std::shared_ptr<std::mutex>> refreshing_;  // (mu_) one refresh at a time per key
  std::map<std::string, long long> refused_at_;                    // (mu_) steady ms of the last refusal
  struct SignInState {
    std::string consent_id, verifier;
    std::chrono::steady_clock::time_point expires;
  };
  std::optional<SignIn> sign_in_;                    // (mu_)
  std::map<std::string, SignInState> sign_ins_;      // (mu_) by state
};

}  // namespace portcullis::identity
