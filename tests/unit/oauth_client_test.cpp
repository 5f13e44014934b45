#include <doctest/doctest.h>

#include <set>

#include "identity/oauth_wire.h"
#include "identity/pkce.h"

using namespace portcullis;
using namespace portcullis::identity;

TEST_CASE("the S256 challenge is base64url(SHA-256(verifier)) without padding") {
  // Reference value from an independent implementation (Python hashlib + base64).
  CHECK(pkce_challenge("dBjftJeZ4CVP-mJ92K9uDiqtXeuu9Jiw3BFbDXYyRNw") ==
        "4F723Osbd0QkoNOPjmhSWaIsUDm11g2F1hOwX_OwJww");
}

TEST_CASE("a fresh PKCE pair is 43 base64url characters, its challenge matches, and pairs differ") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    Pkce p = make_pkce();
    CHECK(p.verifier.size() == 43);
    CHECK(p.verifier.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    CHECK(p.challenge == pkce_challenge(p.verifier));
    seen.insert(p.verifier);
  }
  CHECK(seen.size() == 20);
  CHECK(make_state() != make_state());
}

TEST_CASE("form encoding escapes everything but unreserved characters and round-trips through parse_query") {
  CHECK(form_encode({{"redirect_uri", "http://127.0.0.1:8/cb?x=1"}, {"scope", "a b"}}) ==
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A8%2Fcb%3Fx%3D1&scope=a%20b");
  auto q = parse_query("?code=abc%2Fd&state=s+1&iss=https%3A%2F%2Fas.example&empty=&code=second");
  CHECK(q["code"] == "abc/d");
  CHECK(q["state"] == "s 1");
  CHECK(q["iss"] == "https://as.example");
  CHECK(q["empty"].empty());
  CHECK(query_of("http://h/cb?a=1#frag") == "a=1");
  CHECK(append_query("https://as/authorize?tenant=x", {{"a", "1"}}) == "https://as/authorize?tenant=x&a=1");
  CHECK(append_query("https://as/authorize", {{"a", "1"}}) == "https://as/authorize?a=1");
}

// --- discovery -------------------------------------------------------------------

#include "identity/auth_discovery.h"
#include "identity/oauth_client.h"

TEST_CASE("the Bearer challenge's parameters are read, quoted or not, among other challenges") {
  auto c = parse_bearer_challenge(
      R"(Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", error_description="need \"write\"")");
  REQUIRE(c.has_value());
  CHECK(c->insufficient_scope());
  CHECK(c->scope == "mcp:read mcp:write");
  CHECK(c->resource_metadata == "https://mcp.example/.well-known/oauth-protected-resource/mcp");
  CHECK(c->error_description == "need \"write\"");

  auto mixed = parse_bearer_challenge(R"(DPoP algs="ES256", scope="dpop-only", bearer realm=x, scope=mcp:basic)");
  REQUIRE(mixed.has_value());
  CHECK(mixed->scope == "mcp:basic");
  CHECK_FALSE(mixed->insufficient_scope());

  CHECK_FALSE(parse_bearer_challenge(R"(Basic realm="x")").has_value());
  CHECK(parse_bearer_challenge("Bearer").has_value());
}

TEST_CASE("protected resource metadata is looked up path-inserted first, then at the root") {
  CHECK(protected_resource_metadata_urls("https://mcp.example.com/public/mcp?x=1") ==
        std::vector<std::string>{"https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp",
                                 "https://mcp.example.com/.well-known/oauth-protected-resource"});
  CHECK(protected_resource_metadata_urls("http://localhost:3000/mcp/") ==
        std::vector<std::string>{"http://localhost:3000/.well-known/oauth-protected-resource/mcp",
                                 "http://localhost:3000/.well-known/oauth-protected-resource"});
  CHECK(protected_resource_metadata_urls("https://mcp.example.com") ==
        std::vector<std::string>{"https://mcp.example.com/.well-known/oauth-protected-resource"});
  CHECK(protected_resource_metadata_urls("ftp://x/y").empty());
}

TEST_CASE("authorization server metadata URLs follow the spec's order for issuers with and without a path") {
  CHECK(authorization_server_metadata_urls("https://auth.example.com/tenant1") ==
        std::vector<std::string>{"https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                                 "https://auth.example.com/.well-known/openid-configuration/tenant1",
                                 "https://auth.example.com/tenant1/.well-known/openid-configuration"});
  CHECK(authorization_server_metadata_urls("https://auth.example.com") ==
        std::vector<std::string>{"https://auth.example.com/.well-known/oauth-authorization-server",
                                 "https://auth.example.com/.well-known/openid-configuration"});
  // The authority is kept as written: no default port is added.
  CHECK(authorization_server_metadata_urls("http://localhost:9000/")[0] ==
        "http://localhost:9000/.well-known/oauth-authorization-server");
}

TEST_CASE("a PRM resource speaks for the server only on the same origin and a path prefix") {
  CHECK(resource_covers("http://localhost:3000/mcp", "http://localhost:3000/mcp"));
  CHECK(resource_covers("http://localhost:3000", "http://localhost:3000/mcp"));
  CHECK(resource_covers("https://MCP.example.com:443/api/", "https://mcp.example.com/api/mcp"));
  CHECK_FALSE(resource_covers("https://evil.example.com/mcp", "http://localhost:3000/mcp"));
  CHECK_FALSE(resource_covers("http://localhost:3000/mc", "http://localhost:3000/mcp"));
  CHECK_FALSE(resource_covers("http://localhost:3001/mcp", "http://localhost:3000/mcp"));
  CHECK_FALSE(resource_covers("https://localhost:3000/mcp", "http://localhost:3000/mcp"));
  CHECK(canonical_resource("https://mcp.example.com/mcp#frag") == "https://mcp.example.com/mcp");
  CHECK(canonical_resource("https://mcp.example.com/") == "https://mcp.example.com");
}

TEST_CASE("scopes come from the challenge, else the PRM, else none; step-up asks for the union") {
  CHECK(select_scopes("mcp:basic", {"a", "b"}, {}, {}) == std::vector<std::string>{"mcp:basic"});
  CHECK(select_scopes("", {"a", "b"}, {}, {}) == std::vector<std::string>{"a", "b"});
  CHECK(select_scopes("", {}, {}, {}).empty());
  CHECK(select_scopes("mcp:write", {}, {"mcp:basic"}, {}) == std::vector<std::string>{"mcp:basic", "mcp:write"});
  CHECK(select_scopes("mcp:basic", {}, {"mcp:basic"}, {}) == std::vector<std::string>{"mcp:basic"});
  // offline_access only where the authorization server lists it.
  CHECK(select_scopes("mcp:basic", {}, {}, {"mcp:basic", "offline_access"}) ==
        std::vector<std::string>{"mcp:basic", "offline_access"});
  CHECK(join_scopes(split_scopes("  a  b a ")) == "a b");
}

TEST_CASE("authorization server metadata is refused when its issuer differs, lacks S256, or has non-http endpoints") {
  Json doc = {{"issuer", "https://as.example/tenant1"},
              {"authorization_endpoint", "https://as.example/tenant1/authorize"},
              {"token_endpoint", "https://as.example/tenant1/token"},
              {"code_challenge_methods_supported", {"S256"}},
              {"authorization_response_iss_parameter_supported", true},
              {"client_id_metadata_document_supported", true}};
  auto ok = parse_authorization_server_metadata(doc, "https://as.example/tenant1");
  REQUIRE(ok.ok());
  CHECK(ok->authorization_response_iss_parameter_supported);
  CHECK(ok->client_id_metadata_document_supported);
  CHECK(ok->registration_endpoint.empty());

  auto mismatch = parse_authorization_server_metadata(doc, "https://as.example/tenant1/");
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().find("refusing to use it") != std::string::npos);

  Json plain = doc;
  plain["code_challenge_methods_supported"] = {"plain"};
  auto no_s256 = parse_authorization_server_metadata(plain, "");
  REQUIRE_FALSE(no_s256.ok());
  CHECK(no_s256.error().find("S256") != std::string::npos);
  plain.erase("code_challenge_methods_supported");
  CHECK_FALSE(parse_authorization_server_metadata(plain, "").ok());

  Json js = doc;
  js["authorization_endpoint"] = "javascript:alert(1)";
  auto bad = parse_authorization_server_metadata(js, "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("not an http(s) URL") != std::string::npos);

  Json cleartext = doc;
  cleartext["token_endpoint"] = "http://as.example/tenant1/token";
  auto http = parse_authorization_server_metadata(cleartext, "");
  REQUIRE_FALSE(http.ok());
  CHECK(http.error().find("https") != std::string::npos);
  cleartext["token_endpoint"] = "http://localhost:9000/token";
  CHECK(parse_authorization_server_metadata(cleartext, "").ok());
}

// --- authorization response ----------------------------------------------------------

TEST_CASE("iss is compared byte for byte and required only when advertised (RFC 9207)") {
  const std::string issuer = "https://as.example/tenant1";
  CHECK(check_response_issuer(issuer, true, issuer).ok());
  CHECK(check_response_issuer(issuer, false, issuer).ok());  // present though not advertised: still compared
  CHECK(check_response_issuer(issuer, false, std::nullopt).ok());
  auto missing = check_response_issuer(issuer, true, std::nullopt);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("not redeemed") != std::string::npos);
  CHECK_FALSE(check_response_issuer(issuer, false, std::string("https://evil.example")).ok());
  // No normalization: trailing slash, case, default port, escapes all differ.
  CHECK_FALSE(check_response_issuer(issuer, true, issuer + "/").ok());
  CHECK_FALSE(check_response_issuer(issuer, true, std::string("https://AS.example/tenant1")).ok());
  CHECK_FALSE(check_response_issuer(issuer, true, std::string("https://as.example:443/tenant1")).ok());
  CHECK_FALSE(check_response_issuer(issuer, true, std::string("https://as.example/tenant%31")).ok());
}

