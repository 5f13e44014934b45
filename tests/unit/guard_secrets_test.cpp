// SecretsDetector rules one by one: each provider shape, the checksums that
// reject near-misses, the documentation examples that are not findings, and
// the generic keyword rule (entropy, character mix, field names).
#include <doctest/doctest.h>

#include "guard/secret_checks.h"
#include "guard/secrets.h"

using namespace portcullis;
using namespace portcullis::guard;

namespace {

std::vector<std::string> rules_in(std::string_view text, std::string field = "") {
  static auto d = SecretsDetector::create().value();
  ScanContext ctx;
  ctx.field = std::move(field);
  auto r = d->scan(text, ctx);
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& f : *r) out.push_back(f.rule);
  return out;
}

using V = std::vector<std::string>;

std::string github_token(std::string prefix, std::string random30) {
  return prefix + random30 + base62(crc32(random30), 6);
}

}  // namespace

TEST_CASE("base62 CRC-32 checksums accept a correct token and reject a one-character change") {
  std::string t = github_token("ghp_", "Zq7LmN2pR8sT4vW6xY0aB3cD5eF9gH");
  CHECK(t.size() == 40);
  CHECK(base62_crc_checksum_ok(t, 4));
  std::string bad = t;
  bad[10] = bad[10] == 'a' ? 'b' : 'a';
  CHECK_FALSE(base62_crc_checksum_ok(bad, 4));
  CHECK(crc32("123456789") == 0xCBF43926u);  // the standard check value
  CHECK(base62(61, 3) == "00z");
}

TEST_CASE("GitHub and npm tokens count only with a valid checksum") {
  std::string gh = github_token("ghs_", "Zq7LmN2pR8sT4vW6xY0aB3cD5eF9gH");
  CHECK(rules_in("token " + gh) == V{"github_token"});
  std::string bad = gh.substr(0, 39) + (gh[39] == 'A' ? "B" : "A");
  CHECK(rules_in("token " + bad).empty());
  std::string npm = github_token("npm_", "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsT");
  CHECK(rules_in("//registry.npmjs.org/:_authToken=" + npm) == V{"npm_token"});
}

TEST_CASE("provider shapes are recognised") {
  CHECK(rules_in("AKIAQYLPMN5HHHFPZAM2") == V{"aws_access_key"});
  CHECK(rules_in("aws_secret_access_key = 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") ==
        V{"aws_secret_key"});
  CHECK(rules_in("key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q") == V{"gcp_api_key"});
  CHECK(rules_in("glpat-Ab3dE6gH9jK2mN5pQ8sT") == V{"gitlab_pat"});
  CHECK(rules_in("xoxb-4829103756218-9301847265530-q8Zr2LmX7vNp4TkW9sYb3Jd6") == V{"slack_token"});
  CHECK(rules_in("sk_live_4eC39HqLyjWDarjtT1zdp7dc") == V{"stripe_key"});
  CHECK(rules_in("sk-proj-" + std::string("Ab3dE6gH9jK2mN5pQ8sTAb3dE6gH9jK2mN5pQ8sTxyz")) ==
        V{"openai_key"});
  CHECK(rules_in("sk-ant-api03-" + std::string(40, 'A') +
                 std::string("b7Cd9Ef2Gh4Ij6Kl8Mn0Op3Qr5St7Uv9Wx1Yz2Ab4Cd6Ef8Gh0Ij2Kl4Mn") +
                 "AA") == V{"anthropic_key"});
  CHECK(rules_in("SK0123456789abcdef0123456789abcdef") == V{"twilio_api_key"});
  CHECK(rules_in("SG.Ab3dE6gH9jK2mN5pQ8sT-_.Ab3dE6gH9jK2mN5pQ8sTAb3dE6gH9jK2mN5pQ8sTAb3") ==
        V{"sendgrid_key"});
  CHECK(rules_in("dckr_pat_Ab3dE6gH9jK2mN5pQ8sT-_x7Yz0") == V{"docker_pat"});
  CHECK(rules_in("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH "
                 "PRIVATE KEY-----") == V{"private_key"});
  CHECK(rules_in("postgres://app:Tr0ub4dor%26x@db.internal:5432/prod") ==
        V{"database_url_password"});
}

TEST_CASE("a database URL finding covers only the password") {
  static auto d = SecretsDetector::create().value();
  ScanContext ctx;
  std::string url = "mongodb+srv://svc:h7Gk2pQx9@cluster0.example.net/db";
  auto r = d->scan(url, ctx);
  REQUIRE(r->size() == 1);
  CHECK(url.substr((*r)[0].start, (*r)[0].end - (*r)[0].start) == "h7Gk2pQx9");
  CHECK((*r)[0].replacement == "[REDACTED:database_url_password]");
}

