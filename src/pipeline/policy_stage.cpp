#include "pipeline/policy_stage.h"

#include <algorithm>
#include <filesystem>

#include "pipeline/session.h"
#include "policy/extensions.h"
#include "policy/plain_json.h"

namespace portcullis::pipeline {

namespace fs = std::filesystem;
using policy::Entities;
using policy::Entity;
using policy::EntityUid;
using policy::Value;
using policy::ValueRecord;
using policy::ValueSet;

namespace {

constexpr long long kListingTtlMs = 60'000;
constexpr size_t kListingCacheMax = 4096;

bool has_cedar_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".cedar" && e.is_regular_file(ec)) return true;
  }
  return false;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) is 10.0.0.1.
std::optional<policy::IpAddr> client_address(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::string_view t = text;
  if (t.starts_with("::ffff:") && t.find('.') != std::string_view::npos) t.remove_prefix(7);
  auto ip = policy::parse_ip(t);
  if (!ip.ok()) return std::nullopt;
  return ip.value();
}

ValueSet strings(const std::vector<std::string>& items) {
  ValueSet out;
  out.reserve(items.size());
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

// An entity for this request on top of what entities.json says about the
// same uid: the file's attributes and ancestors stay, ours win on conflicts.
Entity merged(EntityUid uid, ValueRecord attrs, std::vector<EntityUid> parents,
              const Entities& base) {
  if (const Entities::Stored* known = base.find(uid)) {
    for (const auto& [k, v] : known->attrs.as_record()) attrs.emplace(k, v);  // keeps ours
    parents.insert(parents.end(), known->ancestors.begin(), known->ancestors.end());
  }
  return Entity{std::move(uid), std::move(attrs), std::move(parents), {}};
}

Entity user_entity(const identity::Principal& p, const Entities& base) {
  ValueRecord meta;
  for (const auto& [k, v] : p.metadata) meta.emplace(k, Value(v));
  ValueRecord attrs{{"subject", Value(p.subject)},
                    {"issuer", Value(p.issuer)},
                    {"auth_method", Value(identity::to_string(p.method))},
                    {"scopes", Value::set(strings(p.scopes))},
                    {"groups", Value::set(strings(p.groups))},
                    {"metadata", Value::record(std::move(meta))}};
  std::vector<EntityUid> parents;
  parents.reserve(p.groups.size());
  for (const auto& g : p.groups) parents.push_back({"Group", g});
  return merged({"User", p.subject}, std::move(attrs), std::move(parents), base);
}

Entity target_entity(const PolicyTarget& t, const Entities& base) {
  ValueRecord attrs{{"name", Value(t.name)},
                    {"original", Value(t.original.empty() ? t.name : t.original)},
                    {"upstream", Value(t.upstream)}};
  std::vector<EntityUid> parents;
  if (t.virtual_server.empty()) {
    return merged({t.type, t.name}, std::move(attrs), std::move(parents), base);
  }
  attrs.emplace("server", Value(t.virtual_server));
  parents.push_back({"Server", t.virtual_server});
  return merged({t.type, t.virtual_server + "/" + t.name}, std::move(attrs), std::move(parents),
                base);
}

}  // namespace

const char* to_string(PolicyAction a) {
  switch (a) {
    case PolicyAction::CallTool:
      return "call_tool";
    case PolicyAction::ListTools:
      return "list_tools";
    case PolicyAction::ReadResource:
      return "read_resource";
    case PolicyAction::GetPrompt:
      return "get_prompt";
    case PolicyAction::Chat:
      return "chat";
  }
  return "";
}

std::string PolicyVerdict::reason() const {
  std::string why = allow                 ? "allowed by " + join(policy_ids, ", ")
                    : !policy_ids.empty() ? "forbidden by policy " + join(policy_ids, ", ")
                                          : "no policy permits it (default deny)";
  if (!errors.empty()) why += "; policy errors: " + join(errors, "; ");
  return why;
}