TEST_CASE("the authorization response is read from the callback query, iss absent or present") {
  auto r = AuthorizationResponse::from_query("code=test-auth-code&state=abc&iss=http%3A%2F%2Flocalhost%3A1234");
  CHECK(r.code == "test-auth-code");
  CHECK(r.state == "abc");
  REQUIRE(r.iss.has_value());
  CHECK(*r.iss == "http://localhost:1234");
  auto no_iss = AuthorizationResponse::from_query("error=access_denied&state=abc");
  CHECK_FALSE(no_iss.iss.has_value());
  CHECK(no_iss.error == "access_denied");
}

TEST_CASE("token endpoint authentication follows the registration, else the secret and the AS's methods") {
  ClientRegistration pub;
  pub.client_id = "c";
  CHECK(resolve_token_auth_method(pub, {"client_secret_basic"}) == "none");
  ClientRegistration conf = pub;
  conf.client_secret = "s";
  CHECK(resolve_token_auth_method(conf, {}) == "client_secret_basic");
  CHECK(resolve_token_auth_method(conf, {"client_secret_post"}) == "client_secret_post");
  conf.token_endpoint_auth_method = "client_secret_post";
  CHECK(resolve_token_auth_method(conf, {"client_secret_basic"}) == "client_secret_post");
}

