// PiiDetector and its checks: Luhn and issuer ranges, SSN rules, IBAN mod-97,
// IP validity, libphonenumber validation of national and E.164 numbers,
// dates of birth only in context, and structured placeholders.
#include <doctest/doctest.h>

#include "guard/pii.h"
#include "guard/pii_checks.h"

#include <random>

using namespace portcullis;
using namespace portcullis::guard;

namespace {

using V = std::vector<std::string>;

// "rule=matched" pairs (matched text, in the test only, to check spans).
V found(std::string_view text, const PiiOptions& o = {}) {
  auto d = PiiDetector::create(o);
  REQUIRE(d.ok());
  ScanContext ctx;
  auto r = d.value()->scan(text, ctx);
  REQUIRE(r.ok());
  V out;
  for (const auto& f : *r)
    out.push_back(f.rule + "=" + std::string(text.substr(f.start, f.end - f.start)));
  return out;
}

}  // namespace

TEST_CASE("card checks: Luhn, issuer ranges and lengths") {
  CHECK(luhn_ok("4111111111111111"));
  CHECK_FALSE(luhn_ok("4111111111111112"));
  CHECK(payment_card_ok("378282246310005"));   // Amex, 15
  CHECK(payment_card_ok("5555555555554444"));  // Mastercard
  CHECK(payment_card_ok("2223003122003222"));  // Mastercard 2-series
  CHECK_FALSE(
      payment_card_ok("378282246310005"
                      "0"));
  CHECK_FALSE(payment_card_ok("1234567812345670"));  // passes Luhn, no issuer starts with 1
}

TEST_CASE("cards are found plain, spaced or dashed, but not inside longer digit runs") {
  CHECK(found("card 4111 1111 1111 1111 exp 04/29") == V{"card=4111 1111 1111 1111"});
  CHECK(found("amex 3782-822463-10005.") == V{"card=3782-822463-10005"});
  CHECK(found("id 12345 4111 1111 1111 1111") == V{"card=4111 1111 1111 1111"});
  CHECK(found("n=41111111111111119999").empty());
  CHECK(found("card 4111111111111112").empty());
}

TEST_CASE("SSNs: area not 000/666/9xx, group not 00, serial not 0000") {
  CHECK(found("SSN 123-45-6789") == V{"ssn=123-45-6789"});
  for (auto bad : {"000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"})
    CHECK(found(bad).empty());
}

TEST_CASE("IBANs: country length and mod-97, compact or grouped") {
  CHECK(iban_ok("GB82WEST12345698765432"));
  CHECK_FALSE(iban_ok("GB82WEST12345698765433"));
  CHECK_FALSE(iban_ok("GB82WEST1234569876543"));  // one short for GB
  CHECK(found("pay DE89 3704 0044 0532 0130 00 now") == V{"iban=DE89 3704 0044 0532 0130 00"});
}

TEST_CASE("IP addresses must be valid") {
  CHECK(found("from 192.168.1.20 and 2001:db8::8a2e:370:7334") ==
        V{"ip=192.168.1.20", "ip=2001:db8::8a2e:370:7334"});
  for (auto bad : {"256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "12:30:45", "std::string"})
    CHECK_MESSAGE(found(bad).empty(), bad);
}

TEST_CASE("phone numbers are validated by libphonenumber for the configured regions") {
  CHECK(found("call +1 650-253-0000") == V{"phone=+1 650-253-0000"});
  CHECK(found("ring (650) 253-0000 today") == V{"phone=(650) 253-0000"});
  CHECK(found("tel 030 12345678", {{}, {"DE"}}) == V{"phone=030 12345678"});
  CHECK(found("tel 030 12345678", {{}, {"US"}}).empty());
  CHECK(found("call +1 111-111-1111").empty());  // no such area code
}

TEST_CASE("emails, but not file names or decorators") {
  CHECK(found("mail Ann.Lee+x@mail.example.co.uk.") == V{"email=Ann.Lee+x@mail.example.co.uk"});
  CHECK(found("icon@2x.png @Override @types/node user@localhost").empty());
}

TEST_CASE("a date is a date of birth only next to DOB, date of birth or born") {
  CHECK(found("DOB: 1984-03-12") == V{"dob=1984-03-12"});
  CHECK(found("born on March 12, 1984 in Lyon") == V{"dob=March 12, 1984"});
  CHECK(found("meeting on 1984-03-12").empty());
}

TEST_CASE("placeholders keep structure and give the same value the same number") {
  auto d = PiiDetector::create().value();
  ScanContext ctx;
  std::string text = "a@example.com, b@example.com, A@example.com, 4111 1111 1111 1111";
  auto r = d->scan(text, ctx);
  REQUIRE(r.ok());
  V repl;
  for (const auto& f : *r) repl.push_back(f.replacement);
  CHECK(repl == V{"[EMAIL_1]", "[EMAIL_2]", "[EMAIL_1]", "[CARD_1]"});
  for (const auto& [key, n] : ctx.placeholders) CHECK(key.find("example.com") == std::string::npos);
}

TEST_CASE("kinds select what is looked for; unknown kinds and regions are errors") {
  CHECK(found("a@example.com 192.168.1.1", {{"ip"}, {"US"}}) == V{"ip=192.168.1.1"});
  // Only number-shaped kinds: no Hyperscan anchors at all.
  CHECK(found("a@example.com 4111 1111 1111 1111", {{"card"}, {"US"}}) ==
        V{"card=4111 1111 1111 1111"});
  CHECK_FALSE(PiiDetector::create({{"fax"}, {"US"}}).ok());
  CHECK_FALSE(PiiDetector::create({{}, {"XX"}}).ok());
}

TEST_CASE("findings of every kind come back in text order, each once, however they interleave") {
  struct Piece {
    const char* text;
    const char* rule;  // nullptr: not PII
    const char* value = nullptr;  // the finding's span, when not the whole text
  };
  const Piece pieces[] = {
      {"ann@example.org", "email"},  {"fe80::1", "ip"},
      {"+1 650 253 0000", "phone"},  {"4111 1111 1111 1111", "card"},
      {"10.0.0.1", "ip"},            {"DOB: 1990-02-03", "dob", "1990-02-03"},
      {"GB82 WEST 1234 5698 7654 32", "iban"}, {"123-45-6789", "ssn"},
      {"version 2.14.3", nullptr},   {"route=/api/v1/orders", nullptr}};
  std::mt19937 rng(21);
  for (int round = 0; round < 50; ++round) {
    std::string text;
    V want;
    for (int k = 0; k < 12; ++k) {
      const Piece& p = pieces[rng() % std::size(pieces)];
      text += p.text;
      text += " and then ";
      if (p.rule) want.push_back(std::string(p.rule) + "=" + (p.value ? p.value : p.text));
    }
    V got = found(text);
    std::string g, w;
    for (const auto& x : got) g += x + " | ";
    for (const auto& x : want) w += x + " | ";
    CHECK_MESSAGE(g == w, text);
  }
}
