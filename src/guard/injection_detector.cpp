#include "guard/injection_detector.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "guard/injection_prefilter.h"
#include "guard/injection_unicode.h"
#include "guard/injection_window_filter.h"

namespace portcullis::guard {

using injection::Category;
using injection::Events;
using injection::PhraseRule;

namespace {

constexpr int kMaxDepth = 2;              // rescans of rescans of the original text
constexpr size_t kMinBase64 = 32;         // shorter runs are identifiers and hashes
constexpr size_t kMaxBase64 = 16 * 1024;  // decode at most this much of one run
constexpr size_t kMaxComment = 64 * 1024;
constexpr double kHiddenBonus = 0.2;  // added to a rescan's score: hiding is evidence

// Lenient base64 (either alphabet, padding optional, trailing bits ignored):
// smuggled text is rarely encoded with care.
struct Base64Values {
  signed char v[256];
  Base64Values() {
    for (auto& x : v) x = -1;
    for (int c = 'A'; c <= 'Z'; ++c) v[c] = static_cast<signed char>(c - 'A');
    for (int c = 'a'; c <= 'z'; ++c) v[c] = static_cast<signed char>(c - 'a' + 26);
    for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<signed char>(c - '0' + 52);
    v[static_cast<unsigned char>('+')] = v[static_cast<unsigned char>('-')] = 62;
    v[static_cast<unsigned char>('/')] = v[static_cast<unsigned char>('_')] = 63;
  }
};
const Base64Values kBase64Values;

bool is_b64(unsigned char c) { return kBase64Values.v[c] >= 0; }

std::string decode_base64(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3 / 4 + 1);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : s) {
    int v = kBase64Values.v[c];
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// Text rather than binary: printable ASCII, whitespace or UTF-8 continuation.
bool mostly_text(std::string_view s) {
  if (s.size() < 16) return false;
  size_t good = 0;
  for (unsigned char c : s)
    good += (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\r' || c == '\t' || c >= 0x80;
  return good * 100 >= s.size() * 95;
}

const char* describe(Category c) {
  switch (c) {
    case Category::kOverride:
      return "instruction-override phrase";
    case Category::kRolePlay:
      return "role-play jailbreak phrase";
    case Category::kToolInstruction:
      return "instruction aimed at tools";
    case Category::kConcealment:
      return "asks to hide something from the user";
    case Category::kSmuggling:
      return "instructions hidden in encoded text";
    case Category::kHiddenUnicode:
      return "invisible Unicode characters";
  }
  return "";
}

Finding make(std::string rule, size_t start, size_t end, double weight, std::string message) {
  Finding f;
  f.detector = "injection";
  f.rule = std::move(rule);
  f.start = start;
  f.end = end;
  f.score = weight;
  f.message = std::move(message);
  return f;
}

// The end of "</name>" matching the opening tag `open` ("<system>"), searched
// case-insensitively within 4 KiB after `from`; npos when absent.
size_t find_closing(std::string_view text, size_t from, re2::StringPiece open) {
  std::string name;
  for (char c : open)
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_')
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string closing = "</" + name + ">";
  const size_t limit = std::min(text.size(), from + 4096);
  for (size_t k = from; k + closing.size() <= limit; ++k) {
    if (text[k] != '<') continue;
    size_t j = 0;
    while (j < closing.size() && std::tolower(static_cast<unsigned char>(text[k + j])) ==
                                     static_cast<unsigned char>(closing[j]))
      ++j;
    if (j == closing.size()) return k + j;
  }
  return std::string_view::npos;
}

// Cheap test before the angle rules: "<|", "<<", or a tag whose name starts
// like one of the pseudo-system tags ("<system", "</important", "< admin").
bool may_be_tag(std::string_view text, size_t pos) {
  size_t k = pos + 1;
  if (k < text.size() && (text[k] == '|' || text[k] == '<')) return true;
  while (k < text.size() && (text[k] == '/' || text[k] == ' ')) ++k;
  if (k + 3 > text.size()) return false;
  char a = static_cast<char>(std::tolower(static_cast<unsigned char>(text[k])));
  char b = static_cast<char>(std::tolower(static_cast<unsigned char>(text[k + 1])));
  return (a == 's' && (b == 'y' || b == 'e')) || (a == 'i' && (b == 'm' || b == 'n')) ||
         (a == 'a' && b == 'd') || (a == 'h' && b == 'i');
}

// `what` names the rule (or the rules) in the message of a rule table bug.
std::unique_ptr<re2::RE2> compile_pattern(const std::string& pattern, const std::string& what,
                                          const re2::RE2::Options& opt) {
  auto re = std::make_unique<re2::RE2>(pattern, opt);
  if (!re->ok()) {
    std::fprintf(stderr, "injection rule %s: %s\n", what.c_str(), re->error().c_str());
    std::abort();  // a rule table bug, caught by the unit tests
  }
  return re;
}

}  // namespace

struct InjectionDetector::Compiled {
  const PhraseRule* rule;
  double weight;
  std::unique_ptr<re2::RE2> re;
};

Result<InjectionSettings> InjectionSettings::from_json(const Json& j) {
  InjectionSettings s;
  if (j.is_null()) return s;
  if (!j.is_object()) return fail("injection: expected a mapping");
  const std::pair<const char*, bool InjectionSettings::*> flags[] = {
      {"override_phrases", &InjectionSettings::override_phrases},
      {"role_play", &InjectionSettings::role_play},
      {"tool_instructions", &InjectionSettings::tool_instructions},
      {"concealment", &InjectionSettings::concealment},
      {"hidden_unicode", &InjectionSettings::hidden_unicode},
      {"smuggling", &InjectionSettings::smuggling}};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const auto& [name, member] : flags) {
      if (key != name) continue;
      if (!value.is_boolean()) return fail("injection." + key + ": expected true or false");
      s.*member = value.get<bool>();
      known = true;
    }
    if (known) continue;
    if (key == "threshold") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1)
        return fail("injection.threshold: expected a number from 0 to 1");
      s.threshold = value.get<double>();
    } else if (key == "weights") {
      if (!value.is_object())
        return fail("injection.weights: expected a mapping of rule id to weight");
      for (const auto& [rule, w] : value.items()) {
        if (!w.is_number() || w.get<double>() < 0 || w.get<double>() > 1)
          return fail("injection.weights." + rule + ": expected a number from 0 to 1");
        s.weights[rule] = w.get<double>();
      }
    } else {
      return fail("injection: unknown setting '" + key + "'");
    }
  }
  return s;
}

