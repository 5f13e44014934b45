// Differential tests: rpc::parse (simdjson, then nlohmann on what it
// declines) and rpc::dump (core/json_write.h) against the old path they
// replace, nesting_depth + nlohmann's parser and nlohmann's dump with the
// `replace` error handler. Every document is generated (fixed seeds), valid
// or broken on purpose; both paths must accept and reject the same texts
// with the same message, build the same value with the same type at every
// node (doubles compared bit for bit, so -0.0 is not 0) and write the same
// bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/json_read.h"
#include "core/json_write.h"
#include "core/jsonrpc.h"
#include "core/text.h"

using namespace portcullis;

namespace {

// The parse that rpc::parse used before simdjson, verbatim.
Result<Json> reference_parse(std::string_view text, const rpc::Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return fail("message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                std::to_string(limits.max_bytes) + " bytes");
  }
  if (rpc::nesting_depth(text, limits.max_depth) > limits.max_depth) {
    return fail("JSON nested deeper than the limit of " + std::to_string(limits.max_depth) +
                " levels");
  }
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("invalid JSON");
  return j;
}

std::string reference_dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Same type at every node, same value; doubles bit for bit.
bool identical(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::object: {
      const auto& x = a.get_ref<const Json::object_t&>();
      const auto& y = b.get_ref<const Json::object_t&>();
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), k = y.begin(); i != x.end(); ++i, ++k) {
        if (i->first != k->first || !identical(i->second, k->second)) return false;
      }
      return true;
    }
    case Json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!identical(a[i], b[i])) return false;
      }
      return true;
    }
    case Json::value_t::number_float: {
      double x = a.get<double>(), y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default:
      return a == b;
  }
}

// Printable form of arbitrary bytes for failure messages.
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 400)) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<%02x>", c);
      out += buf;
    }
  }
  if (s.size() > 400) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

struct Tally {
  int accepted = 0, rejected = 0;
  int fast = 0;  // accepted texts the fast reader parsed itself (no fallback)
};

// Checks one text under `limits`; returns whether the old path accepted it.
bool check_parse(const std::string& text, const rpc::Limits& limits, Tally& tally) {
  auto want = reference_parse(text, limits);
  auto got = rpc::parse(text, limits);
  INFO("text: ", shown(text));
  REQUIRE(got.ok() == want.ok());
  if (!want.ok()) {
    ++tally.rejected;
    CHECK(got.error() == want.error());
    return false;
  }
  ++tally.accepted;
  Json fast;
  if (read_json_fast(text, limits.max_depth, fast) == FastRead::Parsed) ++tally.fast;
  CHECK(*got == *want);
  CHECK(identical(*got, *want));
  CHECK(rpc::dump(*got) == reference_dump(*want));
  return true;
}

// Random JSON texts: mostly valid, with every number boundary, escapes,
// surrogates, raw UTF-8 of each length, duplicate keys, odd whitespace; and
// with a small chance per token of something invalid.
class TextGen {
 public:
  explicit TextGen(uint64_t seed) : rng_(seed) {}

  std::string document(int max_depth) {
    std::string out;
    space(out);
    value(out, max_depth);
    space(out);
    return out;
  }

  std::string string_body() {
    std::string out;
    int parts = below(12);
    for (int i = 0; i < parts; ++i) string_part(out);
    return out;
  }

  uint64_t bits() { return rng_(); }
  int below(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }

