// The guard stage's configuration: the guardrails of one GatewayConfig
// (DIR/policies/guardrails.yaml plus each virtual server's `guardrails:`
// block) and the tool-poisoning screen that catalogues pass through when
// they load. The per-request part (mcp_pre_tool on tools/call arguments,
// mcp_post_tool on results) is in guard_stage.cpp as Gateway members.
//
// Contract:
//   - build() checks everything and reports every error as file:line; a
//     config with errors yields no stage (start fails, reload keeps the old).
//   - screen() never changes a catalogue of a virtual server whose
//     `poisoning` is off or warn; with hide it leaves flagged tools out, so
//     tools/list omits them and calls to them are refused as unknown tools.
//     Each flagged tool is logged and audited once per stage (per config).
//
// Threads: a GuardStage is built once per config and shared by snapshot
// (Runtime::guards); every method is const and may be called from any
// thread (the poisoning verdict cache is internally locked).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "compose/catalog.h"
#include "config/config.h"
#include "guard/guardrail_set.h"
#include "guard/poisoning_detector.h"
#include "guard/registry.h"

namespace portcullis::record {
class AuditLog;
}

namespace portcullis::pipeline {

// Where guardrails.yaml lives in a config DIR. Optional.
inline constexpr const char* kGuardrailsFile = "policies/guardrails.yaml";

// The detectors the gateway offers: guard's built-ins. When the process
// environment has PORTCULLIS_TEST_DETECTORS=test_fault at its first call,
// also `test_fault`, a detector that fails (a detector error, never a
// finding) on any text containing its `error_on` option. It exists so that
// tests can exercise strict mode's fail-closed path through the real chain;
// without that variable a config naming it is rejected as an unknown
// detector, so it cannot be switched on from config alone.
const guard::DetectorRegistry& gateway_detectors();

class GuardStage {
 public:
  struct Built {
    std::shared_ptr<const GuardStage> stage;  // null when errors is non-empty
    std::vector<config::Diagnostic> errors;
  };
  static Built build(const config::GatewayConfig& cfg);

  const guard::GuardrailSet& guardrails() const { return *set_; }

  // `upstreams` as virtual server `vs` may expose them (see the contract).
  compose::UpstreamCatalogs screen(const config::VirtualServerConfig& vs, const compose::UpstreamCatalogs& upstreams,
                                   record::AuditLog* audit) const;

 private:
  // Findings of the poisoning check for one tool definition (as audit JSON);
  // an empty array when clean. Cached by the definition's digest.
  Json verdict(const Json& tool, const std::vector<std::string>& others) const;
  void report(const config::VirtualServerConfig& vs, const std::string& upstream, const Json& tool,
              const Json& findings, record::AuditLog* audit) const;

  std::shared_ptr<const guard::GuardrailSet> set_;
  std::shared_ptr<const guard::PoisoningDetector> poisoning_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Json> verdicts_;  // (mu_) digest -> findings
  mutable std::set<std::string> reported_;        // (mu_) vs, upstream, digest
};

}  // namespace portcullis::pipeline
