// AnchoredRules: the two-step matcher behind the secrets and PII detectors.
// Step one finds cheap anchors for every rule in one Hyperscan pass
// (MultiPattern); step two runs each rule's RE2 only in a window around its
// own anchors, so text without anchors costs one Hyperscan pass however many
// rules there are. The result is raw candidates: the detector that owns the
// rules still validates each one (checksums, Luhn, libphonenumber, entropy).
//
// Errors: a Hyperscan failure (scratch allocation, scan) is an error, never
// "no candidates". RE2 cannot fail at match time: a pattern it cannot
// compile fails build(), and a DFA out of its memory budget falls back to
// RE2's NFA (slower, same answer).
//
// Threads: built once, immutable after; candidates() may be called from any
// number of threads at once.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "guard/multi_pattern.h"

namespace re2 {
class RE2;
}

namespace portcullis::guard {

// What a rule's hand-written matcher found at one anchor hit.
struct MatchAtHit {
  enum Kind { kNoMatch, kMatch, kUndecided } kind = kNoMatch;
  size_t start = 0, end = 0;  // the candidate span, for kMatch
};

// A hand-written equivalent of an anchored rule's confirm pattern, matched
// at `start` (the hit's start; anchor_end is the hit's end) in `window`, the
// text cut at the rule's window end. It must answer what RE2 would (group 1,
// or the whole match); kUndecided makes the caller run RE2 after all.
using HitMatcher = MatchAtHit (*)(std::string_view window, size_t start, size_t anchor_end);

struct AnchoredRule {
  std::string id;
  Anchor anchor;
  // The RE2 window around each anchor hit: [hit.end - back, hit.end + fwd).
  // back must cover the anchor itself plus any context before it.
  size_t back = 0, fwd = 0;
  // RE2 pattern. Capture group 1, when present, is the candidate span (the
  // secret value after a keyword, say); otherwise the whole match is.
  std::string confirm;
  // The confirm pattern starts where the anchor starts: RE2 runs anchored
  // at each hit's start (Hyperscan reports it) over [start, end + fwd),
  // instead of searching a window. Much cheaper where hits are dense.
  bool from_anchor_start = false;
  // Token rules ("ghp_" + 36 of [A-Za-z0-9]) skip RE2: the candidate is the
  // anchor plus the run of `tail_chars` after it, taken greedily up to
  // tail_max and kept when it reaches tail_min, which is what confirm's
  // `[chars]{min,max}` would match. Empty tail_chars: use confirm.
  std::string tail_chars;
  size_t tail_min = 0, tail_max = 0;
  // Rules whose anchors are dense in ordinary text and whose confirm needs
  // more than a tail ("password = <value>") may skip RE2 with a matcher
  // (secret_matchers.h). Needs from_anchor_start.
  HitMatcher matcher = nullptr;
};

struct Candidate {
  size_t rule;        // index into the rules given to build()
  size_t start, end;  // byte offsets into the scanned text
};

class AnchoredRules {
 public:
  // Error: a pattern Hyperscan or RE2 refuses.
  static Result<std::shared_ptr<const AnchoredRules>> build(std::vector<AnchoredRule> rules);
  ~AnchoredRules();

  const AnchoredRule& rule(size_t i) const { return rules_[i]; }
  size_t size() const { return rules_.size(); }

  // Candidates, in no particular order; a window rule reports each span once.
  // Error: the Hyperscan pass failed (scratch, scan).
  Result<std::vector<Candidate>> candidates(std::string_view text) const;

 private:
  AnchoredRules() = default;
  std::vector<AnchoredRule> rules_;
  std::vector<std::unique_ptr<re2::RE2>> confirm_;
  std::vector<std::array<bool, 256>> tail_set_;  // per rule, from tail_chars
  std::shared_ptr<const MultiPattern> anchors_;
};

}  // namespace portcullis::guard
