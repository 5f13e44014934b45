#include "policy/policy_set.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/json.h"
#include "policy/json_format.h"
#include "policy/parser.h"

namespace portcullis::policy {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> cedar_files(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".cedar") files.push_back(e.path());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return files;
}

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return fail(p.string() + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> duplicate_id(const std::vector<Policy>& ps) {
  std::set<std::string_view> seen;
  for (const auto& p : ps)
    if (!seen.insert(p.id).second) return p.pos.format() + ": duplicate policy id `" + p.id + "`";
  return std::nullopt;
}

}  // namespace

Result<CedarPolicySet> CedarPolicySet::from(std::vector<Policy> policies) {
  if (auto dup = duplicate_id(policies)) return fail(*dup);
  CedarPolicySet s;
  s.index_ = std::make_shared<const ScopeIndex>(index(policies));
  s.policies_ = std::make_shared<const std::vector<Policy>>(std::move(policies));
  return s;
}

CedarPolicySet::ScopeIndex CedarPolicySet::index(const std::vector<Policy>& policies) {
  ScopeIndex ix;
  using K = ScopeConstraint::Kind;
  for (uint32_t i = 0; i < policies.size(); ++i) {
    const Policy& p = policies[i];
    if (p.resource.kind == K::Eq)
      ix.by_resource[p.resource.entities[0]].push_back(i);
    else if (p.principal.kind == K::Eq)
      ix.by_principal[p.principal.entities[0]].push_back(i);
    else if (p.action.kind == K::Eq)
      ix.by_action[p.action.entities[0]].push_back(i);
    else
      ix.always.push_back(i);
  }
  return ix;
}

Result<CedarPolicySet> CedarPolicySet::parse(std::string_view text, const std::string& file) {
  auto ps = parse_policies(text, file, 0);
  if (!ps.ok()) return fail(ps.error());
  return from(std::move(ps.value()));
}

Result<CedarPolicySet> CedarPolicySet::load_dir(const std::string& dir,
                                                const std::string& entities_file) {
  if (!fs::is_directory(dir)) return fail(dir + ": not a directory");
  std::vector<Policy> all;
  for (const auto& f : cedar_files(dir)) {
    auto text = read_file(f);
    if (!text.ok()) return fail(text.error());
    auto ps = parse_policies(text.value(), f.string(), all.size());
    if (!ps.ok()) return fail(ps.error());
    for (auto& p : ps.value()) all.push_back(std::move(p));
  }
  auto set = from(std::move(all));
  if (!set.ok() || entities_file.empty()) return set;
  auto text = read_file(entities_file);
  if (!text.ok()) return fail(text.error());
  Json j = Json::parse(text.value(), nullptr, false);
  if (j.is_discarded()) return fail(entities_file + ": not valid JSON");
  auto list = entities_from_json(j);
  if (!list.ok()) return fail(entities_file + ": " + list.error());
  auto ents = Entities::build(std::move(list.value()));
  if (!ents.ok()) return fail(entities_file + ": " + ents.error());
  set->entities_ = std::make_shared<const Entities>(std::move(ents.value()));
  return set;
}

std::vector<std::string> CedarPolicySet::check_dir(const std::string& dir) {
  std::vector<std::string> problems;
  std::vector<Policy> all;
  for (const auto& f : cedar_files(dir)) {
    auto text = read_file(f);
    if (!text.ok()) {
      problems.push_back(text.error());
      continue;
    }
    auto ps = parse_policies(text.value(), f.string(), all.size());
    if (!ps.ok()) {
      problems.push_back(ps.error());
      continue;
    }
    for (auto& p : ps.value()) all.push_back(std::move(p));
  }
  if (auto dup = duplicate_id(all)) problems.push_back(*dup);
  return problems;
}

Decision CedarPolicySet::authorize(const Request& request, const Entities& entities) const {
  Decision d;
  std::vector<const Policy*> permits;
  bool forbidden = false;
  // The candidates, in policy order, so that reasons and errors are too.
  std::vector<uint32_t> candidates = index_->always;
  auto add = [&candidates](const auto& map, const EntityUid& uid) {
    if (auto it = map.find(uid); it != map.end())
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  };
  add(index_->by_resource, request.resource);
  add(index_->by_principal, request.principal);
  add(index_->by_action, request.action);
  std::sort(candidates.begin(), candidates.end());
  RequestEvaluator evaluator(request, entities);
  for (uint32_t i : candidates) {
    const Policy& p = (*policies_)[i];
    EvalOutcome o = evaluator.evaluate(p);
    if (o.error) {
      d.errors.push_back({p.id, std::move(*o.error)});
    } else if (o.satisfied) {
      if (!p.permit) {
        forbidden = true;
        d.reasons.push_back(p.id);
      } else {
        permits.push_back(&p);
      }
    }
  }
  if (!forbidden && !permits.empty()) {
    d.allow = true;
    for (const Policy* p : permits) d.reasons.push_back(p->id);
  }
  return d;
}

const Policy* CedarPolicySet::find(std::string_view id) const {
  for (const auto& p : *policies_)
    if (p.id == id) return &p;
  return nullptr;
}

std::optional<std::string> CedarPolicySet::annotation(std::string_view id,
                                                      std::string_view key) const {
  const Policy* p = find(id);
  if (!p) return std::nullopt;
  auto it = p->annotations.find(std::string(key));
  if (it == p->annotations.end()) return std::nullopt;
  return it->second;
}

}  // namespace portcullis::policy
