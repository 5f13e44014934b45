#include <doctest/doctest.h>

#include "core/base64.h"
#include "identity/jwk.h"
#include "identity/jwt.h"
#include "identity_fixtures.h"

using namespace portcullis;
using namespace portcullis::identity;
using idtest::TestKey;

namespace {

const long long kNow = 1'800'000'000;

Json claims(Json extra = Json::object()) {
  Json c = {{"iss", "https://id.example.com"},
            {"sub", "alice"},
            {"aud", "https://gw.example.com"},
            {"exp", kNow + 300},
            {"iat", kNow - 10}};
  c.update(extra);
  return c;
}

ClaimRules rules() {
  ClaimRules r;
  r.issuer = "https://id.example.com";
  r.audiences = {"https://gw.example.com"};
  r.leeway = std::chrono::seconds(60);
  return r;
}

std::string claim_error(const Json& c) {
  auto r = check_claims(c, rules(), kNow);
  return r ? "" : r.error();
}

}  // namespace

TEST_CASE("parse_jwt splits a compact JWS and explains each malformation") {
  std::string tok = idtest::rsa_key().sign(claims());
  auto j = parse_jwt(tok);
  REQUIRE(j.ok());
  CHECK(j->alg == "RS256");
  CHECK(j->kid == "rsa-1");
  CHECK(j->claims["sub"] == "alice");
  CHECK(j->signing_input == tok.substr(0, tok.rfind('.')));
  CHECK(j->signature.size() == 256);

  auto err = [](std::string_view t) {
    auto r = parse_jwt(t);
    return r ? std::string() : r.error();
  };
  CHECK(err("") == "empty bearer token");
  CHECK(err("abc.def") ==
        "token is not a compact JWS (expected three base64url segments separated by '.')");
  CHECK(err("a.b.c.d") ==
        "token is not a compact JWS (expected three base64url segments separated by '.')");
  CHECK(err("e30=.e30.c2ln") == "token header is not valid base64url");
  CHECK(err(base64url_encode("[1]") + ".e30.c2ln") == "token header is not a JSON object");
  CHECK(err(base64url_encode("{\"alg\":\"RS256\"}") + "." + base64url_encode("{nope") + ".c2ln") ==
        "token payload is not valid JSON");
  CHECK(err("e30.e30.c2ln") == "token header has no 'alg'");
  CHECK(err(base64url_encode(R"({"alg":"RS256","crit":["exp"]})") + ".e30.c2ln") ==
        "token header has 'crit' extensions, which this gateway does not understand");
  CHECK(err(idtest::unsigned_token(claims())) == "unsigned token (alg 'none') refused");
  CHECK(err(std::string(kMaxTokenBytes + 1, 'a')) == "token is 16385 bytes; the limit is 16384");
}

TEST_CASE(
    "RS256 and ES256 signatures verify with their JWK, and a forged or re-signed token does not") {
  for (const TestKey* key : {&idtest::rsa_key(), &idtest::ec_key()}) {
    CAPTURE(key->alg());
    auto jwk = Jwk::from_json(key->jwk());
    REQUIRE(jwk.ok());
    CHECK(std::string(jwk->jws_alg()) == key->alg());
    std::string tok = key->sign(claims());
    CHECK(verify_signature(parse_jwt(tok).value(), *jwk).ok());

    // Payload swapped for one naming another subject, signature kept.
    std::string forged = tok.substr(0, tok.find('.') + 1) +
                         base64url_encode(claims({{"sub", "mallory"}}).dump()) +
                         tok.substr(tok.rfind('.'));
    auto r = verify_signature(parse_jwt(forged).value(), *jwk);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "token signature is invalid");
  }
  // Signed by a different RSA key with the same kid.
  TestKey impostor(TestKey::Kind::Rsa, "rsa-1");
  auto r = verify_signature(parse_jwt(impostor.sign(claims())).value(),
                            Jwk::from_json(idtest::rsa_key().jwk()).value());
  CHECK(r.error() == "token signature is invalid");
}

