// GuardrailChain: the guardrails that apply to one hook of one request, run
// in order over text or over every string of a JSON value.
//
// Per guardrail, on findings:
//   audit            record them, change nothing, continue
//   enforce/strict + validate   block
//   enforce/strict + mutate     replace each finding with its replacement and
//                               continue; a finding without one blocks
// On a detector error: audit and enforce record it and continue (fail open);
// strict blocks (fail closed).
// A later guardrail sees the text as earlier mutate guardrails left it.
//
// A Verdict never holds matched text: findings are rule + position, and the
// block message names the guardrail and the rule only.
//
// Threads: a chain is immutable; run() may be called from any thread, each
// call with its own text/JSON and ScanContext.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "guard/detector.h"
#include "guard/settings.h"

namespace portcullis::guard {

struct Guardrail {
  std::string name;
  std::shared_ptr<const Detector> detector;
  Mode mode = Mode::Enforce;
  Action action = Action::Validate;
  std::vector<Hook> hooks;
};

enum class Outcome { Recorded, Redacted, Blocked };
const char* to_string(Outcome o);

// One finding, for the audit trail.
struct AuditFinding {
  Hook hook;
  std::string guardrail, detector, rule;
  Mode mode;
  Action action;
  Outcome outcome;
  std::string pointer;  // JSON pointer of the string; "" for plain text
  bool in_key = false;  // the finding is in an object key, not a value
  // Byte offsets into the string as this guardrail scanned it (after any
  // earlier mutate guardrail's redactions).
  size_t start = 0, end = 0;
  Json to_json() const;
};

struct GuardrailFailure {
  std::string guardrail, message;
  Mode mode;
};

struct Verdict {
  bool blocked = false;
  bool mutated = false;
  // Why it was blocked: the guardrail, and the rule (or "error" when a strict
  // guardrail failed).
  std::string blocked_by, rule;
  std::vector<AuditFinding> findings;
  std::vector<GuardrailFailure> failures;
  // The MCP tool result the pipeline answers with when blocked:
  // {"content":[{"type":"text","text":...}],"isError":true}.
  Json tool_error() const;
  std::string block_message() const;
};

class GuardrailChain {
 public:
  GuardrailChain(Hook hook, std::vector<std::shared_ptr<const Guardrail>> guardrails);
  Hook hook() const { return hook_; }
  const std::vector<std::shared_ptr<const Guardrail>>& guardrails() const { return guardrails_; }

  // Mutates `text` / `value` in place when a mutate guardrail redacts.
  Verdict run(std::string& text, ScanContext& ctx) const;
  Verdict run(Json& value, ScanContext& ctx) const;

 private:
  Hook hook_;
  std::vector<std::shared_ptr<const Guardrail>> guardrails_;
};

// Applies non-overlapping replacements (findings in any order; a finding
// overlapping an earlier-starting one is skipped; one without a replacement
// leaves its text as is). Returns the new text.
std::string redact(std::string_view text, std::vector<Finding> findings);

}  // namespace portcullis::guard
