// OAuthClient: Portcullis as an OAuth 2.1 client of upstream MCP servers'
// authorization servers, per user (MCP authorization 2025-11-25).
//
// The flow, for one user and one upstream:
//  1. The upstream answers 401 (or 403 insufficient_scope). The caller
//     parses its WWW-Authenticate (parse_bearer_challenge) and calls
//     begin_authorization(): discovery (auth_discovery.h), a client
//     registration for that issuer (pre-registered → Client ID Metadata
//     Document → Dynamic Client Registration, kept in the vault per issuer),
//     scope selection, PKCE S256, state, and the RFC 8707 resource. It
//     returns a PendingAuthorization whose url() the user opens.
//  2. The authorization server redirects to redirect_uri with code, state
//     and (RFC 9207) iss. The caller passes those to complete_authorization(),
//     which checks state (single use, 10 minutes), iss, redeems the code
//     with the verifier and resource, and stores the tokens in the vault.
//  3. Later calls take credential(): a stored token, refreshed when it is
//     about to expire. After an upstream 401 on a stored token, refresh().
//
// Errors are values naming the endpoint and the rule; token values never
// appear in them, nor in logs.
//
// Threading: every method is thread-safe. Methods that talk to an
// authorization server block on HTTP (at most options.http_timeout per
// exchange); call them off the request path's hot threads.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "identity/auth_discovery.h"
#include "identity/credential_vault.h"

namespace portcullis::identity {

struct OAuthClientOptions {
  // Where authorization servers send the user back: the gateway's callback,
  // or the probe's loopback listener. http(s) only.
  std::string redirect_uri;
  std::string client_name = "Portcullis";
  // A Client ID Metadata Document URL (https, with a path) that serves
  // client_metadata_document(). Used as client_id at authorization servers
  // advertising client_id_metadata_document_supported. Empty: no CIMD.
  std::string client_metadata_url;
  // Clients registered out of band. An entry with an empty issuer applies to
  // any authorization server without an entry of its own.
  std::vector<ClientRegistration> preregistered;
  // DCR application_type; empty: "native" for a loopback redirect_uri,
  // "web" otherwise (SEP-837).
  std::string application_type;
  std::chrono::milliseconds http_timeout{10000};
  std::chrono::seconds refresh_before_expiry{60};
  std::chrono::seconds pending_lifetime{600};
};

// A token endpoint's answer.
struct TokenResponse {
  std::string access_token, token_type, refresh_token, issued_token_type;
  std::vector<std::string> scopes;  // as granted; empty when the AS did not say
  long long expires_at = 0;         // unix seconds; 0 = not said
};

// The authorization response parameters at redirect_uri.
struct AuthorizationResponse {
  std::string code, state, error, error_description;
  std::optional<std::string> iss;
  // From the callback's query string ("code=...&state=...&iss=...").
  static AuthorizationResponse from_query(std::string_view query);
};

// An authorization the user has not completed yet. Value type.
struct PendingAuthorization {
  std::string url;  // the authorization request to open (http(s) only)
  std::string state;
  std::string user_key, upstream, server_url;
  std::string resource;
  std::vector<std::string> scopes;  // requested
  std::string issuer;               // expected in the response (RFC 9207)
  bool iss_required = false;        // AS advertised authorization_response_iss_parameter_supported
  std::string token_endpoint;
  ClientRegistration client;  // with its token endpoint auth method resolved
  std::string code_verifier;
  std::string redirect_uri;
  std::chrono::steady_clock::time_point expires;
};

// RFC 9207: whether an authorization response may be redeemed. `iss` is
// compared to `expected` byte for byte (no normalization of case, port,
// trailing slash or escapes). Absent `iss` fails only when `advertised`.
Result<void> check_response_issuer(std::string_view expected, bool advertised, const std::optional<std::string>& iss);

// RFC 6749 4.1.3 with PKCE: redeems an authorization code. The client's
// token_endpoint_auth_method must be resolved (resolve_token_auth_method).
struct CodeRedemption {
  std::string token_endpoint, code, code_verifier, redirect_uri;
  std::string resource;  // RFC 8707; empty: none sent
  ClientRegistration client;
  std::chrono::milliseconds timeout{10000};
};
Result<TokenResponse> redeem_code(const CodeRedemption& r);

// RFC 8693 token exchange: a token for `audience`/`resource` in exchange for
// the user's own token. Stateless (nothing is stored).
struct TokenExchangeRequest {
  std::string token_endpoint;
  std::string subject_token;
  std::string subject_token_type = "urn:ietf:params:oauth:token-type:access_token";
  std::string requested_token_type;  // optional
  std::string audience, resource;    // at least one
  std::vector<std::string> scopes;
  ClientRegistration client;  // how to authenticate at the token endpoint (may have no client_id)
  std::chrono::milliseconds timeout{10000};
};
Result<TokenResponse> exchange_token(const TokenExchangeRequest& r);

// The token endpoint authentication method to use with `client` at an AS
// supporting `supported` (empty list: RFC 8414's default, basic).
std::string resolve_token_auth_method(const ClientRegistration& client, const std::vector<std::string>& supported);

class OAuthClient {
 public:
  OAuthClient(OAuthClientOptions options, std::shared_ptr<CredentialVault> vault);

  // Steps 1: see the file comment. `previous_scopes`: what was granted or
  // requested before, for step-up (the new request asks for the union).
  Result<PendingAuthorization> begin_authorization(const std::string& user_key, const std::string& upstream,
                                                   const std::string& server_url, const BearerChallenge* challenge,
                                                   const std::vector<std::string>& previous_scopes = {});
  // Step 2. The pending authorization is consumed whatever the outcome.
  Result<UpstreamCredential> complete_authorization(const AuthorizationResponse& response);

  // A stored credential, refreshed first when it expires within
  // options.refresh_before_expiry. Fails (message starting "no credential")
  // when the user has none: the caller starts an authorization.
  Result<UpstreamCredential> credential(const std::string& user_key, const std::string& upstream);
  // Refreshes now (after an upstream 401). When the AS refuses or there is
  // no refresh token, the credential is dropped and the error says so.
  Result<UpstreamCredential> refresh(const std::string& user_key, const std::string& upstream);
  // Forgets the user's credential for `upstream`.
  Result<bool> revoke(const std::string& user_key, const std::string& upstream);

  // The registration to use at `as`: vault (by issuer), pre-registered,
  // CIMD, or a new DCR registration (stored in the vault).
  Result<ClientRegistration> registration_for(const AuthorizationServerMetadata& as);

  // The document to serve at options.client_metadata_url.
  Json client_metadata_document() const;

  const OAuthClientOptions& options() const { return opts_; }
  size_t pending_count() const;

 private:
  Result<ClientRegistration> register_dynamically(const AuthorizationServerMetadata& as);
  std::optional<ClientRegistration> preregistered_for(const std::string& issuer) const;
  Result<UpstreamCredential> store(const PendingAuthorization& p, const TokenResponse& t);

  OAuthClientOptions opts_;
  std::shared_ptr<CredentialVault> vault_;
  mutable std::mutex mu_;
  std::map<std::string, PendingAuthorization> pending_;  // by state (mu_)
  std::mutex register_mu_;                               // one DCR at a time
};

}  // namespace portcullis::identity
