// CredentialVault: the per-user upstream credentials the gateway holds, and
// the OAuth client registrations it made, in one SQLite file.
//
// Credentials are keyed by (user key = Principal::key(), upstream name).
// Token values (access and refresh) and client secrets are sealed with
// AES-256-GCM under the vault key, with associated data binding each value
// to its row (user and upstream, or issuer) and its field: a sealed token
// copied into another user's row, or from the refresh to the access column,
// does not open. Everything else (issuer, scopes, expiry, endpoints,
// client_id) is stored in the clear: it is what list() shows and what an
// operator needs to see, and none of it grants access.
//
// Registrations are keyed by authorization server issuer: a client_id is
// only ever used with the issuer that issued it (MCP 2025-11-25
// authorization, "credentials keyed by issuer").
//
// Threading: every method is thread-safe (one connection behind a mutex).
// Errors are values; no method logs or returns token values except get().
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

struct sqlite3;

namespace portcullis::identity {

// One user's tokens for one upstream, and what is needed to refresh them.
struct UpstreamCredential {
  std::string user_key;  // Principal::key()
  std::string upstream;  // upstream name in the config
  std::string access_token;
  std::string refresh_token;  // empty when the AS issued none
  std::string token_type = "Bearer";
  long long expires_at = 0;  // unix seconds; 0 = unknown / does not expire
  std::vector<std::string> scopes;  // granted (or, when the AS did not say, requested)
  std::string issuer;               // the authorization server that issued them
  std::string resource;             // RFC 8707 resource they are bound to
  std::string token_endpoint;       // where to refresh
  std::string client_id;            // the registration (by issuer) that refreshes
  long long updated_at = 0;         // unix seconds, set by put()
};

// What list() reveals about a credential: never a token value.
struct CredentialSummary {
  std::string user_key, upstream, issuer, resource;
  std::vector<std::string> scopes;
  long long expires_at = 0;
  bool has_refresh_token = false;
  long long updated_at = 0;
};

// An OAuth client identity at one authorization server.
struct ClientRegistration {
  std::string issuer;
  std::string client_id;
  std::string client_secret;  // empty for public clients
  // "none", "client_secret_basic" or "client_secret_post"; empty = choose
  // from the AS metadata.
  std::string token_endpoint_auth_method;
  std::string source;  // "preregistered", "cimd" or "dcr"
  std::vector<std::string> redirect_uris;
  long long client_secret_expires_at = 0;  // 0 = never
  long long registered_at = 0;
};

class CredentialVault {
 public:
  // Opens (creating if needed) the vault at `path` (":memory:" for a
  // throw-away one). REQUIRES nothing of `key` beyond what is checked:
  // exactly 32 bytes (AES-256), or the open fails.
  static Result<std::unique_ptr<CredentialVault>> open(const std::string& path, std::string key);
  ~CredentialVault();
  CredentialVault(const CredentialVault&) = delete;
  CredentialVault& operator=(const CredentialVault&) = delete;

  // Inserts or replaces the credential for (user_key, upstream).
  Result<void> put(const UpstreamCredential& c);
  // nullopt when there is none. An error when the row exists but does not
  // open under this key (wrong key, or the row was tampered with).
  Result<std::optional<UpstreamCredential>> get(const std::string& user_key, const std::string& upstream);
  // Forgets the credential (revocation, logout). True when one existed.
  Result<bool> drop(const std::string& user_key, const std::string& upstream);
  // The user's credentials, without token values, ordered by upstream.
  Result<std::vector<CredentialSummary>> list(const std::string& user_key);
  // Every user's, ordered by user and upstream.
  Result<std::vector<CredentialSummary>> list_all();

  Result<void> put_client(const ClientRegistration& r);
  Result<std::optional<ClientRegistration>> client(const std::string& issuer);
  Result<bool> drop_client(const std::string& issuer);

 private:
  CredentialVault(sqlite3* db, std::string key) : db_(db), key_(std::move(key)) {}
  Result<void> exec(const char* sql);
  Result<std::vector<CredentialSummary>> summaries(const std::string* user_key);  // null: all users
  std::mutex mu_;
  sqlite3* db_;
  const std::string key_;
};

}  // namespace portcullis::identity
