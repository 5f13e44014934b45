// The per-statement rules of the SQL sanitizer, one function each. A rule
// looks at one statement's tokens (sql_lexer.h) and appends its findings.
//
// Pure functions; thread-safe.
#pragma once
#include <string>
#include <vector>

#include "guard/detector.h"
#include "guard/sql_lexer.h"
#include "guard/sql_settings.h"

namespace portcullis::guard::sql {

// One statement, with its verbs found: the first word, and for WITH and
// EXPLAIN the verb of the statement that actually runs.
struct Statement {
  const std::vector<Token>& t;
  size_t verb = 0;       // index of the first word ("WITH", "EXPLAIN", "DELETE")
  size_t main_verb = 0;  // WITH x AS (...) DELETE: the DELETE; t.size() when none
  bool is_explain = false;
  bool analyze = false;  // EXPLAIN ANALYZE: the explained statement runs
  size_t inner = 0;      // EXPLAIN: index of the explained statement
  size_t end = 0;        // byte offset just past the statement
  bool runs() const { return !is_explain || analyze; }
};

// Null verb (t.size()) for a statement of punctuation only.
Statement statement_of(const std::vector<Token>& t);

// Whether the text starts like SQL (SELECT, WITH, INSERT, DROP ...), as
// opposed to free text that merely went to an SQL-looking argument.
bool looks_like_sql(const std::vector<Token>& t);

// Whether the statement holds strings that the server runs as SQL (DO,
// EXEC, EXECUTE, PREPARE, CALL, EXECUTE IMMEDIATE, sp_executesql).
bool runs_dynamic_sql(const Statement& s);

Finding sql_finding(std::string rule, size_t start, size_t end, std::string message);

void check_ddl(const Statement& s, std::vector<Finding>& out);
void check_unbounded_write(const Statement& s, std::vector<Finding>& out);
void check_tautologies(const Statement& s, std::vector<Finding>& out);
void check_union(const Statement& s, UnionMode mode, std::vector<Finding>& out);
void check_functions(const Statement& s, const SqlSettings& settings, std::vector<Finding>& out);
void check_read_only(const Statement& s, std::vector<Finding>& out);
void check_tables(const Statement& s, const SqlSettings& settings, std::vector<Finding>& out);

}  // namespace portcullis::guard::sql