double combine_scores(const std::vector<Finding>& findings) {
  std::map<std::string, double> best;
  for (const auto& f : findings) best[f.rule] = std::max(best[f.rule], f.score);
  double keep = 1.0;
  for (const auto& [rule, w] : best) keep *= 1.0 - std::clamp(w, 0.0, 1.0);
  return 1.0 - keep;
}

InjectionDetector::InjectionDetector(InjectionSettings settings) : settings_(std::move(settings)) {
  auto enabled = [&](Category c) {
    switch (c) {
      case Category::kOverride:
        return settings_.override_phrases;
      case Category::kRolePlay:
        return settings_.role_play;
      case Category::kToolInstruction:
        return settings_.tool_instructions;
      case Category::kConcealment:
        return settings_.concealment;
      case Category::kSmuggling:
        return settings_.smuggling;
      case Category::kHiddenUnicode:
        return settings_.hidden_unicode;
    }
    return true;
  };
  auto weight_of = [&](const PhraseRule& r) {
    auto it = settings_.weights.find(r.id);
    return it == settings_.weights.end() ? r.weight : it->second;
  };
  re2::RE2::Options opt;
  opt.set_case_sensitive(false);
  opt.set_log_errors(false);
  std::vector<std::string> anchors;
  auto compile = [&](const PhraseRule& r) {
    return Compiled{&r, weight_of(r), compile_pattern(r.pattern, r.id, opt)};
  };
  for (const auto& r : injection::phrase_rules()) {
    if (!enabled(r.category) || weight_of(r) <= 0) continue;
    phrase_rules_.push_back(compile(r));
    for (const auto& a : r.anchors) {
      auto it = std::find(anchors.begin(), anchors.end(), a);
      size_t id = static_cast<size_t>(it - anchors.begin());
      if (it == anchors.end()) {
        anchors.push_back(a);
        anchor_groups_.emplace_back();
        anchor_groups_.back().length = a.size();
      }
      AnchorGroup& g = anchor_groups_[id];
      g.rules.push_back(phrase_rules_.size() - 1);
      g.table_bits |= uint64_t{1} << (&r - injection::phrase_rules().data());
      g.back = std::max(g.back, static_cast<size_t>(r.back));
      g.forward = std::max(g.forward, static_cast<size_t>(r.forward));
    }
  }
  for (size_t a = 0; a < anchor_groups_.size(); ++a) {
    AnchorGroup& g = anchor_groups_[a];
    g.filter = injection::WindowFilter::for_rules(g.table_bits);
    if (g.rules.size() < 2) continue;
    std::string any;
    for (size_t ri : g.rules)
      any += (any.empty() ? "(?:" : "|(?:") + std::string(phrase_rules_[ri].rule->pattern) + ")";
    g.any = compile_pattern(any, "group of anchor '" + anchors[a] + "'", opt);
  }
  for (const auto& r : injection::angle_rules())
    if (enabled(r.category) && weight_of(r) > 0) angle_rules_.push_back(compile(r));
  prefilter_ = std::make_unique<injection::Prefilter>(anchors);
  addressing_ = std::make_unique<re2::RE2>(
      R"(\b(?:ai|assistant|agent|llm|model|claude|chatgpt|copilot)\b\s*[:,]?\s*(?:please\s+)?)"
      R"((?:you\s+)?(?:must|should|need\s+to|do\s+not|don't|always|never|ignore|call|send|read|include|)"
      R"(execute|run)\b)",
      opt);
}

