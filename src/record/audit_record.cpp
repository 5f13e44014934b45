#include "record/audit_record.h"

#include <ctime>

#include "core/crypto.h"
#include "core/json_write.h"

namespace portcullis::record {

const char* to_string(CaptureMode m) {
  switch (m) {
    case CaptureMode::Hash: return "hash";
    case CaptureMode::Redacted: return "redacted";
    case CaptureMode::Full: return "full";
    case CaptureMode::None: return "none";
  }
  return "hash";
}

Result<CaptureMode> parse_capture_mode(const std::string& s) {
  if (s == "hash") return CaptureMode::Hash;
  if (s == "redacted") return CaptureMode::Redacted;
  if (s == "full") return CaptureMode::Full;
  if (s == "none") return CaptureMode::None;
  return fail("capture must be one of hash, redacted, full, none (got \"" + s + "\")");
}

Json to_json(const AuditRecord& r) {
  return Json{{"ts_ms", r.ts_ms},
              {"request_id", r.request_id},
              {"jsonrpc_id", r.jsonrpc_id},
              {"session_id", r.session_id},
              {"subject", r.subject},
              {"auth_method", r.auth_method},
              {"groups", r.groups},
              {"metadata", r.metadata},
              {"method", r.method},
              {"virtual_server", r.virtual_server},
              {"upstream", r.upstream},
              {"tool", r.tool},
              {"original_tool", r.original_tool},
              {"arguments", r.arguments},
              {"result", r.result},
              {"decision", r.decision},
              {"policy_ids", r.policy_ids},
              {"findings", r.findings},
              {"approval", r.approval},
              {"pin_state", r.pin_state},
              {"phases_us",
               {{"identity", r.phases.identity_us},
                {"authorize", r.phases.authorize_us},
                {"guard", r.phases.guard_us},
                {"upstream", r.phases.upstream_us},
                {"total", r.phases.total_us}}},
              {"request_bytes", r.request_bytes},
              {"response_bytes", r.response_bytes},
              {"outcome", r.outcome},
              {"error_code", r.error_code},
              {"error_message", r.error_message},
              {"chain", r.chain_id},
              {"seq", r.seq},
              {"prev_hash", r.prev_hash},
              {"hash", r.hash},
              {"dropped_before", r.dropped_before}};
}

Result<AuditRecord> audit_record_from_json(const Json& j) {
  if (!j.is_object()) return fail("audit record must be a JSON object");
  try {
    AuditRecord r;
    r.ts_ms = j.value("ts_ms", int64_t{0});
    r.request_id = j.value("request_id", std::string());
    r.jsonrpc_id = j.value("jsonrpc_id", std::string());
    r.session_id = j.value("session_id", std::string());
    r.subject = j.value("subject", std::string());
    r.auth_method = j.value("auth_method", std::string());
    r.groups = j.value("groups", Json::array());
    r.metadata = j.value("metadata", Json::object());
    r.method = j.value("method", std::string());
    r.virtual_server = j.value("virtual_server", std::string());
    r.upstream = j.value("upstream", std::string());
    r.tool = j.value("tool", std::string());
    r.original_tool = j.value("original_tool", std::string());
    r.arguments = j.value("arguments", std::string());
    r.result = j.value("result", std::string());
    r.decision = j.value("decision", std::string("allowed"));
    r.policy_ids = j.value("policy_ids", Json::array());
    r.findings = j.value("findings", Json::array());
    r.approval = j.value("approval", std::string());
    r.pin_state = j.value("pin_state", std::string());
    Json p = j.value("phases_us", Json::object());
    r.phases.identity_us = p.value("identity", int64_t{0});
    r.phases.authorize_us = p.value("authorize", int64_t{0});
    r.phases.guard_us = p.value("guard", int64_t{0});
    r.phases.upstream_us = p.value("upstream", int64_t{0});
    r.phases.total_us = p.value("total", int64_t{0});
    r.request_bytes = j.value("request_bytes", uint64_t{0});
    r.response_bytes = j.value("response_bytes", uint64_t{0});
    r.outcome = j.value("outcome", std::string());
    r.error_code = j.value("error_code", 0);
    r.error_message = j.value("error_message", std::string());
    r.chain_id = j.value("chain", std::string());
    r.seq = j.value("seq", int64_t{0});
    r.prev_hash = j.value("prev_hash", std::string());
    r.hash = j.value("hash", std::string());
    r.dropped_before = j.value("dropped_before", uint64_t{0});
    return r;
  } catch (const Json::exception& e) {
    return fail(std::string("invalid audit record: ") + e.what());
  }
}

std::string canonical_json(const Json& j) {
  std::string out;
  append_json(out, j);
  return out;
}

// canonical_json(to_json(r) without "hash"), written directly: the writer
// thread hashes every record, and building the JSON object first costs
// more than the hashing. Keys in byte order; audit_chain_test checks the
// two agree.
namespace {
void append_canonical_form(std::string& out, const AuditRecord& r) {
  out.reserve(out.size() + 768 + r.arguments.size() + r.result.size() + r.error_message.size());
  bool first = true;
  auto key = [&](const char* k) {
    out += first ? "{\"" : ",\"";
    first = false;
    out += k;
    out += "\":";
  };
  auto str = [&](const char* k, const std::string& v) { key(k), append_json_string(out, v); };
  auto num = [&](const char* k, auto v) { key(k), out += std::to_string(v); };
  auto json = [&](const char* k, const Json& v) { key(k), append_json(out, v); };
  str("approval", r.approval);
  str("arguments", r.arguments);
  str("auth_method", r.auth_method);
  str("chain", r.chain_id);
  str("decision", r.decision);
  num("dropped_before", r.dropped_before);
  num("error_code", r.error_code);
  str("error_message", r.error_message);
  json("findings", r.findings);
  json("groups", r.groups);
  str("jsonrpc_id", r.jsonrpc_id);
  json("metadata", r.metadata);
  str("method", r.method);
  str("original_tool", r.original_tool);
  str("outcome", r.outcome);
  key("phases_us");
  out += "{\"authorize\":" + std::to_string(r.phases.authorize_us) +
         ",\"guard\":" + std::to_string(r.phases.guard_us) +
         ",\"identity\":" + std::to_string(r.phases.identity_us) +
         ",\"total\":" + std::to_string(r.phases.total_us) +
         ",\"upstream\":" + std::to_string(r.phases.upstream_us) + "}";
  str("pin_state", r.pin_state);
  json("policy_ids", r.policy_ids);
  str("prev_hash", r.prev_hash);
  num("request_bytes", r.request_bytes);
  str("request_id", r.request_id);
  num("response_bytes", r.response_bytes);
  str("result", r.result);
  num("seq", r.seq);
  str("session_id", r.session_id);
  str("subject", r.subject);
  str("tool", r.tool);
  num("ts_ms", r.ts_ms);
  str("upstream", r.upstream);
  str("virtual_server", r.virtual_server);
  out += '}';
}

// The writer thread hashes two payloads and a record per record: serialize
// into one buffer per thread instead of a new string each time. A buffer
// that grew past 1 MiB for one large payload is given back afterwards.
template <typename Write>
std::string sha256_of(Write&& write) {
  thread_local std::string scratch;
  scratch.clear();
  write(scratch);
  std::string hex = crypto::sha256_hex(scratch);
  if (scratch.capacity() > (1u << 20)) std::string().swap(scratch);
  return hex;
}
}  // namespace

std::string canonical_form(const AuditRecord& r) {
  std::string out;
  append_canonical_form(out, r);
  return out;
}

std::string record_hash(const AuditRecord& r) {
  return sha256_of([&](std::string& out) { append_canonical_form(out, r); });
}

std::string payload_digest(const Json& payload) {
  return "sha256:" + sha256_of([&](std::string& out) { append_json(out, payload); });
}

namespace {
std::string stored_payload(const Json& raw, CaptureMode mode, bool redacted) {
  switch (mode) {
    case CaptureMode::None: return {};
    case CaptureMode::Hash: return payload_digest(raw);
    case CaptureMode::Redacted: return redacted ? canonical_json(raw) : payload_digest(raw);
    case CaptureMode::Full: return canonical_json(raw);
  }
  return {};
}
}  // namespace

void apply_capture(AuditRecord& r, CaptureMode mode) {
  if (!r.raw_arguments.is_null()) r.arguments = stored_payload(r.raw_arguments, mode, r.payload_redacted);
  if (!r.raw_result.is_null()) r.result = stored_payload(r.raw_result, mode, r.payload_redacted);
  r.raw_arguments = nullptr;
  r.raw_result = nullptr;
  r.payload_redacted = false;
}

std::string format_iso8601_utc(int64_t ts_ms) {
  int64_t secs = ts_ms / 1000;
  int64_t ms = ts_ms % 1000;
  if (ms < 0) ms += 1000, secs -= 1;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace portcullis::record
