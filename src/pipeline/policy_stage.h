// PolicyStage: the authorize stage. Cedar policies from DIR/policies/*.cedar
// (and the entities in DIR/policies/entities.json, Cedar's JSON entity
// format) decide whether a principal may act on a tool, resource, prompt or
// model. Without any .cedar file there is no stage (load returns null) and
// everything is allowed; with one, Cedar's default deny applies.
//
// The request each decision sees:
//   principal  User::"<sub>", in Group::"<g>" for each of the principal's
//              groups. Attributes: subject, issuer, auth_method, scopes (set),
//              groups (set), metadata (record). An entity of the same uid in
//              entities.json adds its attributes and parents; the token's
//              claims win where both set an attribute.
//   action     Action::"call_tool" | "list_tools" | "read_resource" |
//              "get_prompt" | "chat"
//   resource   Tool::"<vs>/<name>", Prompt::"<vs>/<name>",
//              Resource::"<vs>/<uri>", each in Server::"<vs>", with
//              attributes name (as exposed), original (its upstream name),
//              upstream and server; Model::"<model>" for chat.
//   context    arguments (a record; absent when listing), metadata (the
//              metadata contract, a record of strings), time (Long, unix
//              seconds), client_ip (ipaddr; absent when unknown).
// Tool arguments become Cedar values through value_from_plain_json: no
// escapes, so arguments cannot forge entity references.
//
// Listing: a tool (prompt, resource) is listed when a call to it could be
// allowed: the call_tool (get_prompt, read_resource) request is evaluated
// without context.arguments, a satisfied forbid hides the item, and a permit
// that is satisfied, or that errors because it needs the arguments, keeps
// it. A satisfied forbid on list_tools hides a tool too. Results are cached
// per principal (key, groups, metadata), client IP, virtual server and list
// digest for a minute; a policy reload starts a new cache. The User entity
// of each principal (subject, issuer, method, groups, scopes, metadata) is
// built once and reused.
//
// Approval: a permit annotated @approval("...") that decides an allowed
// request makes the verdict ask for a human's confirmation first.
//
// Immutable after load apart from the listing cache, which has its own lock:
// every method may be called from any thread.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "compose/catalog.h"
#include "core/json.h"
#include "core/result.h"
#include "identity/principal.h"
#include "policy/policy_set.h"

namespace portcullis::pipeline {

enum class PolicyAction { CallTool, ListTools, ReadResource, GetPrompt, Chat };
const char* to_string(PolicyAction a);  // "call_tool", ...

// What a request acts on. `type`: "Tool", "Prompt", "Resource" or "Model".
struct PolicyTarget {
  std::string type;
  std::string virtual_server;  // empty for Model
  std::string name;            // exposed name, URI or model name
  std::string upstream, original;
};

// What a caller may see of one list, and what policy hid from it (for the
// audit record: the list request is allowed, the hidden entries are not).
struct Listing {
  std::vector<Json> items;                // in catalogue order
  std::vector<std::string> hidden;        // names (URIs) left out
  std::vector<std::string> policy_ids;    // the forbids that hid some; none: no permit applied
};

// Who asks, and from where.
struct PolicyCaller {
  const identity::Principal& principal;
  const std::string& client_ip;  // may be empty
};

struct PolicyVerdict {
  bool allow = false;
  std::vector<std::string> policy_ids;  // the determining policies
  std::vector<std::string> errors;      // "<policy id>: <message>"
  std::string approval;                 // set: ask first; the @approval value
  // Why, in words, for the audit record and the log.
  std::string reason() const;
};

class PolicyStage {
 public:
  // The stage for config DIR: null when DIR/policies holds no .cedar file.
  // Fails with every problem, one "file:line:col: message" per line.
  static Result<std::shared_ptr<const PolicyStage>> load(const std::string& config_dir);
  explicit PolicyStage(std::shared_ptr<const policy::CedarPolicySet> set);

  PolicyVerdict authorize(const PolicyCaller& caller, PolicyAction action,
                          const PolicyTarget& target, const Json& arguments) const;
  // chat (the LLM route): may the caller use `model` (served by
  // `provider`)? `request` is the chat request, as context.arguments.
  PolicyVerdict authorize_chat(const PolicyCaller& caller, const std::string& model,
                               const std::string& provider, const Json& request) const;
  // The entries of `cat`'s list `kind` the caller may see. Null for
  // resource templates, which are not filtered.
  std::shared_ptr<const Listing> visible(const PolicyCaller& caller,
                                                   const std::string& virtual_server,
                                                   const compose::VirtualCatalog& cat,
                                                   compose::ListKind kind) const;
  size_t policy_count() const { return set_->policies().size(); }

 private:
  policy::Decision decide(const PolicyCaller& caller, PolicyAction action,
                          const PolicyTarget& target, const Json* arguments) const;
  // A call on `target` could be allowed for some arguments. When not, the
  // forbids that rule it out go into `forbids`.
  bool could_allow(const PolicyCaller& caller, PolicyAction action, const PolicyTarget& target,
                   std::vector<std::string>* forbids) const;

  // The caller's User (and its Groups' place in entities.json) as an
  // overlay on the loaded entities, and its metadata as a Cedar record:
  // built once per principal and reused by its later requests.
  struct UserLayer {
    std::shared_ptr<const policy::Entities> entities;
    policy::Value metadata;
  };
  std::shared_ptr<const UserLayer> user_layer(const identity::Principal& p) const;

  std::shared_ptr<const policy::CedarPolicySet> set_;
  std::unordered_map<std::string, std::string> approvals_;  // policy id -> @approval
  std::unordered_map<std::string, bool> permits_;           // policy id -> is a permit

  struct Listed {
    long long expires_ms = 0;
    std::shared_ptr<const Listing> listing;
  };
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, Listed> cache_;                            // (cache_mu_)
  mutable std::unordered_map<std::string, std::shared_ptr<const UserLayer>> users_;  // (cache_mu_)
};

}  // namespace portcullis::pipeline
