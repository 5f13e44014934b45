#include "core/base64.h"

#include <doctest/doctest.h>

using portcullis::base64_decode;
using portcullis::base64_encode;
using portcullis::base64url_decode;
using portcullis::base64url_encode;

TEST_CASE("standard base64 pads to whole quanta and decodes back") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("\xfb\xff") == "+/8=");
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x00\x01\xfe\xff"}) CHECK(base64_decode(base64_encode(s)) == s);
}

TEST_CASE("standard base64 decoding refuses every form but the canonical one") {
  CHECK_FALSE(base64_decode("Zg").has_value());      // missing padding
  CHECK_FALSE(base64_decode("Zg=").has_value());     // partial padding
  CHECK_FALSE(base64_decode("Z===").has_value());    // too much padding
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value()); // padding inside
  CHECK_FALSE(base64_decode("-_8=").has_value());    // URL-safe alphabet
  CHECK_FALSE(base64_decode("Zm9 v").has_value());   // whitespace
  CHECK_FALSE(base64_decode("Zh==").has_value());    // non-zero spare bits
  CHECK(base64_encode("client:secret") == "Y2xpZW50OnNlY3JldA==");
}

TEST_CASE("base64url has no padding and refuses the standard alphabet") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) CHECK(base64url_decode(base64url_encode(s)) == s);
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK(base64url_decode("-_8") == std::optional<std::string>("\xfb\xff"));
  CHECK_FALSE(base64url_decode("+/8").has_value());
  CHECK_FALSE(base64url_decode("Zm8=").has_value());
  CHECK_FALSE(base64url_decode("Z").has_value());
  CHECK_FALSE(base64url_decode("QR").has_value());
}
