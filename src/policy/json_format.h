// Cedar's JSON forms: entity uids ({"type","id"} or {"__entity":{...}}),
// values (with the __entity and __extn escapes), entity lists (uid, attrs,
// parents, tags) and requests (principal, action, resource, context).
// Pure functions, callable from any thread.
#pragma once
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "policy/entities.h"
#include "policy/evaluator.h"
#include "policy/value.h"

namespace portcullis::policy {

Result<EntityUid> uid_from_json(const Json& j);
Result<Value> value_from_json(const Json& j);
Result<std::vector<Entity>> entities_from_json(const Json& j);
Result<Request> request_from_json(const Json& j);

}  // namespace portcullis::policy
