#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "identity/credential_vault.h"

using namespace portcullis;
using namespace portcullis::identity;

namespace {

const std::string kKey(32, 'k');

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/portcullis-vault-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(dir); }
  std::string path() const { return dir + "/vault.db"; }
  // Every byte of the database and its WAL, so a search covers what is on disk.
  std::string raw_bytes() const {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }
  std::string dir;
};

UpstreamCredential sample(const std::string& user = "oauth|4:https://idp|alice", const std::string& up = "github") {
  UpstreamCredential c;
  c.user_key = user;
  c.upstream = up;
  c.access_token = "ACCESS-TOKEN-VALUE-0123456789";
  c.refresh_token = "REFRESH-TOKEN-VALUE-9876543210";
  c.expires_at = 2000000000;
  c.scopes = {"repo", "read:user"};
  c.issuer = "https://github.com/login/oauth";
  c.resource = "https://mcp.github.example/mcp";
  c.token_endpoint = "https://github.com/login/oauth/access_token";
  c.client_id = "client-123";
  return c;
}

// Runs one SQL statement against the file directly (what an attacker with
// the file could do).
void tamper(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("the vault refuses a key that is not 32 bytes") {
  auto v = CredentialVault::open(":memory:", std::string(16, 'k'));
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().find("32 bytes") != std::string::npos);
}

TEST_CASE("a stored credential comes back whole, and tokens are not in plaintext on disk") {
  TempDir t;
  {
    auto v = CredentialVault::open(t.path(), kKey);
    REQUIRE(v.ok());
    REQUIRE((*v)->put(sample()).ok());
    auto got = (*v)->get(sample().user_key, "github");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    const auto& c = **got;
    CHECK(c.access_token == "ACCESS-TOKEN-VALUE-0123456789");
    CHECK(c.refresh_token == "REFRESH-TOKEN-VALUE-9876543210");
    CHECK(c.scopes == std::vector<std::string>{"repo", "read:user"});
    CHECK(c.expires_at == 2000000000);
    CHECK(c.issuer == "https://github.com/login/oauth");
    CHECK(c.token_endpoint == "https://github.com/login/oauth/access_token");
    CHECK(c.updated_at > 0);
    std::string raw = t.raw_bytes();
    CHECK(raw.find("ACCESS-TOKEN-VALUE") == std::string::npos);
    CHECK(raw.find("REFRESH-TOKEN-VALUE") == std::string::npos);
    CHECK(raw.find("https://github.com/login/oauth") != std::string::npos);  // metadata is clear
  }
  auto reopened = CredentialVault::open(t.path(), kKey);
  REQUIRE(reopened.ok());
  auto got = (*reopened)->get(sample().user_key, "github");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->access_token == "ACCESS-TOKEN-VALUE-0123456789");
}

TEST_CASE("a vault opened with another key cannot read the tokens and says so") {
  TempDir t;
  {
    auto v = CredentialVault::open(t.path(), kKey);
    REQUIRE(v.ok());
    REQUIRE((*v)->put(sample()).ok());
  }
  auto other = CredentialVault::open(t.path(), std::string(32, 'x'));
  REQUIRE(other.ok());
  auto got = (*other)->get(sample().user_key, "github");
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().find("do not decrypt") != std::string::npos);
  CHECK(got.error().find("ACCESS") == std::string::npos);
}

