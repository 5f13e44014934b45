#include <doctest/doctest.h>

#include "identity/token_verifier.h"
#include "identity_fixtures.h"

using namespace portcullis;
using namespace portcullis::identity;
using idtest::IssuerServer;
using idtest::TestClock;

namespace {

const std::string kResource = "http://127.0.0.1:8080";
const std::string kSecret = "0123456789abcdef0123456789abcdef";

// An issuer serving rsa-1 and ec-1, and a verifier for it at a test clock.
struct Fixture {
  IssuerServer as;
  TestClock clock;
  config::OAuthSettings oauth;
  std::shared_ptr<JwksCache> keys;
  std::unique_ptr<TokenVerifier> verifier;

  explicit Fixture(std::vector<std::string> algorithms = {"RS256", "ES256"},
                   std::string secret = "", size_t capacity = 100) {
    as.set_keys({&idtest::rsa_key(), &idtest::ec_key()});
    oauth.issuer = as.issuer();
    oauth.algorithms = std::move(algorithms);
    oauth.hs256_secret = std::move(secret);
    oauth.audience = {"api://portcullis"};
    JwksOptions jo;
    jo.clock = clock.fn();
    keys = std::make_shared<JwksCache>(oauth.issuer, "", jo);
    TokenVerifierOptions vo;
    vo.clock = clock.fn();
    vo.cache_capacity = capacity;
    verifier = std::make_unique<TokenVerifier>(oauth, kResource, keys, vo);
  }

  Json claims(Json extra = Json::object()) const {
    Json c = {{"iss", as.issuer()},       {"sub", "alice"},     {"aud", kResource},
              {"exp", clock.now() + 300}, {"iat", clock.now()}, {"scope", "mcp read"}};
    c.update(extra);
    return c;
  }
  std::string error(const std::string& token, std::string_view path = "") {
    auto r = verifier->verify(token, path);
    return r ? "" : r.error();
  }
};

}  // namespace

TEST_CASE(
    "valid RS256, ES256 and HS256 tokens verify and yield subject, issuer, scopes and expiry") {
  Fixture f({"RS256", "ES256", "HS256"}, kSecret);
  for (const std::string& tok :
       {idtest::rsa_key().sign(f.claims()), idtest::ec_key().sign(f.claims()),
        idtest::hs256_token(kSecret, f.claims())}) {
    auto v = f.verifier->verify(tok, "");
    REQUIRE_MESSAGE(v.ok(), v.error());
    CHECK((*v)->subject == "alice");
    CHECK((*v)->issuer == f.as.issuer());
    CHECK((*v)->scopes == std::vector<std::string>{"mcp", "read"});
    CHECK((*v)->expires_at == f.clock.now() + 300);
  }
  CHECK(f.as.jwks_fetches() == 1);
}

TEST_CASE(
    "expired, not-yet-valid, wrong-issuer and wrong-audience tokens are refused with precise "
    "messages") {
  Fixture f;
  const auto& k = idtest::rsa_key();
  CHECK(f.error(k.sign(f.claims({{"exp", f.clock.now() - 102}}))) == "token expired 102 s ago");
  CHECK(f.error(k.sign(f.claims({{"nbf", f.clock.now() + 120}}))) ==
        "token is not valid for another 120 s");
  CHECK(f.error(k.sign(f.claims({{"iss", "https://evil.example.com"}}))) ==
        "token issuer 'https://evil.example.com' is not the configured issuer '" + f.as.issuer() +
            "'");
  CHECK(f.error(k.sign(f.claims({{"aud", "http://127.0.0.1:9999"}}))) ==
        "audience 'http://127.0.0.1:9999' does not name this resource ('http://127.0.0.1:8080')");
}

TEST_CASE("a token from another issuer never causes a JWKS fetch") {
  Fixture f;
  CHECK_FALSE(
      f.verifier->verify(idtest::rsa_key().sign(f.claims({{"iss", "https://other"}})), "").ok());
  CHECK(f.as.jwks_fetches() == 0);
  CHECK(f.as.metadata_fetches() == 0);
}

