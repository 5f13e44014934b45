#include "guard/pii.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>

#include "guard/numeric_runs.h"
#include "guard/phone_numbers.h"
#include "guard/pii_checks.h"
#include "guard/placeholders.h"

namespace portcullis::guard {

namespace {

enum Kind : int { kCard, kIban, kSsn, kIpv4, kIpv6, kEmail, kDob, kPhone };

struct RuleDef {
  Kind kind;
  const char* option;       // name in PiiOptions::kinds
  const char* placeholder;  // [PLACEHOLDER_n]
  const char* anchor;       // Hyperscan anchor; nullptr: found in numeric runs (numeric_runs.h)
  bool caseless;
  size_t back, fwd;
  const char* confirm;
  const char* what;
};

#define PC_MONTH "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?"
#define PC_DATE                                                                \
  "((?:19|20)[0-9]{2}[-/.](?:1[0-2]|0?[1-9])[-/.](?:[12][0-9]|3[01]|0?[1-9])"  \
  "|(?:[12][0-9]|3[01]|0?[1-9])[-/.](?:1[0-2]|0?[1-9])[-/.](?:19|20)?[0-9]{2}" \
  "|(?:1[0-2]|0?[1-9])[-/.](?:[12][0-9]|3[01]|0?[1-9])[-/.](?:19|20)?[0-9]{2}" \
  "|" PC_MONTH                                                                 \
  " (?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?,? (?:19|20)[0-9]{2}"           \
  "|(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)? (?:of )?" PC_MONTH ",? (?:19|20)[0-9]{2})"

// Order is priority: where spans of two kinds overlap, the earlier kind wins
// (a card number is not also reported as a phone number).
const RuleDef kRules[] = {
    {kCard, "card", "CARD", nullptr, false, 0, 0, R"([0-9](?:[ \-]?[0-9])*)",
     "payment card number"},
    {kIban, "iban", "IBAN", nullptr, false, 0, 50, R"([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32})",
     "IBAN"},
    {kSsn, "ssn", "SSN", nullptr, false, 0, 0, R"([0-9]{3}-[0-9]{2}-[0-9]{4})",
     "US social security number"},
    {kIpv4, "ip", "IP", nullptr, false, 0, 0, R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})", "IPv4 address"},
    {kIpv6, "ip", "IP",
     R"(::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)", false, 45, 45,
     R"([0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?)",
     "IPv6 address"},
    {kEmail, "email", "EMAIL", R"(@)", false, 65, 256,
     R"([A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})",
     "email address"},
    {kDob, "dob", "DOB", R"(dob|d\.o\.b|date of birth|birth ?date|born)", true, 14, 60,
     "(?i)(?:dob|d\\.o\\.b\\.?|date of birth|birth ?date|born(?: on| in)?)[^0-9A-Za-z]{0,6}(?:is "
     "|was |on )?" PC_DATE,
     "date of birth"},
    {kPhone, "phone", "PHONE", nullptr, false, 0, 0,
     R"(\+?\(?[0-9]{1,5}\)?(?:[ .\-/]?\(?[0-9]{1,5}\)?){1,6})", "phone number"},
};

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
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
  if (digit(before(t, s)) && !starts.empty())
    starts.erase(starts.begin());  // a window cut this group
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
      bool one_sep =
          span.find(' ') == std::string_view::npos || span.find('-') == std::string_view::npos;
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

}  // namespace

std::vector<std::string> PiiDetector::kind_names() {
  return {"email", "phone", "card", "ssn", "iban", "ip", "dob"};
}

Result<std::shared_ptr<const PiiDetector>> PiiDetector::create(const PiiOptions& options) {
  auto names = kind_names();
  for (const auto& k : options.kinds)
    if (std::find(names.begin(), names.end(), k) == names.end())
      return fail("pii: unknown kind '" + k + "'");
  for (const auto& r : options.phone_regions)
    if (!known_phone_region(r)) return fail("pii: unknown phone region '" + r + "'");
  std::shared_ptr<PiiDetector> det(new PiiDetector());
  det->options_ = options;
  std::vector<AnchoredRule> rules;
  for (const auto& r : kRules) {
    if (!options.kinds.empty() &&
        std::find(options.kinds.begin(), options.kinds.end(), r.option) == options.kinds.end())
      continue;
    int def = int(&r - kRules);
    if (r.anchor) {
      rules.push_back({r.option, Anchor{r.anchor, r.caseless, false}, r.back, r.fwd, r.confirm});
      det->kind_.push_back(def);
    } else {
      auto re = std::make_shared<const RE2>(r.confirm);
      if (!re->ok()) return fail(std::string("pii: ") + r.option + ": " + re->error());
      det->run_kinds_.push_back({def, std::move(re)});
    }
  }
  auto built = AnchoredRules::build(std::move(rules));
  if (!built) return fail("pii: " + built.error());
  det->rules_ = std::move(built.value());
  return std::shared_ptr<const PiiDetector>(std::move(det));
}