Result<std::shared_ptr<const PolicyStage>> PolicyStage::load(const std::string& config_dir) {
  fs::path dir = fs::path(config_dir) / "policies";
  if (!has_cedar_files(dir)) return std::shared_ptr<const PolicyStage>();
  auto problems = policy::CedarPolicySet::check_dir(dir.string());
  if (!problems.empty()) return fail(join(problems, "\n"));
  fs::path entities = dir / "entities.json";
  std::error_code ec;
  auto set = policy::CedarPolicySet::load_dir(dir.string(),
                                              fs::exists(entities, ec) ? entities.string() : "");
  if (!set.ok()) return fail(set.error());
  return std::make_shared<const PolicyStage>(
      std::make_shared<const policy::CedarPolicySet>(std::move(set.value())));
}

PolicyStage::PolicyStage(std::shared_ptr<const policy::CedarPolicySet> set) : set_(std::move(set)) {
  for (const auto& p : set_->policies()) {
    permits_[p.id] = p.permit;
    if (auto a = p.annotations.find("approval"); a != p.annotations.end() && p.permit)
      approvals_[p.id] = a->second;
  }
}

std::shared_ptr<const PolicyStage::UserLayer> PolicyStage::user_layer(
    const identity::Principal& p) const {
  std::string key = p.key();
  key += '\x1f';
  for (const auto& g : p.groups) (key += g) += '\x1e';
  key += '\x1f';
  for (const auto& s : p.scopes) (key += s) += '\x1e';
  key += '\x1f';
  for (const auto& [k, v] : p.metadata) (((key += k) += '=') += v) += '\x1e';
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = users_.find(key); it != users_.end()) return it->second;
  }
  auto layer = std::make_shared<UserLayer>();
  Entity user = user_entity(p, *set_->entities());
  layer->metadata = user.attrs.at("metadata");
  auto built = Entities::build({std::move(user)}, set_->entities());
  // Only a cycle through entities.json fails; decide() then denies.
  if (built.ok()) layer->entities = std::make_shared<const Entities>(std::move(built.value()));
  std::lock_guard lock(cache_mu_);
  if (users_.size() >= kListingCacheMax) users_.clear();
  users_[key] = layer;
  return layer;
}

policy::Decision PolicyStage::decide(const PolicyCaller& caller, PolicyAction action,
                                     const PolicyTarget& target, const Json* arguments) const {
  auto user = user_layer(caller.principal);
  if (!user->entities) {
    policy::Decision d;
    d.errors.push_back({"entities", "the entity hierarchy has a cycle through User::\"" +
                                        caller.principal.subject + "\""});
    return d;
  }
  policy::Request req;
  req.principal = {"User", caller.principal.subject};
  req.action = {"Action", to_string(action)};
  req.resource = target.virtual_server.empty()
                     ? EntityUid{target.type, target.name}
                     : EntityUid{target.type, target.virtual_server + "/" + target.name};
  ValueRecord context{{"metadata", user->metadata},
                      {"time", Value(static_cast<int64_t>(now_ms() / 1000))}};
  if (arguments) {
    context.emplace("arguments", arguments->is_object() ? policy::value_from_plain_json(*arguments)
                                                        : Value::record({}));
  }
  if (auto ip = client_address(caller.client_ip)) context.emplace("client_ip", Value(*ip));
  req.context = Value::record(std::move(context));
  auto overlay = Entities::build({target_entity(target, *user->entities)}, user->entities);
  if (!overlay.ok()) {
    // Only a cycle through entities.json can get here: nothing is allowed.
    policy::Decision d;
    d.errors.push_back({"entities", overlay.error()});
    return d;
  }
  return set_->authorize(req, overlay.value());
}

PolicyVerdict PolicyStage::authorize(const PolicyCaller& caller, PolicyAction action,
                                     const PolicyTarget& target, const Json& arguments) const {
  policy::Decision d = decide(caller, action, target, &arguments);
  PolicyVerdict v;
  v.allow = d.allow;
  v.policy_ids = std::move(d.reasons);
  for (auto& e : d.errors) v.errors.push_back(e.policy_id + ": " + e.message);
  if (v.allow) {
    for (const auto& id : v.policy_ids) {
      if (auto a = approvals_.find(id); a != approvals_.end()) {
        v.approval = a->second.empty() ? id : a->second;
        break;
      }
    }
  }
  return v;
}

