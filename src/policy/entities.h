// Entities: the entity hierarchy a request is evaluated against. Each entity
// has attributes, tags and parents; the store keeps every entity's full set of
// ancestors (the transitive closure, computed once at build), so `in` is a
// hash lookup.
//
// An Entities may sit on a shared base (an overlay): per-request entities,
// such as the calling User with its Groups, are added on top of the loaded
// entities without copying them. Lookups see the overlay first. Ancestors of
// an overlay entity include those its parents have in the base; base entities
// never gain ancestors from an overlay. A cycle in the hierarchy is an error,
// as in Cedar.
//
// Immutable after build; safe to read from many threads.
#pragma once
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/result.h"
#include "policy/value.h"

namespace portcullis::policy {

struct Entity {
  EntityUid uid;
  ValueRecord attrs;
  std::vector<EntityUid> parents;
  ValueRecord tags;
};

class Entities {
 public:
  struct Stored {
    Value attrs;  // a Record
    Value tags;   // a Record
    std::unordered_set<EntityUid, EntityUidHash> ancestors;
  };

  Entities() = default;
  // Fails on a uid listed twice.
  static Result<Entities> build(std::vector<Entity> list,
                                std::shared_ptr<const Entities> base = nullptr);

  const Stored* find(const EntityUid& uid) const;
  // Cedar's `child in ancestor`: equal, or ancestor is among child's ancestors.
  bool in(const EntityUid& child, const EntityUid& ancestor) const;
  size_t size() const { return own_.size() + (base_ ? base_->size() : 0); }

 private:
  std::shared_ptr<const Entities> base_;
  std::unordered_map<EntityUid, Stored, EntityUidHash> own_;
};

}  // namespace portcullis::policy
