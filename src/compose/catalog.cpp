#include "compose/catalog.h"

#include <functional>
#include <set>

#include "compose/naming.h"
#include "core/crypto.h"
#include "core/text.h"

namespace portcullis::compose {

namespace {

bool selected(const config::SourceSelection& sel, const std::vector<std::string>& keys) {
  auto any_match = [&](const std::vector<std::string>& globs) {
    for (const auto& g : globs) {
      for (const auto& k : keys) {
        if (!k.empty() && text::glob_match(g, k)) return true;
      }
    }
    return false;
  };
  if (!sel.include.empty() && !any_match(sel.include)) return false;
  return !any_match(sel.exclude);
}

std::string effective_prefix(const config::SourceSelection& sel, size_t upstreams_in_section) {
  if (sel.prefix) return *sel.prefix;
  return upstreams_in_section > 1 ? sel.upstream : std::string();
}

size_t distinct_upstreams(const std::vector<config::SourceSelection>& sels) {
  std::set<std::string> s;
  for (const auto& sel : sels) s.insert(sel.upstream);
  return s.size();
}

const std::string* find_or_null(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

std::string digest_of(const std::vector<Json>& items) {
  std::string all;
  for (const auto& j : items) all += j.dump();
  return crypto::sha256_hex(all);
}

// Tools and prompts: named entries with routes.
// The properties an input schema marks with `x-mcp-header`, reachable
// through nested "properties" only (SEP-2243).
void collect_header_params(const Json& schema, std::vector<std::string> path,
                           std::vector<std::pair<std::vector<std::string>, std::string>>& out) {
  if (!schema.is_object()) return;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return;
  for (auto it = props->begin(); it != props->end(); ++it) {
    path.push_back(it.key());
    if (it->is_object()) {
      auto h = it->find("x-mcp-header");
      if (h != it->end() && h->is_string() && !h->get_ref<const std::string&>().empty()) {
        out.emplace_back(path, h->get<std::string>());
      }
      collect_header_params(*it, path, out);
    }
    path.pop_back();
  }
}

void build_named(const std::vector<config::SourceSelection>& sels, const UpstreamCatalogs& ups,
                 bool tools, std::vector<Json>& out, std::unordered_map<std::string, Route>& routes,
                 const std::string& vs_name, std::vector<std::string>* problems,
                 const PinChanges* blocking, std::unordered_map<std::string, std::string>* blocked) {
  size_t n = distinct_upstreams(sels);
  for (const auto& sel : sels) {
    auto it = ups.find(sel.upstream);
    if (it == ups.end() || !it->second) continue;
    const auto& items = tools ? it->second->tools : it->second->prompts;
    std::string prefix = effective_prefix(sel, n);
    for (const Json& item : items) {
      if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) continue;
      std::string original = item["name"].get<std::string>();
      if (!selected(sel, {original})) continue;
      std::string name = exposed_name(original, prefix, find_or_null(sel.rename, original));
      if (blocking) {
        if (auto b = blocking->find({sel.upstream, original}); b != blocking->end()) {
          (*blocked)[name] = "tool '" + name + "' is blocked: its " + b->second +
                             " since it was approved (upstream '" + sel.upstream + "', tool '" + original +
                             "'); approve it with: portcullis pins approve " + sel.upstream + " " + original;
          continue;
        }
      }
      if (routes.count(name)) {
        if (problems) {
          problems->push_back("virtual server '" + vs_name + "': " + (tools ? "tool" : "prompt") +
                              " name '" + name + "' from upstream '" + sel.upstream + "' (" +
                              original + ") collides with the one from upstream '" +
                              routes[name].upstream + "' (" + routes[name].original +
                              "); set a prefix or rename one of them");
        }
        continue;
      }
      Route route{sel.upstream, original, Json::object(), {}};
      if (auto f = sel.fixed.find(original); f != sel.fixed.end() && f->second.is_object()) {
        route.fixed = f->second;
      }
      Json exposed = item;
      exposed["name"] = name;
      if (auto d = sel.describe.find(original); d != sel.describe.end()) exposed["description"] = d->second;
      if (!route.fixed.empty()) {
        if (tools && exposed.contains("inputSchema")) {
          exposed["inputSchema"] = hide_fixed_arguments(exposed["inputSchema"], route.fixed);
        } else if (!tools && exposed.contains("arguments") && exposed["arguments"].is_array()) {
          Json kept = Json::array();
          for (const Json& a : exposed["arguments"]) {
            if (!(a.contains("name") && a["name"].is_string() && route.fixed.contains(a["name"].get<std::string>()))) {
              kept.push_back(a);
            }
          }
          exposed["arguments"] = std::move(kept);
        }
      }
      if (tools) collect_header_params(exposed.value("inputSchema", Json()), {}, route.header_params);
      routes.emplace(name, std::move(route));
      out.push_back(std::move(exposed));
    }
  }
}

}  // namespace

std::shared_ptr<const VirtualCatalog> VirtualCatalog::build(const config::VirtualServerConfig& vs,
                                                            const UpstreamCatalogs& ups,
                                                            std::vector<std::string>* problems,
                                                            const PinChanges* pin_changes) {
  auto cat = std::make_shared<VirtualCatalog>();
  const PinChanges* blocking = vs.pinning == config::PinningMode::Block ? pin_changes : nullptr;
  build_named(vs.tools, ups, true, cat->tools_, cat->tool_routes_, vs.name, problems, blocking, &cat->blocked_);
  build_named(vs.prompts, ups, false, cat->prompts_, cat->prompt_routes_, vs.name, problems, nullptr, nullptr);

  // Resources keep their URIs; their display names follow the naming rules.
  size_t n = distinct_upstreams(vs.resources);
  std::set<std::string> seen_uri, seen_template;
  for (const auto& sel : vs.resources) {
    cat->resource_upstreams_.push_back(sel.upstream);
    auto it = ups.find(sel.upstream);
    if (it == ups.end() || !it->second) continue;
    std::string prefix = effective_prefix(sel, n);
    auto expose = [&](const Json& item, const char* uri_key, std::set<std::string>& seen,
                      std::vector<Json>& out) -> std::optional<std::string> {
      if (!item.is_object() || !item.contains(uri_key) || !item[uri_key].is_string()) return std::nullopt;
      std::string uri = item[uri_key].get<std::string>();
      std::string original = item.value("name", std::string());
      if (!selected(sel, {original, uri})) return std::nullopt;
      if (!seen.insert(uri).second) {
        if (problems) {
          problems->push_back("virtual server '" + vs.name + "': resource '" + uri +
                              "' is offered by more than one upstream; '" + sel.upstream +
                              "' is ignored for it");
        }
        return std::nullopt;
      }
      Json exposed = item;
      if (!original.empty()) {
        exposed["name"] = exposed_name(original, prefix, find_or_null(sel.rename, original));
        if (auto d = sel.describe.find(original); d != sel.describe.end()) exposed["description"] = d->second;
      }
      out.push_back(std::move(exposed));
      return uri;
    };
    for (const Json& r : it->second->resources) {
      if (auto uri = expose(r, "uri", seen_uri, cat->resources_)) cat->resource_routes_[*uri] = sel.upstream;
    }
    for (const Json& t : it->second->resource_templates) {
      if (auto uri = expose(t, "uriTemplate", seen_template, cat->templates_)) {
        cat->template_routes_.emplace_back(*uri, sel.upstream);
      }
    }
  }

  std::set<std::string> all;
  for (const auto* sels : {&vs.tools, &vs.resources, &vs.prompts}) {
    for (const auto& sel : *sels) {
      if (all.insert(sel.upstream).second) cat->upstreams_.push_back(sel.upstream);
    }
  }
  cat->digests_[0] = digest_of(cat->tools_);
  cat->digests_[1] = digest_of(cat->resources_);
  cat->digests_[2] = digest_of(cat->templates_);
  cat->digests_[3] = digest_of(cat->prompts_);
  return cat;
}

std::shared_ptr<const VirtualCatalog> VirtualCatalog::with_tool(Json tool, Route route) const {
  const std::string name = tool.value("name", "");
  if (name.empty() || tool_routes_.count(name) || blocked_.count(name)) return nullptr;
  auto cat = std::make_shared<VirtualCatalog>(*this);
  cat->tools_.push_back(std::move(tool));
  cat->tool_routes_.emplace(name, std::move(route));
  cat->digests_[0] = digest_of(cat->tools_);
  return cat;
}

const std::vector<Json>& VirtualCatalog::list(ListKind kind) const {
  switch (kind) {
    case ListKind::Tools: return tools_;
    case ListKind::Resources: return resources_;
    case ListKind::ResourceTemplates: return templates_;
    case ListKind::Prompts: break;
  }
  return prompts_;
}

const std::string& VirtualCatalog::digest(ListKind kind) const {
  return digests_[static_cast<int>(kind)];
}

const Route* VirtualCatalog::tool(const std::string& exposed) const {
  auto it = tool_routes_.find(exposed);
  return it == tool_routes_.end() ? nullptr : &it->second;
}

const std::string* VirtualCatalog::blocked(const std::string& exposed) const {
  auto it = blocked_.find(exposed);
  return it == blocked_.end() ? nullptr : &it->second;
}

const Route* VirtualCatalog::prompt(const std::string& exposed) const {
  auto it = prompt_routes_.find(exposed);
  return it == prompt_routes_.end() ? nullptr : &it->second;
}

std::optional<std::string> VirtualCatalog::resource_upstream(const std::string& uri) const {
  if (auto it = resource_routes_.find(uri); it != resource_routes_.end()) return it->second;
  for (const auto& [tmpl, upstream] : template_routes_) {
    if (uri_matches_template(tmpl, uri)) return upstream;
  }
  std::set<std::string> distinct(resource_upstreams_.begin(), resource_upstreams_.end());
  if (distinct.size() == 1) return *distinct.begin();
  return std::nullopt;
}

bool uri_matches_template(const std::string& tmpl, const std::string& uri) {
  // Recursive matcher over literal runs and {expressions}.
  std::function<bool(size_t, size_t)> match = [&](size_t ti, size_t ui) -> bool {
    if (ti == tmpl.size()) return ui == uri.size();
    if (tmpl[ti] != '{') {
      return ui < uri.size() && tmpl[ti] == uri[ui] && match(ti + 1, ui + 1);
    }
    size_t close = tmpl.find('}', ti);
    if (close == std::string::npos) return false;
    char op = tmpl[ti + 1];
    bool reserved = op == '+' || op == '#' || op == '/';
    // Greedy-to-lazy: try every length >= 1 (or >= 0 for optional forms).
    for (size_t len = 1; ui + len <= uri.size(); ++len) {
      char c = uri[ui + len - 1];
      if (!reserved && (c == '/' || c == '?' || c == '#')) break;
      if (match(close + 1, ui + len)) return true;
    }
    return false;
  };
  return match(0, 0);
}

Json hide_fixed_arguments(Json schema, const Json& fixed) {
  if (!schema.is_object()) return schema;
  if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) {
    for (auto it = fixed.begin(); it != fixed.end(); ++it) p->erase(it.key());
  }
  if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
    Json kept = Json::array();
    for (const Json& name : *r) {
      if (!(name.is_string() && fixed.contains(name.get<std::string>()))) kept.push_back(name);
    }
    *r = std::move(kept);
  }
  return schema;
}

Result<Json> paginate(const std::vector<Json>& items, const std::string& key,
                      const std::string& cursor, size_t page_size) {
  size_t offset = 0;
  if (!cursor.empty()) {
    // Cursors are "o<offset>"; anything else was not issued by us.
    if (cursor.size() < 2 || cursor[0] != 'o') return fail("invalid cursor");
    try {
      size_t used = 0;
      offset = std::stoul(cursor.substr(1), &used);
      if (used != cursor.size() - 1 || offset > items.size()) return fail("invalid cursor");
    } catch (...) {
      return fail("invalid cursor");
    }
  }
  size_t end = page_size == 0 ? items.size() : std::min(items.size(), offset + page_size);
  Json page = Json::array();
  for (size_t i = offset; i < end; ++i) page.push_back(items[i]);
  Json result = {{key, std::move(page)}};
  if (end < items.size()) result["nextCursor"] = "o" + std::to_string(end);
  return result;
}

}  // namespace portcullis::compose