TEST_CASE("an alg that does not match the key type is refused before any signature check") {
  auto rsa = Jwk::from_json(idtest::rsa_key().jwk()).value();
  auto ec = Jwk::from_json(idtest::ec_key().jwk()).value();
  auto es_token = parse_jwt(idtest::ec_key().sign(claims(), {{"kid", "rsa-1"}})).value();
  CHECK(verify_signature(es_token, rsa).error() ==
        "token alg 'ES256' cannot be verified with RSA key 'rsa-1' (expects RS256)");
  // HS256 "signed" with the RSA public key as the HMAC secret (alg confusion).
  auto hs =
      parse_jwt(idtest::hs256_token(idtest::rsa_key().public_pem(), claims(), {{"kid", "rsa-1"}}))
          .value();
  CHECK(verify_signature(hs, rsa).error() ==
        "token alg 'HS256' cannot be verified with RSA key 'rsa-1' (expects RS256)");
  CHECK(verify_signature(hs, ec).error() ==
        "token alg 'HS256' cannot be verified with EC P-256 key 'ec-1' (expects ES256)");
}

TEST_CASE("HS256 verifies with the shared secret only, compared in constant time") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  auto good = parse_jwt(idtest::hs256_token(secret, claims())).value();
  CHECK(verify_hs256(good, secret).ok());
  CHECK(verify_hs256(good, secret + "x").error() == "token signature is invalid");
  CHECK(verify_hs256(good, "").error() == "HS256 is not enabled");
  auto rs = parse_jwt(idtest::rsa_key().sign(claims())).value();
  CHECK(verify_hs256(rs, secret).error() == "token alg 'RS256' is not HS256");
}

TEST_CASE(
    "JWKs: RSA below 2048 bits, other curves and key types, and mismatched alg are refused "
    "clearly") {
  TestKey small(TestKey::Kind::Rsa, "small", 1024);
  CHECK(Jwk::from_json(small.jwk()).error() ==
        "key 'small' is a 1024-bit RSA key; at least 2048 bits are required");
  Json p384 = idtest::ec_key().jwk();
  p384["crv"] = "P-384";
  CHECK(Jwk::from_json(p384).error() ==
        "key 'ec-1' uses curve 'P-384'; only P-256 (ES256) is supported");
  CHECK(Jwk::from_json({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}, {"kid", "ed"}}).error() ==
        "key 'ed' has unsupported key type 'OKP' (supported: RSA, EC P-256)");
  CHECK(Jwk::from_json({{"kty", "oct"}, {"k", "c2VjcmV0"}}).error() ==
        "key without kid has unsupported key type 'oct' (supported: RSA, EC P-256)");
  Json enc = idtest::rsa_key().jwk();
  enc["use"] = "enc";
  CHECK(Jwk::from_json(enc).error() == "key 'rsa-1' is not a signing key (use \"enc\")");
  Json wrong_alg = idtest::rsa_key().jwk();
  wrong_alg["alg"] = "HS256";
  CHECK(Jwk::from_json(wrong_alg).error() ==
        "key 'rsa-1' declares alg 'HS256', which this gateway does not verify with a RSA key");
  Json off_curve = idtest::ec_key().jwk();
  off_curve["y"] = off_curve["x"];
  CHECK(Jwk::from_json(off_curve).error().find("is not a valid EC public key") !=
        std::string::npos);
  Json no_n = idtest::rsa_key().jwk();
  no_n.erase("n");
  CHECK(Jwk::from_json(no_n).error() == "key 'rsa-1' has no 'n' member");
}

