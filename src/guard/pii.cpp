#include "guard/pii.h"

#include <algorithm>
#include <cstdint>

#include "guard/number_patterns.h"
#include "guard/pii_blocks.h"
#include "guard/phone_numbers.h"
#include "guard/pii_checks.h"
#include "guard/placeholders.h"

namespace portcullis::guard {

namespace {

enum Kind : int { kCard, kIban, kSsn, kIpv4, kIpv6, kEmail, kDob, kPhone };

// Where a kind's candidates come from.
enum Source : int {
  kInRuns,   // numeric runs (numeric_runs.h), then `confirm` inside each run, matched by
             // number_patterns.h (a card candidate is the whole run)
  kAnchor,   // a Hyperscan anchor, then `confirm` in a window around it (anchored_rules.h)
  kScanner,  // a hand scanner: email_spans.h, ipv6_spans.h
};

struct RuleDef {
  Kind kind;
  const char* option;       // name in PiiOptions::kinds
  const char* placeholder;  // [PLACEHOLDER_n]
  Source source;
  const char* anchor;  // kAnchor only
  bool caseless;
  size_t back, fwd;
  const char* confirm;  // RE2 syntax; nullptr for kScanner
  const char* message;  // the finding's message
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
    {kCard, "card", "CARD", kInRuns, nullptr, false, 0, 0, R"([0-9](?:[ \-]?[0-9])*)",
     "payment card number found"},
    {kIban, "iban", "IBAN", kInRuns, nullptr, false, 0, 50, R"([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32})",
     "IBAN found"},
    {kSsn, "ssn", "SSN", kInRuns, nullptr, false, 0, 0, R"([0-9]{3}-[0-9]{2}-[0-9]{4})",
     "US social security number found"},
    {kIpv4, "ip", "IP", kInRuns, nullptr, false, 0, 0, R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})", "IPv4 address found"},
    {kIpv6, "ip", "IP", kScanner, nullptr, false, 0, 0, nullptr, "IPv6 address found"},
    {kEmail, "email", "EMAIL", kScanner, nullptr, false, 0, 0, nullptr, "email address found"},
    {kDob, "dob", "DOB", kAnchor, R"(dob|d\.o\.b|date of birth|birth ?date|born)", true, 14, 60,
     "(?i)(?:dob|d\\.o\\.b\\.?|date of birth|birth ?date|born(?: on| in)?)[^0-9A-Za-z]{0,6}(?:is "
     "|was |on )?" PC_DATE,
     "date of birth found"},
    {kPhone, "phone", "PHONE", kInRuns, nullptr, false, 0, 0,
     R"(\+?\(?[0-9]{1,5}\)?(?:[ .\-/]?\(?[0-9]{1,5}\)?){1,6})", "phone number found"},
};

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool digit(char c) { return c >= '0' && c <= '9'; }
char at(std::string_view t, size_t i) { return i < t.size() ? t[i] : '\0'; }
char before(std::string_view t, size_t i) { return i > 0 ? t[i - 1] : '\0'; }

// A validated span: the kind (rule table index), the bytes, and for a phone
// number the index of its E.164 form in Scratch::e164.
struct Hit {
  int def;
  uint32_t order;  // position among the hits, for a stable priority order
  size_t start, end;
  uint32_t e164 = 0;
};

// Per-thread buffers reused from scan to scan: a dense text has thousands of
// candidates, and allocating per candidate was a large part of the cost.
struct Scratch {
  std::vector<TextSpan> spans;
  std::vector<Hit> hits;
  std::vector<std::string> e164;
  std::vector<size_t> starts, ends;
  std::vector<Hit> cluster;
  std::string normalized;
  PiiBlockSpans block_spans;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// A run of digits with single spaces/dashes: a card starts at a group start
// and ends at a group end; try the longest valid one from each start.
bool card_in(std::string_view t, size_t s, size_t e, Scratch& sc, TextSpan& out) {
  if (alnum(before(t, s)) && !digit(before(t, s))) return false;
  auto& starts = sc.starts;
  auto& ends = sc.ends;
  starts.clear();
  ends.clear();
  for (size_t i = s; i < e; ++i) {
    if (digit(t[i]) && (i == s || !digit(t[i - 1]))) starts.push_back(i);
    if (digit(t[i]) && (i + 1 == e || !digit(t[i + 1]))) ends.push_back(i + 1);
  }
  if (digit(before(t, s)) && !starts.empty())
    starts.erase(starts.begin());  // a window cut this group
  bool separated = starts.size() > 1 || digit(before(t, s));
  if (!separated && (alnum(at(t, e)))) return false;
  for (size_t a : starts) {
    if (a != s && a > 0 && !(t[a - 1] == ' ' || t[a - 1] == '-')) continue;
    for (size_t k = ends.size(); k-- > 0;) {
      size_t b = ends[k];
      if (b <= a || alnum(at(t, b))) continue;
      char d[19];
      size_t n = 0;
      bool space = false, dash = false;
      for (size_t i = a; i < b; ++i) {
        if (digit(t[i]) && n++ < sizeof d) d[n - 1] = t[i];
        space |= t[i] == ' ';
        dash |= t[i] == '-';
      }
      if (n < 13) break;
      if (n > sizeof d) continue;
      if (!(space && dash) && payment_card_ok(std::string_view(d, n))) {
        out = {a, b};
        return true;
      }
    }
  }
  return false;
}

// "GB82 WEST 1234 ...": the country's length in letters and digits, spaces
// skipped, then mod-97.
bool iban_in(std::string_view t, size_t s, size_t e, TextSpan& out) {
  if (alnum(before(t, s))) return false;
  size_t want = iban_length(t.substr(s, 2));
  if (want == 0) return false;
  char compact[40];
  size_t n = 0, i = s;
  for (; i < e && n < want && n < sizeof compact; ++i)
    if (t[i] != ' ') compact[n++] = t[i];
  if (n != want || alnum(at(t, i)) || !iban_ok(std::string_view(compact, n))) return false;
  out = {s, i};
  return true;
}

bool email_ok(std::string_view t, size_t s, size_t e) {
  char p = before(t, s);
  if (alnum(p) || std::string_view("._%+-").find(p) != std::string_view::npos) return false;
  if (alnum(at(t, e)) || at(t, e) == '-') return false;
  std::string_view v = t.substr(s, e - s);
  std::string_view tld = v.substr(v.rfind('.') + 1);
  static const std::string_view kFileExt[] = {"png",  "jpg", "jpeg", "gif", "svg",
                                              "webp", "ico", "js",   "css", "map"};
  for (std::string_view ext : kFileExt)
    if (tld.size() == ext.size() &&
        std::equal(tld.begin(), tld.end(), ext.begin(),
                   [](char a, char b) { return char(std::tolower((unsigned char)a)) == b; }))
      return false;
  return true;
}

void append_lower(std::string_view v, std::string& out) {
  for (char c : v) out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

// The value behind a placeholder, in canonical form: the same card spaced
// or not, an email in any case, a phone in any format get one placeholder.
void normalize(std::string_view t, const Hit& h, const Scratch& sc, std::string& out) {
  std::string_view v = t.substr(h.start, h.end - h.start);
  out.clear();
  switch (kRules[h.def].kind) {
    case kCard:
    case kSsn:
      for (char c : v)
        if (digit(c)) out += c;
      break;
    case kIban:
      for (char c : v)
        if (c != ' ') out += c;
      break;
    case kIpv6:
    case kEmail:
      append_lower(v, out);
      break;
    case kPhone:
      out = sc.e164[h.e164];
      break;
    case kIpv4:
    case kDob:
      out = v;
      break;
  }
}

// By start, then by order (hits[i].order == i here). Sorting 8-byte keys
// (start, index) and then placing the hits is about twice as fast as
// sorting the hits themselves; texts of 1 TB or 16M hits take the plain sort.
void sort_by_start(std::vector<Hit>& hits, size_t text_size) {
  if (hits.size() >= (size_t(1) << 24) || text_size >= (size_t(1) << 40)) {
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      return a.start != b.start ? a.start < b.start : a.order < b.order;
    });
    return;
  }
  thread_local std::vector<uint64_t> keys;
  thread_local std::vector<Hit> sorted;
  keys.clear();
  for (size_t i = 0; i < hits.size(); ++i) keys.push_back(uint64_t(hits[i].start) << 24 | i);
  // The hits come source by source (keywords, emails, IPv6, numeric runs),
  // each mostly in text order: merge the ascending stretches when there
  // are few of them.
  thread_local std::vector<size_t> bounds;
  bounds.assign(1, 0);
  for (size_t i = 1; i < keys.size() && bounds.size() <= 16; ++i)
    if (keys[i] < keys[i - 1]) bounds.push_back(i);
  if (bounds.size() == 1) return;
  if (bounds.size() > 16) {
    std::sort(keys.begin(), keys.end());
  } else {
    bounds.push_back(keys.size());
    while (bounds.size() > 2) {  // merge neighbouring stretches pairwise
      size_t kept = 1;
      for (size_t i = 0; i + 2 < bounds.size(); i += 2, ++kept) {
        std::inplace_merge(keys.begin() + long(bounds[i]), keys.begin() + long(bounds[i + 1]),
                           keys.begin() + long(bounds[i + 2]));
        bounds[kept] = bounds[i + 2];
      }
      if (bounds.size() % 2 == 0) bounds[kept++] = bounds.back();
      bounds.resize(kept);
    }
  }
  sorted.clear();
  for (uint64_t k : keys) sorted.push_back(hits[k & 0xffffff]);
  hits.swap(sorted);
}

// Overlaps: the higher-priority kind (earlier in kRules, then the earlier
// candidate) keeps the bytes. Spans in different clusters of overlapping
// spans cannot affect each other, so priority is settled per cluster; most
// clusters hold one hit. Leaves the kept hits in `hits`, by start.
void resolve_overlaps(std::vector<Hit>& hits, size_t text_size, std::vector<Hit>& cluster) {
  sort_by_start(hits, text_size);
  size_t kept = 0;
  for (size_t i = 0; i < hits.size();) {
    size_t j = i + 1, reach = hits[i].end;
    while (j < hits.size() && hits[j].start < reach) reach = std::max(reach, hits[j++].end);
    if (j - i == 1) {
      hits[kept++] = hits[i++];
      continue;
    }
    cluster.assign(hits.begin() + long(i), hits.begin() + long(j));
    std::sort(cluster.begin(), cluster.end(), [](const Hit& a, const Hit& b) {
      return a.def != b.def ? a.def < b.def : a.order < b.order;
    });
    size_t first = kept;
    for (const Hit& h : cluster) {
      bool clear = true;
      for (size_t m = first; m < kept && clear; ++m)
        clear = h.end <= hits[m].start || hits[m].end <= h.start;
      if (clear) hits[kept++] = h;  // kept <= i: the hits of later clusters stay unread-safe
    }
    std::sort(hits.begin() + long(first), hits.begin() + long(kept),
              [](const Hit& a, const Hit& b) { return a.start < b.start; });
    i = j;
  }
  hits.resize(kept);
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
    switch (r.source) {
      case kAnchor:
        // scan() runs the anchors only where pii_blocks.h saw their keywords.
        if (r.kind != kDob) return fail("pii: no keyword check for anchored kind " + std::string(r.option));
        rules.emplace_back();
        rules.back().id = r.option;
        rules.back().anchor = Anchor{r.anchor, r.caseless, false};
        rules.back().back = r.back;
        rules.back().fwd = r.fwd;
        rules.back().confirm = r.confirm;
        det->kind_.push_back(def);
        break;
      case kScanner:
        det->scanned_.push_back(def);
        break;
      case kInRuns:
        det->run_kinds_.push_back(def);
        break;
    }
  }
  if (!rules.empty()) {
    auto built = AnchoredRules::build(std::move(rules));
    if (!built) return fail("pii: " + built.error());
    det->rules_ = std::move(built.value());
  }
  return std::shared_ptr<const PiiDetector>(std::move(det));
}

