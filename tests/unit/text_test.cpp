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