  std::string number() {
    static const char* const kBoundaries[] = {
        "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "-0.1", "1e2", "1E+2", "1e-2", "1.0",
        "127", "128", "255", "256", "32767", "32768", "65535", "2147483647", "2147483648",
        "-2147483648", "-2147483649", "4294967295", "4294967296", "9223372036854775806",
        "9223372036854775807", "9223372036854775808", "-9223372036854775807",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551614",
        "18446744073709551615", "18446744073709551616", "-18446744073709551615",
        "-18446744073709551616", "99999999999999999999", "100000000000000000000",
        "123456789012345678901234567890", "1e308", "-1e308", "1e309", "-1e309", "1e400",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "2.2250738585072014e-308", "2.2250738585072011e-308", "4.9406564584124654e-324",
        "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "3e-324", "1e-400",
        "-1e-400", "0e0", "0E-0", "9007199254740993", "9007199254740993.0", "0.30000000000000004",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "7.2057594037927933e16", "1e23", "8.98846567431158e307", "00", "01", "-01", "1.", ".1",
        "-", "+1", "1e", "1e+", "0x10", "1.e5", "Infinity", "NaN", "-.5"};
    switch (below(6)) {
      case 0:
        return kBoundaries[below(sizeof kBoundaries / sizeof *kBoundaries)];
      case 1:
        return std::to_string(static_cast<int64_t>(rng_()));
      case 2:
        return std::to_string(rng_() >> below(64));
      case 3: {  // a random double, shortest and long forms
        double d;
        uint64_t b = rng_();
        std::memcpy(&d, &b, sizeof d);
        if (!std::isfinite(d)) d = 1.5;
        char buf[40];
        std::snprintf(buf, sizeof buf, chance(50) ? "%.17g" : "%.6e", d);
        return buf;
      }
      default: {  // long mantissas and random exponents
        std::string s = chance(30) ? "-" : "";
        s += static_cast<char>('1' + below(9));
        int digits = below(40);
        for (int i = 0; i < digits; ++i) s += static_cast<char>('0' + below(10));
        if (chance(50)) {
          s += '.';
          int frac = 1 + below(30);
          for (int i = 0; i < frac; ++i) s += static_cast<char>('0' + below(10));
        }
        if (chance(60)) {
          s += "eE"[below(2)];
          if (chance(50)) s += "+-"[below(2)];
          s += std::to_string(below(420));
        }
        return s;
      }
    }
  }

 private:
  void space(std::string& out) {
    static const char kSpace[] = {' ', '\t', '\n', '\r'};
    while (chance(15)) out += kSpace[below(4)];
  }

  void value(std::string& out, int depth) {
    int pick = below(depth > 0 ? 10 : 6);
    switch (pick) {
      case 0: out += "null"; return;
      case 1: out += chance(50) ? "true" : "false"; return;
      case 2:
      case 3: out += number(); return;
      case 4:
      case 5: string(out); return;
      case 6:
      case 7: array(out, depth - 1); return;
      default: object(out, depth - 1); return;
    }
  }

  void array(std::string& out, int depth) {
    out += '[';
    int n = below(6);
    for (int i = 0; i < n; ++i) {
      if (i) out += ',';
      space(out);
      value(out, depth);
      space(out);
    }
    out += ']';
  }