struct PiiDetector::Span {
  int def;  // index in the rule table
  size_t start, end;
};

// Candidates of the number-shaped kinds: each kind looks only at runs that
// can hold it (enough digits, the right separators), so ordinary numbers
// (years, prices, ids) cost nothing more. The patterns (the `confirm`
// column) are matched by number_patterns.h.
void PiiDetector::runs_to_candidates(std::string_view t, const std::vector<NumericRun>& runs,
                                     std::vector<Span>& out) const {
  auto all = [&](auto find, int def, size_t from, size_t to) {
    TextSpan m;
    for (size_t pos = from; pos < to && find(t, pos, to, m); pos = std::max(m.end, pos + 1))
      out.push_back({def, m.start, m.end});
  };
  IbanFinder iban(t);
  for (const auto& r : runs) {
    std::string_view run = t.substr(r.start, r.end - r.start);
    for (int def : run_kinds_) {
      switch (kRules[def].kind) {
        case kCard:
          if (r.digits >= 13) out.push_back({def, r.start, r.end});
          break;
        case kSsn:
          if (r.digits >= 9 && run.find('-') != std::string_view::npos)
            all(find_ssn, def, r.start, r.end);
          break;
        case kIpv4:
          if (r.digits >= 4 && run.find('.') != std::string_view::npos)
            all(find_ipv4, def, r.start, r.end);
          break;
        case kPhone:  // phone_numbers.h: a bare digit string or a date is not a phone number
          if (r.digits >= 7 && phone_shaped(run)) all(find_phone, def, r.start, r.end);
          break;
        case kIban:  // "DE89 3704…", "GB82WEST…": two capitals, then the check digits start the run
          if (r.start >= 2 && t[r.start - 1] >= 'A' && t[r.start - 1] <= 'Z' &&
              t[r.start - 2] >= 'A' && t[r.start - 2] <= 'Z')
            all([&](std::string_view, size_t from, size_t to, TextSpan& m) {
              return iban.find(from, to, m);
            }, def, r.start - 2, std::min(t.size(), r.start + kRules[def].fwd));
          break;
        default:
          break;
      }
    }
  }
}

