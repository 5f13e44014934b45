// The hand scanners for email and IPv6 spans against the anchor + RE2 rules
// they replace (the rules are spelled out here and run through the real
// AnchoredRules): the same spans on random text built from address-like
// pieces.
#include <doctest/doctest.h>
#include <re2/re2.h>

#include <algorithm>
#include <random>

#include "guard/anchored_rules.h"
#include "guard/byte_blocks.h"
#include "guard/email_spans.h"
#include "guard/ipv6_spans.h"
#include "guard/number_patterns.h"
#include "guard/numeric_runs.h"
#include "guard/pii_blocks.h"
#include "guard/pii_checks.h"

using namespace portcullis::guard;

namespace {

using Spans = std::vector<std::pair<size_t, size_t>>;

std::string random_text(std::mt19937& rng, const std::vector<std::string>& pieces, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

Spans reference(const AnchoredRules& rules, std::string_view text) {
  auto c = rules.candidates(text);
  REQUIRE(c.ok());
  Spans out;
  for (const auto& x : *c) out.push_back({x.start, x.end});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Spans spans_of(const std::vector<TextSpan>& v) {
  Spans out;
  for (const auto& s : v) out.push_back({s.start, s.end});
  return out;
}

bool alnum(char c) { return std::isalnum((unsigned char)c) != 0; }

}  // namespace

TEST_CASE("email spans are the spans of the anchor + RE2 rule they replace") {
  auto rules = AnchoredRules::build(
      {{"email", Anchor{"@", false, false}, 65, 256,
        R"([A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})"}});
  REQUIRE(rules.ok());
  const std::vector<std::string> pieces = {
      "a",  "Bob.x", "@",   "@",  "example", ".",  ".",  "com", "c",    "-",  "_",
      "%",  "+",     " ",   "x1", "co",      "..", "9",  "-a-", "ORG",  "\n", "@@",
      "é", "a.b",   "zz-", ",",  "0123456789012345678901234567890123456789",
      "user@", "mail.example.com", ".io", "x.co", "@b", "io"};
  std::mt19937 rng(3);
  size_t found = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text = random_text(rng, pieces, rng() % 40);
    std::vector<TextSpan> ours;
    email_spans(text, ours);
    Spans want = reference(*rules.value(), text);
    found += want.size();
    CHECK_MESSAGE(spans_of(ours) == want, "text: " << text);
  }
  MESSAGE(found, " spans");
  CHECK(found > 5000);
  // Long local parts and labels: the 64- and 63-character limits.
  std::string local(70, 'a'), label(63, 'b');
  for (const std::string& text : std::vector<std::string>
       {local + "@x.io", "u@" + label + ".io", "u@" + label + "b.io", std::string("u@x.io.c@y.org")}) {
    std::vector<TextSpan> ours;
    email_spans(text, ours);
    CHECK_MESSAGE(spans_of(ours) == reference(*rules.value(), text), "text: " << text);
  }
}

TEST_CASE("IPv6 spans are the addresses the anchor + RE2 rule and its checks accepted") {
  auto rules = AnchoredRules::build(
      {{"ipv6",
        Anchor{R"(::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)", false,
               false},
        45, 45, R"([0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?)"}});
  REQUIRE(rules.ok());
  // What the detector accepted from a candidate: the neighbours, then inet_pton.
  auto accepted = [](std::string_view t, Spans in) {
    Spans out;
    for (auto [s, e] : in) {
      char b = s > 0 ? t[s - 1] : '\0', a = e < t.size() ? t[e] : '\0';
      if (!alnum(b) && b != ':' && !alnum(a) && ipv6_ok(t.substr(s, e - s))) out.push_back({s, e});
    }
    return out;
  };
  const std::vector<std::string> pieces = {
      "::", ":",    ":",     "fe80", "1",  "0",    "abcd", "12345", "ffff", "1.2.3.4",
      " ",  ".",    "g",     "Z",    "db8", "2001", "::1",  ":0:",   "-",    "x",
      "7",  "1:2:", "a:b:c", "\n",   "00000"};
  std::mt19937 rng(5);
  size_t found = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text = random_text(rng, pieces, rng() % 30);
    std::vector<TextSpan> ours;
    ipv6_spans(text, ours);
    Spans want = accepted(text, reference(*rules.value(), text));
    found += want.size();
    CHECK_MESSAGE(spans_of(ours) == want, "text: " << text);
  }
  MESSAGE(found, " addresses");
  CHECK(found > 3000);
}

