// Evaluator: Cedar's semantics for one policy against one request. Errors
// (type errors, overflow, a missing attribute or entity, an invalid
// extension literal) end the policy's evaluation and are returned, never
// thrown to the caller. && and || short-circuit; `==` across types is false.
// Stateless; safe to call from many threads at once.
#pragma once
#include <optional>
#include <string>

#include "policy/ast.h"
#include "policy/entities.h"
#include "policy/value.h"

namespace portcullis::policy {

struct Request {
  EntityUid principal, action, resource;
  Value context = Value::record({});  // a Record
};

struct EvalOutcome {
  bool satisfied = false;
  std::optional<std::string> error;  // set: the policy errored (and is not satisfied)
};

EvalOutcome evaluate(const Policy& policy, const Request& request, const Entities& entities);

// Whether the policy's scope matches the request (never errors).
bool scope_matches(const Policy& policy, const Request& request, const Entities& entities);

}  // namespace portcullis::policy
