#include "guard/pii.h"

#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

#include <algorithm>
#include <map>

#include "guard/pii_checks.h"
#include "guard/placeholders.h"

namespace portcullis::guard {

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

enum Kind : int { kCard, kIban, kSsn, kIpv4, kIpv6, kEmail, kDob, kPhone };

struct RuleDef {
  Kind kind;
  const char* option;       // name in PiiOptions::kinds
  const char* placeholder;  // [PLACEHOLDER_n]
  const char* anchor;
  bool caseless;
  size_t back, fwd;
  const char* confirm;
  const char* what;
};

#define PC_MONTH "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?"
#define PC_DATE                                                                                          \
  "((?:19|20)[0-9]{2}[-/.](?:1[0-2]|0?[1-9])[-/.](?:[12][0-9]|3[01]|0?[1-9])"                            \
  "|(?:[12][0-9]|3[01]|0?[1-9])[-/.](?:1[0-2]|0?[1-9])[-/.](?:19|20)?[0-9]{2}"                           \
  "|(?:1[0-2]|0?[1-9])[-/.](?:[12][0-9]|3[01]|0?[1-9])[-/.](?:19|20)?[0-9]{2}"                           \
  "|" PC_MONTH " (?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?,? (?:19|20)[0-9]{2}"                       \
  "|(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)? (?:of )?" PC_MONTH ",? (?:19|20)[0-9]{2})"

// Order is priority: where spans of two kinds overlap, the earlier kind wins
// (a card number is not also reported as a phone number).
const RuleDef kRules[] = {
    {kCard, "card", "CARD", R"([0-9]{4}[ \-]?[0-9]{4,6}[ \-]?[0-9]{4})", false, 40, 30, R"([0-9](?:[ \-]?[0-9])*)",
     "payment card number"},
    {kIban, "iban", "IBAN", R"([A-Z]{2}[0-9]{2} ?[0-9A-Z]{4})", false, 11, 50, R"([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32})",
     "IBAN"},
    {kSsn, "ssn", "SSN", R"([0-9]{3}-[0-9]{2}-[0-9]{4})", false, 11, 0, R"([0-9]{3}-[0-9]{2}-[0-9]{4})",
     "US social security number"},
    {kIpv4, "ip", "IP", R"([0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9])", false, 16, 6, R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})",
     "IPv4 address"},
    {kIpv6, "ip", "IP", R"([0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:|::[0-9A-Fa-f])", false, 45, 45,
     R"([0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?)", "IPv6 address"},
    {kEmail, "email", "EMAIL", R"(@)", false, 65, 256,
     R"([A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})",
     "email address"},
    {kDob, "dob", "DOB", R"(dob|d\.o\.b|date of birth|birth ?date|born)", true, 14, 60,
     "(?i)(?:dob|d\\.o\\.b\\.?|date of birth|birth ?date|born(?: on| in)?)[^0-9A-Za-z]{0,6}(?:is |was |on )?" PC_DATE,
     "date of birth"},
    {kPhone, "phone", "PHONE", R"(\+[1-9]|\([0-9]{2,5}\)|[0-9][ .\-/][0-9]{2,4}[ .\-][0-9]{2,4}|0[0-9]{1,4}[ .\-/][0-9]{5,9})",
     false, 24, 24,
     R"(\+?\(?[0-9]{1,5}\)?(?:[ .\-/]?\(?[0-9]{1,5}\)?){1,6})", "phone number"},
};

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
char at(std::string_view t, size_t i) { return i < t.size() ? t[i] : '\0'; }
char before(std::string_view t, size_t i) { return i > 0 ? t[i - 1] : '\0'; }

struct Hit {
  size_t start, end;
  std::string normalized;
};

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s)
    if (digit(c)) d += c;
  return d;
}

