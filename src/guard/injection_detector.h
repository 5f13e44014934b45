// Prompt-injection detector: heuristics over tool results (indirect injection)
// and LLM input. It looks for
//   - override phrases ("ignore all previous instructions", "new instructions:",
//     "system prompt:", chat-template tokens, <system> tags);
//   - role-play jailbreaks (DAN, "do anything now", "you are now unrestricted",
//     "developer mode enabled", "pretend you are");
//   - instructions aimed at tools ("call the X tool", "send the data to
//     https://...", "read ~/.ssh/id_rsa", curl | sh);
//   - concealment ("do not tell the user");
//   - hidden Unicode: tag characters, zero-width characters, bidi controls
//     (injection_unicode.h). Phrases are matched on the text with invisible
//     characters removed, so "ig\u200Bnore previous instructions" is found;
//   - smuggling: long base64 runs are decoded and, when they decode to text,
//     rescanned; HTML comments (<!-- -->) are rescanned; tag characters are
//     decoded to the ASCII they hide and rescanned. Rescans nest at most twice.
//
// Scoring. Each rule has a weight in [0, 1] (injection_rules.cpp; overridable
// per rule id in the settings). A rule counts once, with its largest weight.
// The text's score combines the rules that fired as independent evidence:
//   score = 1 - prod(1 - w_rule)
// so one strong signal (0.9) suffices, two weak ones (0.35 + 0.35 -> 0.58)
// cross the default threshold of 0.5 together, and one weak one does not.
// A rescan contributes its own combined score plus a bonus for having been
// hidden: base64_smuggling = inner + 0.2 (when inner >= 0.3); HTML comments
// = inner + 0.3, or 0.6 when the comment addresses an AI ("assistant: you
// must ..."); unicode_tags = max(0.9, inner + 0.2). zero_width weighs 0.2 for
// one character, 0.35 for two, 0.6 for more; bidi_control 0.6. A <system>
// ... </system> pair around 20+ bytes is pseudo_system_block (0.7), a lone
// tag pseudo_system_tag (0.45).
//
// Rule ids: the phrase rules of injection_rules.cpp (override_instructions,
// disregard_above, you_are_now_unrestricted, you_are_now, new_instructions,
// from_now_on, system_prompt_marker, reveal_prompt, pretend,
// act_unrestricted, no_restrictions, do_anything_now, dan_persona,
// developer_mode, jailbreak, call_tool, must_call_tool, send_data_to_url,
// send_to_url, pipe_to_shell, read_sensitive_file, sensitive_file,
// conceal_from_user, chat_template_inst, role_marker, chat_template_token,
// pseudo_system_tag) and pseudo_system_block, html_comment_instructions,
// base64_smuggling, unicode_tags, zero_width, bidi_control.
//
// Known limits: anchors assume single spaces inside phrases ("system prompt",
// "are now"); base64 payloads are decoded only when they encode ASCII text.
//
// Speed: one prefilter sweep over the text (injection_prefilter.h) finds
// anchors, '<', invisible-character lead bytes and base64 runs; regexes run
// only in small windows around those events. The rules that share an anchor
// are first tried together in one pass over their windows (a test for their
// words, Hyperscan, then RE2), and one at a time only when that pass matches.
// There is no per-rule pass over the whole text.
//
// Threads: immutable after construction; scan() and assess() are const and
// may run concurrently.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "guard/detector.h"
#include "guard/injection_rules.h"

namespace re2 {
class RE2;
}

namespace portcullis::guard {

namespace injection {
class Prefilter;
class WindowFilter;
struct Events;
}  // namespace injection

struct InjectionSettings {
  double threshold = 0.5;
  bool override_phrases = true;           // Category::kOverride
  bool role_play = true;                  // Category::kRolePlay
  bool tool_instructions = true;          // Category::kToolInstruction
  bool concealment = true;                // Category::kConcealment
  bool hidden_unicode = true;             // tag, zero-width, bidi characters
  bool smuggling = true;                  // base64 and HTML-comment rescans
  std::map<std::string, double> weights;  // rule id -> weight; 0 turns the rule off

  // {"threshold": 0.5, "override_phrases": true, ..., "weights": {"pretend": 0.2}}
  static Result<InjectionSettings> from_json(const Json& j);
};

// Findings carry each rule's own weight as `score`; `score` here is combined.
struct Assessment {
  double score = 0;
  std::vector<Finding> findings;
};

// 1 - prod(1 - w) over the largest weight of each distinct rule.
double combine_scores(const std::vector<Finding>& findings);

class InjectionDetector final : public Detector {
 public:
  explicit InjectionDetector(InjectionSettings settings = {});
  ~InjectionDetector() override;

  std::string_view name() const override { return "injection"; }
  // No findings when the combined score is below the threshold; otherwise
  // every contributing finding, each with `score` set to the combined score
  // (its own weight is in `message`). Findings cannot be redacted.
  Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const override;
  // Every rule that fired, with its own weight, and the combined score.
  Assessment assess(std::string_view text) const;

  const InjectionSettings& settings() const { return settings_; }

 private:
  struct Compiled;
  double weight_for(const std::string& rule, double fallback) const;
  void assess_into(std::string_view text, int depth, std::vector<Finding>& out) const;
  void phrases(std::string_view text, const injection::Events& ev, const std::vector<size_t>* map,
               std::vector<Finding>& out) const;
  void angles(std::string_view text, const injection::Events& ev, const std::vector<size_t>* map,
              int depth, std::vector<Finding>& out) const;
  void base64_runs(std::string_view text, const injection::Events& ev, int depth,
                   std::vector<Finding>& out) const;
  // True when `run` decodes to text (which was then assessed).
  bool check_base64(std::string_view run, size_t start, size_t end, int depth,
                    std::vector<Finding>& out) const;
  void hidden_unicode(std::string_view text, const injection::Events& ev, int depth,
                      std::vector<Finding>& out, std::string& stripped,
                      std::vector<size_t>& map) const;

  InjectionSettings settings_;
  std::vector<Compiled> phrase_rules_;
  std::vector<Compiled> angle_rules_;
  // The phrase rules that share one anchor. They are first tried together on
  // the union of their windows by `filter` (injection_window_filter.h), then,
  // when there are several, by `any`, their alternation. RE2 evaluates \b and
  // ^ against the whole text, so a rule that matches in its own window makes
  // `any` match in the union, and a miss rules out all.
  struct AnchorGroup {
    std::vector<size_t> rules;  // indices into phrase_rules_
    uint64_t table_bits = 0;    // the same rules, as bits of injection::phrase_rules()
    size_t length = 0;          // of the anchor
    size_t back = 0, forward = 0;
    std::unique_ptr<re2::RE2> any;
    const injection::WindowFilter* filter = nullptr;  // shared; null if Hyperscan refused
  };
  std::vector<AnchorGroup> anchor_groups_;
  std::unique_ptr<injection::Prefilter> prefilter_;
  std::unique_ptr<re2::RE2> addressing_;  // "assistant: you must ..." inside HTML comments
};

}  // namespace portcullis::guard
