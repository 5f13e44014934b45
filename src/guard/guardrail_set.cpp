#include "guard/guardrail_set.h"

#include <algorithm>

#include "core/text.h"

namespace portcullis::guard {

namespace {

bool name_char(char c) {
  return std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

// Builds the detectors of `settings.guardrails` into `out`; errors carry the
// definition's file:line.
void build_scope(const GuardrailSettings& settings, const DetectorRegistry& registry,
                 std::map<std::string, std::shared_ptr<const Guardrail>>& out,
                 std::vector<config::Diagnostic>& errors) {
  for (const auto& spec : settings.guardrails) {
    auto det = registry.build(spec.detector, spec.options);
    if (!det) {
      errors.push_back({spec.pos, "guardrail '" + spec.name + "': " + det.error()});
      continue;
    }
    out[spec.name] = std::make_shared<const Guardrail>(
        Guardrail{spec.name, std::move(det.value()), spec.mode, spec.action, spec.hooks});
  }
}

}  // namespace

Result<std::vector<std::string>> parse_guardrails_header(std::string_view value) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ',' || value[i] == ' ' || value[i] == '\t')) ++i;
    size_t j = i;
    while (j < value.size() && value[j] != ',' && value[j] != ' ' && value[j] != '\t') ++j;
    if (j == i) break;
    std::string name(value.substr(i, j - i));
    if (name[0] == '-' || name[0] == '!')
      return fail("X-Portcullis-Guardrails: a request can add guardrails but not remove them ('" +
                  name + "')");
    if (!std::all_of(name.begin(), name.end(), name_char))
      return fail("X-Portcullis-Guardrails: malformed guardrail name");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    i = j;
  }
  return out;
}

GuardrailSet::Built GuardrailSet::build(const GuardrailSettings& file,
                                        const std::map<std::string, GuardrailSettings>& servers,
                                        const DetectorRegistry& registry) {
  Built b;
  std::shared_ptr<GuardrailSet> set(new GuardrailSet());
  set->file_.settings = file;
  build_scope(file, registry, set->file_.defined, b.errors);
  for (const auto& [name, settings] : servers) {
    Scope& s = set->servers_[name];
    s.settings = settings;
    build_scope(settings, registry, s.defined, b.errors);
    for (const auto& spec : settings.guardrails)
      if (set->file_.defined.count(spec.name))
        b.errors.push_back(
            {spec.pos, "guardrail '" + spec.name + "' is already defined in " + file.file});
    // A server block may use guardrails.yaml's definitions as well as its own.
    auto check = [&](const std::vector<std::string>& names, const config::SourcePos& pos) {
      for (const auto& n : names)
        if (!s.defined.count(n) && !set->file_.defined.count(n))
          b.errors.push_back({pos, "unknown guardrail '" + n + "'"});
    };
    check(settings.global, {settings.file, 0});
    for (const auto& a : settings.tools) check(a.names, a.pos);
  }
  if (b.errors.empty()) b.set = std::move(set);
  return b;
}

const std::shared_ptr<const Guardrail>* GuardrailSet::find(const Scope* server,
                                                           const std::string& name) const {
  if (server)
    if (auto it = server->defined.find(name); it != server->defined.end()) return &it->second;
  if (auto it = file_.defined.find(name); it != file_.defined.end()) return &it->second;
  return nullptr;
}

Result<GuardrailChain> GuardrailSet::resolve(Hook hook, std::string_view virtual_server,
                                             std::string_view tool,
                                             const std::vector<std::string>& extras) const {
  const Scope* server = nullptr;
  if (auto it = servers_.find(virtual_server); it != servers_.end()) server = &it->second;
  std::vector<std::shared_ptr<const Guardrail>> chain;
  auto add = [&](const std::string& name) {
    const auto* g = find(server, name);
    if (!g) return false;
    bool at_hook = std::find((*g)->hooks.begin(), (*g)->hooks.end(), hook) != (*g)->hooks.end();
    bool seen =
        std::any_of(chain.begin(), chain.end(), [&](const auto& c) { return c->name == name; });
    if (at_hook && !seen) chain.push_back(*g);
    return true;
  };
  auto add_scope = [&](const GuardrailSettings& s, bool with_servers) {
    for (const auto& n : s.global) add(n);
    if (with_servers)
      for (const auto& a : s.virtual_servers)
        if (a.pattern == virtual_server)
          for (const auto& n : a.names) add(n);
    for (const auto& a : s.tools)
      if (text::glob_match(a.pattern, tool))
        for (const auto& n : a.names) add(n);
  };
  add_scope(file_.settings, true);
  if (server) add_scope(server->settings, false);
  for (const auto& n : extras)
    if (!add(n)) return fail("X-Portcullis-Guardrails: unknown guardrail '" + n + "'");
  return GuardrailChain(hook, std::move(chain));
}

}  // namespace portcullis::guard
