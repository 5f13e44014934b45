#include <doctest/doctest.h>

#include "core/text.h"

using namespace portcullis;
using namespace std::chrono_literals;

TEST_CASE("glob_match supports star and question mark anywhere") {
  CHECK(text::glob_match("get-*", "get-sum"));
  CHECK(text::glob_match("*", ""));
  CHECK(text::glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(text::glob_match("a*b*c", "aXXbYY"));
  CHECK(text::glob_match("ec?o", "echo"));
  CHECK_FALSE(text::glob_match("echo", "echo2"));
}

TEST_CASE("parse_duration understands ms, s, m, h and bare seconds") {
  CHECK(text::parse_duration("250ms").value() == 250ms);
  CHECK(text::parse_duration("30s").value() == 30s);
  CHECK(text::parse_duration("2m").value() == 120s);
  CHECK(text::parse_duration("1h").value() == 3600s);
  CHECK(text::parse_duration("5").value() == 5s);
  CHECK(text::parse_duration("1.5s").value() == 1500ms);
  CHECK_FALSE(text::parse_duration("fast").ok());
  CHECK_FALSE(text::parse_duration("3 weeks").ok());
}

TEST_CASE("expand_env replaces variables, honours defaults and reports missing ones") {
  auto lookup = [](const std::string& k) -> std::optional<std::string> {
    if (k == "HOME") return std::string("/root");
    return std::nullopt;
  };
  CHECK(text::expand_env("${HOME}/x", lookup).value() == "/root/x");
  CHECK(text::expand_env("${NOPE:-dflt}", lookup).value() == "dflt");
  CHECK(text::expand_env("cost $$5", lookup).value() == "cost $5");
  auto r = text::expand_env("${NOPE}", lookup);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "environment variable NOPE is not set");
}

TEST_CASE("SseParser assembles events across arbitrary chunk boundaries") {
  std::vector<text::SseParser::Event> got;
  text::SseParser p([&](text::SseParser::Event&& e) { got.push_back(std::move(e)); });
  std::string stream = "event: endpoint\r\ndata: /messages?sessionId=1\r\n\r\n: keepalive\n\nid: 7\ndata: {\"a\":\ndata: 1}\n\n";
  for (char c : stream) p.feed(std::string_view(&c, 1));
  REQUIRE(got.size() == 2);
  CHECK(got[0].event == "endpoint");
  CHECK(got[0].data == "/messages?sessionId=1");
  CHECK(got[1].event == "message");
  CHECK(got[1].id == "7");
  CHECK(got[1].data == "{\"a\":\n1}");
}

TEST_CASE("sse_event splits multi-line data into data fields") {
  CHECK(text::sse_event("a\nb", "message", "3") == "event: message\nid: 3\ndata: a\ndata: b\n\n");
}

#include "core/crypto.h"

TEST_CASE("seal and open round-trip under the same key and associated data") {
  std::string key = crypto::random_bytes(32);
  for (std::string plain : {std::string(), std::string("a"), std::string("ab"), std::string(1000, 'x')}) {
    std::string token = crypto::seal(key, plain, "ctx");
    CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    auto opened = crypto::open(key, token, "ctx");
    REQUIRE(opened.has_value());
    CHECK(*opened == plain);
  }
  // A fresh nonce each time: the same plaintext never seals to the same token.
  CHECK(crypto::seal(key, "same", "ctx") != crypto::seal(key, "same", "ctx"));
}

TEST_CASE("open refuses altered tokens, other keys, other associated data and junk") {
  std::string key = crypto::random_bytes(32);
  std::string token = crypto::seal(key, R"({"vs":"dev"})", "ctx");
  for (size_t i = 0; i < token.size(); i += 7) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    CHECK_FALSE(crypto::open(key, bad, "ctx").has_value());
  }
  CHECK_FALSE(crypto::open(crypto::random_bytes(32), token, "ctx").has_value());
  CHECK_FALSE(crypto::open(key, token, "other").has_value());
  CHECK_FALSE(crypto::open(key, token.substr(0, token.size() - 4), "ctx").has_value());
  CHECK_FALSE(crypto::open(key, "not a token!", "ctx").has_value());
  CHECK_FALSE(crypto::open(key, "", "ctx").has_value());
}

TEST_CASE("from_hex decodes hex and rejects anything else") {
  CHECK(crypto::from_hex("00ff10").value() == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(crypto::from_hex("abc").has_value());
  CHECK_FALSE(crypto::from_hex("zz").has_value());
}
