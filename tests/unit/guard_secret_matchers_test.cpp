// The hand-written secret matchers (secret_matchers.h) against RE2 running
// the patterns they stand in for: a few cases spelled out, then many
// generated lines built from the characters the patterns care about.
#include <doctest/doctest.h>
#include <re2/re2.h>

#include <optional>
#include <random>
#include <string>
#include <utility>

#include "guard/secret_matchers.h"

using namespace portcullis::guard;

namespace {

using Span = std::pair<size_t, size_t>;

// What RE2 says: capture group 1 of `pattern` matched anchored at `start`
// in `window`, as AnchoredRules runs it.
std::optional<Span> re2_at(const RE2& re, std::string_view window, size_t start) {
  re2::StringPiece whole(window.data(), window.size()), groups[2];
  if (!re.Match(whole, start, window.size(), RE2::ANCHOR_START, groups, 2) || groups[1].empty())
    return std::nullopt;
  size_t s = size_t(groups[1].data() - window.data());
  return Span{s, s + groups[1].size()};
}

std::optional<Span> span_of(MatchAtHit m) {
  if (m.kind != MatchAtHit::kMatch) return std::nullopt;
  return Span{m.start, m.end};
}

// The value the keyword matcher finds in `line` (keyword at the start).
std::optional<std::string> keyword_value(std::string_view line, size_t keyword_len) {
  auto m = span_of(keyword_value_at(line, 0, keyword_len));
  if (!m) return std::nullopt;
  return std::string(line.substr(m->first, m->second - m->first));
}

std::optional<std::string> url_password(std::string_view line, size_t scheme_len) {
  auto m = span_of(url_password_at(line, 0, scheme_len));
  if (!m) return std::nullopt;
  return std::string(line.substr(m->first, m->second - m->first));
}

struct Tally {
  size_t matches = 0, misses = 0, undecided = 0;
};

// Generated lines: one of `heads` (the anchor, so its length is the anchor
// end), then one option from each slot in turn, each slot swapped for a
// piece of `noise` a quarter of the time, cut at a random window end. Every
// decided answer must equal RE2's; kUndecided only where the window holds a
// non-ASCII byte.
using Slots = std::vector<std::vector<std::string>>;

Tally compare_with_re2(std::string_view pattern, HitMatcher matcher,
                       const std::vector<std::string>& heads, const Slots& slots,
                       const std::vector<std::string>& noise, size_t lines) {
  RE2 re(std::string(pattern), RE2::Quiet);
  REQUIRE(re.ok());
  std::mt19937_64 rng(20261123);
  Tally t;
  for (size_t n = 0; n < lines; ++n) {
    std::string head = heads[rng() % heads.size()];
    std::string line = head;
    for (const auto& slot : slots)
      line += rng() % 4 == 0 ? noise[rng() % noise.size()] : slot[rng() % slot.size()];
    std::string_view window(line);
    if (rng() % 4 == 0)
      window = window.substr(0, head.size() + rng() % (line.size() - head.size() + 1));
    MatchAtHit m = matcher(window, 0, head.size());
    if (m.kind == MatchAtHit::kUndecided) {
      ++t.undecided;
      bool non_ascii = false;
      for (char c : window) non_ascii |= (unsigned char)c >= 0x80;
      CHECK_MESSAGE(non_ascii, "undecided on ASCII: ", line);
      continue;
    }
    auto want = re2_at(re, window, 0);
    auto got = span_of(m);
    if (got != want) {
      FAIL_CHECK("differs from RE2 on [", std::string(window), "]: got ",
                 got ? std::to_string(got->first) + "-" + std::to_string(got->second) : "none",
                 ", RE2 ",
                 want ? std::to_string(want->first) + "-" + std::to_string(want->second) : "none");
    }
    ++(got ? t.matches : t.misses);
  }
  return t;
}

}  // namespace

TEST_CASE("the keyword matcher takes the value after a name, a separator and an opening quote") {
  CHECK(keyword_value("password = \"q8Zr2LmX7vNp4TkW\"", 8) == "q8Zr2LmX7vNp4TkW");
  CHECK(keyword_value("API_KEY_prod: 'abc12345678'", 3) == "abc12345678");
  CHECK(keyword_value("token => `abcdefgh1`", 5) == "abcdefgh1");
  CHECK(keyword_value("secrets\"=x1y2z3w4v5,more", 6) == "x1y2z3w4v5");
  CHECK(keyword_value("password = short", 8) == std::nullopt);               // fewer than 8
  CHECK(keyword_value("password is q8Zr2LmX7vNp4TkW", 8) == std::nullopt);   // no separator
  CHECK(keyword_value("password.x = q8Zr2LmX7vNp4TkW", 8) == std::nullopt);  // '.' ends the name
}

