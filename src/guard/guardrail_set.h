// GuardrailSet: the built guardrails of one configuration (guardrails.yaml
// plus each virtual server's `guardrails:` block), and the resolver that
// answers "which guardrails run at hook H for virtual server V and tool T,
// with these extras from the X-Portcullis-Guardrails header?".
//
// Resolution order (a name runs once, at its first place):
//   guardrails.yaml global, its virtual_servers[V], its tools matching T,
//   then V's block: global, tools matching T; then header extras.
// Only guardrails whose hooks include H are kept. The header can add
// defined guardrails; it can never remove or weaken configured ones.
//
// Threads: immutable once built; resolve() from any thread. Reload builds a
// new set and swaps the shared_ptr.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "guard/chain.h"
#include "guard/registry.h"
#include "guard/settings.h"

namespace portcullis::guard {

// "a, b c" -> {"a","b","c"}. A name that tries to remove ("-a", "!a") or
// is malformed is an error: requests can only add guardrails.
Result<std::vector<std::string>> parse_guardrails_header(std::string_view value);

class GuardrailSet {
 public:
  struct Built {
    std::shared_ptr<const GuardrailSet> set;
    std::vector<config::Diagnostic> errors;  // file:line; set is null when non-empty
  };
  // Builds every defined guardrail's detector. `servers` maps virtual server
  // names to their parsed `guardrails:` blocks.
  static Built build(const GuardrailSettings& file,
                     const std::map<std::string, GuardrailSettings>& servers,
                     const DetectorRegistry& registry);

  // Error: an extra names no guardrail defined for this server.
  Result<GuardrailChain> resolve(Hook hook, std::string_view virtual_server, std::string_view tool,
                                 const std::vector<std::string>& extras = {}) const;

 private:
  using ByName = std::map<std::string, std::shared_ptr<const Guardrail>>;
  struct Scope {
    ByName defined;
    GuardrailSettings settings;
  };
  const std::shared_ptr<const Guardrail>* find(const Scope* server, const std::string& name) const;
  Scope file_;
  std::map<std::string, Scope, std::less<>> servers_;
};

}  // namespace portcullis::guard
