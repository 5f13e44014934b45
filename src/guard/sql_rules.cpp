#include "guard/sql_rules.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "guard/sql_condition.h"
#include "guard/sql_tables.h"

namespace portcullis::guard::sql {
namespace {

using Tokens = std::vector<Token>;

bool one_of(const Token& t, std::initializer_list<const char*> words) {
  if (!t.is(TokenKind::kWord)) return false;
  for (const char* w : words)
    if (t.text == w) return true;
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Index of the first depth-0 token at or after `from` that satisfies `pred`.
template <typename Pred>
size_t find_top(const Tokens& t, size_t from, Pred pred) {
  int depth = 0;
  for (size_t k = from; k < t.size(); ++k) {
    if (t[k].is(TokenKind::kLParen))
      ++depth;
    else if (t[k].is(TokenKind::kRParen))
      --depth;
    else if (depth == 0 && pred(t[k]))
      return k;
  }
  return t.size();
}

bool starts_like_sql(const Tokens& t) {
  size_t k = 0;
  while (k < t.size() && t[k].is(TokenKind::kLParen)) ++k;
  return k < t.size() &&
         one_of(t[k],
                {"SELECT",  "WITH",    "INSERT",   "UPDATE",   "DELETE",   "MERGE",   "REPLACE",
                 "UPSERT",  "CREATE",  "DROP",     "ALTER",    "TRUNCATE", "GRANT",   "REVOKE",
                 "RENAME",  "EXPLAIN", "SHOW",     "DESCRIBE", "DESC",     "VALUES",  "TABLE",
                 "COPY",    "CALL",    "EXEC",     "EXECUTE",  "DO",       "PREPARE", "SET",
                 "BEGIN",   "COMMIT",  "ROLLBACK", "PRAGMA",   "ATTACH",   "DETACH",  "VACUUM",
                 "ANALYZE", "LOCK",    "USE",      "DECLARE",  "LOAD",     "HANDLER", "WAITFOR"});
}

// The statement's verb: its first word, looking through leading '(' .
size_t verb_index(const Tokens& t, size_t from = 0) {
  size_t k = from;
  while (k < t.size() && t[k].is(TokenKind::kLParen)) ++k;
  return k;
}

// For WITH ...: the verb of the main statement after the CTE list.
size_t main_verb_index(const Tokens& t) {
  size_t v = verb_index(t);
  if (v >= t.size() || !t[v].word("WITH")) return v;
  return find_top(t, v + 1, [](const Token& x) {
    return one_of(x, {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"});
  });
}

struct Explain {
  bool is_explain = false;
  bool analyze = false;
  size_t inner = 0;  // index of the explained statement's first token
};

Explain explain_of(const Tokens& t) {
  Explain e;
  size_t v = verb_index(t);
  if (v >= t.size() || !t[v].word("EXPLAIN")) return e;
  e.is_explain = true;
  size_t k = v + 1;
  if (k < t.size() && t[k].is(TokenKind::kLParen)) {  // EXPLAIN (ANALYZE, FORMAT JSON)
    for (++k; k < t.size() && !t[k].is(TokenKind::kRParen); ++k) {
      if (one_of(t[k], {"ANALYZE", "ANALYSE"})) {
        bool off = k + 1 < t.size() && (one_of(t[k + 1], {"FALSE", "OFF"}) ||
                                        (t[k + 1].is(TokenKind::kNumber) && t[k + 1].text == "0"));
        e.analyze = e.analyze || !off;
      }
    }
    ++k;
  }
  while (k < t.size() && one_of(t[k], {"ANALYZE", "ANALYSE", "VERBOSE", "QUERY", "PLAN", "EXTENDED",
                                       "PARTITIONS", "FORMAT"})) {
    if (one_of(t[k], {"ANALYZE", "ANALYSE"})) e.analyze = true;
    if (t[k].word("FORMAT")) k += 2;  // FORMAT=JSON
    ++k;
    if (k < t.size() && t[k].is(TokenKind::kWord) && t[k - 1].is(TokenKind::kOperator)) ++k;
  }
  e.inner = k;
  return e;
}

const char* ddl_rule(const Token& t) {
  static constexpr std::pair<const char*, const char*> kDdl[] = {
      {"DROP", "ddl_drop"},     {"TRUNCATE", "ddl_truncate"}, {"ALTER", "ddl_alter"},
      {"CREATE", "ddl_create"}, {"GRANT", "ddl_grant"},       {"REVOKE", "ddl_revoke"},
      {"RENAME", "ddl_rename"}};
  if (!t.is(TokenKind::kWord)) return nullptr;
  for (const auto& [word, rule] : kDdl)
    if (t.text == word) return rule;
  return nullptr;
}

bool is_catalog_table(const std::string& name) {
  for (const char* p :
       {"information_schema.", "pg_catalog.", "mysql.", "sys.", "performance_schema."})
    if (name.rfind(p, 0) == 0) return true;
  std::string table = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  for (const char* p :
       {"pg_", "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sysobjects", "syscolumns",
        "sysusers", "all_tables", "all_tab_columns", "user_tables", "dba_", "user_tab_columns"})
    if (table.rfind(p, 0) == 0) return true;
  return false;
}

// Why a UNION arm [b, e) looks like exfiltration; empty when it does not.
std::string union_suspicion(const Tokens& t, size_t b, size_t e) {
  Tokens arm(t.begin() + static_cast<long>(b), t.begin() + static_cast<long>(e));
  for (const auto& ref : sql::table_refs(arm))
    if (is_catalog_table(ref.name)) return "reads the schema catalogue";
  size_t from = find_top(arm, 0, [](const Token& x) { return x.word("FROM"); });
  int nulls = 0, literals = 0, items = 1;
  for (size_t k = 1; k < from; ++k) {
    const Token& x = arm[k];
    if (x.is(TokenKind::kComma)) ++items;
    if (x.word("NULL")) ++nulls;
    if (x.is(TokenKind::kNumber) || x.is(TokenKind::kString) || x.word("NULL")) ++literals;
    if (one_of(x, {"VERSION", "USER", "DATABASE", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER",
                   "SCHEMA", "CURRENT_DATABASE", "LOAD_FILE", "SQLITE_VERSION", "GROUP_CONCAT",
                   "STRING_AGG"}) ||
        (x.is(TokenKind::kParam) && x.text.rfind("@@", 0) == 0))
      return "selects server identity or aggregates rows";
    if (x.is(TokenKind::kNumber) && x.text.size() > 2 && (x.text[1] == 'x' || x.text[1] == 'X'))
      return "builds strings from hex";
    if (one_of(x, {"PASSWORD", "PASSWD", "PWD", "PASS", "PASSWORD_HASH", "SECRET", "API_KEY",
                   "TOKEN"}))
      return "selects credentials";
  }
  if (nulls >= 2) return "pads columns with NULL";
  if (items >= 2 && literals == items && from == arm.size()) return "probes the column count";
  return {};
}

}  // namespace

Finding sql_finding(std::string rule, size_t start, size_t end, std::string message) {
  Finding f;
  f.detector = "sql";
  f.rule = std::move(rule);
  f.start = start;
  f.end = end;
  f.score = 1.0;
  f.message = std::move(message);
  return f;
}

Statement statement_of(const Tokens& t) {
  Statement s{t};
  s.end = t.empty() ? 0 : t.back().end;
  s.verb = verb_index(t);
  const Explain ex = explain_of(t);
  s.is_explain = ex.is_explain;
  s.analyze = ex.analyze;
  s.inner = ex.inner;
  s.main_verb =
      ex.is_explain
          ? main_verb_index(Tokens(t.begin() + static_cast<long>(ex.inner), t.end())) + ex.inner
          : main_verb_index(t);
  return s;
}

bool looks_like_sql(const Tokens& t) { return starts_like_sql(t); }

bool runs_dynamic_sql(const Statement& s) {
  return std::any_of(s.t.begin(), s.t.end(), [](const Token& x) {
    return one_of(x, {"DO", "EXEC", "EXECUTE", "PREPARE", "CALL", "IMMEDIATE", "SP_EXECUTESQL"});
  });
}

void check_ddl(const Statement& s, std::vector<Finding>& out) {
  const Tokens& t = s.t;
  if (!s.runs()) return;
  size_t dv = s.is_explain ? verb_index(t, s.inner) : s.verb;
  if (dv >= t.size()) return;
  if (const char* rule = ddl_rule(t[dv]))
    out.push_back(sql_finding(rule, t[dv].start, s.end, t[dv].text + " statement"));
}

void check_unbounded_write(const Statement& s, std::vector<Finding>& out) {
  const Tokens& t = s.t;
  const size_t mv = s.main_verb, end = s.end;
  if (!s.runs() || mv >= t.size() || !one_of(t[mv], {"DELETE", "UPDATE"})) return;
  const std::string verb = lower(t[mv].text);
  size_t w = find_top(t, mv + 1, [](const Token& x) { return x.word("WHERE"); });
  if (w == t.size()) {
    out.push_back(
        sql_finding(verb + "_without_where", t[mv].start, end, t[mv].text + " without WHERE"));
    return;
  }
  size_t ce = find_top(t, w + 1, [](const Token& x) {
    return one_of(x, {"RETURNING", "ORDER", "LIMIT"});
  });
  if (constant_value(t, w + 1, ce) == true)
    out.push_back(sql_finding(verb + "_always_true", t[w].start, t[ce - 1].end,
                              t[mv].text + " whose WHERE is always true"));
}

void check_tautologies(const Statement& s, std::vector<Finding>& out) {
  const Tokens& t = s.t;
  for (auto [b, e] : tautological_disjuncts(t, 0, t.size()))
    out.push_back(
        sql_finding("tautology", t[b].start, t[e - 1].end, "OR with an always-true condition"));
}

void check_union(const Statement& st, UnionMode mode, std::vector<Finding>& out) {
  const Tokens& t = st.t;
  for (size_t k = 0; k + 1 < t.size(); ++k) {
    if (!t[k].word("UNION")) continue;
    size_t s = k + 1;
    if (one_of(t[s], {"ALL", "DISTINCT"})) ++s;
    while (s < t.size() && t[s].is(TokenKind::kLParen)) ++s;
    if (s >= t.size() || !t[s].word("SELECT")) continue;
    size_t arm_end = s + 1;
    while (arm_end < t.size() && !t[arm_end].word("UNION")) ++arm_end;
    std::string why = union_suspicion(t, s, arm_end);
    if (mode == UnionMode::kAny || !why.empty())
      out.push_back(sql_finding("union_select", t[k].start, t[arm_end - 1].end,
                                why.empty() ? "UNION SELECT" : "UNION SELECT that " + why));
  }
}

void check_functions(const Statement& s, const SqlSettings& settings, std::vector<Finding>& out) {
  const Tokens& t = s.t;
  const size_t v = s.verb;
  const bool copy = t[v].word("COPY");
  for (size_t k = 0; k < t.size(); ++k) {
    const Token& x = t[k];
    const bool call = k + 1 < t.size() && t[k + 1].is(TokenKind::kLParen);
    const Token* next = k + 1 < t.size() ? &t[k + 1] : nullptr;
    const size_t end = next ? next->end : x.end;
    if (settings.time_functions &&
        ((call &&
          one_of(x, {"PG_SLEEP", "PG_SLEEP_FOR", "PG_SLEEP_UNTIL", "SLEEP", "BENCHMARK"})) ||
         (x.word("WAITFOR") && next && one_of(*next, {"DELAY", "TIME"}))))
      out.push_back(sql_finding("time_function", x.start, end, "time-delay function"));
    if (settings.file_access &&
        ((call && one_of(x, {"LOAD_FILE", "PG_READ_FILE", "PG_READ_BINARY_FILE", "PG_LS_DIR",
                             "PG_STAT_FILE", "LO_IMPORT", "LO_EXPORT", "READFILE", "WRITEFILE",
                             "LOAD_EXTENSION", "UTL_FILE"})) ||
         (x.word("INTO") && next && one_of(*next, {"OUTFILE", "DUMPFILE"})) ||
         (x.word("INFILE") && k > 0 && one_of(t[k - 1], {"DATA", "LOCAL"})) ||
         (x.word("ATTACH") && k == v) ||
         (copy && one_of(x, {"TO", "FROM"}) && next && next->is(TokenKind::kString))))
      out.push_back(sql_finding("file_access", x.start, end, "server file access"));
    if (settings.command_execution &&
        (one_of(x, {"XP_CMDSHELL", "SP_OACREATE", "SYS_EXEC", "SYS_EVAL", "XP_REGWRITE"}) ||
         (copy && x.word("PROGRAM"))))
      out.push_back(
          sql_finding("command_execution", x.start, end, "operating-system command execution"));
  }
}

void check_read_only(const Statement& s, std::vector<Finding>& out) {
  const Tokens& t = s.t;
  const size_t v = s.verb, mv = s.main_verb;
  bool ok = false;
  if (t[v].word("SELECT") || t[v].word("WITH")) ok = mv < t.size() && t[mv].word("SELECT");
  if (s.is_explain) {
    size_t iv = verb_index(t, s.inner);
    ok = !s.analyze || (iv < t.size() && (t[iv].word("SELECT") || t[iv].word("WITH")) &&
                        mv < t.size() && t[mv].word("SELECT"));
  }
  // Writes hidden inside a SELECT: data-modifying CTEs, SELECT INTO, FOR
  // UPDATE locks, functions with side effects.
  for (size_t k = 0; ok && s.runs() && k < t.size(); ++k) {
    const bool call = k + 1 < t.size() && t[k + 1].is(TokenKind::kLParen);
    if (one_of(t[k], {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT"}) &&
        !(t[k].word("REPLACE") && call))
      ok = false;
    if (t[k].word("INTO") && !s.is_explain) ok = false;
    if (call && one_of(t[k], {"NEXTVAL", "SETVAL", "SET_CONFIG", "PG_TERMINATE_BACKEND",
                              "PG_CANCEL_BACKEND", "PG_RELOAD_CONF", "LO_UNLINK", "DBLINK_EXEC",
                              "PG_ADVISORY_LOCK", "LO_IMPORT", "LO_EXPORT", "QUERY_TO_XML"}))
      ok = false;
  }
  if (!ok) out.push_back(sql_finding("read_only", t[v].start, s.end, "not a read-only statement"));
}

void check_tables(const Statement& s, const SqlSettings& settings, std::vector<Finding>& out) {
  auto any_match = [](const std::vector<std::string>& list, const std::string& name) {
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& e) { return table_matches(name, e); });
  };
  for (const auto& ref : table_refs(s.t)) {
    if (any_match(settings.deny_tables, ref.name))
      out.push_back(sql_finding("table_denied", ref.start, ref.end, "table on the deny list"));
    else if (!settings.allow_tables.empty() && !any_match(settings.allow_tables, ref.name))
      out.push_back(
          sql_finding("table_not_allowed", ref.start, ref.end, "table not on the allow list"));
  }
}

}  // namespace portcullis::guard::sql