struct PiiDetector::Span {
  int def;  // index in the rule table
  size_t start, end;
};

// Candidates of the number-shaped kinds: each kind looks only at runs that
// can hold it (enough digits, the right separators), so ordinary numbers
// (years, prices, ids) cost no RE2 call.
void PiiDetector::runs_to_candidates(std::string_view t, std::vector<Span>& out) const {
  thread_local std::vector<NumericRun> runs;
  runs.clear();
  numeric_runs(t, 4, runs);  // ipv4 needs 4 digits, the other kinds more
  re2::StringPiece whole(t.data(), t.size()), m;
  auto confirm = [&](const RE2& re, int def, size_t from, size_t to) {
    for (size_t pos = from; pos < to && re.Match(whole, pos, to, RE2::UNANCHORED, &m, 1);) {
      size_t s = size_t(m.data() - t.data());
      out.push_back({def, s, s + m.size()});
      pos = std::max(s + m.size(), pos + 1);
    }
  };
  for (const auto& r : runs) {
    std::string_view run = t.substr(r.start, r.end - r.start);
    for (const auto& [def, re] : run_kinds_) {
      switch (kRules[def].kind) {
        case kCard:
          if (r.digits >= 13) out.push_back({def, r.start, r.end});
          break;
        case kSsn:
          if (r.digits >= 9 && run.find('-') != std::string_view::npos)
            confirm(*re, def, r.start, r.end);
          break;
        case kIpv4:
          if (r.digits >= 4 && run.find('.') != std::string_view::npos)
            confirm(*re, def, r.start, r.end);
          break;
        case kPhone:  // phone_numbers.h: a bare digit string or a date is not a phone number
          if (r.digits >= 7 && phone_shaped(run)) confirm(*re, def, r.start, r.end);
          break;
        case kIban:  // "DE89 3704…", "GB82WEST…": two capitals, then the check digits start the run
          if (r.start >= 2 && t[r.start - 1] >= 'A' && t[r.start - 1] <= 'Z' &&
              t[r.start - 2] >= 'A' && t[r.start - 2] <= 'Z')
            confirm(*re, def, r.start - 2, std::min(t.size(), r.start + kRules[def].fwd));
          break;
        default:
          break;
      }
    }
  }
}

Result<std::vector<Finding>> PiiDetector::scan(std::string_view t, ScanContext& ctx) const {
  auto anchored = rules_->candidates(t);
  if (!anchored) return fail("pii: " + anchored.error());
  std::vector<Span> cands;
  for (const auto& c : *anchored) cands.push_back({kind_[c.rule], c.start, c.end});
  if (!run_kinds_.empty()) runs_to_candidates(t, cands);
  struct Tagged {
    int def;
    Hit hit;
  };
  std::vector<Tagged> hits;
  for (const auto& c : cands) {
    int def = c.def;
    std::string_view v = t.substr(c.start, c.end - c.start);
    std::vector<Hit> found;
    switch (kRules[def].kind) {
      case kCard:
        cards_in(t, c.start, c.end, found);
        break;
      case kIban:
        iban_in(t, c.start, c.end, found);
        break;
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
        if (!alnum(before(t, c.start)) && before(t, c.start) != ':' && !alnum(at(t, c.end)) &&
            ipv6_ok(v)) {
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
        static const char* kFileExt[] = {"png",  "jpg", "jpeg", "gif", "svg",
                                         "webp", "ico", "js",   "css", "map"};
        bool file = std::find(std::begin(kFileExt), std::end(kFileExt), tld) != std::end(kFileExt);
        if (!file && !alnum(p) && std::string_view("._%+-").find(p) == std::string_view::npos &&
            !alnum(at(t, c.end)) && at(t, c.end) != '-') {
          std::string lower(v);
          for (auto& ch : lower) ch = char(std::tolower((unsigned char)ch));
          found.push_back({c.start, c.end, lower});
        }
        break;
      }
      case kDob:
        found.push_back({c.start, c.end, std::string(v)});
        break;
      case kPhone: {
        if (alnum(before(t, c.start)) || before(t, c.start) == '+' || before(t, c.start) == '.' ||
            alnum(at(t, c.end)))
          break;
        std::string e164;
        if (valid_phone(v, options_.phone_regions, &e164)) found.push_back({c.start, c.end, e164});
        break;
      }
    }
    for (auto& h : found) hits.push_back({def, std::move(h)});
  }
  // Overlaps: the higher-priority kind (earlier in kRules) keeps the bytes.
  std::stable_sort(hits.begin(), hits.end(),
                   [](const Tagged& a, const Tagged& b) { return a.def < b.def; });
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
                          placeholder_for(ctx, r.placeholder, k.hit.normalized),
                          std::string(r.what) + " found"});
  }
  return out;
}

}  // namespace portcullis::guard