TEST_CASE(
    "the audience may be the resource, the virtual server's URL under it, or a configured extra") {
  Fixture f;
  const auto& k = idtest::rsa_key();
  std::string vs = k.sign(f.claims({{"aud", kResource + "/mcp/dev"}}));
  CHECK(f.error(vs, "/mcp/dev") == "");
  CHECK(f.error(vs, "/mcp/other") ==
        "audience 'http://127.0.0.1:8080/mcp/dev' does not name this resource "
        "('http://127.0.0.1:8080')");
  CHECK(f.error(k.sign(f.claims({{"aud", {"x", "api://portcullis"}}}))) == "");
}

TEST_CASE("forged signatures, unsigned tokens and algorithms outside the allow-list are refused") {
  Fixture f({"RS256"});
  std::string tok = idtest::rsa_key().sign(f.claims());
  std::string forged = tok.substr(0, tok.find('.') + 1) +
                       idtest::base64url_encode(f.claims({{"sub", "root"}}).dump()) +
                       tok.substr(tok.rfind('.'));
  CHECK(f.error(forged) == "token signature is invalid");
  CHECK(f.error(idtest::unsigned_token(f.claims())) == "unsigned token (alg 'none') refused");
  // alg none with a bogus signature attached.
  CHECK(f.error(idtest::unsigned_token(f.claims()) + "c2ln") ==
        "unsigned token (alg 'none') refused");
  CHECK(f.error(idtest::ec_key().sign(f.claims())) ==
        "token alg 'ES256' is not allowed (allowed: RS256)");
}

TEST_CASE(
    "alg confusion: HS256 signed with the RSA public key is refused whether or not HS256 is "
    "enabled") {
  const std::string pem = idtest::rsa_key().public_pem();
  {
    Fixture f;
    CHECK(f.error(idtest::hs256_token(pem, f.claims(), {{"kid", "rsa-1"}})) ==
          "token alg 'HS256' is not allowed (allowed: RS256, ES256)");
  }
  {
    Fixture f({"RS256", "HS256"}, kSecret);
    CHECK(f.error(idtest::hs256_token(pem, f.claims(), {{"kid", "rsa-1"}})) ==
          "token signature is invalid");
  }
  {
    // RS256 header on an ES256 key id.
    Fixture f;
    std::string tok = idtest::ec_key().sign(f.claims(), {{"alg", "RS256"}});
    CHECK(f.error(tok) ==
          "token alg 'RS256' cannot be verified with EC P-256 key 'ec-1' (expects ES256)");
  }
}

TEST_CASE(
    "verified tokens are cached by hash, still checked for expiry and audience, and the cache is "
    "bounded") {
  Fixture f({"RS256"}, "", 3);
  std::string tok = idtest::rsa_key().sign(f.claims());
  CHECK(f.error(tok) == "");
  CHECK(f.verifier->cached() == 1);
  CHECK(f.error(tok) == "");
  CHECK(f.verifier->cached() == 1);
  // A cached token is refused once it has expired (300 s + 60 s leeway).
  f.clock.advance(361);
  CHECK(f.error(tok) == "token expired 61 s ago");
  // And for a path its audience does not name.
  std::string vs = idtest::rsa_key().sign(f.claims({{"aud", kResource + "/mcp/a"}}));
  CHECK(f.error(vs, "/mcp/a") == "");
  CHECK(f.error(vs, "/mcp/b") != "");
  for (int i = 0; i < 10; ++i) CHECK(f.error(idtest::rsa_key().sign(f.claims({{"jti", i}}))) == "");
  CHECK(f.verifier->cached() <= 3);
}

TEST_CASE("key rotation at the issuer is survived without a restart") {
  Fixture f({"RS256"});
  CHECK(f.error(idtest::rsa_key().sign(f.claims())) == "");
  f.as.set_keys({&idtest::rsa_key2()});
  f.clock.advance(30);
  CHECK(f.error(idtest::rsa_key2().sign(f.claims())) == "");
  CHECK(f.as.jwks_fetches() == 2);
}