// A run of digits with single spaces/dashes: a card starts at a group start
// and ends at a group end; try the longest valid one from each start.
void cards_in(std::string_view t, size_t s, size_t e, std::vector<Hit>& out) {
  if (alnum(before(t, s)) && !digit(before(t, s))) return;
  std::vector<size_t> starts, ends;
  for (size_t i = s; i < e; ++i) {
    if (digit(t[i]) && (i == s || !digit(t[i - 1]))) starts.push_back(i);
    if (digit(t[i]) && (i + 1 == e || !digit(t[i + 1]))) ends.push_back(i + 1);
  }
  if (digit(before(t, s)) && !starts.empty()) starts.erase(starts.begin());  // a window cut this group
  bool separated = starts.size() > 1 || digit(before(t, s));
  if (!separated && (alnum(at(t, e)))) return;
  for (size_t a : starts) {
    if (a != s && a > 0 && !(t[a - 1] == ' ' || t[a - 1] == '-')) continue;
    for (size_t k = ends.size(); k-- > 0;) {
      size_t b = ends[k];
      if (b <= a || alnum(at(t, b))) continue;
      std::string d = digits_of(t.substr(a, b - a));
      if (d.size() < 13) break;
      if (d.size() > 19) continue;
      std::string_view span = t.substr(a, b - a);
      bool one_sep = span.find(' ') == std::string_view::npos || span.find('-') == std::string_view::npos;
      if (one_sep && payment_card_ok(d)) {
        out.push_back({a, b, d});
        return;
      }
    }
  }
}

void iban_in(std::string_view t, size_t s, size_t e, std::vector<Hit>& out) {
  if (alnum(before(t, s))) return;
  size_t want = iban_length(t.substr(s, 2));
  if (want == 0) return;
  std::string compact;
  size_t i = s;
  for (; i < e && compact.size() < want; ++i)
    if (t[i] != ' ') compact += t[i];
  if (compact.size() != want || alnum(at(t, i)) || !iban_ok(compact)) return;
  out.push_back({s, i, compact});
}

bool date_shaped(std::string_view v) {
  static const RE2 re(R"([0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4})");
  return RE2::FullMatch(v, re);
}

}  // namespace

std::vector<std::string> PiiDetector::kind_names() { return {"email", "phone", "card", "ssn", "iban", "ip", "dob"}; }

Result<std::shared_ptr<const PiiDetector>> PiiDetector::create(const PiiOptions& options) {
  auto names = kind_names();
  for (const auto& k : options.kinds)
    if (std::find(names.begin(), names.end(), k) == names.end()) return fail("pii: unknown kind '" + k + "'");
  auto* util = PhoneNumberUtil::GetInstance();
  for (const auto& r : options.phone_regions)
    if (util->GetCountryCodeForRegion(r) == 0) return fail("pii: unknown phone region '" + r + "'");
  std::shared_ptr<PiiDetector> det(new PiiDetector());
  det->options_ = options;
  std::vector<AnchoredRule> rules;
  for (const auto& r : kRules) {
    if (!options.kinds.empty() && std::find(options.kinds.begin(), options.kinds.end(), r.option) == options.kinds.end())
      continue;
    rules.push_back({r.option, Anchor{r.anchor, r.caseless, false}, r.back, r.fwd, r.confirm});
    det->kind_.push_back(int(&r - kRules));
  }
  auto built = AnchoredRules::build(std::move(rules));
  if (!built) return fail("pii: " + built.error());
  det->rules_ = std::move(built.value());
  return std::shared_ptr<const PiiDetector>(std::move(det));
}

