// guardrails.yaml parsing: typed settings, defaults, and every error with
// file:line; detector options checked when the set is built.
#include <doctest/doctest.h>

#include "guard/guardrail_set.h"
#include "guard/registry.h"
#include "guard/settings.h"

using namespace portcullis;
using namespace portcullis::guard;

namespace {

std::vector<std::string> errors_of(const std::string& yaml, bool vs_block = false) {
  std::vector<std::string> out;
  auto p = parse_guardrails(YAML::Load(yaml), "guardrails.yaml",
                            DetectorRegistry::builtin().names(), vs_block);
  for (const auto& d : p.errors) out.push_back(d.format());
  return out;
}

}  // namespace

TEST_CASE("a guardrail defaults to all four hooks, enforce and validate") {
  auto p = parse_guardrails(YAML::Load("guardrails:\n  - {name: s, detector: secrets}\n"), "g.yaml",
                            DetectorRegistry::builtin().names());
  REQUIRE(p.ok());
  const auto& g = p.settings.guardrails.at(0);
  CHECK(g.mode == Mode::Enforce);
  CHECK(g.action == Action::Validate);
  CHECK(g.hooks ==
        std::vector<Hook>{Hook::McpPreTool, Hook::McpPostTool, Hook::LlmInput, Hook::LlmOutput});
  CHECK(g.pos.line == 2);
}

TEST_CASE("every mistake is reported with its file and line") {
  auto errs = errors_of(R"(guardrails:
  - name: a
    detector: secrets
    mode: loud
  - name: b
    detector: antivirus
    action: shred
    hooks: [mcp_pre_tool, on_tuesday]
  - name: a
    detector: pii
    colour: red
global: [a, ghost]
tools:
  "db_*": [phantom]
extras: 1
)");
  CHECK(errs == std::vector<std::string>{
                    "guardrails.yaml:4: mode must be audit, enforce or strict, not 'loud'",
                    "guardrails.yaml:7: action must be validate or mutate, not 'shred'",
                    "guardrails.yaml:8: unknown hook 'on_tuesday' (mcp_pre_tool, mcp_post_tool, "
                    "llm_input, llm_output)",
                    "guardrails.yaml:5: unknown detector 'antivirus' (known: injection, pii, poisoning, secrets, sql)",
                    "guardrails.yaml:11: unknown guardrail key 'colour'",
                    "guardrails.yaml:9: duplicate guardrail 'a'",
                    "guardrails.yaml:15: unknown key 'extras'",
                    "guardrails.yaml:12: unknown guardrail 'ghost'",
                    "guardrails.yaml:14: unknown guardrail 'phantom'",
                });
}

TEST_CASE(
    "a virtual server block may name guardrails.yaml's guardrails but not attach to other "
    "servers") {
  CHECK(errors_of("global: [defined-elsewhere]\n", true).empty());
  CHECK(errors_of("virtual_servers: {a: [x]}\n", true) ==
        std::vector<std::string>{"guardrails.yaml:1: unknown key 'virtual_servers'"});
}

TEST_CASE("bad detector options fail the build at the guardrail's line") {
  auto p = parse_guardrails(YAML::Load(R"(guardrails:
  - name: ok
    detector: secrets
  - name: typo
    detector: pii
    options: {kinds: [email, fax]}
  - name: bad-rule
    detector: secrets
    options: {disabled_rules: [no_such_rule], entropy_threshold: 4}
  - name: bad-key
    detector: secrets
    options: {entropy: 4}
)"),
                            "guardrails.yaml", DetectorRegistry::builtin().names());
  REQUIRE(p.ok());
  auto built = GuardrailSet::build(p.settings, {}, DetectorRegistry::builtin());
  CHECK_FALSE(built.set);
  std::vector<std::string> errs;
  for (const auto& e : built.errors) errs.push_back(e.format());
  CHECK(errs == std::vector<std::string>{
                    "guardrails.yaml:4: guardrail 'typo': pii: unknown kind 'fax'",
                    "guardrails.yaml:7: guardrail 'bad-rule': secrets: unknown rule 'no_such_rule'",
                    "guardrails.yaml:10: guardrail 'bad-key': unknown option 'entropy'"});
}

TEST_CASE("the shipped policies/guardrails.yaml parses and builds") {
  auto p = load_guardrails("policies/guardrails.yaml", DetectorRegistry::builtin().names());
  for (const auto& e : p.errors) MESSAGE(e.format());
  REQUIRE(p.ok());
  auto built = GuardrailSet::build(p.settings, {}, DetectorRegistry::builtin());
  CHECK(built.set != nullptr);
  CHECK(load_guardrails("policies/missing.yaml", {}).errors.at(0).format() ==
        "policies/missing.yaml: cannot read file");
}
