#include "identity/credential_vault.h"

#include <sqlite3.h>

#include <chrono>

#include "core/crypto.h"
#include "core/text.h"

namespace portcullis::identity {

namespace {

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, long long v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  std::string text(int i) const {
    auto* p = sqlite3_column_text(s_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  long long integer(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Space-separated lists, as OAuth writes scopes.
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

// Associated data for a sealed value: the field and its row's key, each
// length-prefixed so no choice of names makes two rows' data equal.
std::string aad(std::string_view field, std::string_view a, std::string_view b = {}) {
  std::string out = "portcullis-vault/v1|";
  out += field;
  for (std::string_view part : {a, b}) {
    out += '|';
    out += std::to_string(part.size());
    out += ':';
    out += part;
  }
  return out;
}

std::string seal_or_empty(const std::string& key, const std::string& value, const std::string& ad) {
  return value.empty() ? std::string() : crypto::seal(key, value, ad);
}

// Empty stays empty; anything else must open.
std::optional<std::string> open_or_empty(const std::string& key, const std::string& sealed, const std::string& ad) {
  if (sealed.empty()) return std::string();
  return crypto::open(key, sealed, ad);
}

}  // namespace

Result<std::unique_ptr<CredentialVault>> CredentialVault::open(const std::string& path, std::string key) {
  if (key.size() != 32) {
    return fail("credential vault key must be 32 bytes (AES-256), got " + std::to_string(key.size()));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail("cannot open credential vault " + path + ": " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<CredentialVault> vault(new CredentialVault(db, std::move(key)));
  for (const char* sql :
       {"PRAGMA journal_mode=WAL",
        "CREATE TABLE IF NOT EXISTS upstream_credentials ("
        " user_key TEXT NOT NULL, upstream TEXT NOT NULL,"
        " access_token TEXT NOT NULL, refresh_token TEXT NOT NULL, token_type TEXT NOT NULL,"
        " expires_at INTEGER NOT NULL, scopes TEXT NOT NULL, issuer TEXT NOT NULL, resource TEXT NOT NULL,"
        " token_endpoint TEXT NOT NULL, client_id TEXT NOT NULL, updated_at INTEGER NOT NULL,"
        " PRIMARY KEY (user_key, upstream))",
        "CREATE TABLE IF NOT EXISTS oauth_clients ("
        " issuer TEXT PRIMARY KEY, client_id TEXT NOT NULL, client_secret TEXT NOT NULL,"
        " auth_method TEXT NOT NULL, source TEXT NOT NULL, redirect_uris TEXT NOT NULL,"
        " secret_expires_at INTEGER NOT NULL, registered_at INTEGER NOT NULL)"}) {
    if (auto r = vault->exec(sql); !r.ok()) return fail("cannot prepare credential vault " + path + ": " + r.error());
  }
  return vault;
}

CredentialVault::~CredentialVault() { sqlite3_close(db_); }

Result<void> CredentialVault::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    return fail(why);
  }
  return {};
}

Result<void> CredentialVault::put(const UpstreamCredential& c) {
  if (c.user_key.empty() || c.upstream.empty()) return fail("credential vault: user key and upstream are required");
  if (c.access_token.empty()) return fail("credential vault: refusing to store an empty access token");
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT OR REPLACE INTO upstream_credentials (user_key, upstream, access_token, refresh_token,"
          " token_type, expires_at, scopes, issuer, resource, token_endpoint, client_id, updated_at)"
          " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, c.user_key)
      .bind(2, c.upstream)
      .bind(3, crypto::seal(key_, c.access_token, aad("access", c.user_key, c.upstream)))
      .bind(4, seal_or_empty(key_, c.refresh_token, aad("refresh", c.user_key, c.upstream)))
      .bind(5, c.token_type)
      .bind(6, c.expires_at)
      .bind(7, join(c.scopes))
      .bind(8, c.issuer)
      .bind(9, c.resource)
      .bind(10, c.token_endpoint)
      .bind(11, c.client_id)
      .bind(12, now_s());
  if (st.step() != SQLITE_DONE) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  return {};
}

Result<std::optional<UpstreamCredential>> CredentialVault::get(const std::string& user_key,
                                                               const std::string& upstream) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT access_token, refresh_token, token_type, expires_at, scopes, issuer, resource,"
          " token_endpoint, client_id, updated_at FROM upstream_credentials WHERE user_key = ? AND upstream = ?");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, user_key).bind(2, upstream);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<UpstreamCredential>();
  if (rc != SQLITE_ROW) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  auto access = crypto::open(key_, st.text(0), aad("access", user_key, upstream));
  auto refresh = open_or_empty(key_, st.text(1), aad("refresh", user_key, upstream));
  if (!access || !refresh) {
    return fail("credential vault: the stored tokens for upstream '" + upstream +
                "' do not decrypt (wrong vault key, or the row was altered)");
  }
  UpstreamCredential c;
  c.user_key = user_key;
  c.upstream = upstream;
  c.access_token = std::move(*access);
  c.refresh_token = std::move(*refresh);
  c.token_type = st.text(2);
  c.expires_at = st.integer(3);
  c.scopes = text::split_words(st.text(4));
  c.issuer = st.text(5);
  c.resource = st.text(6);
  c.token_endpoint = st.text(7);
  c.client_id = st.text(8);
  c.updated_at = st.integer(9);
  return std::optional<UpstreamCredential>(std::move(c));
}

Result<bool> CredentialVault::drop(const std::string& user_key, const std::string& upstream) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "DELETE FROM upstream_credentials WHERE user_key = ? AND upstream = ?");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, user_key).bind(2, upstream);
  if (st.step() != SQLITE_DONE) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<CredentialSummary>> CredentialVault::list(const std::string& user_key) {
  return summaries(&user_key);
}

