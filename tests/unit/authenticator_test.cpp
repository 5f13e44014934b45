#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "identity/authenticator.h"
#include "identity_fixtures.h"

using namespace portcullis;
using namespace portcullis::identity;
using idtest::IssuerServer;
using idtest::TestClock;
namespace fs = std::filesystem;

namespace {

const std::string kResource = "http://127.0.0.1:8080";

// A temporary api_keys.yaml, removed on destruction.
class KeysFile {
 public:
  explicit KeysFile(const std::string& yaml) {
    char tmpl[] = "/tmp/portcullis-apikeys-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "api_keys.yaml") << yaml;
  }
  ~KeysFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path() const { return (dir_ / "api_keys.yaml").string(); }

 private:
  fs::path dir_;
};

// An issuer with rsa-1, a keys file with two keys, and an authenticator in
// the given mode requiring scope "mcp" and metadata "team".
struct Gateway {
  IssuerServer as;
  TestClock clock;
  std::string ops_key, narrow_key;
  std::unique_ptr<KeysFile> keys;
  config::Settings settings;
  std::shared_ptr<const Authenticator> auth;

  explicit Gateway(config::AuthMode mode,
                   config::UntaggedPolicy untagged = config::UntaggedPolicy::Tag) {
    as.set_keys({&idtest::rsa_key()});
    auto ops = generate_api_key("ops", "ops-bot", {"ops"}, {{"team", "platform"}});
    auto narrow = generate_api_key("narrow", "reader");
    ops_key = ops->key;
    narrow_key = narrow->key;
    keys = std::make_unique<KeysFile>(ops->yaml_entry + narrow->yaml_entry + "  scopes: [read]\n");
    settings.auth.mode = mode;
    settings.auth.resource = kResource;
    settings.auth.oauth.issuer = as.issuer();
    settings.auth.oauth.algorithms = {"RS256", "ES256"};
    settings.auth.oauth.scopes = {"mcp"};
    settings.auth.oauth.groups_claim = "roles";
    settings.auth.oauth.metadata_claims = {{"team", "team"}, {"project_id", "project"}};
    settings.auth.api_keys_file = keys->path();
    settings.metadata.required = {"team"};
    settings.metadata.untagged = untagged;
    AuthenticatorOptions o;
    o.clock = clock.fn();
    auto a = Authenticator::create(settings, o);
    REQUIRE_MESSAGE(a.ok(), a.error());
    auth = a.value();
  }

  std::string token(Json extra = Json::object()) const {
    Json c = {{"iss", as.issuer()},       {"sub", "alice"}, {"aud", kResource},
              {"exp", clock.now() + 600}, {"scope", "mcp"}, {"roles", {"dev", "admin"}},
              {"team", "infra"}};
    c.update(extra);
    return idtest::rsa_key().sign(c);
  }
  AuthOutcome bearer(const std::string& tok, std::string_view metadata = "",
                     std::string_view path = "/mcp/dev") const {
    std::string header = "Bearer " + tok;
    return auth->authenticate({header, "", metadata, path});
  }
};

std::string rm(const std::string& path = "/mcp/dev") {
  return "resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource" + path +
         "\"";
}

}  // namespace

TEST_CASE(
    "a valid token yields a principal with subject, issuer, groups, scopes, claims-won metadata "
    "and the token") {
  Gateway g(config::AuthMode::OAuth);
  std::string tok = g.token();
  auto out = g.bearer(tok, R"({"team":"spoofed","workflow":"triage"})");
  REQUIRE(out.ok());
  const Principal& p = out.principal();
  CHECK(p.method == AuthMethod::Bearer);
  CHECK(p.subject == "alice");
  CHECK(p.issuer == g.as.issuer());
  CHECK(p.groups == std::vector<std::string>{"dev", "admin"});
  CHECK(p.scopes == std::vector<std::string>{"mcp"});
  CHECK(p.metadata ==
        std::map<std::string, std::string>{{"team", "infra"}, {"workflow", "triage"}});
  CHECK(p.untagged.empty());
  CHECK(p.bearer_token == tok);
  CHECK(p.expires_at == g.clock.now() + 600);
  CHECK(p.to_json().dump().find(tok) == std::string::npos);
}

