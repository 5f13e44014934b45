// The record stage: one audit record per audited request, built from what
// the earlier stages noted on its InFlight, as its final response goes out.
// Runs on whichever thread sends the response; it only fills a record and
// hands it to AuditLog::record() (which never touches disk).
#include <atomic>
#include <cstdio>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {

bool audited(const std::string& method) {
  return method == "tools/call" || method == "tools/list" || method == "resources/read" || method == "prompts/get";
}

}  // namespace

// "<8 hex digits of this process>-<counter>": unique across restarts and
// instances without a random draw per request.
std::string InFlight::next_request_id() {
  static const std::string prefix = crypto::random_hex(4) + "-";
  static std::atomic<uint64_t> counter{0};
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(counter.fetch_add(1) + 1));
  return prefix + buf;
}

void Gateway::note_route(InFlight& inflight, const std::string& name, const Json& arguments) {
  inflight.routed.name = name;
  if (audit_ && audit_->options().capture != record::CaptureMode::None) inflight.routed.arguments = arguments;
}

void Gateway::record_request(const Session& session, InFlight& inflight, Json response, size_t response_bytes) {
  if (!audit_ || !audited(inflight.method)) return;
  record::AuditRecord r;
  r.phases.identity_us = inflight.identity_us;
  r.phases.upstream_us = inflight.upstream_us.load();
  r.phases.total_us = inflight.total_us.load();
  r.ts_ms = now_ms() - r.phases.total_us / 1000;
  r.request_id = inflight.request_id;
  r.jsonrpc_id = rpc::dump(inflight.downstream_id);
  if (!session.stateless) r.session_id = session.id;
  if (const auto& who = inflight.principal) {
    r.subject = who->subject;
    r.auth_method = identity::to_string(who->method);
    r.groups = Json(who->groups);
    r.metadata = Json(who->metadata);
  }
  r.method = inflight.method;
  r.virtual_server = session.virtual_server;
  // A call refused before it was sent still names where it was going.
  r.upstream = inflight.upstream.empty() ? inflight.routed.upstream : inflight.upstream;
  r.tool = inflight.routed.name;
  r.original_tool = inflight.routed.original;
  r.pin_state = inflight.routed.pin_state;
  if (r.pin_state == "blocked") r.decision = "denied";
  r.phases.guard_us = inflight.guarded.us;
  r.findings = std::move(inflight.guarded.findings);
  r.payload_redacted = inflight.guarded.redacted;
  if (inflight.guarded.blocked) r.decision = "denied";
  r.request_bytes = inflight.request_bytes;
  r.response_bytes = response_bytes;
  bool capture = audit_->options().capture != record::CaptureMode::None;
  if (auto e = response.find("error"); e != response.end() && e->is_object()) {
    int code = e->value("code", 0);
    r.outcome = code == rpc::kUpstreamTimeout ? "timeout" : code == rpc::kRequestCancelled ? "cancelled" : "error";
    r.error_code = code;
    r.error_message = e->value("message", std::string());
  } else if (auto res = response.find("result"); res != response.end()) {
    r.outcome = res->is_object() && res->value("resultType", "") == "input_required" ? "input_required"
                : res->is_object() && res->value("isError", false)                 ? "tool_error"
                                                                                   : "ok";
    if (capture) r.raw_result = std::move(*res);
  }
  if (capture) r.raw_arguments = std::move(inflight.routed.arguments);
  // The authorize stage's verdict; a denial keeps its real reason here,
  // while the client only heard "unknown".
  if (const auto& a = inflight.authorized; !a.decision.empty()) {
    r.decision = a.decision;
    r.policy_ids = Json(a.policy_ids);
    r.approval = a.approval;
    r.phases.authorize_us = a.us;
    if (a.decision == "denied") r.error_message = "denied: " + a.reason;
    if (a.decision == "filtered") r.error_message = a.reason;
  }
  audit_->record(std::move(r));
}

}  // namespace portcullis::pipeline
