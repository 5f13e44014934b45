#include "policy/entities.h"

#include <functional>

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
  // Depth-first closure; `done` guards against cycles and repeated work.
  std::unordered_set<EntityUid, EntityUidHash> done;
  std::function<void(const EntityUid&)> close = [&](const EntityUid& uid) {
    if (!done.insert(uid).second) return;
    auto& anc = out.own_.at(uid).ancestors;
    for (const auto& p : parents[uid]) {
      anc.insert(p);
      if (out.own_.count(p)) {
        close(p);
        const auto& pa = out.own_.at(p).ancestors;
        anc.insert(pa.begin(), pa.end());
      } else if (out.base_) {
        if (const Stored* b = out.base_->find(p))
          anc.insert(b->ancestors.begin(), b->ancestors.end());
      }
    }
  };
  for (const auto& [uid, _] : parents) close(uid);
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