TEST_CASE("an unknown or reused state is refused before anything is redeemed") {
  auto vault = CredentialVault::open(":memory:", std::string(32, 'k'));
  REQUIRE(vault.ok());
  OAuthClientOptions o;
  o.redirect_uri = "http://127.0.0.1:1/callback";
  OAuthClient client(o, std::shared_ptr<CredentialVault>(std::move(vault).value()));
  auto r = client.complete_authorization(AuthorizationResponse::from_query("code=x&state=never-issued"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("matches no authorization in progress") != std::string::npos);
  auto none = client.credential("u", "github");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().rfind("no credential", 0) == 0);
}

TEST_CASE("a redirect_uri that is neither https nor loopback http is refused before any discovery") {
  for (const char* uri : {"javascript:alert(1)", "http://gateway.example/callback", "myapp://cb"}) {
    OAuthClientOptions o;
    o.redirect_uri = uri;
    OAuthClient client(o, nullptr);
    auto p = client.begin_authorization("u", "up", "http://127.0.0.1:1/mcp", nullptr);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().find("redirect_uri") != std::string::npos);
  }
}

TEST_CASE("token exchange needs a subject token and an audience or resource") {
  TokenExchangeRequest r;
  r.token_endpoint = "https://as.example/token";
  CHECK(exchange_token(r).error().find("no subject token") != std::string::npos);
  r.subject_token = "t";
  CHECK(exchange_token(r).error().find("audience or a resource") != std::string::npos);
  r.audience = "https://upstream.example";
  r.token_endpoint = "file:///etc/passwd";
  CHECK(exchange_token(r).error().find("not an http(s) URL") != std::string::npos);
  r.token_endpoint = "http://as.example/token";
  CHECK(exchange_token(r).error().find("not https") != std::string::npos);
}