  void object(std::string& out, int depth) {
    out += '{';
    int n = below(6);
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      if (i) out += ',';
      space(out);
      if (!keys.empty() && chance(20)) {
        out += keys[below(static_cast<int>(keys.size()))];  // a duplicate key
      } else {
        std::string k;
        string(k);
        keys.push_back(k);
        out += k;
      }
      space(out);
      out += ':';
      space(out);
      value(out, depth);
      space(out);
    }
    out += '}';
  }

  void string(std::string& out) {
    out += '"';
    out += string_body();
    out += '"';
  }

  void utf8(std::string& out, uint32_t cp) {
    text::append_utf8(out, cp);
  }

  void escape_u(std::string& out, uint32_t unit) {
    char buf[8];
    std::snprintf(buf, sizeof buf, chance(50) ? "\\u%04x" : "\\u%04X", unit);
    out += buf;
  }

  void string_part(std::string& out) {
    static const char* const kEscapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f",
                                           "\\n",  "\\r",  "\\t", "\\u0000", "\\u001f"};
    static const char* const kInvalid[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
        "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",
        "\xfe", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\\x", "\\u12", "\\ud800", "\\udc00",
        "\\ud800\\u0041", "\\udbff\\ue000", "\\ud800x", "\\"};
    int pick = below(100);
    if (pick < 30) {  // plain ASCII, sometimes long
      int n = chance(10) ? below(300) : below(12);
      for (int i = 0; i < n; ++i) {
        char c = static_cast<char>(0x20 + below(0x5F));
        out += (c == '"' || c == '\\') ? '.' : c;
      }
    } else if (pick < 45) {
      out += kEscapes[below(sizeof kEscapes / sizeof *kEscapes)];
    } else if (pick < 52) {  // \u escape of a BMP code point that is not a surrogate
      uint32_t u = static_cast<uint32_t>(below(0x10000));
      if (u >= 0xD800 && u < 0xE000) u -= 0x800;
      escape_u(out, u);
    } else if (pick < 57) {  // a surrogate pair
      escape_u(out, 0xD800 + below(0x400));
      escape_u(out, 0xDC00 + below(0x400));
    } else if (pick < 80) {  // raw UTF-8: 2, 3 and 4 bytes, boundaries included
      static const uint32_t kEdges[] = {0x80,   0x7FF,   0x800,   0xFFFF, 0xD7FF,
                                        0xE000, 0xFFFD,  0x10000, 0x10FFFF, 0x7F};
      uint32_t cp;
      switch (below(4)) {
        case 0: cp = 0x80 + below(0x780); break;
        case 1: cp = 0x800 + below(0xF800); break;
        case 2: cp = 0x10000 + below(0x100000); break;
        default: cp = kEdges[below(sizeof kEdges / sizeof *kEdges)]; break;
      }
      if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
      utf8(out, cp);
    } else if (pick < 83) {  // a raw control character: invalid JSON
      out += static_cast<char>(below(0x20));
    } else if (pick < 86) {  // invalid UTF-8 or a broken escape
      out += kInvalid[below(sizeof kInvalid / sizeof *kInvalid)];
    } else {
      out += "\x7f";
    }
  }

  std::mt19937_64 rng_;
};

// Breaks a valid text the ways a peer or a truncated read would.
std::string mutate(TextGen& gen, std::string text) {
  static const char kAlphabet[] = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\x00\x80\xff\xef";
  size_t at = text.empty() ? 0 : static_cast<size_t>(gen.below(static_cast<int>(text.size())));
  switch (gen.below(8)) {
    case 0: return text.substr(0, at);                      // truncated
    case 1: return text.erase(at, 1);                       // a byte lost
    case 2: return text.insert(at, 1, kAlphabet[gen.below(sizeof kAlphabet - 1)]);
    case 3:
      if (!text.empty()) text[at] = kAlphabet[gen.below(sizeof kAlphabet - 1)];
      return text;
    case 4: return text + std::string("\0", 1) + "garbage";  // nlohmann stops at a NUL
    case 5: return "\xef\xbb\xbf" + text;                    // a byte order mark
    case 6: return text + (gen.chance(50) ? " 1" : "]");     // trailing content
    default: return text + text;
  }
}

}  // namespace

TEST_CASE("parse agrees with nlohmann on thousands of generated documents, valid and broken") {
  Tally valid, broken;
  const rpc::Limits limits;  // the defaults: 4 MiB, depth 64
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    TextGen gen(seed);
    for (int i = 0; i < 3000; ++i) {
      std::string text = gen.document(1 + gen.below(6));
      check_parse(text, limits, valid);
      check_parse(mutate(gen, text), limits, broken);
    }
  }
  MESSAGE("generated: ", valid.accepted, " accepted (", valid.fast, " by the fast reader), ",
          valid.rejected, " rejected; mutated: ", broken.accepted, " accepted, ", broken.rejected,
          " rejected");
  // The generator must exercise both sides, or this test proves little.
  CHECK(valid.accepted > 10000);
  CHECK(valid.rejected > 1000);
  CHECK(broken.rejected > 10000);
  CHECK(broken.accepted > 1000);
  // And the fast reader must do the work, not hand it all back.
  CHECK(valid.fast > valid.accepted * 9 / 10);
}

