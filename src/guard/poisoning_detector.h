// Tool-poisoning detector: checks tool definitions when a catalogue loads.
// A poisoned tool hides instructions for the model in its name, description
// or input schema (nested descriptions, titles, defaults, enums, property
// names): <IMPORTANT>/<SYSTEM> blocks, "do not tell the user", references to
// sensitive files (~/.ssh, id_rsa, .env, /etc/passwd, ~/.aws/credentials,
// .cursor/mcp.json ...) to be read and passed along, invisible Unicode, and
// cross-tool shadowing ("when calling other tools", "before using any other
// tool", "instead of <other tool>").
//
// Every string field is checked with the poisoning rules (one RE2::Set pass
// per field, then the rules that matched, for offsets) and with the prompt-
// injection rules (injection_detector.h). Weights combine over the whole tool
// as in the injection detector: score = 1 - prod(1 - w_rule), each rule
// counted once. Invisible Unicode weighs at least 0.8 here: a tool
// description has no reason to carry any. The catalogue's config decides
// whether a flagged tool is hidden or only reported; this detector only
// reports.
//
// Threads: immutable after construction; all methods are const and may run
// concurrently.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "guard/detector.h"
#include "guard/injection_detector.h"

namespace re2 {
class RE2;
}

namespace portcullis::guard {

struct PoisoningSettings {
  double threshold = 0.5;
  std::map<std::string, double> weights;  // rule id -> weight; 0 turns a rule off
  InjectionSettings injection;            // the injection rules applied to every field

  // {"threshold": 0.5, "weights": {...}, "injection": {...}}
  static Result<PoisoningSettings> from_json(const Json& j);
};

class PoisoningDetector final : public Detector {
 public:
  explicit PoisoningDetector(PoisoningSettings settings = {});
  ~PoisoningDetector() override;

  std::string_view name() const override { return "poisoning"; }
  // The rules over one text (a description). Empty below the threshold;
  // otherwise every contributing finding with `score` = the combined score.
  Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const override;
  // Every rule that fired on `text`, with its own weight; an error when the
  // rule set cannot run (RE2::Set out of memory), never a silent "clean".
  Result<Assessment> assess(std::string_view text) const;

  // Checks an MCP tool definition ({name, title, description, inputSchema,
  // outputSchema, annotations}). `other_tools` are the names of the other
  // tools in the same catalogue: naming one of them is shadowing evidence.
  // Each finding's offsets are into one string field, whose JSON pointer
  // starts its message ("/inputSchema/properties/path/description: ...").
  // Empty when the tool's combined score is below the threshold; an error
  // when `tool` is not an object or its name is not a string.
  Result<std::vector<Finding>> check_tool(const Json& tool,
                                          const std::vector<std::string>& other_tools = {}) const;

 private:
  struct Rules;
  Result<void> assess_field(std::string_view text, const std::vector<std::string>& other_tools,
                            std::vector<Finding>& out) const;

  PoisoningSettings settings_;
  InjectionDetector injection_;
  std::unique_ptr<Rules> rules_;
};

}  // namespace portcullis::guard