InjectionDetector::~InjectionDetector() = default;

double InjectionDetector::weight_for(const std::string& rule, double fallback) const {
  auto it = settings_.weights.find(rule);
  return it == settings_.weights.end() ? fallback : it->second;
}

Result<std::vector<Finding>> InjectionDetector::scan(std::string_view text, ScanContext&) const {
  Assessment a = assess(text);
  if (a.score < settings_.threshold || a.findings.empty()) return std::vector<Finding>{};
  for (auto& f : a.findings) {
    char weight[32];
    std::snprintf(weight, sizeof weight, " (weight %.2f)", f.score);
    f.message += weight;
    f.score = a.score;
  }
  return std::move(a.findings);
}

Assessment InjectionDetector::assess(std::string_view text) const {
  Assessment a;
  assess_into(text, 0, a.findings);
  std::sort(a.findings.begin(), a.findings.end(), [](const Finding& x, const Finding& y) {
    return std::tie(x.start, x.end, x.rule) < std::tie(y.start, y.end, y.rule);
  });
  a.findings.erase(std::unique(a.findings.begin(), a.findings.end(),
                               [](const Finding& x, const Finding& y) {
                                 return x.rule == y.rule && x.start == y.start;
                               }),
                   a.findings.end());
  a.score = combine_scores(a.findings);
  return a;
}

void InjectionDetector::assess_into(std::string_view text, int depth,
                                    std::vector<Finding>& out) const {
  Events ev;
  prefilter_->scan(text, ev);
  std::string stripped;
  std::vector<size_t> map;
  if (!ev.high.empty()) hidden_unicode(text, ev, depth, out, stripped, map);
  if (!map.empty()) {
    // Invisible characters removed: find the phrases they were meant to split.
    Events sev;
    prefilter_->scan(stripped, sev);
    phrases(stripped, sev, &map, out);
    angles(stripped, sev, &map, depth, out);
  } else {
    phrases(text, ev, nullptr, out);
    angles(text, ev, nullptr, depth, out);
  }
  if (settings_.smuggling && depth < kMaxDepth && !ev.base64_runs.empty())
    base64_runs(text, ev, depth, out);
}