TEST_CASE("every number token gets nlohmann's type and value, alone and inside containers") {
  TextGen gen(99);
  Tally tally;
  for (int i = 0; i < 20000; ++i) {
    std::string n = gen.number();
    check_parse(n, {}, tally);
    check_parse("[" + n + "]", {}, tally);
    check_parse("{\"k\": " + n + " , \"z\":[0," + n + "]}", {}, tally);
  }
  // The integer kinds nlohmann picks: unsigned without '-', "-0" is integer 0.
  CHECK(rpc::parse("5", {})->is_number_unsigned());
  CHECK(rpc::parse("-5", {})->is_number_integer());
  CHECK(rpc::parse("[-0]", {})->at(0).is_number_integer());
  CHECK(rpc::parse("[0]", {})->at(0).is_number_unsigned());
  CHECK(rpc::parse("18446744073709551616", {})->is_number_float());
  CHECK_FALSE(rpc::parse("1e400", {}).ok());
}

TEST_CASE("nesting at, below and beyond the depth limit gives the old answer and message") {
  Tally tally;
  for (size_t limit : {1, 2, 3, 8, 64, 1023, 1024, 1025, 3000}) {
    for (size_t depth : {limit - 1, limit, limit + 1, limit + 7}) {
      for (const char* inner : {"", "1", "\"[{\"", "{\"a\":[1]}"}) {
        std::string open, close;
        for (size_t d = 0; d < depth; ++d) {
          bool obj = d % 3 == 1;
          open += obj ? "{\"k\":" : "[";
          close += obj ? '}' : ']';
        }
        std::reverse(close.begin(), close.end());
        rpc::Limits limits{.max_bytes = 1 << 20, .max_depth = limit};
        check_parse(open + inner + close, limits, tally);
        check_parse(open + inner, limits, tally);                   // never closed
        check_parse(open + inner + close + "]", limits, tally);     // one too many
      }
    }
  }
  CHECK(tally.accepted > 40);
  CHECK(tally.rejected > 300);
}

TEST_CASE("the byte limit is checked first, with the same message") {
  Tally tally;
  check_parse("[1,2,3]", {.max_bytes = 6, .max_depth = 64}, tally);
  check_parse("[1,2,3]", {.max_bytes = 7, .max_depth = 64}, tally);
  check_parse("[[[[", {.max_bytes = 3, .max_depth = 1}, tally);
  CHECK(tally.accepted == 1);
  CHECK(tally.rejected == 2);
}

TEST_CASE("large documents, past the size a thread's parser keeps, parse the same twice") {
  TextGen gen(7);
  std::string big = "[";
  while (big.size() < (3u << 20) / 2) {
    std::string doc = gen.document(4);
    Json piece;  // valid pieces the fast reader takes, so the whole is read fast too
    if (!reference_parse(doc, {}).ok() || read_json_fast(doc, 64, piece) != FastRead::Parsed) {
      continue;
    }
    if (big.size() > 1) big += ',';
    big += doc;
  }
  big += ']';
  Tally tally;
  for (int round = 0; round < 2; ++round) check_parse(big, {.max_bytes = 8 << 20}, tally);
  CHECK(tally.accepted == 2);
  CHECK(tally.fast == 2);
}

