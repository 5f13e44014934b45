// AuditRecord: what the gateway remembers about one request, and the exact
// bytes its hash chain is computed over.
//
// One record per request (tools/call, tools/list, resources/read,
// prompts/get; "pinning" events too). The request thread fills the fields it
// knows and hands the record to AuditLog::record(); the writer thread turns
// the raw payloads into their stored form (see CaptureMode) and fills the
// chain fields (chain_id, seq, prev_hash, hash, dropped_before).
//
// Canonical form (what `hash` covers), version "pc-audit-v3":
//   canonical_form(r) is to_json(r) without the "hash" key, serialized as
//   compact JSON (no whitespace) in UTF-8 with object keys sorted by their
//   UTF-8 bytes, at every depth. Strings escape only '"', '\\' and control
//   characters (\b \f \n \r \t, others as \u00xx with lowercase hex);
//   invalid UTF-8 is replaced by U+FFFD before hashing. Every number the
//   gateway writes is an integer (durations are whole microseconds), so no
//   float formatting is involved; a float inside metadata/findings, should a
//   producer put one there, is written in nlohmann::json's shortest
//   round-trip form.
//   hash = lowercase hex SHA-256 of those bytes. Since the object contains
//   "seq", "chain" and "prev_hash" (the previous record's hash; 64 zeros for
//   seq 1), each hash commits to the whole chain before it.
//
// Thread rules: plain values, no sharing; the free functions are pure.
#pragma once
#include <cstdint>
#include <string>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::record {

// How arguments and results are kept (audit.capture).
enum class CaptureMode {
  Hash,      // "sha256:<hex>" of the payload's canonical JSON (default)
  Redacted,  // the payload as the guardrails redacted it; a hash when no guardrail redacted it
  Full,      // the payload as is (off by default: it may hold secrets)
  None,      // nothing
};
const char* to_string(CaptureMode m);
Result<CaptureMode> parse_capture_mode(const std::string& s);

// Latency phases in whole microseconds (0: the phase did not run).
struct Phases {
  int64_t identity_us = 0, authorize_us = 0, guard_us = 0, upstream_us = 0, total_us = 0;
  bool operator==(const Phases&) const = default;
};

struct AuditRecord {
  int64_t ts_ms = 0;       // unix epoch ms at the start of the request
  std::string request_id;  // the X-Portcullis-Request-Id of the response
  std::string jsonrpc_id;  // the client's JSON-RPC id, as JSON text
  std::string session_id;
  // Who: subject, how it authenticated ("none", "oauth", "api_key"), its
  // groups (JSON array of strings) and metadata contract (JSON object).
  std::string subject, auth_method;
  Json groups = Json::array();
  Json metadata = Json::object();
  // What: method ("tools/call", "tools/list", "resources/read",
  // "prompts/get", "pinning"), where it went, and the name asked for (tool or
  // prompt name, resource URI) and its name at the upstream.
  std::string method, virtual_server, upstream, tool, original_tool;
  // Stored payloads (per CaptureMode; empty for None or when there was none).
  std::string arguments, result;
  // Decision: "allowed" | "denied"; the Cedar policy ids that decided (JSON
  // array of strings); guardrail findings (JSON array of {rule, action, ...},
  // never the matched secret); the approval outcome and the tool pin state
  // ("", "approved", "changed", "blocked").
  std::string decision = "allowed";
  Json policy_ids = Json::array();
  Json findings = Json::array();
  std::string approval, pin_state;
  Phases phases;
  uint64_t request_bytes = 0, response_bytes = 0;
  // "ok" | "tool_error" (isError result) | "error" (JSON-RPC error) |
  // "timeout" | "cancelled" | "input_required" | "pin_changed" | "pin_blocked"
  std::string outcome;
  int error_code = 0;
  std::string error_message;

  // Chain fields, set by the writer.
  std::string chain_id;
  int64_t seq = 0;
  std::string prev_hash, hash;
  uint64_t dropped_before = 0;  // records dropped (queue full) since the previous record

  // Raw payloads, set by the request thread and turned into `arguments` /
  // `result` by the writer (never stored as such). `payload_redacted`: a
  // guardrail already replaced secrets in them (Redacted mode stores them).
  Json raw_arguments, raw_result;
  bool payload_redacted = false;

  bool operator==(const AuditRecord&) const = default;
};

// The stored form as JSON (the `audit query --json` / export line). Carries
// every stored field, chain fields included; never the raw payloads.
Json to_json(const AuditRecord& r);
Result<AuditRecord> audit_record_from_json(const Json& j);

// Compact JSON with sorted keys, invalid UTF-8 replaced (see above): core's
// append_json (core/json_write.h), the same bytes as rpc::dump.
std::string canonical_json(const Json& j);
std::string canonical_form(const AuditRecord& r);
std::string record_hash(const AuditRecord& r);  // hex SHA-256 of canonical_form
// "sha256:<hex>" of canonical_json(payload).
std::string payload_digest(const Json& payload);
// Fills r.arguments / r.result from the raw payloads per `mode` and clears
// the raw payloads. A null raw payload leaves the stored one as it is.
void apply_capture(AuditRecord& r, CaptureMode mode);

// "2025-01-02T03:04:05.678Z"
std::string format_iso8601_utc(int64_t ts_ms);

}  // namespace portcullis::record
