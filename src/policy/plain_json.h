// Plain JSON data as a Cedar value, for request context built from what a
// client sent (tool arguments) or what a token said (claims).
//
// Unlike value_from_json (json_format.h), nothing here is an escape: an
// object with an "__entity" or "__extn" key stays a record, so a client can
// never smuggle an entity reference or an extension value into a policy
// decision through its arguments. The mapping:
//   object -> Record (null members are left out: Cedar has no null)
//   array  -> Set (nulls left out; duplicates collapse, as Cedar sets do)
//   bool   -> Boolean, string -> String
//   integer in the Long range -> Long
//   other numbers -> decimal when exact to 4 places and in range, else the
//                    number's JSON text as a String
//   null at the top -> an empty Record
// Pure functions, callable from any thread.
#pragma once
#include "core/json.h"
#include "policy/value.h"

namespace portcullis::policy {

Value value_from_plain_json(const Json& j);

}  // namespace portcullis::policy