TEST_CASE("no credential gets 401 with the resource metadata URL and the required scope") {
  Gateway g(config::AuthMode::OAuth);
  auto out = g.auth->authenticate({"", "", "", "/mcp/dev"});
  REQUIRE_FALSE(out.ok());
  CHECK(out.failure().status == 401);
  CHECK(out.failure().www_authenticate == "Bearer " + rm() + ", scope=\"mcp\"");
  CHECK(out.failure().body() ==
        Json{{"error", "unauthorized"}, {"error_description", "authentication required"}});
  auto gw = g.auth->authenticate({"", "", "", ""});
  CHECK(gw.failure().www_authenticate == "Bearer " + rm("") + ", scope=\"mcp\"");
  auto basic = g.auth->authenticate({"Basic dXNlcjpwYXNz", "", "", "/mcp/dev"});
  CHECK(basic.failure().status == 401);
  CHECK(basic.failure().message == "the Authorization header must use the Bearer scheme");
}

TEST_CASE(
    "an invalid token gets 401 invalid_token with a header-safe description and never echoes the "
    "token") {
  Gateway g(config::AuthMode::OAuth);
  g.clock.advance(0);
  std::string expired = g.token({{"exp", g.clock.now() - 100}});
  auto out = g.bearer(expired);
  REQUIRE_FALSE(out.ok());
  const AuthFailure& f = out.failure();
  CHECK(f.status == 401);
  CHECK(f.error == "invalid_token");
  CHECK(f.message == "token expired 100 s ago");
  CHECK(f.www_authenticate ==
        "Bearer error=\"invalid_token\", error_description=\"token expired 100 s ago\", " + rm() +
            ", scope=\"mcp\"");
  CHECK(f.body() ==
        Json{{"error", "invalid_token"}, {"error_description", "token expired 100 s ago"}});

  auto wrong_iss = g.bearer(g.token({{"iss", "https://evil\"x"}}));
  CHECK(wrong_iss.failure().www_authenticate.find(
            "error_description=\"token issuer 'https://evil'x' is not") != std::string::npos);
  auto garbage = g.bearer("not-a-jwt");
  CHECK(garbage.failure().message.find("not-a-jwt") == std::string::npos);
  CHECK(garbage.failure().www_authenticate.find("not-a-jwt") == std::string::npos);
}

TEST_CASE("a valid token without the required scope gets 403 insufficient_scope") {
  Gateway g(config::AuthMode::OAuth);
  auto out = g.bearer(g.token({{"scope", "read write"}}));
  REQUIRE_FALSE(out.ok());
  CHECK(out.failure().status == 403);
  CHECK(out.failure().message == "token lacks required scope: mcp");
  CHECK(out.failure().www_authenticate ==
        "Bearer error=\"insufficient_scope\", scope=\"mcp\", " + rm());
}

TEST_CASE(
    "API keys authenticate by X-API-Key or Bearer pk_..., with the entry's groups, metadata and "
    "scopes") {
  Gateway g(config::AuthMode::OAuthOrApiKey);
  for (const std::string& header : {std::string("X-API-Key"), std::string("Authorization")}) {
    CAPTURE(header);
    std::string bearer = "Bearer " + g.ops_key;
    RequestView r{"", "", R"({"team":"spoofed"})", "/mcp/dev"};
    if (header == "X-API-Key")
      r.api_key = g.ops_key;
    else
      r.authorization = bearer;
    auto out = g.auth->authenticate(r);
    REQUIRE(out.ok());
    CHECK(out.principal().method == AuthMethod::ApiKey);
    CHECK(out.principal().subject == "ops-bot");
    CHECK(out.principal().groups == std::vector<std::string>{"ops"});
    CHECK(out.principal().scopes ==
          std::vector<std::string>{"mcp"});  // no scopes in the entry: the required ones
    CHECK(out.principal().metadata.at("team") == "platform");  // the key entry wins over the header
    CHECK(out.principal().bearer_token.empty());
  }
  auto narrow = g.auth->authenticate({"", g.narrow_key, R"({"team":"a"})", "/mcp/dev"});
  REQUIRE_FALSE(narrow.ok());
  CHECK(narrow.failure().status == 403);
  CHECK(narrow.failure().message == "API key 'narrow' lacks required scope: mcp");
  auto unknown = g.auth->authenticate({"", "pk_nope", "", "/mcp/dev"});
  CHECK(unknown.failure().status == 401);
  CHECK(unknown.failure().message == "unknown API key");
  auto both = g.auth->authenticate({"Bearer x", g.ops_key, "", "/mcp/dev"});
  CHECK(both.failure().status == 400);
  CHECK(both.failure().www_authenticate.empty());
  // OAuth still works in the combined mode.
  CHECK(g.bearer(g.token()).ok());
}

TEST_CASE("each mode refuses the other kind of credential") {
  Gateway oauth(config::AuthMode::OAuth);
  auto k = oauth.auth->authenticate({"", oauth.ops_key, "", "/mcp/dev"});
  CHECK(k.failure().message == "API keys are not accepted here (auth.mode is oauth)");
  Gateway keys(config::AuthMode::ApiKey);
  auto t = keys.bearer(keys.token());
  CHECK(t.failure().message == "this gateway accepts API keys only (pk_...)");
  CHECK(keys.as.jwks_fetches() == 0);
}