TEST_CASE("dump writes nlohmann's bytes for any string, valid UTF-8 or not") {
  TextGen gen(2024);
  // Bytes weighted towards the interesting ones: controls, quotes,
  // backslashes, UTF-8 lead and continuation bytes, invalid bytes.
  static const unsigned char kBytes[] = {0x00, 0x01, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1F,
                                         0x20, '"',  '\\', '/',  'a',  0x7F, 0x80, 0x8F, 0x90,
                                         0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
                                         0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  int checked = 0;
  for (int i = 0; i < 60000; ++i) {
    std::string s;
    int n = gen.below(i % 10 == 0 ? 200 : 24);
    for (int k = 0; k < n; ++k) {
      s += gen.chance(40) ? static_cast<char>(kBytes[gen.below(sizeof kBytes)])
                          : gen.chance(50) ? static_cast<char>(gen.bits() & 0xFF)
                                           : static_cast<char>('a' + gen.below(26));
    }
    if (gen.chance(20)) s += gen.string_body();
    Json j = s;
    INFO("string: ", shown(s));
    REQUIRE(rpc::dump(j) == reference_dump(j));
    Json o = {{s, Json::array({s, 1})}, {"plain", s}};
    REQUIRE(rpc::dump(o) == reference_dump(o));
    ++checked;
  }
  CHECK(checked == 60000);
}

TEST_CASE("dump writes nlohmann's bytes for every number, not-finite floats included") {
  TextGen gen(5);
  for (int i = 0; i < 50000; ++i) {
    uint64_t b = gen.bits();
    double d;
    std::memcpy(&d, &b, sizeof d);
    Json j = Json::array({d, static_cast<int64_t>(b), b, -d, static_cast<double>(b >> 11)});
    REQUIRE(rpc::dump(j) == reference_dump(j));
  }
  Json edges = Json::array({INT64_MIN, INT64_MAX, UINT64_MAX, 0, -0.0, 0.0, 5e-324, 1e308,
                            std::numeric_limits<double>::infinity(), std::nan(""), 0.1, 1e21,
                            1e-7, 123456789.0, true, false, nullptr, Json::object(), Json::array()});
  CHECK(rpc::dump(edges) == reference_dump(edges));
  CHECK(rpc::dump(edges).find("null,null") != std::string::npos);  // inf and NaN
}

TEST_CASE("append_json appends to what the buffer already holds") {
  std::string out = "prefix:";
  append_json(out, Json{{"a", "b\n"}});
  append_json_string(out, "\xff");
  CHECK(out == "prefix:{\"a\":\"b\\n\"}\"\xef\xbf\xbd\"");
}

TEST_CASE("the fast reader parses ordinary messages itself and declines the corners it cannot match") {
  Json out;
  CHECK(read_json_fast(R"({"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"a":[1,-2,3.5]}})",
                       64, out) == FastRead::Parsed);
  CHECK(out["id"].is_number_unsigned());
  CHECK(read_json_fast(R"({"date":"2026-03-14","n":0})", 64, out) == FastRead::Parsed);
  CHECK(read_json_fast(R"({"s":"x, -0 ]","n":0,"f":1e-05})", 64, out) == FastRead::Parsed);
  CHECK(out["n"].is_number_unsigned());
  CHECK(read_json_fast(R"({"a":"x","a":"y"})", 64, out) == FastRead::Parsed);
  CHECK(out == Json{{"a", "y"}});  // the last value of a repeated key
  CHECK(read_json_fast("[[[1]]]", 2, out) == FastRead::TooDeep);
  CHECK(read_json_fast("[[[1]]]", 3, out) == FastRead::Parsed);
  // Decided by nlohmann instead: a "-0" token, a byte order mark, a NUL
  // ending the text, integers beyond 64 bits, invalid JSON.
  CHECK(read_json_fast(R"({"n": -0})", 64, out) == FastRead::Declined);
  CHECK(read_json_fast(R"(["-0",0,-0])", 64, out) == FastRead::Declined);
  CHECK(read_json_fast("\xef\xbb\xbf[1]", 64, out) == FastRead::Declined);
  CHECK(read_json_fast(std::string_view("[1]\0x", 5), 64, out) == FastRead::Declined);
  CHECK(read_json_fast("18446744073709551616", 64, out) == FastRead::Declined);
  CHECK(read_json_fast("[1,]", 64, out) == FastRead::Declined);
}
