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

// Evaluates policies for one request. It builds the request's variables
// once, so one instance serves every policy of a decision. The request and
// entities must outlive it. Use from one thread at a time.
class RequestEvaluator {
 public:
  RequestEvaluator(const Request& request, const Entities& entities);
  EvalOutcome evaluate(const Policy& policy) const;

 private:
  Value vars_[4];  // principal, action, resource, context
  const Request& request_;
  const Entities& entities_;
};

// One policy, one request (a RequestEvaluator for a single use).
EvalOutcome evaluate(const Policy& policy, const Request& request, const Entities& entities);

// Whether the policy's scope matches the request (never errors).
bool scope_matches(const Policy& policy, const Request& request, const Entities& entities);

}  // namespace portcullis::policy
