// Settings of the SQL sanitizer, one set per tool (or per virtual server):
// which arguments hold SQL, which rules run, and the table lists.
//
// JSON form (every key optional; defaults shown):
//   { "sql_args": [],              # argument names holding SQL; empty: by name
//     "dialect": "any",            # any | postgres | mysql | sqlite | mssql
//     "multiple_statements": true, # block "a; b"
//     "ddl": true,                 # block DROP/TRUNCATE/ALTER/CREATE/GRANT/REVOKE/RENAME
//     "unbounded_writes": true,    # block DELETE/UPDATE without WHERE or with an always-true one
//     "tautologies": true,         # OR 1=1, OR 'a'='a', OR x=x ...
//     "union": "suspicious",       # off | suspicious (catalogues, NULL padding) | any
//     "time_functions": true,      # pg_sleep, SLEEP, BENCHMARK, WAITFOR DELAY
//     "file_access": true,         # LOAD_FILE, INTO OUTFILE, pg_read_file, COPY ... file
//     "command_execution": true,   # xp_cmdshell, COPY ... PROGRAM
//     "obfuscation": true,         # DR/**/OP, nested comments, MySQL /*! */ code
//     "malformed": true,           # unterminated quotes/comments in SQL-looking text
//     "read_only": false,          # only SELECT, WITH ... SELECT, EXPLAIN
//     "allow_tables": [],          # non-empty: only these tables; globs, schema.table
//     "deny_tables": [] }
// Table names are compared lower-cased with quotes removed. An entry without a
// schema matches that table in any schema; "schema.*" matches a whole schema.
//
// Thread-safety: a plain value; immutable once built.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::guard {

enum class SqlDialect { kAny, kPostgres, kMysql, kSqlite, kMssql };
enum class UnionMode { kOff, kSuspicious, kAny };

struct SqlSettings {
  std::vector<std::string> sql_args;
  SqlDialect dialect = SqlDialect::kAny;
  bool multiple_statements = true;
  bool ddl = true;
  bool unbounded_writes = true;
  bool tautologies = true;
  UnionMode union_mode = UnionMode::kSuspicious;
  bool time_functions = true;
  bool file_access = true;
  bool command_execution = true;
  bool obfuscation = true;
  bool malformed = true;
  bool read_only = false;
  std::vector<std::string> allow_tables;
  std::vector<std::string> deny_tables;

  // Unknown keys and wrongly typed values are errors naming the key.
  static Result<SqlSettings> from_json(const Json& j);
};

// Whether argument `name` holds SQL. With `sql_args` configured, exactly those
// names. Otherwise any name whose lower-cased form contains "sql", "query",
// "statement" or "stmt" ("query", "sql_text", "rawQuery"); note that a
// free-text "search_query" matches too, which is why per-tool lists exist.
bool is_sql_argument(std::string_view name, const SqlSettings& settings);

}  // namespace portcullis::guard