TEST_CASE("':=' is first read as ':' with a value starting '=', as RE2 reads it") {
  CHECK(keyword_value("pwd:=q8Zr2LmX7v", 3) == "=q8Zr2LmX7v");
  CHECK(keyword_value("pwd:= q8Zr2LmX7v", 3) == "q8Zr2LmX7v");  // "=" alone is too short
  CHECK(keyword_value("pwd:=abc", 3) == std::nullopt);
}

TEST_CASE("the keyword matcher leaves a value with non-ASCII characters to RE2") {
  CHECK(keyword_value_at("secret = caf\xC3\xA9-q8Zr2LmX7v", 0, 6).kind == MatchAtHit::kUndecided);
  CHECK(keyword_value_at("secret = q8Zr2LmX7v \xC3\xA9", 0, 6).kind == MatchAtHit::kMatch);
}

TEST_CASE("the URL matcher takes the password between user: and @host") {
  CHECK(url_password("postgres://app:s3cr3t@db.internal/prod", 11) == "s3cr3t");
  CHECK(url_password("redis://:p:w@10.0.0.1", 8) == "p:w");      // empty user; ':' in a password
  CHECK(url_password("mysql://app@db/x", 8) == std::nullopt);    // no password
  CHECK(url_password("mysql://app:@db/x", 8) == std::nullopt);   // empty password
  CHECK(url_password("mysql://a/b:c@db", 8) == std::nullopt);    // '/' before the password
  CHECK(url_password("mysql://app:pw@/db", 8) == std::nullopt);  // no host
  CHECK(url_password_at("mysql://\xC3\xA9:pw@db", 0, 8).kind == MatchAtHit::kUndecided);
}

TEST_CASE("the keyword matcher answers what RE2 answers on generated lines") {
  std::vector<std::string> heads = {"password",      "PASSWD",    "pwd",    "Secret",
                                    "token",         "api_key",   "apikey", "access-key",
                                    "client_secret", "credential"};
  Slots slots = {{"", "s", "_prod", "-x9"},
                 {"", "\"", "'"},
                 {"", " ", "\t ", "\n", "\v"},
                 {":", "=", "=>", ":=", ""},
                 {"", " ", "  ", "\r"},
                 {"", "\"", "'", "`"},
                 {"q8Zr2LmX7vNp", "abc", "=abcdefgh", "Zq7LmN2pR8sT4vW6xY0aB3cD5eF9gH", "a:b=c$d%e",
                  "a\xC3\xA9"
                  "bcdefghij"},
                 {"", "\"", ",", " x", ";", "\xFF", "]", "q8Zr"}};
  std::vector<std::string> noise = {
      "s", "-", "9", "\"", "'", "`", " ", "\t", "\v", ":",        "=",    ">",
      ",", ";", "<", "(",  "]", "{", "/", "@",  ".",  "\xC3\xA9", "\xFF", "abcdefghijklmnop"};
  Tally t = compare_with_re2(kKeywordValuePattern, keyword_value_at, heads, slots, noise, 200000);
  MESSAGE("keyword lines: ", t.matches, " matches, ", t.misses, " misses, ", t.undecided,
          " undecided");
  CHECK(t.matches > 10000);  // the comparison covers both answers
  CHECK(t.misses > 10000);
}

TEST_CASE("the URL matcher answers what RE2 answers on generated lines") {
  std::vector<std::string> heads = {"postgres://", "postgresql://", "MySQL://", "mongodb+srv://",
                                    "rediss://",   "amqp://",       "mssql://"};
  // Valid options repeated, so that a fair share of the lines match.
  Slots slots = {{"", "app", "app", "a.b", "u%40", "u\tv"},
                 {":", ":", ":", "", "::"},
                 {"s3cr3tPw9", "s3cr3tPw9", "", "p:w", "x/y", "x\xC3\xA9", "a b", "p'q"},
                 {"@", "@", "@", "", "@@"},
                 {"db.internal", "db.internal", "", "[::1]", "10.0.0.1", "/db", "\xC3\xA9"},
                 {"", "/prod", " x", "\""}};
  std::vector<std::string> noise = {":", "@", "/", " ", "\t", "\v", "\"", "'",        ".",   "-",
                                    "[", "%", "_", "=", "?",  "#",  "+",  "\xC3\xA9", "\xFF"};
  Tally t = compare_with_re2(kUrlPasswordPattern, url_password_at, heads, slots, noise, 200000);
  MESSAGE("URL lines: ", t.matches, " matches, ", t.misses, " misses, ", t.undecided, " undecided");
  CHECK(t.matches > 5000);  // the comparison covers both answers
  CHECK(t.misses > 5000);
}