TEST_CASE("a sealed token moved to another user's row, or between fields, does not open (aad binding)") {
  TempDir t;
  auto v = CredentialVault::open(t.path(), kKey);
  REQUIRE(v.ok());
  REQUIRE((*v)->put(sample("oauth|0:|alice", "github")).ok());
  REQUIRE((*v)->put(sample("oauth|0:|mallory", "github")).ok());
  REQUIRE((*v)->put(sample("oauth|0:|alice", "jira")).ok());

  SUBCASE("another user") {
    tamper(t.path(),
           "UPDATE upstream_credentials SET access_token = (SELECT access_token FROM upstream_credentials"
           " WHERE user_key = 'oauth|0:|alice' AND upstream = 'github') WHERE user_key = 'oauth|0:|mallory'");
    CHECK_FALSE((*v)->get("oauth|0:|mallory", "github").ok());
    CHECK((*v)->get("oauth|0:|alice", "github").ok());
  }
  SUBCASE("another upstream") {
    tamper(t.path(),
           "UPDATE upstream_credentials SET access_token = (SELECT access_token FROM upstream_credentials"
           " WHERE user_key = 'oauth|0:|alice' AND upstream = 'github') WHERE upstream = 'jira'");
    CHECK_FALSE((*v)->get("oauth|0:|alice", "jira").ok());
  }
  SUBCASE("refresh token copied into the access column") {
    tamper(t.path(),
           "UPDATE upstream_credentials SET access_token = refresh_token WHERE user_key = 'oauth|0:|alice'"
           " AND upstream = 'github'");
    CHECK_FALSE((*v)->get("oauth|0:|alice", "github").ok());
  }
}

TEST_CASE("drop forgets one credential and reports whether there was one") {
  auto v = CredentialVault::open(":memory:", kKey);
  REQUIRE(v.ok());
  REQUIRE((*v)->put(sample("u1", "github")).ok());
  REQUIRE((*v)->put(sample("u1", "jira")).ok());
  auto dropped = (*v)->drop("u1", "github");
  REQUIRE(dropped.ok());
  CHECK(*dropped);
  auto again = (*v)->drop("u1", "github");
  REQUIRE(again.ok());
  CHECK_FALSE(*again);
  auto gone = (*v)->get("u1", "github");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  auto kept = (*v)->get("u1", "jira");
  REQUIRE(kept.ok());
  CHECK(kept->has_value());
}

TEST_CASE("list shows a user's own credentials without token values") {
  auto v = CredentialVault::open(":memory:", kKey);
  REQUIRE(v.ok());
  REQUIRE((*v)->put(sample("u1", "jira")).ok());
  UpstreamCredential no_refresh = sample("u1", "github");
  no_refresh.refresh_token.clear();
  REQUIRE((*v)->put(no_refresh).ok());
  REQUIRE((*v)->put(sample("u2", "slack")).ok());
  auto l = (*v)->list("u1");
  REQUIRE(l.ok());
  REQUIRE(l->size() == 2);
  CHECK((*l)[0].upstream == "github");
  CHECK_FALSE((*l)[0].has_refresh_token);
  CHECK((*l)[1].upstream == "jira");
  CHECK((*l)[1].has_refresh_token);
  CHECK((*l)[1].scopes == std::vector<std::string>{"repo", "read:user"});
  static_assert(sizeof(CredentialSummary) > 0);  // (CredentialSummary has no token fields at all)
}

TEST_CASE("an empty access token is refused rather than stored") {
  auto v = CredentialVault::open(":memory:", kKey);
  REQUIRE(v.ok());
  UpstreamCredential c = sample();
  c.access_token.clear();
  CHECK_FALSE((*v)->put(c).ok());
}

TEST_CASE("client registrations are kept per issuer with the secret sealed") {
  TempDir t;
  auto v = CredentialVault::open(t.path(), kKey);
  REQUIRE(v.ok());
  ClientRegistration r;
  r.issuer = "https://as.example";
  r.client_id = "dcr-client-1";
  r.client_secret = "CLIENT-SECRET-VALUE";
  r.token_endpoint_auth_method = "client_secret_basic";
  r.source = "dcr";
  r.redirect_uris = {"http://127.0.0.1:5555/callback"};
  REQUIRE((*v)->put_client(r).ok());
  CHECK(t.raw_bytes().find("CLIENT-SECRET-VALUE") == std::string::npos);
  auto got = (*v)->client("https://as.example");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->client_secret == "CLIENT-SECRET-VALUE");
  CHECK((*got)->redirect_uris == r.redirect_uris);
  CHECK((*got)->source == "dcr");
  auto other = (*v)->client("https://other-as.example");
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());
  auto dropped = (*v)->drop_client("https://as.example");
  REQUIRE(dropped.ok());
  CHECK(*dropped);
}