void InjectionDetector::phrases(std::string_view text, const Events& ev,
                                const std::vector<size_t>* map, std::vector<Finding>& out) const {
  std::vector<size_t> covered_until(phrase_rules_.size(), 0);
  for (auto [start, anchor] : ev.anchors) {
    const AnchorGroup& g = anchor_groups_[anchor];
    const size_t lo = start > g.back ? start - g.back : 0;
    const size_t hi = std::min(text.size(), start + g.length + g.forward);
    if (g.filter && !g.filter->may_match(text, lo, hi)) continue;
    if (g.any && !g.any->Match(text, lo, hi, re2::RE2::UNANCHORED, nullptr, 0)) continue;
    for (size_t ri : g.rules) {
      if (covered_until[ri] > start) continue;  // this anchor lies inside a match already found
      const Compiled& c = phrase_rules_[ri];
      size_t lo = start > static_cast<size_t>(c.rule->back) ? start - c.rule->back : 0;
      size_t hi = std::min(text.size(), start + g.length + c.rule->forward);
      re2::StringPiece m;
      if (!c.re->Match(text, lo, hi, re2::RE2::UNANCHORED, &m, 1)) continue;
      size_t ms = static_cast<size_t>(m.data() - text.data()), me = ms + m.size();
      covered_until[ri] = me;
      if (map) ms = (*map)[ms], me = (*map)[me - 1] + 1;
      out.push_back(make(c.rule->id, ms, me, c.weight, describe(c.rule->category)));
    }
  }
}

void InjectionDetector::angles(std::string_view text, const Events& ev,
                               const std::vector<size_t>* map, int depth,
                               std::vector<Finding>& out) const {
  size_t skip_until = 0;
  for (size_t pos : ev.angles) {
    if (pos < skip_until) continue;
    auto at = [&](size_t k) { return map ? (*map)[k] : k; };
    if (text.compare(pos, 4, "<!--") == 0) {
      size_t close = text.find("-->", pos + 4);
      size_t end = close == std::string_view::npos ? text.size() : close + 3;
      skip_until = end;
      if (!settings_.smuggling || depth >= kMaxDepth) continue;
      std::string_view inner = text.substr(pos + 4, std::min(end - pos - 4, kMaxComment));
      std::vector<Finding> found;
      assess_into(inner, depth + 1, found);
      double score = combine_scores(found);
      double weight = score >= 0.3 ? std::min(1.0, score + kHiddenBonus + 0.1) : 0.0;
      if (re2::RE2::PartialMatch(inner, *addressing_)) weight = std::max(weight, 0.6);
      weight = std::min(weight, weight_for("html_comment_instructions", 1.0));
      if (weight > 0)
        out.push_back(make("html_comment_instructions", at(pos), at(end - 1) + 1, weight,
                           "instructions inside an HTML comment"));
      continue;
    }
    if (!may_be_tag(text, pos)) continue;
    for (const auto& c : angle_rules_) {
      re2::StringPiece m;
      size_t hi = std::min(text.size(), pos + static_cast<size_t>(c.rule->forward) + 8);
      if (!c.re->Match(text, pos, hi, re2::RE2::ANCHOR_START, &m, 1)) continue;
      out.push_back(make(c.rule->id, at(pos), at(pos + m.size() - 1) + 1, c.weight,
                         describe(c.rule->category)));
      // <system>...</system>: a wrapped block is an instruction, a lone tag may be a mention.
      size_t close = std::string_view::npos;
      if (std::string_view(c.rule->id) == "pseudo_system_tag" &&
          m.find('/') == re2::StringPiece::npos)
        close = find_closing(text, pos + m.size(), m);
      // Content of 20+ bytes: "<system>on</system>" in an XML example is not a block.
      if (close != std::string_view::npos && close - pos - 2 * m.size() - 1 < 20)
        close = std::string_view::npos;
      if (close != std::string_view::npos)
        if (double w = weight_for("pseudo_system_block", 0.7); w > 0)
          out.push_back(make("pseudo_system_block", at(pos), at(close - 1) + 1, w,
                             "text wrapped in a pseudo-system tag"));
    }
  }
}

void InjectionDetector::base64_runs(std::string_view text, const Events& ev, int depth,
                                    std::vector<Finding>& out) const {
  // Each event lies in a run of 32+ base64 bytes (the prefilter reports one
  // per run, or more); each run is checked once.
  auto b64_at = [&](size_t k) { return is_b64(static_cast<unsigned char>(text[k])); };
  size_t done_until = 0;
  for (size_t pos : ev.base64_runs) {
    if (pos < done_until) continue;
    size_t b = pos, e = pos;
    while (b > 0 && b64_at(b - 1)) --b;
    while (e < text.size() && b64_at(e)) ++e;
    done_until = e;
    size_t run_end = e;
    while (run_end < text.size() && text[run_end] == '=' && run_end - e < 2) ++run_end;
    // '/' is base64 too, so a payload may follow a path ("/assets/<payload>"):
    // try the run's start and each position after a '/' in its first 64 bytes.
    for (size_t s = b; s + kMinBase64 <= e && s < b + 64; ++s) {
      if (s != b && text[s - 1] != '/') continue;
      if (check_base64(text.substr(s, e - s), s, run_end, depth, out)) break;
    }
  }
}