TEST_CASE("the number pattern matchers find what RE2 finds for the same patterns") {
  struct Case {
    const char* pattern;
    bool (*find)(std::string_view, size_t, size_t, TextSpan&);
  };
  const Case cases[] = {
      {R"([0-9]{3}-[0-9]{2}-[0-9]{4})", find_ssn},
      {R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})", find_ipv4},
      {R"(\+?\(?[0-9]{1,5}\)?(?:[ .\-/]?\(?[0-9]{1,5}\)?){1,6})", find_phone},
      {R"([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32})", find_iban},
  };
  const std::vector<std::string> pieces = {"1", "23",  "456", "7890", "12345", "-", "-",  ".",
                                           " ", "/",   "(",   ")",    "+",     "x", "  ", "..",
                                           "0", "650", "(0)", "+44",  "123-45-6789",
                                           "10.0.", ".3", "1.2", "192.168.1.1", "4.5.6",
                                           "GB82", "WEST", " ", "A", "DE89 3704 0044", "a"};
  std::mt19937 rng(9);
  for (const auto& c : cases) {
    RE2 re(c.pattern);
    REQUIRE(re.ok());
    size_t found = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string text = random_text(rng, pieces, rng() % 16);
      size_t from = text.empty() ? 0 : rng() % (text.size() / 4 + 1);
      size_t to = text.size() - (text.empty() ? 0 : rng() % (text.size() / 4 + 1));
      Spans ours, want;
      re2::StringPiece whole(text), m;
      for (size_t pos = from; pos < to && re.Match(whole, pos, to, RE2::UNANCHORED, &m, 1);) {
        size_t s = size_t(m.data() - text.data());
        want.push_back({s, s + m.size()});
        pos = std::max(s + m.size(), pos + 1);
      }
      TextSpan t;
      for (size_t pos = from; pos < to && c.find(text, pos, to, t);) {
        ours.push_back({t.start, t.end});
        pos = std::max(t.end, pos + 1);
      }
      found += want.size();
      CHECK_MESSAGE(ours == want, c.pattern << " on '" << text << "' [" << from << "," << to << ")");
      CHECK(dotted_quad_shape(text) == RE2::FullMatch(text, R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})"));
    }
    MESSAGE(std::string(c.pattern), ": ", found, " matches");
    CHECK(found > 500);
  }
}