PolicyVerdict PolicyStage::authorize_chat(const PolicyCaller& caller, const std::string& model,
                                          const std::string& provider, const Json& request) const {
  return authorize(caller, PolicyAction::Chat, PolicyTarget{"Model", "", model, provider, model},
                   request);
}

bool PolicyStage::could_allow(const PolicyCaller& caller, PolicyAction action,
                              const PolicyTarget& target, std::vector<std::string>* forbids) const {
  policy::Decision d = decide(caller, action, target, nullptr);
  if (d.allow) return true;
  if (!d.reasons.empty()) {  // a forbid holds whatever the arguments
    forbids->insert(forbids->end(), d.reasons.begin(), d.reasons.end());
    return false;
  }
  for (const auto& e : d.errors) {
    if (auto p = permits_.find(e.policy_id); p != permits_.end() && p->second) return true;
  }
  return false;
}

std::shared_ptr<const Listing> PolicyStage::visible(const PolicyCaller& caller,
                                                    const std::string& virtual_server,
                                                    const compose::VirtualCatalog& cat,
                                                    compose::ListKind kind) const {
  const std::vector<Json>& all = cat.list(kind);
  if (kind == compose::ListKind::ResourceTemplates) return nullptr;
  const identity::Principal& p = caller.principal;
  std::string key = p.key() + '\x1f' + join(p.groups, "\x1e") + '\x1f' + Json(p.metadata).dump() +
                    '\x1f' + caller.client_ip + '\x1f' + virtual_server + '\x1f' +
                    std::to_string(static_cast<int>(kind)) + '\x1f' + cat.digest(kind);
  const long long now = now_ms();
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = cache_.find(key); it != cache_.end() && it->second.expires_ms > now)
      return it->second.listing;
  }
  auto listing = std::make_shared<Listing>();
  std::vector<std::string> forbids;
  for (const auto& item : all) {
    PolicyTarget t;
    t.virtual_server = virtual_server;
    bool keep = false;
    if (kind == compose::ListKind::Tools) {
      t.type = "Tool";
      t.name = item.value("name", std::string());
      const compose::Route* route = cat.tool(t.name);
      if (route && route->connect) {
        keep = true;  // the gateway's own connect tool, not an upstream's
      } else if (route) {
        t.upstream = route->upstream;
        t.original = route->original;
        keep = could_allow(caller, PolicyAction::CallTool, t, &forbids);
        if (keep) {
          policy::Decision listing_decision = decide(caller, PolicyAction::ListTools, t, nullptr);
          keep = listing_decision.allow || listing_decision.reasons.empty();
          if (!keep)
            forbids.insert(forbids.end(), listing_decision.reasons.begin(),
                           listing_decision.reasons.end());
        }
      }
    } else if (kind == compose::ListKind::Prompts) {
      t.type = "Prompt";
      t.name = item.value("name", std::string());
      if (const compose::Route* route = cat.prompt(t.name)) {
        t.upstream = route->upstream;
        t.original = route->original;
        keep = could_allow(caller, PolicyAction::GetPrompt, t, &forbids);
      }
    } else {
      t.type = "Resource";
      t.name = item.value("uri", std::string());
      if (auto up = cat.resource_upstream(t.name)) {
        t.upstream = *up;
        t.original = t.name;
        keep = could_allow(caller, PolicyAction::ReadResource, t, &forbids);
      }
    }
    if (keep) listing->items.push_back(item);
    else listing->hidden.push_back(t.name);
  }
  std::sort(forbids.begin(), forbids.end());
  forbids.erase(std::unique(forbids.begin(), forbids.end()), forbids.end());
  listing->policy_ids = std::move(forbids);
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= kListingCacheMax) {
    std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires_ms <= now; });
    if (cache_.size() >= kListingCacheMax) cache_.clear();
  }
  cache_[key] = Listed{now + kListingTtlMs, listing};
  return listing;
}

}  // namespace portcullis::pipeline