// ASCII text has the top bit of every byte clear, so the first character of
// each 4-character group of its base64 encodes a value below 32 (A-Z, a-f).
// Random bytes (hashes, keys, images) pass this for 16 groups with odds of
// 1 in 65536: most runs are rejected here without decoding. The phrase rules
// are ASCII, so payloads in other scripts are out of scope anyway.
static bool may_encode_ascii(std::string_view run) {
  size_t groups = 0, low = 0;
  for (size_t k = 0; k < run.size() && k < 64; k += 4, ++groups)
    low += kBase64Values.v[static_cast<unsigned char>(run[k])] < 32;
  return low + 1 >= groups;  // one group may be cut by a '/' start
}

bool InjectionDetector::check_base64(std::string_view run, size_t start, size_t end, int depth,
                                     std::vector<Finding>& out) const {
  if (!may_encode_ascii(run)) return false;
  // Hashes, keys and images fail on their first 64 characters; decode the rest only for text.
  if (!mostly_text(decode_base64(run.substr(0, 64)))) return false;
  std::string decoded = decode_base64(run.substr(0, kMaxBase64));
  if (!mostly_text(decoded)) return false;
  std::vector<Finding> found;
  assess_into(decoded, depth + 1, found);
  double score = combine_scores(found);
  if (score >= 0.3)
    out.push_back(make("base64_smuggling", start, end, std::min(1.0, score + kHiddenBonus),
                       describe(Category::kSmuggling)));
  return true;
}

void InjectionDetector::hidden_unicode(std::string_view text, const Events& ev, int depth,
                                       std::vector<Finding>& out, std::string& stripped,
                                       std::vector<size_t>& map) const {
  std::vector<injection::InvisibleChar> chars;
  for (size_t pos : ev.high) {
    injection::InvisibleChar c;
    if (injection::invisible_at(text, pos, c)) chars.push_back(c);
  }
  injection::drop_emoji_sequences(text, chars);
  if (chars.empty()) return;
  stripped = injection::strip(text, chars, map);
  if (!settings_.hidden_unicode) return;
  size_t zw = 0, bidi = 0;
  const injection::InvisibleChar *first_zw = nullptr, *last_zw = nullptr, *first_bidi = nullptr,
                                 *last_bidi = nullptr;
  for (size_t i = 0; i < chars.size(); ++i) {
    const auto& c = chars[i];
    if (c.kind == injection::Invisible::kZeroWidth) {
      ++zw;
      if (!first_zw) first_zw = &c;
      last_zw = &c;
    } else if (c.kind == injection::Invisible::kBidi) {
      ++bidi;
      if (!first_bidi) first_bidi = &c;
      last_bidi = &c;
    } else if (c.kind == injection::Invisible::kTag) {
      // A run of adjacent tag characters: decode the ASCII it hides.
      size_t j = i;
      std::string hidden;
      while (j < chars.size() && chars[j].kind == injection::Invisible::kTag &&
             (j == i || chars[j].start == chars[j - 1].end)) {
        char32_t a = chars[j].code - 0xE0000;
        if (a >= 0x20 && a < 0x7F) hidden += static_cast<char>(a);
        ++j;
      }
      double weight = 0.9;
      if (depth < kMaxDepth && !hidden.empty()) {
        std::vector<Finding> found;
        assess_into(hidden, depth + 1, found);
        weight = std::max(weight, std::min(1.0, combine_scores(found) + kHiddenBonus));
      }
      out.push_back(make("unicode_tags", c.start, chars[j - 1].end, weight,
                         "text hidden in Unicode tag characters"));
      i = j - 1;
    }
  }
  if (zw > 0)
    out.push_back(make("zero_width", first_zw->start, last_zw->end,
                       zw == 1   ? 0.2
                       : zw == 2 ? 0.35
                                 : 0.6,
                       describe(Category::kHiddenUnicode)));
  if (bidi > 0)
    out.push_back(make("bidi_control", first_bidi->start, last_bidi->end, 0.6,
                       "bidirectional control characters"));
}

}  // namespace portcullis::guard