Result<std::vector<Finding>> PiiDetector::scan(std::string_view t, ScanContext& ctx) const {
  Scratch& sc = scratch();
  thread_local std::vector<Span> cands;
  cands.clear();
  // Numeric runs (ipv4 needs 4 digits, the other kinds more), IPv6 and
  // email spans from one read of the text (pii_blocks.h).
  bool want_email = false, want_ipv6 = false;
  for (int def : scanned_) {
    want_email |= kRules[def].kind == kEmail;
    want_ipv6 |= kRules[def].kind == kIpv6;
  }
  auto& found = sc.block_spans;
  pii_block_spans(t, 4, !run_kinds_.empty(), want_ipv6, want_email, found);
  // The date-of-birth rule is the only anchored one (kRules): text without
  // its keywords has no anchor, and skips the Hyperscan pass.
  if (rules_ && found.dob_keyword) {
    auto anchored = rules_->candidates(t);
    if (!anchored) return fail("pii: " + anchored.error());
    for (const auto& c : *anchored) cands.push_back({kind_[c.rule], c.start, c.end});
  }
  for (int def : scanned_)
    for (const auto& s : kRules[def].kind == kEmail ? found.emails : found.ipv6)
      cands.push_back({def, s.start, s.end});
  if (!run_kinds_.empty()) runs_to_candidates(t, found.runs, cands);

  auto& hits = sc.hits;
  hits.clear();
  sc.e164.clear();
  auto keep = [&](int def, size_t s, size_t e) {
    hits.push_back({def, uint32_t(hits.size()), s, e});
  };
  for (const auto& c : cands) {
    int def = c.def;
    std::string_view v = t.substr(c.start, c.end - c.start);
    TextSpan span;
    switch (kRules[def].kind) {
      case kCard:
        if (card_in(t, c.start, c.end, sc, span)) keep(def, span.start, span.end);
        break;
      case kIban:
        if (iban_in(t, c.start, c.end, span)) keep(def, span.start, span.end);
        break;
      case kSsn:
        if (!digit(before(t, c.start)) && !alnum(at(t, c.end)) && before(t, c.start) != '-' &&
            us_ssn_ok(v.substr(0, 3), v.substr(4, 2), v.substr(7, 4)))
          keep(def, c.start, c.end);
        break;
      case kIpv4:
        if (!alnum(before(t, c.start)) && before(t, c.start) != '.' && !alnum(at(t, c.end)) &&
            !(at(t, c.end) == '.' && digit(at(t, c.end + 1))) && ipv4_ok(v))
          keep(def, c.start, c.end);
        break;
      case kIpv6:  // ipv6_spans.h checked the neighbours and the address
      case kDob:
        keep(def, c.start, c.end);
        break;
      case kEmail:
        if (email_ok(t, c.start, c.end)) keep(def, c.start, c.end);
        break;
      case kPhone: {
        if (alnum(before(t, c.start)) || before(t, c.start) == '+' || before(t, c.start) == '.' ||
            alnum(at(t, c.end)))
          break;
        std::string e164;
        if (valid_phone(v, options_.phone_regions, &e164)) {
          keep(def, c.start, c.end);
          hits.back().e164 = uint32_t(sc.e164.size());
          sc.e164.push_back(std::move(e164));
        }
        break;
      }
    }
  }
  resolve_overlaps(hits, t.size(), sc.cluster);
  std::vector<Finding> out;
  out.reserve(hits.size());
  PlaceholderWriter placeholder(ctx);
  for (const auto& h : hits) {
    const RuleDef& r = kRules[h.def];
    normalize(t, h, sc, sc.normalized);
    out.push_back(Finding{"pii", r.option, h.start, h.end, 1.0,
                          placeholder(r.placeholder, sc.normalized),
                          r.message});
  }
  return out;
}

}  // namespace portcullis::guard
