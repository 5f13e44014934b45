// The guard stage: which guardrails a config defines (GuardStage), the
// poisoning screen of catalogues, and the two MCP hooks of a tools/call:
// mcp_pre_tool over the arguments before they go upstream, mcp_post_tool
// over the result before it goes back. A block answers with a tool error
// result naming the guardrail and rule; findings go to the request's audit
// record as rule + position, never the matched text.
#include "pipeline/guard_stage.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "core/text.h"
#include "pipeline/gateway.h"
#include "record/audit.h"

namespace portcullis::pipeline {

namespace {

namespace fs = std::filesystem;

// See gateway_detectors(): fails on text containing `error_on`.
class TestFaultDetector final : public guard::Detector {
 public:
  explicit TestFaultDetector(std::string marker) : marker_(std::move(marker)) {}
  std::string_view name() const override { return "test_fault"; }
  Result<std::vector<guard::Finding>> scan(std::string_view text, guard::ScanContext&) const override {
    if (text.find(marker_) != std::string_view::npos) return fail("test_fault: the text holds the error_on marker");
    return std::vector<guard::Finding>{};
  }

 private:
  std::string marker_;
};

Result<std::shared_ptr<const guard::Detector>> build_test_fault(const YAML::Node& options) {
  if (!options || !options.IsMap() || !options["error_on"] || !options["error_on"].IsScalar() ||
      options["error_on"].Scalar().empty() || options.size() != 1)
    return fail("test_fault needs exactly one option, a non-empty error_on marker");
  return std::shared_ptr<const guard::Detector>(std::make_shared<TestFaultDetector>(options["error_on"].Scalar()));
}

// guardrails.yaml, parsed; an absent file defines nothing.
guard::ParsedGuardrails load_file(const std::string& dir, const std::vector<std::string>& detectors) {
  fs::path path = fs::path(dir) / kGuardrailsFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    guard::ParsedGuardrails none;
    none.settings.file = kGuardrailsFile;
    return none;
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return guard::parse_guardrails(YAML::Load(text.str()), kGuardrailsFile, detectors);
  } catch (const YAML::Exception& e) {
    guard::ParsedGuardrails bad;
    bad.settings.file = kGuardrailsFile;
    bad.errors.push_back({{kGuardrailsFile, e.mark.line >= 0 ? e.mark.line + 1 : 0}, "YAML syntax error: " + e.msg});
    return bad;
  }
}

// Whether selection `sel` exposes the upstream tool `name` (include/exclude).
bool selects(const config::SourceSelection& sel, const std::string& name) {
  auto any = [&](const std::vector<std::string>& globs) {
    for (const auto& g : globs)
      if (text::glob_match(g, name)) return true;
    return false;
  };
  return (sel.include.empty() || any(sel.include)) && !any(sel.exclude);
}

// Poisoning findings carry their field's JSON pointer at the start of the message.
std::string pointer_of(const guard::Finding& f) {
  auto colon = f.message.find(": ");
  return f.message.rfind('/', 0) == 0 && colon != std::string::npos ? f.message.substr(0, colon) : "";
}

std::string rules_of(const Json& findings) {
  std::set<std::string> rules;
  for (const auto& f : findings) rules.insert(f.value("rule", ""));
  std::string out;
  for (const auto& r : rules) out += (out.empty() ? "" : ", ") + r;
  return out;
}

int64_t us_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
}

// What one hook's verdict adds to the request's record.
void note(InFlight::Guarded& g, const guard::Verdict& v) {
  for (const auto& f : v.findings) g.findings.push_back(f.to_json());
  for (const auto& f : v.failures) {
    bool closed = f.mode == guard::Mode::Strict;
    g.findings.push_back({{"guardrail", f.guardrail},
                          {"rule", "error"},
                          {"mode", guard::to_string(f.mode)},
                          {"outcome", closed ? "blocked" : "failed_open"},
                          {"message", f.message}});
  }
  g.blocked |= v.blocked;
  g.redacted |= v.mutated;
}

// A virtual server block's `global:` names, each defined in the block or in
// guardrails.yaml; reported at their own line (the set would say line 0).
void check_global(const config::VirtualServerConfig& vs, const guard::GuardrailSettings& block,
                  const guard::GuardrailSettings& file, std::vector<config::Diagnostic>& errors) {
  const YAML::Node global = vs.guardrails["global"];
  if (!global || !global.IsSequence()) return;
  for (const auto& item : global) {
    if (!item.IsScalar()) continue;
    auto defined = [&](const guard::GuardrailSettings& s) {
      for (const auto& g : s.guardrails)
        if (g.name == item.Scalar()) return true;
      return false;
    };
    if (!defined(block) && !defined(file))
      errors.push_back({{vs.guardrails_pos.file, item.Mark().line + 1}, "unknown guardrail '" + item.Scalar() + "'"});
  }
}

}  // namespace