TEST_CASE("a key set keeps usable keys, remembers why others were skipped, and rejects non-sets") {
  Json p384 = idtest::ec_key().jwk();
  p384["crv"] = "P-384";
  p384["kid"] = "big-ec";
  auto set = KeySet::parse({{"keys", {idtest::rsa_key().jwk(), p384, idtest::ec_key().jwk()}}});
  REQUIRE(set.ok());
  CHECK(set->keys.size() == 2);
  CHECK(set->find("ec-1") != nullptr);
  CHECK(set->find("big-ec") == nullptr);
  CHECK(set->skipped_reason("big-ec") ==
        "key 'big-ec' uses curve 'P-384'; only P-256 (ES256) is supported");
  CHECK(set->skipped_reason("rsa-1").empty());
  CHECK(KeySet::parse(Json::array()).error() == "the JWKS document is not a JSON object");
  CHECK(KeySet::parse({{"kys", Json::array()}}).error() == "the JWKS document has no 'keys' array");
}

TEST_CASE(
    "claims: issuer, audience, expiry, not-before and issued-at are checked with leeway and "
    "precise messages") {
  CHECK(claim_error(claims()) == "");
  CHECK(claim_error(claims({{"iss", "https://evil.example.com"}})) ==
        "token issuer 'https://evil.example.com' is not the configured issuer "
        "'https://id.example.com'");
  CHECK(claim_error(claims({{"iss", "https://id.example.com/"}})) ==
        "token issuer 'https://id.example.com/' is not the configured issuer "
        "'https://id.example.com'");
  CHECK(claim_error(claims({{"aud", "https://other.example.com"}})) ==
        "audience 'https://other.example.com' does not name this resource "
        "('https://gw.example.com')");
  CHECK(claim_error(claims({{"aud", {"a", "b"}}})) ==
        "audience 'a', 'b' does not name this resource ('https://gw.example.com')");
  CHECK(claim_error(claims({{"aud", {"a", "https://gw.example.com/"}}})) == "");
  CHECK(claim_error(claims({{"aud", 7}})) ==
        "token claim 'aud' must be a string or an array of strings");
  Json no_aud = claims();
  no_aud.erase("aud");
  CHECK(claim_error(no_aud) == "token has no 'aud' claim");
  Json no_exp = claims();
  no_exp.erase("exp");
  CHECK(claim_error(no_exp) == "token has no 'exp' claim");
  CHECK(claim_error(claims({{"exp", "soon"}})) == "token claim 'exp' must be a number");
  CHECK(claim_error(claims({{"exp", kNow - 42 - 60}})) == "token expired 102 s ago");
  CHECK(claim_error(claims({{"exp", kNow - 42}})) == "");  // within leeway
  CHECK(claim_error(claims({{"nbf", kNow + 61}})) == "token is not valid for another 61 s");
  CHECK(claim_error(claims({{"nbf", kNow + 59}})) == "");
  CHECK(claim_error(claims({{"iat", kNow + 3600}})) == "token was issued 3600 s in the future");
  CHECK(claim_error(claims({{"sub", ""}})) == "token has no 'sub' claim");
  Json no_iss = claims();
  no_iss.erase("iss");
  CHECK(claim_error(no_iss) == "token has no 'iss' claim");
}

TEST_CASE("scopes come from a space-separated scope claim or from scp as an array or string") {
  CHECK(scopes_of({{"scope", "mcp  read write"}}) ==
        std::vector<std::string>{"mcp", "read", "write"});
  CHECK(scopes_of({{"scp", {"mcp", "read", 3}}}) == std::vector<std::string>{"mcp", "read"});
  CHECK(scopes_of({{"scp", "mcp read"}}) == std::vector<std::string>{"mcp", "read"});
  CHECK(scopes_of({{"sub", "x"}}).empty());
}

TEST_CASE(
    "find_claim reads a top-level claim, then a dotted path, and treats URL claim names "
    "literally") {
  Json c = {{"groups", {"a"}},
            {"realm_access", {{"roles", {"admin"}}}},
            {"https://example.com/team", "infra"}};
  REQUIRE(find_claim(c, "groups") != nullptr);
  CHECK(*find_claim(c, "realm_access.roles") == Json{"admin"});
  CHECK(*find_claim(c, "https://example.com/team") == "infra");
  CHECK(find_claim(c, "realm_access.missing") == nullptr);
  CHECK(find_claim(c, "nope") == nullptr);
}
