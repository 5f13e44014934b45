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

TEST_CASE("base64 pads and base64url does not") {
  CHECK(base64_encode("client:secret") == "Y2xpZW50OnNlY3JldA==");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64url_encode("\xfb\xff") == "-_8");
}