namespace {

// The run definition of numeric_runs.h walked byte by byte, as the detector
// found runs before block masks: the reference the mask walk must equal.
std::vector<NumericRun> reference_runs(std::string_view t, unsigned min_digits) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto sep = [](char c) { return std::string_view(" .-/()").find(c) != std::string_view::npos; };
  auto capital = [](char c) { return c >= 'A' && c <= 'Z'; };
  std::vector<NumericRun> out;
  for (size_t i = 0; i < t.size();) {
    if (!digit(t[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    if (start > 0 && (t[start - 1] == '+' || t[start - 1] == '(')) --start;
    if (start > 0 && t[start - 1] == '+' && t[start] == '(') --start;
    unsigned digits = 0;
    size_t j = i;
    for (;;) {
      while (j < t.size() && digit(t[j])) ++j, ++digits;
      size_t k = j;
      while (k < t.size() && k - j < 2 && sep(t[k])) ++k;
      if (k > j && k < t.size() && digit(t[k])) {
        j = k;
        continue;
      }
      if (j < t.size() && t[j] == ')') ++j;
      break;
    }
    bool capitals = start >= 2 && capital(t[start - 1]) && capital(t[start - 2]);
    if (digits >= min_digits || capitals) out.push_back({start, j, digits});
    i = j;
  }
  return out;
}

Spans runs_of(const std::vector<NumericRun>& v) {
  Spans out;
  for (const auto& r : v) out.push_back({r.start, r.end * 100 + r.digits});
  return out;
}

}  // namespace

TEST_CASE("numeric runs found through block masks are the runs a byte-by-byte walk reports") {
  const std::vector<std::string> pieces = {"1",  "23", "456", "7890", " ",  "-",  ".",  "/",
                                           "(",  ")",  "+",   "x",    "AB", "GB", "  ", "Q",
                                           "a",  ":",  "\n",  "2026-03-14T09:26:53Z", "+(",
                                           "12345678901234567890", "9", "0", "--", " (", ") ",
                                           "  -", "...", "status=200 ", "Zq"};
  std::mt19937 rng(13);
  size_t found = 0;
  for (int i = 0; i < 20000; ++i) {
    // Up to ~600 bytes: runs start, end and straddle every offset of a block.
    std::string text = random_text(rng, pieces, rng() % (i % 4 == 0 ? 300 : 60));
    for (unsigned min_digits : {1u, 4u, 7u}) {
      std::vector<NumericRun> fast, sse2;
      numeric_runs(text, min_digits, fast);  // AVX-512BW masks where the CPU has it
      NumericRunScanner scanner(text, min_digits, sse2);
      each_block(text, [&](size_t b, const char* block) { scanner.walk(b, scanner.mark(block_masks(block))); });
      auto want = runs_of(reference_runs(text, min_digits));
      found += want.size();
      CHECK_MESSAGE(runs_of(fast) == want, "min " << min_digits << " text: " << text);
      CHECK_MESSAGE(runs_of(sse2) == want, "min " << min_digits << " text: " << text);
    }
  }
  MESSAGE(found, " runs");
  CHECK(found > 100000);
}

TEST_CASE("one read of the text gives each scanner's own answer: runs, IPv6 and email spans") {
  const std::vector<std::string> pieces = {
      "1",   "23",   "4567", " ",  "-",   ".",    "(",     ")",   "+",    "GB",  "AB",
      ":",   "::",   "fe80", "a",  "db8", "1:2:", "abcd:", "@",   "user", "@x.io", "mail.example.com",
      "\n",  "2026-03-14T09:26:53Z", "192.168.1.1", "+44 20 7946 0958", "x@", "@@", "Bob.x"};
  std::mt19937 rng(29);
  size_t runs = 0, addresses = 0, emails = 0;
  PiiBlockSpans out;
  for (int i = 0; i < 10000; ++i) {
    std::string text = random_text(rng, pieces, rng() % (i % 4 == 0 ? 200 : 50));
    bool r = rng() % 4 != 0, v6 = rng() % 4 != 0, em = rng() % 4 != 0;
    pii_block_spans(text, 4, r, v6, em, out);
    std::vector<TextSpan> want_v6, want_email;
    if (v6) ipv6_spans(text, want_v6);
    if (em) email_spans(text, want_email);
    auto want_runs = r ? reference_runs(text, 4) : std::vector<NumericRun>{};
    runs += want_runs.size(), addresses += want_v6.size(), emails += want_email.size();
    CHECK_MESSAGE(runs_of(out.runs) == runs_of(want_runs), "text: " << text);
    CHECK_MESSAGE(spans_of(out.ipv6) == spans_of(want_v6), "text: " << text);
    CHECK_MESSAGE(spans_of(out.emails) == spans_of(want_email), "text: " << text);
  }
  MESSAGE(runs, " runs, ", addresses, " addresses, ", emails, " emails");
  CHECK(runs > 10000);
  CHECK(addresses > 1000);
  CHECK(emails > 1000);
}

TEST_CASE("the date-of-birth keyword check sees every text where the anchor matches") {
  auto rules = AnchoredRules::build(
      {{"dob", Anchor{R"(dob|d\.o\.b|date of birth|birth ?date|born)", true, false}, 14, 60,
        R"((?i)(dob|d\.o\.b|date of birth|birth ?date|born))"}});
  REQUIRE(rules.ok());
  const std::vector<std::string> pieces = {"b", "B", "o", "O", "d", "D", ".", "i", "rth", "RTH",
                                           "rn", " ", "date of ", "about", "job", "x", "\n",
                                           "birth", "Born", "DOB", "d.o.b", "0123456789abcdefghij"
                                           "klmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu"};
  std::mt19937 rng(31);
  size_t anchored = 0, keyword = 0;
  PiiBlockSpans out;
  for (int i = 0; i < 20000; ++i) {
    std::string text = random_text(rng, pieces, rng() % (i % 4 == 0 ? 120 : 30));
    pii_block_spans(text, 4, false, false, false, out);
    bool want = false;  // any position, no masks
    for (size_t p = 0; p < text.size() && !want; ++p) want = dob_keyword_at(text, p);
    CHECK_MESSAGE(out.dob_keyword == want, "text: " << text);
    auto c = rules.value()->candidates(text);
    REQUIRE(c.ok());
    if (!c->empty()) {
      ++anchored;
      CHECK_MESSAGE(out.dob_keyword, "text: " << text);
    }
    keyword += out.dob_keyword;
  }
  MESSAGE(anchored, " texts with an anchor, ", keyword, " with a keyword");
  CHECK(anchored > 2000);
  CHECK(keyword < 20000);
}

TEST_CASE("block masks hold exactly the bytes of each class, with SSE2 and with AVX-512BW") {
  std::mt19937 rng(21);
  for (int i = 0; i < 2000; ++i) {
    char block[kBlock];
    for (char& c : block) c = char(i % 2 ? rng() : " 09:@AZ()-./+,!Q\x80\xff" "bBoOiI\x0e"[rng() % 25]);
    BlockMasks want{0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (unsigned k = 0; k < kBlock; ++k) {
      char c = block[k];
      uint64_t bit = uint64_t(1) << k;
      if (c >= '0' && c <= '9') want.digits |= bit;
      if (std::string_view(" ()-./").find(c) != std::string_view::npos && c) want.separators |= bit;
      if (c >= 'A' && c <= 'Z') want.capitals |= bit;
      if (c == ':') want.colons |= bit;
      if (c == '@') want.ats |= bit;
      if (c == 'b' || c == 'B') want.bs |= bit;
      if (c == 'o' || c == 'O') want.os |= bit;
      if (c == 'i' || c == 'I') want.is |= bit;
      if (c == '.') want.dots |= bit;
    }
    auto same = [&](const BlockMasks& m) {
      return m.digits == want.digits && m.separators == want.separators &&
             m.capitals == want.capitals && m.colons == want.colons && m.ats == want.ats &&
             m.bs == want.bs && m.os == want.os && m.is == want.is && m.dots == want.dots;
    };
    CHECK(same(block_masks(block)));
#if PORTCULLIS_BLOCKS_AVX512
    if (__builtin_cpu_supports("avx512bw")) CHECK(same(block_masks_avx512(block)));
#endif
  }
}

TEST_CASE("the IBAN finder over forward windows finds what RE2 finds in each window") {
  RE2 re(R"([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32})");
  const std::vector<std::string> pieces = {"GB82", "WEST", " ",  "A",  "DE89 3704 0044", "a",
                                           "12",   "Q7",   "XY", "0",  "GB82WEST12345698765432", "@", "23"};
  std::mt19937 rng(17);
  size_t found = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text = random_text(rng, pieces, rng() % 40);
    IbanFinder finder(text);
    re2::StringPiece whole(text), m;
    // Windows mostly move forward, sometimes back (a run inside an earlier match).
    for (size_t from = 0; from < text.size();
         from = rng() % 4 ? from + 1 + rng() % 8 : from - std::min<size_t>(from, rng() % 12)) {
      size_t to = std::min(text.size(), from + (rng() % 2 ? 52 : 40 + rng() % 200));
      TextSpan ours;
      bool got = finder.find(from, to, ours);
      bool want = re.Match(whole, from, to, RE2::UNANCHORED, &m, 1);
      REQUIRE(got == want);
      if (want) {
        ++found;
        CHECK(ours.start == size_t(m.data() - text.data()));
        CHECK(ours.end == ours.start + m.size());
      }
    }
  }
  MESSAGE(found, " matches");
  CHECK(found > 1000);
}
