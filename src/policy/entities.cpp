#include "policy/entities.h"

namespace portcullis::policy {

Result<Entities> Entities::build(std::vector<Entity> list, std::shared_ptr<const Entities> base) {
  Entities out;
  out.base_ = std::move(base);
  std::unordered_map<EntityUid, std::vector<EntityUid>, EntityUidHash> parents;
  for (auto& e : list) {
    if (parents.count(e.uid)) return fail("duplicate entity " + e.uid.to_string());
    Stored s{Value::record(std::move(e.attrs)), Value::record(std::move(e.tags)), {}};
    parents[e.uid] = std::move(e.parents);
    out.own_.emplace(std::move(e.uid), std::move(s));
  }
  // Each entity's ancestors by a walk over parents (in this layer; a base
  // entity brings its already closed ancestors). Cedar refuses cycles.
  for (auto& [uid, stored] : out.own_) {
    auto& anc = stored.ancestors;
    std::vector<const EntityUid*> todo;
    for (const auto& p : parents[uid]) todo.push_back(&p);
    while (!todo.empty()) {
      const EntityUid* p = todo.back();
      todo.pop_back();
      if (!anc.insert(*p).second) continue;
      if (auto it = parents.find(*p); it != parents.end()) {
        for (const auto& pp : it->second) todo.push_back(&pp);
      } else if (out.base_) {
        if (const Stored* b = out.base_->find(*p))
          anc.insert(b->ancestors.begin(), b->ancestors.end());
      }
    }
    if (anc.count(uid)) return fail("the entity hierarchy has a cycle through " + uid.to_string());
  }
  return out;
}

const Entities::Stored* Entities::find(const EntityUid& uid) const {
  if (auto it = own_.find(uid); it != own_.end()) return &it->second;
  return base_ ? base_->find(uid) : nullptr;
}

bool Entities::in(const EntityUid& child, const EntityUid& ancestor) const {
  if (child == ancestor) return true;
  const Stored* s = find(child);
  return s && s->ancestors.count(ancestor) > 0;
}

}  // namespace portcullis::policy
