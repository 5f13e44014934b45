// The SQL sanitizer: a Detector over the SQL an agent passes to a database
// tool. It lexes the text (sql_lexer.h), splits it into statements and applies
// the rules enabled in SqlSettings (sql_settings.h). Every finding has an
// empty `replacement`: a query cannot be redacted, only blocked.
//
// Rule ids: multiple_statements; ddl_drop, ddl_truncate, ddl_alter,
// ddl_create, ddl_grant, ddl_revoke, ddl_rename; delete_without_where,
// update_without_where, delete_always_true, update_always_true; tautology;
// union_select; time_function; file_access; command_execution; read_only;
// table_denied; table_not_allowed; comment_obfuscation, nested_comment,
// executable_comment; unterminated. Findings inside dynamic SQL (DO $$...$$,
// EXEC('...'), EXECUTE '...') carry the rule of what the string holds and the
// span of the string.
//
// Where dialects read a text differently (backslash escapes, '#' and "--"
// comments, nested comments) and the dialect is "any", both the standard
// (PostgreSQL) and the MySQL reading are checked and the findings united, so
// a query cannot hide a statement behind one dialect's quoting.
//
// Threads: immutable after construction; scan() and check() are const and
// may run concurrently.
#pragma once
#include <string_view>
#include <vector>

#include "guard/detector.h"
#include "guard/sql_lexer.h"
#include "guard/sql_settings.h"

namespace portcullis::guard {

class SqlSanitizer final : public Detector {
 public:
  explicit SqlSanitizer(SqlSettings settings) : settings_(std::move(settings)) {}

  std::string_view name() const override { return "sql"; }
  // Checks `text` when ctx.field is empty (the caller knows it is SQL) or is
  // an SQL argument by is_sql_argument(); any other field yields no findings.
  Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const override;
  // The checks alone, without the argument-name filter. Findings in text order.
  std::vector<Finding> check(std::string_view sql) const;

  const SqlSettings& settings() const { return settings_; }

 private:
  void check_text(std::string_view sql, int depth, std::vector<Finding>& out) const;
  void check_reading(std::string_view sql, const sql::LexOptions& options, int depth,
                     std::vector<Finding>& out) const;
  void check_statement(const std::vector<sql::Token>& st, int depth,
                       std::vector<Finding>& out) const;

  SqlSettings settings_;
};

}  // namespace portcullis::guard
