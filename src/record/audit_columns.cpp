#include "record/audit_columns.h"

namespace portcullis::record {

const std::array<ColumnSpec, 35> kAuditColumns = {{
    {"ts_ms", true, false},          {"request_id", false, false},    {"jsonrpc_id", false, false},
    {"session_id", false, false},    {"subject", false, false},       {"auth_method", false, false},
    {"groups", false, true},         {"metadata", false, true},       {"method", false, false},
    {"virtual_server", false, false}, {"upstream", false, false},     {"tool", false, false},
    {"original_tool", false, false}, {"arguments", false, false},     {"result", false, false},
    {"decision", false, false},      {"policy_ids", false, true},     {"findings", false, true},
    {"approval", false, false},      {"pin_state", false, false},     {"identity_us", true, false},
    {"authorize_us", true, false},   {"guard_us", true, false},       {"upstream_us", true, false},
    {"total_us", true, false},       {"request_bytes", true, false},  {"response_bytes", true, false},
    {"outcome", false, false},       {"error_code", true, false},     {"error_message", false, false},
    {"chain", false, false},         {"seq", true, false},            {"prev_hash", false, false},
    {"hash", false, false},          {"dropped_before", true, false},
}};

std::string audit_column_list() {
  std::string out;
  for (const auto& c : kAuditColumns) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

std::vector<ColumnValue> to_columns(const AuditRecord& r) {
  auto i = [](auto v) { return ColumnValue(static_cast<int64_t>(v)); };
  auto s = [](const std::string& v) { return ColumnValue(v); };
  auto j = [](const Json& v) { return ColumnValue(canonical_json(v)); };
  return {i(r.ts_ms),          s(r.request_id),     s(r.jsonrpc_id),      s(r.session_id),     s(r.subject),
          s(r.auth_method),    j(r.groups),         j(r.metadata),        s(r.method),         s(r.virtual_server),
          s(r.upstream),       s(r.tool),           s(r.original_tool),   s(r.arguments),      s(r.result),
          s(r.decision),       j(r.policy_ids),     j(r.findings),        s(r.approval),       s(r.pin_state),
          i(r.phases.identity_us), i(r.phases.authorize_us), i(r.phases.guard_us), i(r.phases.upstream_us),
          i(r.phases.total_us), i(r.request_bytes), i(r.response_bytes),  s(r.outcome),        i(r.error_code),
          s(r.error_message),  s(r.chain_id),       i(r.seq),             s(r.prev_hash),      s(r.hash),
          i(r.dropped_before)};
}

AuditRecord from_columns(const std::vector<ColumnValue>& row) {
  size_t k = 0;
  auto i = [&] { return std::get<int64_t>(row[k++]); };
  auto s = [&] { return std::get<std::string>(row[k++]); };
  auto j = [&](Json dflt) {
    Json v = Json::parse(std::get<std::string>(row[k++]), nullptr, false);
    return v.is_discarded() || v.type() != dflt.type() ? dflt : v;
  };
  AuditRecord r;
  r.ts_ms = i();
  r.request_id = s();
  r.jsonrpc_id = s();
  r.session_id = s();
  r.subject = s();
  r.auth_method = s();
  r.groups = j(Json::array());
  r.metadata = j(Json::object());
  r.method = s();
  r.virtual_server = s();
  r.upstream = s();
  r.tool = s();
  r.original_tool = s();
  r.arguments = s();
  r.result = s();
  r.decision = s();
  r.policy_ids = j(Json::array());
  r.findings = j(Json::array());
  r.approval = s();
  r.pin_state = s();
  r.phases.identity_us = i();
  r.phases.authorize_us = i();
  r.phases.guard_us = i();
  r.phases.upstream_us = i();
  r.phases.total_us = i();
  r.request_bytes = static_cast<uint64_t>(i());
  r.response_bytes = static_cast<uint64_t>(i());
  r.outcome = s();
  r.error_code = static_cast<int>(i());
  r.error_message = s();
  r.chain_id = s();
  r.seq = i();
  r.prev_hash = s();
  r.hash = s();
  r.dropped_before = static_cast<uint64_t>(i());
  return r;
}

Filter build_filter(const AuditQuery& q, Dialect d) {
  Filter f;
  f.where = "1=1";
  auto param = [&](ColumnValue v) {
    f.params.push_back(std::move(v));
    return (d == Dialect::Sqlite ? "?" : "$") + std::to_string(f.params.size());
  };
  auto eq = [&](const char* column, const std::optional<std::string>& v) {
    if (v) f.where += std::string(" AND ") + column + " = " + param(*v);
  };
  auto meta = [&](const char* key, const std::optional<std::string>& v) {
    if (!v) return;
    f.where += d == Dialect::Sqlite ? std::string(" AND json_extract(metadata, '$.") + key + "') = " + param(*v)
                                    : std::string(" AND (metadata::jsonb ->> '") + key + "') = " + param(*v);
  };
  if (q.since_ms) f.where += " AND ts_ms >= " + param(*q.since_ms);
  if (q.until_ms) f.where += " AND ts_ms < " + param(*q.until_ms);
  eq("subject", q.subject);
  meta("team", q.team);
  meta("project_id", q.project);
  meta("ticket_id", q.ticket);
  eq("session_id", q.session_id);
  eq("virtual_server", q.virtual_server);
  eq("tool", q.tool);
  eq("method", q.method);
  eq("outcome", q.outcome);
  eq("decision", q.decision);
  eq("chain", q.chain);
  if (q.guardrail) {
    f.where += d == Dialect::Sqlite
                   ? " AND EXISTS (SELECT 1 FROM json_each(findings) WHERE json_extract(value, '$.rule') = " +
                         param(*q.guardrail) + ")"
                   : " AND EXISTS (SELECT 1 FROM jsonb_array_elements(findings::jsonb) e WHERE e ->> 'rule' = " +
                         param(*q.guardrail) + ")";
  }
  return f;
}

int64_t cut_at_checkpoint(const std::vector<int64_t>& checkpoint_seqs, int64_t target) {
  int64_t cut = 0;
  for (int64_t s : checkpoint_seqs) {
    if (s <= target) cut = std::max(cut, s);
  }
  return cut;
}

}  // namespace portcullis::record
