// CedarPolicySet: a loaded, immutable set of Cedar policies (and the entities
// loaded with them) that answers authorization requests with Cedar's rules:
// default deny; any satisfied forbid denies; else any satisfied permit
// allows. A policy whose evaluation errors is skipped, and its error is
// reported with the decision. The decision names the determining policies
// (the satisfied forbids when denied by one, else the satisfied permits).
//
// Built once (parse or load_dir) and never changed: share it through a
// shared_ptr<const CedarPolicySet>, swap in a new one on reload, and call
// authorize from any number of threads at once.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "policy/ast.h"
#include "policy/entities.h"
#include "policy/evaluator.h"

namespace portcullis::policy {

struct PolicyError {
  std::string policy_id;
  std::string message;
};

struct Decision {
  bool allow = false;
  std::vector<std::string> reasons;  // ids of the determining policies, in policy order
  std::vector<PolicyError> errors;   // every policy that errored, in policy order
};

class CedarPolicySet {
 public:
  CedarPolicySet() = default;

  // Parses policies from one text. Fails on a parse error
  // ("file:line:col: message") or on two policies with the same id.
  static Result<CedarPolicySet> parse(std::string_view text,
                                      const std::string& file = "<policies>");
  // Loads DIR/*.cedar in name order (ids policyN count across files) and,
  // when entities_file is not empty, Cedar's JSON entity list from it.
  static Result<CedarPolicySet> load_dir(const std::string& dir,
                                         const std::string& entities_file = "");
  // Every problem in DIR/*.cedar, one "file:line:col: message" each (one
  // per broken file, plus duplicate ids). Empty when all parse.
  static std::vector<std::string> check_dir(const std::string& dir);

  // Against the loaded entities, or against `entities` (typically an
  // overlay built on entities()).
  Decision authorize(const Request& request) const { return authorize(request, *entities_); }
  Decision authorize(const Request& request, const Entities& entities) const;

  const std::vector<Policy>& policies() const { return *policies_; }
  const Policy* find(std::string_view id) const;
  // The value of annotation `key` (e.g. "approval") on policy `id`.
  std::optional<std::string> annotation(std::string_view id, std::string_view key) const;
  std::shared_ptr<const Entities> entities() const { return entities_; }

 private:
  static Result<CedarPolicySet> from(std::vector<Policy> policies);

  // Policies whose scope pins principal, action or resource with `==` are
  // filed under that uid (the most selective one), so a decision only looks
  // at the policies that can match; the rest are always looked at.
  struct ScopeIndex {
    std::unordered_map<EntityUid, std::vector<uint32_t>, EntityUidHash> by_resource, by_principal,
        by_action;
    std::vector<uint32_t> always;
  };
  static ScopeIndex index(const std::vector<Policy>& policies);

  std::shared_ptr<const std::vector<Policy>> policies_ = std::make_shared<std::vector<Policy>>();
  std::shared_ptr<const ScopeIndex> index_ = std::make_shared<ScopeIndex>();
  std::shared_ptr<const Entities> entities_ = std::make_shared<Entities>();
};

}  // namespace portcullis::policy