Result<std::vector<CredentialSummary>> CredentialVault::list_all() { return summaries(nullptr); }

Result<std::vector<CredentialSummary>> CredentialVault::summaries(const std::string* user_key) {
  std::lock_guard lock(mu_);
  Stmt st(db_, user_key ? "SELECT upstream, issuer, resource, scopes, expires_at, refresh_token != '', updated_at,"
                          " user_key FROM upstream_credentials WHERE user_key = ? ORDER BY upstream"
                        : "SELECT upstream, issuer, resource, scopes, expires_at, refresh_token != '', updated_at,"
                          " user_key FROM upstream_credentials ORDER BY user_key, upstream");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  if (user_key) st.bind(1, *user_key);
  std::vector<CredentialSummary> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    CredentialSummary s;
    s.upstream = st.text(0);
    s.issuer = st.text(1);
    s.resource = st.text(2);
    s.scopes = text::split_words(st.text(3));
    s.expires_at = st.integer(4);
    s.has_refresh_token = st.integer(5) != 0;
    s.updated_at = st.integer(6);
    s.user_key = st.text(7);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  return out;
}

Result<void> CredentialVault::put_client(const ClientRegistration& r) {
  if (r.issuer.empty() || r.client_id.empty()) return fail("credential vault: issuer and client_id are required");
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "INSERT OR REPLACE INTO oauth_clients (issuer, client_id, client_secret, auth_method, source,"
          " redirect_uris, secret_expires_at, registered_at) VALUES (?,?,?,?,?,?,?,?)");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, r.issuer)
      .bind(2, r.client_id)
      .bind(3, seal_or_empty(key_, r.client_secret, aad("client_secret", r.issuer, r.client_id)))
      .bind(4, r.token_endpoint_auth_method)
      .bind(5, r.source)
      .bind(6, join(r.redirect_uris))
      .bind(7, r.client_secret_expires_at)
      .bind(8, r.registered_at ? r.registered_at : now_s());
  if (st.step() != SQLITE_DONE) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  return {};
}

Result<std::optional<ClientRegistration>> CredentialVault::client(const std::string& issuer) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT client_id, client_secret, auth_method, source, redirect_uris, secret_expires_at, registered_at"
          " FROM oauth_clients WHERE issuer = ?");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, issuer);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<ClientRegistration>();
  if (rc != SQLITE_ROW) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  ClientRegistration r;
  r.issuer = issuer;
  r.client_id = st.text(0);
  auto secret = open_or_empty(key_, st.text(1), aad("client_secret", issuer, r.client_id));
  if (!secret) {
    return fail("credential vault: the client secret registered at " + issuer +
                " does not decrypt (wrong vault key, or the row was altered)");
  }
  r.client_secret = std::move(*secret);
  r.token_endpoint_auth_method = st.text(2);
  r.source = st.text(3);
  r.redirect_uris = text::split_words(st.text(4));
  r.client_secret_expires_at = st.integer(5);
  r.registered_at = st.integer(6);
  return std::optional<ClientRegistration>(std::move(r));
}

Result<bool> CredentialVault::drop_client(const std::string& issuer) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "DELETE FROM oauth_clients WHERE issuer = ?");
  if (!st.ok()) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  st.bind(1, issuer);
  if (st.step() != SQLITE_DONE) return fail(std::string("credential vault: ") + sqlite3_errmsg(db_));
  return sqlite3_changes(db_) > 0;
}

}  // namespace portcullis::identity
