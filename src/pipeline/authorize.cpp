// The authorize stage as the gateway runs it: each routed request is decided
// by the runtime's PolicyStage, the verdict is noted for the record, lists
// show only what the caller may use, and a permit marked @approval asks the
// client's human first (a form-mode elicitation/create within the call, the
// way consent.cpp asks for a URL-mode one).
//
// A denied request gets the same answer as a missing tool, prompt or
// resource, so policies never reveal what exists; only the audit record
// says why.
#include <spdlog/spdlog.h>

#include "core/jsonrpc.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {

// MCP 2025-11-25: an empty elicitation capability means form mode.
bool supports_form_elicitation(const Session& session) {
  const Json& caps = session.client_capabilities;
  if (!caps.is_object()) return false;
  auto e = caps.find("elicitation");
  if (e == caps.end() || !e->is_object()) return false;
  return e->contains("form") || !e->contains("url");
}

const identity::Principal& principal_of(const InFlight& inflight) {
  static const identity::Principal nobody = identity::anonymous();
  return inflight.principal ? *inflight.principal : nobody;
}

std::string describe(const PolicyTarget& t) {
  return t.virtual_server.empty() ? t.type + " " + t.name
                                  : t.type + " " + t.virtual_server + "/" + t.name;
}

// What the human is asked to confirm: the tool and its arguments.
Json approval_request(const PolicyTarget& t, const Json& arguments, const std::string& approval) {
  std::string what = t.type == "Tool" ? "call the tool \"" + t.name + "\"" : "use " + describe(t);
  std::string message = "Approval needed (" + approval + "): the agent wants to " + what +
                        " on \"" + t.virtual_server + "\" with these arguments:\n" +
                        arguments.dump(2) + "\nConfirm to let it run.";
  Json schema = {{"type", "object"},
                 {"properties",
                  {{"confirm",
                    {{"type", "boolean"},
                     {"title", "Run this call"},
                     {"description", "Yes runs the call once; no refuses it."}}}}},
                 {"required", Json::array({"confirm"})}};
  return {{"mode", "form"}, {"message", message}, {"requestedSchema", schema}};
}

// "accepted" only for accept with confirm == true.
std::string approval_outcome(const Json& msg) {
  if (msg.contains("error")) return "error";
  const Json result = msg.value("result", Json::object());
  const std::string action = result.is_object() ? result.value("action", "") : "";
  if (action == "accept") {
    const Json content = result.value("content", Json::object());
    bool confirmed = content.is_object() && content.value("confirm", Json(false)) == Json(true);
    return confirmed ? "accepted" : "declined";
  }
  if (action == "decline") return "declined";
  return "cancelled";
}

}  // namespace

Gateway::Authz Gateway::authorize(const Runtime& rt, InFlight& inflight, PolicyAction action,
                                  const PolicyTarget& target, const Json& arguments,
                                  std::string* approval) {
  if (!rt.policy) return Authz::Allow;
  auto started = std::chrono::steady_clock::now();
  const identity::Principal& who = principal_of(inflight);
  PolicyVerdict v = rt.policy->authorize({who, inflight.client_ip}, action, target, arguments);
  auto& noted = inflight.authorized;
  noted.us += std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
  noted.decision = v.allow ? "allowed" : "denied";
  noted.policy_ids = v.policy_ids;
  if (!v.errors.empty()) {
    spdlog::warn("policy errors deciding {} by {} on {}: {}", to_string(action), who.subject,
                 describe(target), v.reason());
  }
  if (!v.allow) {
    noted.reason = v.reason();
    spdlog::info("denied {} by {} on {}: {}", to_string(action), who.subject, describe(target),
                 noted.reason);
    return Authz::Deny;
  }
  if (!v.approval.empty()) {
    *approval = v.approval;
    return Authz::Ask;
  }
  return Authz::Allow;
}

std::shared_ptr<const Listing> Gateway::visible_items(const Runtime& rt, InFlight& inflight,
                                                      const std::string& vs,
                                                      const compose::VirtualCatalog& cat,
                                                      compose::ListKind kind) {
  if (!rt.policy) return nullptr;
  auto started = std::chrono::steady_clock::now();
  auto listing = rt.policy->visible({principal_of(inflight), inflight.client_ip}, vs, cat, kind);
  auto& noted = inflight.authorized;
  noted.us += std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
  if (!listing) return nullptr;
  noted.decision = listing->hidden.empty() ? "allowed" : "filtered";
  noted.policy_ids = listing->policy_ids;
  if (!listing->hidden.empty()) {
    // Names, not just a count: "why was X missing from my list?" is the
    // question this answers. At most 20, then how many more.
    constexpr size_t kNamed = 20;
    std::string names;
    for (size_t i = 0; i < listing->hidden.size() && i < kNamed; ++i)
      names += (i ? ", " : "") + listing->hidden[i];
    if (listing->hidden.size() > kNamed)
      names += " and " + std::to_string(listing->hidden.size() - kNamed) + " more";
    noted.reason = std::to_string(listing->hidden.size()) + " hidden by policy: " + names;
  }
  return listing;
}

void Gateway::ask_approval(const std::shared_ptr<Session>& session,
                           const std::shared_ptr<InFlight>& inflight, const PolicyTarget& target,
                           const Json& arguments, const std::string& approval,
                           std::function<void()> then) {
  if (session->stateless || !supports_form_elicitation(*session)) {
    inflight->authorized.approval = "unsupported";
    return reply_error(
        session, inflight, rpc::kMissingClientCapability,
        describe(target) + " needs a human's approval (" + approval +
            ") before it runs, and this client cannot be asked: " +
            (session->stateless
                 ? "approvals need a 2025-11-25 session with the elicitation capability"
                 : "it did not declare the elicitation capability (form mode)"),
        {{"requiredCapabilities", {{"elicitation", {{"form", Json::object()}}}}}});
  }
  Session::PendingServerRequest pending;
  pending.upstream = target.upstream;
  std::string name = target.name, type = target.type;
  pending.answer = [this, guard = guard_, session, inflight, name, type,
                    then = std::move(then)](const Json& msg) {
    std::string outcome = approval_outcome(msg);
    // Settled on the HTTP thread that carried the answer: go on on the pool.
    pool_.enqueue([this, guard, session, inflight, name, type, then, outcome] {
      std::shared_lock lock(guard->mu);
      if (guard->stopped || inflight->finished || inflight->cancel->cancelled() ||
          session->closed())
        return;
      inflight->authorized.approval = outcome;
      if (outcome == "accepted") return then();
      std::string text =
          "Not run: the call to \"" + name + "\" needs a human's approval, which was " +
          (outcome == "error" ? std::string("not given (the client could not ask)") : outcome) +
          ".";
      if (type != "Tool") return reply_error(session, inflight, rpc::kInvalidRequest, text);
      finish(session, inflight,
             rpc::make_result(inflight->downstream_id,
                              {{"content", Json::array({{{"type", "text"}, {"text", text}}})},
                               {"isError", true}}));
    });
  };
  std::string gateway_id;
  {
    std::lock_guard lock(session->mu);
    gateway_id = Json("pc-" + std::to_string(session->next_server_request++)).dump();
    session->server_requests[gateway_id] = std::move(pending);
  }
  session->deliver(rpc::make_request(Json::parse(gateway_id), "elicitation/create",
                                     approval_request(target, arguments, approval)),
                   inflight);
}

}  // namespace portcullis::pipeline