Result<std::vector<Finding>> PiiDetector::scan(std::string_view t, ScanContext& ctx) const {
  auto cands = rules_->candidates(t);
  if (!cands) return fail("pii: " + cands.error());
  struct Tagged {
    int def;
    Hit hit;
  };
  std::vector<Tagged> hits;
  auto* util = PhoneNumberUtil::GetInstance();
  for (const auto& c : *cands) {
    int def = kind_[c.rule];
    std::string_view v = t.substr(c.start, c.end - c.start);
    std::vector<Hit> found;
    switch (kRules[def].kind) {
      case kCard: cards_in(t, c.start, c.end, found); break;
      case kIban: iban_in(t, c.start, c.end, found); break;
      case kSsn:
        if (!digit(before(t, c.start)) && !alnum(at(t, c.end)) && before(t, c.start) != '-' &&
            us_ssn_ok(v.substr(0, 3), v.substr(4, 2), v.substr(7, 4)))
          found.push_back({c.start, c.end, digits_of(v)});
        break;
      case kIpv4:
        if (!alnum(before(t, c.start)) && before(t, c.start) != '.' && !alnum(at(t, c.end)) &&
            !(at(t, c.end) == '.' && digit(at(t, c.end + 1))) && ipv4_ok(v))
          found.push_back({c.start, c.end, std::string(v)});
        break;
      case kIpv6:
        if (!alnum(before(t, c.start)) && before(t, c.start) != ':' && !alnum(at(t, c.end)) && ipv6_ok(v)) {
          std::string lower(v);
          for (auto& ch : lower) ch = char(std::tolower((unsigned char)ch));
          found.push_back({c.start, c.end, lower});
        }
        break;
      case kEmail: {
        char p = before(t, c.start);
        size_t dot = v.rfind('.');
        std::string tld(v.substr(dot + 1));
        for (auto& ch : tld) ch = char(std::tolower((unsigned char)ch));
        static const char* kFileExt[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "css", "map"};
        bool file = std::find(std::begin(kFileExt), std::end(kFileExt), tld) != std::end(kFileExt);
        if (!file && !alnum(p) && std::string_view("._%+-").find(p) == std::string_view::npos &&
            !alnum(at(t, c.end)) && at(t, c.end) != '-') {
          std::string lower(v);
          for (auto& ch : lower) ch = char(std::tolower((unsigned char)ch));
          found.push_back({c.start, c.end, lower});
        }
        break;
      }
      case kDob: found.push_back({c.start, c.end, std::string(v)}); break;
      case kPhone: {
        if (alnum(before(t, c.start)) || before(t, c.start) == '+' || before(t, c.start) == '.' || alnum(at(t, c.end)))
          break;
        std::string d = digits_of(v);
        if (d.size() < 7 || d.size() > 15 || date_shaped(v)) break;
        PhoneNumber n;
        bool ok = false;
        if (v[0] == '+') {
          ok = util->Parse(std::string(v), "ZZ", &n) == PhoneNumberUtil::NO_PARSING_ERROR && util->IsValidNumber(n);
        } else {
          for (const auto& region : options_.phone_regions)
            if (util->Parse(std::string(v), region, &n) == PhoneNumberUtil::NO_PARSING_ERROR &&
                util->IsValidNumberForRegion(n, region)) {
              ok = true;
              break;
            }
        }
        if (ok) {
          std::string e164;
          util->Format(n, PhoneNumberUtil::E164, &e164);
          found.push_back({c.start, c.end, e164});
        }
        break;
      }
    }
    for (auto& h : found) hits.push_back({def, std::move(h)});
  }
  // Overlaps: the higher-priority kind (earlier in kRules) keeps the bytes.
  std::stable_sort(hits.begin(), hits.end(), [](const Tagged& a, const Tagged& b) { return a.def < b.def; });
  std::map<size_t, Tagged> kept;  // by start; spans never overlap
  for (auto& h : hits) {
    auto next = kept.lower_bound(h.hit.start);
    if (next != kept.end() && next->first < h.hit.end) continue;
    if (next != kept.begin() && std::prev(next)->second.hit.end > h.hit.start) continue;
    kept.emplace(h.hit.start, std::move(h));
  }
  std::vector<Finding> out;
  for (const auto& [start, k] : kept) {
    const RuleDef& r = kRules[k.def];
    out.push_back(Finding{"pii", r.option, k.hit.start, k.hit.end, 1.0,
                          placeholder_for(ctx, r.placeholder, k.hit.normalized), std::string(r.what) + " found"});
  }
  return out;
}

}  // namespace portcullis::guard