TEST_CASE("mode none gives the anonymous principal, still tagged with metadata") {
  Gateway g(config::AuthMode::None);
  auto out = g.auth->authenticate({"", "", R"({"project_id":"p"})", "/mcp/dev"});
  REQUIRE(out.ok());
  CHECK(out.principal().subject == "anonymous");
  CHECK(out.principal().method == AuthMethod::None);
  CHECK(out.principal().metadata ==
        std::map<std::string, std::string>{{"project_id", "p"}, {"team", "UNTAGGED"}});
  CHECK(out.principal().untagged == std::vector<std::string>{"team"});
}

TEST_CASE("missing required metadata is tagged or refused with 400, and a bad header is 400") {
  Gateway tag(config::AuthMode::OAuth);
  auto t = tag.bearer(tag.token({{"team", nullptr}}));
  REQUIRE(t.ok());
  CHECK(t.principal().metadata.at("team") == "UNTAGGED");
  CHECK(t.principal().untagged == std::vector<std::string>{"team"});

  Gateway reject(config::AuthMode::OAuth, config::UntaggedPolicy::Reject);
  auto r = reject.bearer(reject.token({{"team", nullptr}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure().status == 400);
  CHECK(r.failure().message ==
        "missing required metadata: team (send them in X-Portcullis-Metadata)");
  CHECK(r.failure().www_authenticate.empty());
  auto bad = reject.bearer(reject.token(), R"({"tenant":"x"})");
  CHECK(bad.failure().status == 400);
  CHECK(bad.failure().message.find("unknown key 'tenant'") != std::string::npos);
}

TEST_CASE("protected resource metadata describes the gateway and each virtual server path") {
  Gateway g(config::AuthMode::OAuth);
  CHECK(g.auth->resource_metadata_url("/mcp/dev") ==
        "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/dev");
  CHECK(*g.auth->protected_resource_metadata("") == Json{{"resource", kResource},
                                                         {"authorization_servers", {g.as.issuer()}},
                                                         {"scopes_supported", {"mcp"}},
                                                         {"bearer_methods_supported", {"header"}},
                                                         {"resource_name", "Portcullis"}});
  CHECK(*g.auth->protected_resource_metadata("/mcp/dev") ==
        Json{{"resource", kResource + "/mcp/dev"},
             {"authorization_servers", {g.as.issuer()}},
             {"scopes_supported", {"mcp"}},
             {"bearer_methods_supported", {"header"}},
             {"resource_name", "Portcullis: dev"}});
}

TEST_CASE("a resource with a path gets its metadata URL by RFC 9728 path insertion") {
  config::Settings s;
  s.auth.mode = config::AuthMode::OAuth;
  s.auth.resource = "https://example.com/gw";
  s.auth.oauth.issuer = "https://id.example.com";
  auto a = Authenticator::create(s, AuthenticatorOptions());
  REQUIRE(a.ok());
  CHECK((*a)->resource_metadata_url("/mcp/dev") ==
        "https://example.com/.well-known/oauth-protected-resource/gw/mcp/dev");
  CHECK((*a)->protected_resource_metadata("/mcp/dev")->at("resource") ==
        "https://example.com/gw/mcp/dev");
  // No scopes configured: no scope parameter.
  auto out = (*a)->authenticate({"", "", "", "/mcp/dev"});
  CHECK(
      out.failure().www_authenticate ==
      "Bearer "
      "resource_metadata=\"https://example.com/.well-known/oauth-protected-resource/gw/mcp/dev\"");
}

TEST_CASE("an invalid api_keys.yaml makes create() fail with file:line messages") {
  KeysFile f("- id: a\n  subject: s\n");
  config::Settings s;
  s.auth.mode = config::AuthMode::ApiKey;
  s.auth.api_keys_file = f.path();
  auto a = Authenticator::create(s, AuthenticatorOptions());
  REQUIRE_FALSE(a.ok());
  CHECK(a.error() == "api_keys.yaml:1: key[0]: missing required key 'hash'");
}

TEST_CASE("many threads authenticate concurrently with one JWKS fetch") {
  Gateway g(config::AuthMode::OAuthOrApiKey);
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(g.token({{"jti", i}}));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto out = (i % 5 == 0) ? g.auth->authenticate({"", g.ops_key, "", "/mcp/dev"})
                                : g.bearer(tokens[(t + i) % tokens.size()]);
        if (out.ok()) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 400);
  CHECK(g.as.jwks_fetches() == 1);
}