TEST_CASE("a JWT needs a header that decodes to JSON with alg") {
  // {"alg":"HS256","typ":"JWT"} . {"sub":"1"} . signature
  CHECK(rules_in(
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz") ==
        V{"jwt"});
  CHECK(rules_in("eyJub3QganNvbiBhdCBhbGw.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz").empty());
}

TEST_CASE("documentation examples and placeholders are not findings") {
  CHECK(rules_in("aws_access_key_id = AKIAIOSFODNN7EXAMPLE").empty());
  CHECK(rules_in("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").empty());
  CHECK(rules_in("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx").empty());
  CHECK(rules_in("sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaa").empty());
  CHECK(rules_in("DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost/app").empty());
  CHECK(rules_in("postgres://user:password@localhost/app").empty());
}

TEST_CASE("placeholder markers count in any case and at any position") {
  CHECK(looks_like_placeholder("sk_live_ExAmPlE123"));
  CHECK(looks_like_placeholder("q8Zr2LmX7vNpXXXX"));  // at the very end
  CHECK(looks_like_placeholder("YOUR-api-key-here"));
  CHECK(looks_like_placeholder("abc${TOKEN}def"));
  CHECK(looks_like_placeholder("a{{b}}"));
  CHECK(looks_like_placeholder("<token>"));
  CHECK(looks_like_placeholder("q8Zr****4TkW"));
  CHECK_FALSE(looks_like_placeholder("q8Zr2LmX7vNp4TkW"));
  CHECK_FALSE(looks_like_placeholder("q8Zr2LmX7vNpXXX"));  // three x are not a marker
  CHECK_FALSE(looks_like_placeholder("ex"));
}

TEST_CASE("a value is a placeholder when one character fills more than half of it") {
  CHECK(looks_like_placeholder("aaaaaaaabbbbbbb"));         // 8 of 15
  CHECK(looks_like_placeholder("bbbbbbbbaaaaaaa"));         // the same, majority first
  CHECK(looks_like_placeholder("abababababababa"));         // interleaved, 8 of 15
  CHECK_FALSE(looks_like_placeholder("aaaaaaabbbbbbbbc"));  // 8 of 16 is not more than half
  CHECK_FALSE(looks_like_placeholder("aaaaaaa"));           // shorter than 8
}

TEST_CASE("Shannon entropy is in bits per byte, for short and long values alike") {
  CHECK(shannon_entropy("") == 0);
  CHECK(shannon_entropy("aaaa") == 0);
  CHECK(shannon_entropy("aabb") == doctest::Approx(1.0));
  CHECK(shannon_entropy("abcd") == doctest::Approx(2.0));
  std::string long_value;
  for (int i = 0; i < 300; ++i) long_value += "abcd"[i % 4];
  CHECK(shannon_entropy(long_value) == doctest::Approx(2.0));
  CHECK(shannon_entropy(std::string(300, 'z')) == 0);
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte += char(i);
  CHECK(shannon_entropy(every_byte) == doctest::Approx(8.0));
}

TEST_CASE("the generic rule wants a secret-like keyword and a random-looking value") {
  CHECK(rules_in("password = \"q8Zr2LmX7vNp4TkW\"") == V{"generic_secret"});
  CHECK(rules_in("Client_Secret: q8Zr2LmX7vNp4TkW9s") == V{"generic_secret"});
  CHECK(rules_in("password = correcthorsebatterystaple").empty());  // one character class
  CHECK(rules_in("colour = q8Zr2LmX7vNp4TkW").empty());             // no keyword
  CHECK(rules_in("q8Zr2LmX7vNp4TkW", "db_password") == V{"generic_secret"});
  CHECK(rules_in("q8Zr2LmX7vNp4TkW", "comment").empty());
}

TEST_CASE("a token inside a longer alphanumeric run is not reported") {
  CHECK(rules_in("XAKIAQYLPMN5HHHFPZAM2").empty());
  CHECK(rules_in("AKIAQYLPMN5HHHFPZAM2X").empty());
}

TEST_CASE("findings never overlap and come in text order") {
  static auto d = SecretsDetector::create().value();
  ScanContext ctx;
  std::string text =
      "a=AKIAQYLPMN5HHHFPZAM2 b=sk_live_4eC39HqLyjWDarjtT1zdp7dc api_key=AKIAQYLPMN5HHHFPZAM3";
  auto r = d->scan(text, ctx);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  for (size_t i = 1; i < r->size(); ++i) CHECK((*r)[i - 1].end <= (*r)[i].start);
  CHECK((*r)[2].rule == "aws_access_key");
}

TEST_CASE("unknown disabled rules are an error; disabled rules stay silent") {
  CHECK_FALSE(SecretsDetector::create({3.5, 12, {"nope"}}).ok());
  auto d = SecretsDetector::create({3.5, 12, {"aws_access_key"}});
  REQUIRE(d.ok());
  ScanContext ctx;
  CHECK(d.value()->scan("AKIAQYLPMN5HHHFPZAM2", ctx)->empty());
}
