#include "guard/sql_sanitizer.h"

#include <algorithm>
#include <tuple>

#include "guard/sql_rules.h"

namespace portcullis::guard {
namespace {

constexpr int kMaxDynamicDepth = 2;  // DO $$ ... EXECUTE '...' $$ nests twice

}  // namespace

Result<std::vector<Finding>> SqlSanitizer::scan(std::string_view text, ScanContext& ctx) const {
  if (!ctx.field.empty() && !is_sql_argument(ctx.field, settings_)) return std::vector<Finding>{};
  return check(text);
}

std::vector<Finding> SqlSanitizer::check(std::string_view text) const {
  std::vector<Finding> out;
  check_text(text, 0, out);
  std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.start, a.end, a.rule) < std::tie(b.start, b.end, b.rule);
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SqlSanitizer::check_text(std::string_view text, int depth, std::vector<Finding>& out) const {
  const bool mysql = settings_.dialect == SqlDialect::kMysql;
  check_reading(text, mysql ? sql::LexOptions::mysql() : sql::LexOptions::standard(), depth, out);
  // The MySQL reading differs only where a backslash, '#', "--" or "/*" is.
  if (settings_.dialect == SqlDialect::kAny &&
      text.find_first_of("\\#-/") != std::string_view::npos)
    check_reading(text, sql::LexOptions::mysql(), depth, out);
}

void SqlSanitizer::check_reading(std::string_view text, const sql::LexOptions& options, int depth,
                                 std::vector<Finding>& out) const {
  const sql::Lexed lexed = sql::lex(text, options);
  const auto statements = sql::split_statements(lexed.tokens);
  // A procedural body (depth > 0) legitimately holds several statements.
  if (settings_.multiple_statements && depth == 0 && statements.size() > 1) {
    out.push_back(sql::sql_finding("multiple_statements", statements[1].front().start, text.size(),
                                   "more than one statement"));
  }
  if (settings_.obfuscation) {
    for (auto [s, e] : lexed.split_comments)
      out.push_back(sql::sql_finding("comment_obfuscation", s, e, "a comment splits a word"));
    for (auto [s, e] : lexed.nested_comments)
      out.push_back(sql::sql_finding("nested_comment", s, e, "a comment opens inside a comment"));
    for (auto [s, e] : lexed.executable_comments)
      out.push_back(sql::sql_finding("executable_comment", s, e, "MySQL executable comment"));
  }
  if (settings_.malformed && !lexed.unterminated.empty() && sql::looks_like_sql(lexed.tokens)) {
    for (auto [s, e] : lexed.unterminated)
      out.push_back(sql::sql_finding("unterminated", s, e, "a quote or comment is never closed"));
  }
  for (const auto& st : statements) check_statement(st, depth, out);
}

void SqlSanitizer::check_statement(const std::vector<sql::Token>& t, int depth,
                                   std::vector<Finding>& out) const {
  const sql::Statement s = sql::statement_of(t);
  if (s.verb >= t.size()) return;
  if (settings_.ddl) sql::check_ddl(s, out);
  if (settings_.unbounded_writes) sql::check_unbounded_write(s, out);
  if (settings_.tautologies) sql::check_tautologies(s, out);
  if (settings_.union_mode != UnionMode::kOff) sql::check_union(s, settings_.union_mode, out);
  sql::check_functions(s, settings_, out);
  if (settings_.read_only) sql::check_read_only(s, out);
  if (!settings_.allow_tables.empty() || !settings_.deny_tables.empty())
    sql::check_tables(s, settings_, out);

  // Dynamic SQL: check what its strings hold, reported at each string's span.
  if (depth >= kMaxDynamicDepth || !sql::runs_dynamic_sql(s)) return;
  for (const auto& x : t) {
    if (!x.is(sql::TokenKind::kString) || x.text.empty()) continue;
    std::vector<Finding> inner;
    check_text(x.text, depth + 1, inner);
    for (auto& f : inner) {
      f.start = x.start;
      f.end = x.end;
      f.message += " (in dynamic SQL)";
      out.push_back(std::move(f));
    }
  }
}

}  // namespace portcullis::guard
