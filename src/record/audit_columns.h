// The stored columns of an audit record, shared by the SQLite and PostgreSQL
// stores: their names and order, the record <-> row mapping, and the WHERE
// clause of an AuditQuery in either SQL dialect. Internal to src/record.
#pragma once
#include <array>
#include <string>
#include <variant>
#include <vector>

#include "record/audit_record.h"
#include "record/audit_store.h"

namespace portcullis::record {

struct ColumnSpec {
  const char* name;
  bool integer;
  bool json;  // JSON text (a jsonb column in PostgreSQL)
};
extern const std::array<ColumnSpec, 35> kAuditColumns;

using ColumnValue = std::variant<int64_t, std::string>;
std::vector<ColumnValue> to_columns(const AuditRecord& r);
AuditRecord from_columns(const std::vector<ColumnValue>& row);
std::string audit_column_list();  // "ts_ms, request_id, ..."

enum class Dialect { Sqlite, Postgres };
struct Filter {
  std::string where;  // "1=1 AND ..." with ?N / $N placeholders
  std::vector<ColumnValue> params;
};
Filter build_filter(const AuditQuery& q, Dialect d);

}  // namespace portcullis::record
