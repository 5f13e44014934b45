// MultiPattern and AnchoredRules, the matcher under the secrets and PII
// detectors: where hits start, how often an anchored rule runs at a start,
// and the three ways a rule confirms a hit (RE2, a character-run tail, a
// hand-written matcher that may hand back to RE2).
#include <doctest/doctest.h>

#include <algorithm>

#include "guard/anchored_rules.h"
#include "guard/multi_pattern.h"

using namespace portcullis::guard;

namespace {

struct Span {
  size_t start, end;
  bool operator==(const Span&) const = default;
};

std::vector<Span> spans(const AnchoredRules& rules, std::string_view text) {
  auto c = rules.candidates(text);
  REQUIRE(c.ok());
  std::vector<Span> out;
  for (const auto& x : *c) out.push_back({x.start, x.end});
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) {
    return a.start != b.start ? a.start < b.start : a.end < b.end;
  });
  return out;
}

// A rule matched from its anchors' start (the secrets rules' way): RE2
// `confirm` over [hit start, hit end + fwd).
AnchoredRule rule_at_start(std::string anchor, size_t fwd, std::string confirm) {
  AnchoredRule r;
  r.id = "rule";
  r.anchor.pattern = std::move(anchor);
  r.fwd = fwd;
  r.confirm = std::move(confirm);
  r.from_anchor_start = true;
  return r;
}

std::shared_ptr<const AnchoredRules> one_rule(AnchoredRule r) {
  auto built = AnchoredRules::build({std::move(r)});
  REQUIRE(built.ok());
  return built.value();
}

}  // namespace

TEST_CASE("hits start where their match starts, whether the anchor has one width or several") {
  auto mp = MultiPattern::compile({{"ghp_", false, true},          // one width: end - 4
                                   {"pass(?:word)?", true, true},  // several: Hyperscan's SOM
                                   {"xyz", false, false}});        // start not wanted
  REQUIRE(mp.ok());
  auto hits = mp.value()->scan("a ghp_ PASSWORD xyz");
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 4);
  CHECK((*hits)[0].id == 0);
  CHECK((*hits)[0].start == 2);
  CHECK((*hits)[0].end == 6);
  CHECK((*hits)[1].id == 1);  // "PASS"
  CHECK((*hits)[1].start == 7);
  CHECK((*hits)[1].end == 11);
  CHECK((*hits)[2].id == 1);  // "PASSWORD", same start
  CHECK((*hits)[2].start == 7);
  CHECK((*hits)[2].end == 15);
  CHECK((*hits)[3].id == 2);
  CHECK((*hits)[3].start == (*hits)[3].end);
}

TEST_CASE("an anchored rule runs once per start, in the window of the first hit there") {
  // "tok" and "token" both end a hit starting at 0; the window after the
  // first ("tok" + 3) holds "tokenx".
  AnchoredRule r = rule_at_start("tok(?:en)?", 3, "tok[a-z]*");
  CHECK(spans(*one_rule(r), "tokenxyz") == std::vector<Span>{{0, 6}});
  CHECK(spans(*one_rule(r), "tok tokenxyz") == std::vector<Span>{{0, 3}, {4, 10}});
}

TEST_CASE("a tail rule takes the run of its characters after the anchor, up to its maximum") {
  AnchoredRule r = rule_at_start("ghp_", 5, "ghp_[a-z]{3,5}");
  r.tail_chars = "abcdefghijklmnopqrstuvwxyz";
  r.tail_min = 3;
  r.tail_max = 5;
  CHECK(spans(*one_rule(r), "x ghp_abcdefg") == std::vector<Span>{{2, 11}});
  CHECK(spans(*one_rule(r), "x ghp_abc1") == std::vector<Span>{{2, 9}});
  CHECK(spans(*one_rule(r), "x ghp_ab1").empty());
}

TEST_CASE("a hand-written matcher decides, or hands the hit back to RE2") {
  AnchoredRule r = rule_at_start("key=", 20, "key=([a-z]+)");
  r.matcher = [](std::string_view w, size_t, size_t end) {
    // Decides only values starting with 'a': takes two letters, which RE2
    // would not (it takes them all), so the test sees who answered.
    if (end < w.size() && w[end] == 'a') return MatchAtHit{MatchAtHit::kMatch, end, end + 2};
    if (end < w.size() && w[end] == 'z') return MatchAtHit{MatchAtHit::kNoMatch};
    return MatchAtHit{MatchAtHit::kUndecided};
  };
  auto rules = one_rule(r);
  CHECK(spans(*rules, "key=abcdef") == std::vector<Span>{{4, 6}});  // the matcher's answer
  CHECK(spans(*rules, "key=zzz").empty());                          // the matcher's "no"
  CHECK(spans(*rules, "key=bcdef") == std::vector<Span>{{4, 9}});   // RE2's answer
}

TEST_CASE("a tail or a matcher needs a rule anchored at its hits' start") {
  AnchoredRule tail = rule_at_start("ab", 5, "ab[x-z]+");
  tail.from_anchor_start = false;
  tail.back = 2;
  tail.tail_chars = "xyz";
  tail.tail_min = 1;
  tail.tail_max = 5;
  CHECK_FALSE(AnchoredRules::build({tail}).ok());
  AnchoredRule m = rule_at_start("ab", 5, "ab[a-z]+");
  m.from_anchor_start = false;
  m.back = 2;
  m.matcher = [](std::string_view, size_t, size_t) { return MatchAtHit{}; };
  CHECK_FALSE(AnchoredRules::build({m}).ok());
}
