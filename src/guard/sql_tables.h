// The tables a statement touches: names after FROM, JOIN, INTO, UPDATE,
// TABLE, TRUNCATE and COPY, schema-qualified, with quotes removed and
// lower-cased ("Public"."Users" -> public.users). Names of the statement's
// own CTEs, table functions (FROM generate_series(...)) and FROM inside
// EXTRACT/SUBSTRING/TRIM/POSITION or IS DISTINCT FROM are not tables.
//
// Pure functions; thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "guard/sql_lexer.h"

namespace portcullis::guard::sql {

struct TableRef {
  std::string name;  // "schema.table" or "table", lower-case
  size_t start = 0, end = 0;
};

std::vector<TableRef> table_refs(const std::vector<Token>& statement);

// Whether `table` matches a list entry: globs allowed; an entry without a
// schema matches the table in any schema; an entry with one matches that
// schema, and also an unqualified reference to the same named table (the
// search path may resolve it there; "schema.*" does not match unqualified names).
bool table_matches(std::string_view table, std::string_view entry);

}  // namespace portcullis::guard::sql
