// The phrase rules of the injection detector: what each one looks for, its
// weight, and the literal anchors the prefilter uses to find candidates.
// Every text a rule's pattern matches contains one of its anchors
// (case-insensitively); that is what makes the prefilter lossless.
//
// `words` (when given) are whole words of which every match contains one,
// bounded on both sides by the pattern itself (\b, \s, ':' ...): the window
// filter (injection_window_filter.h) skips its scan where none occurs.
//
// Weights are evidence, not verdicts: a rule that also fires on honest text
// ("call the search tool", "pretend you are") weighs less than the threshold,
// so it only counts together with other evidence (see injection_detector.h).
#pragma once
#include <string>
#include <vector>

namespace portcullis::guard::injection {

enum class Category {
  kOverride,
  kRolePlay,
  kToolInstruction,
  kConcealment,
  kSmuggling,
  kHiddenUnicode
};

struct PhraseRule {
  const char* id;
  Category category;
  double weight;
  std::vector<std::string> anchors;  // lower-case, 5 to 16 bytes
  const char* pattern;               // RE2, matched case-insensitively
  int back = 48;                     // how far before an anchor a match may start
  int forward = 200;                 // how far after an anchor it may end
  std::vector<std::string> words;    // lower-case; empty: no such list
};

const std::vector<PhraseRule>& phrase_rules();

// Rules checked at each '<' (anchored there): chat-template tokens, pseudo
// system tags. HTML comments are handled by the detector itself.
const std::vector<PhraseRule>& angle_rules();

}  // namespace portcullis::guard::injection