const guard::DetectorRegistry& gateway_detectors() {
  static const guard::DetectorRegistry r = [] {
    guard::DetectorRegistry r = guard::DetectorRegistry::builtin();
    const char* test = std::getenv("PORTCULLIS_TEST_DETECTORS");
    if (test && std::string(test) == "test_fault") {
      spdlog::warn("PORTCULLIS_TEST_DETECTORS=test_fault: the test-only detector 'test_fault' is available");
      r.add("test_fault", build_test_fault);
    }
    return r;
  }();
  return r;
}

GuardStage::Built GuardStage::build(const config::GatewayConfig& cfg) {
  Built b;
  const auto& registry = gateway_detectors();
  const auto detectors = registry.names();
  auto file = load_file(cfg.dir, detectors);
  b.errors = file.errors;
  for (const auto& a : file.settings.virtual_servers)
    if (!cfg.virtual_servers.count(a.pattern))
      b.errors.push_back({a.pos, "virtual server '" + a.pattern + "' is not defined"});
  std::map<std::string, guard::GuardrailSettings> servers;
  for (const auto& [name, vs] : cfg.virtual_servers) {
    if (!vs.guardrails.IsDefined() || vs.guardrails.IsNull()) continue;
    auto parsed = guard::parse_guardrails(vs.guardrails, vs.guardrails_pos.file, detectors, true);
    b.errors.insert(b.errors.end(), parsed.errors.begin(), parsed.errors.end());
    check_global(vs, parsed.settings, file.settings, b.errors);
    servers[name] = std::move(parsed.settings);
  }
  if (!b.errors.empty()) return b;
  auto built = guard::GuardrailSet::build(file.settings, servers, registry);
  if (!built.errors.empty()) {
    b.errors = std::move(built.errors);
    return b;
  }
  auto stage = std::make_shared<GuardStage>();
  stage->set_ = std::move(built.set);
  // The catalogue check uses guardrails.yaml's poisoning settings when it
  // defines a poisoning guardrail, else the detector's defaults.
  for (const auto& spec : file.settings.guardrails) {
    if (spec.detector != "poisoning") continue;
    auto d = registry.build(spec.detector, spec.options);
    if (d.ok()) stage->poisoning_ = std::dynamic_pointer_cast<const guard::PoisoningDetector>(d.value());
    break;
  }
  if (!stage->poisoning_) stage->poisoning_ = std::make_shared<const guard::PoisoningDetector>();
  b.stage = std::move(stage);
  return b;
}

Json GuardStage::verdict(const Json& tool, const std::vector<std::string>& others) const {
  std::string key = tool.dump();
  for (const auto& o : others) key += "\n" + o;
  key = crypto::sha256_hex(key);
  {
    std::lock_guard lock(mu_);
    if (auto it = verdicts_.find(key); it != verdicts_.end()) return it->second;
  }
  Json out = Json::array();
  auto found = poisoning_->check_tool(tool, others);
  if (!found.ok()) {
    spdlog::warn("tool poisoning check failed for '{}': {}", tool.value("name", "?"), found.error());
  } else {
    for (const auto& f : *found)
      out.push_back({{"hook", "catalog"},
                     {"guardrail", "poisoning"},
                     {"detector", f.detector},
                     {"rule", f.rule},
                     {"pointer", pointer_of(f)},
                     {"start", f.start},
                     {"end", f.end}});
  }
  std::lock_guard lock(mu_);
  verdicts_[key] = out;
  return out;
}

void GuardStage::report(const config::VirtualServerConfig& vs, const std::string& upstream, const Json& tool,
                        const Json& findings, record::AuditLog* audit) const {
  const std::string name = tool.value("name", "");
  {
    std::lock_guard lock(mu_);
    if (!reported_.insert(vs.name + "\n" + upstream + "\n" + crypto::sha256_hex(tool.dump())).second) return;
  }
  const bool hide = vs.poisoning == config::PoisoningMode::Hide;
  spdlog::warn("virtual server '{}': tool '{}' of upstream '{}' carries instructions for the model ({}); {}", vs.name,
               name, upstream, rules_of(findings), hide ? "hidden" : "warning only (poisoning: warn)");
  if (!audit) return;
  record::AuditRecord r;
  r.ts_ms = now_ms();
  r.method = "poisoning";
  r.virtual_server = vs.name;
  r.upstream = upstream;
  r.tool = name;
  r.original_tool = name;
  r.decision = hide ? "denied" : "allowed";
  r.outcome = hide ? "poisoning_hidden" : "poisoning_warned";
  r.findings = findings;
  for (auto& f : r.findings) f["action"] = hide ? "hide" : "warn";
  r.error_message = "the tool's description or schema holds instructions for the model: " + rules_of(findings);
  audit->record(std::move(r));
}

