// Guardrail settings: policies/guardrails.yaml, and the same schema in a
// virtual server's `guardrails:` block.
//
//   guardrails:                     # definitions, by name
//     - name: no-secrets            # [A-Za-z0-9_.-]+, unique
//       detector: secrets           # a DetectorRegistry name
//       hooks: [mcp_pre_tool, mcp_post_tool, llm_input, llm_output]   # default: all four
//       mode: enforce               # audit | enforce | strict (default enforce)
//       action: validate            # validate | mutate (default validate)
//       options: {entropy_threshold: 3.5}   # passed to the detector's builder
//   global: [no-secrets]            # attached everywhere (in a virtual server block: to that
//   server) tools:                          # tool-name glob -> guardrails
//     "db_*": [sql-guard]
//   virtual_servers:                # only in guardrails.yaml: server name -> guardrails
//     finance: [pii-redact]
//
// Parsing collects every error with file:line and never stops at the first.
// Pure data; any thread.
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace portcullis::guard {

enum class Hook { McpPreTool, McpPostTool, LlmInput, LlmOutput };
enum class Mode { Audit, Enforce, Strict };
enum class Action { Validate, Mutate };
const char* to_string(Hook h);    // "mcp_pre_tool", ...
const char* to_string(Mode m);    // "audit", "enforce", "strict"
const char* to_string(Action a);  // "validate", "mutate"
std::optional<Hook> hook_from(std::string_view s);

struct GuardrailSpec {
  std::string name, detector;
  std::vector<Hook> hooks;
  Mode mode = Mode::Enforce;
  Action action = Action::Validate;
  YAML::Node options;  // undefined when absent
  config::SourcePos pos;
};

struct Attachment {
  std::string pattern;             // tool glob or virtual server name
  std::vector<std::string> names;  // guardrails, in order
  config::SourcePos pos;
};

struct GuardrailSettings {
  std::vector<GuardrailSpec> guardrails;
  std::vector<std::string> global;
  std::vector<Attachment> tools;            // in file order
  std::vector<Attachment> virtual_servers;  // guardrails.yaml only
  std::string file;                         // for diagnostics
};

struct ParsedGuardrails {
  GuardrailSettings settings;
  std::vector<config::Diagnostic> errors;
  bool ok() const { return errors.empty(); }
};

// `node` is the whole guardrails.yaml document or a virtual server's
// `guardrails:` value (virtual_server_block: no `virtual_servers:` key, and
// it may name guardrails that guardrails.yaml defines); `file` names it in
// diagnostics. `detectors` are the names a guardrail may use
// (DetectorRegistry::names()).
ParsedGuardrails parse_guardrails(const YAML::Node& node, const std::string& file,
                                  const std::vector<std::string>& detectors,
                                  bool virtual_server_block = false);
// Reads and parses a file (a missing file is an error).
ParsedGuardrails load_guardrails(const std::string& path,
                                 const std::vector<std::string>& detectors);

}  // namespace portcullis::guard