compose::UpstreamCatalogs GuardStage::screen(const config::VirtualServerConfig& vs,
                                             const compose::UpstreamCatalogs& upstreams,
                                             record::AuditLog* audit) const {
  if (vs.poisoning == config::PoisoningMode::Off || !poisoning_) return upstreams;
  compose::UpstreamCatalogs out = upstreams;
  std::set<std::string> done;
  for (const auto& sel : vs.tools) {
    auto it = upstreams.find(sel.upstream);
    if (it == upstreams.end() || !it->second) continue;
    std::vector<std::string> names;
    for (const auto& t : it->second->tools)
      if (t.is_object() && t.contains("name") && t["name"].is_string()) names.push_back(t["name"].get<std::string>());
    std::vector<Json> kept;
    bool hid = false;
    for (const auto& t : it->second->tools) {
      bool exposed = t.is_object() && t.contains("name") && t["name"].is_string();
      Json findings = exposed && selects(sel, t["name"].get<std::string>()) ? verdict(t, names) : Json::array();
      if (!findings.empty()) report(vs, sel.upstream, t, findings, audit);
      if (!findings.empty() && vs.poisoning == config::PoisoningMode::Hide) {
        hid = true;
        continue;
      }
      kept.push_back(t);
    }
    // Two selections of one upstream: a tool the first hid stays hidden.
    if (hid && done.insert(sel.upstream).second) {
      auto screened = std::make_shared<compose::UpstreamCatalog>(*out[sel.upstream]);
      screened->tools = std::move(kept);
      out[sel.upstream] = std::move(screened);
    }
  }
  return out;
}

// ------------------------------------------------------------ the hooks

compose::UpstreamCatalogs Gateway::screen_tools(const Runtime& rt, const config::VirtualServerConfig& vs,
                                                const compose::UpstreamCatalogs& upstreams) {
  return rt.guards ? rt.guards->screen(vs, upstreams, audit_.get()) : upstreams;
}

bool Gateway::guard_pre_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                             const std::string& tool, Json& params) {
  auto rt = runtime();
  if (!rt->guards) return true;
  auto started = std::chrono::steady_clock::now();
  auto extras = guard::parse_guardrails_header(inflight->guardrails_header);
  if (!extras) return reply_error(session, inflight, rpc::kInvalidParams, extras.error()), false;
  auto chain = rt->guards->guardrails().resolve(guard::Hook::McpPreTool, session->virtual_server, tool, *extras);
  if (!chain) return reply_error(session, inflight, rpc::kInvalidParams, chain.error()), false;
  if (chain->guardrails().empty()) return true;
  Json& args = params["arguments"];
  if (!args.is_object()) args = Json::object();
  guard::ScanContext ctx;
  guard::Verdict v = chain->run(args, ctx);
  note(inflight->guarded, v);
  if (v.mutated && !inflight->routed.arguments.is_null()) inflight->routed.arguments = args;
  inflight->guarded.us += us_since(started);
  if (!v.blocked) return true;
  spdlog::info("tools/call '{}' on '{}' blocked before the upstream: {}", tool, session->virtual_server,
               v.block_message());
  finish(session, inflight, rpc::make_result(inflight->downstream_id, v.tool_error()));
  return false;
}

void Gateway::guard_post_tool(const Session& session, InFlight& inflight, Json& response) {
  auto result = response.find("result");
  if (result == response.end() || !result->is_object() || result->value("resultType", "") == "input_required") return;
  auto rt = runtime();
  if (!rt->guards) return;
  auto started = std::chrono::steady_clock::now();
  auto extras = guard::parse_guardrails_header(inflight.guardrails_header);
  auto chain = rt->guards->guardrails().resolve(guard::Hook::McpPostTool, session.virtual_server, inflight.routed.name,
                                                extras ? *extras : std::vector<std::string>{});
  if (!chain || chain->guardrails().empty()) return;
  guard::ScanContext ctx;
  guard::Verdict v = chain->run(*result, ctx);
  note(inflight.guarded, v);
  if (v.blocked) {
    spdlog::info("tools/call '{}' on '{}': result blocked: {}", inflight.routed.name, session.virtual_server,
                 v.block_message());
    *result = v.tool_error();
  }
  inflight.guarded.us += us_since(started);
}

}  // namespace portcullis::pipeline
