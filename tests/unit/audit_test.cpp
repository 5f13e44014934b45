#include "record/audit.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/crypto.h"
#include "core/jsonrpc.h"

using namespace portcullis;
using namespace portcullis::record;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("portcullis-audit-test-" + crypto::random_hex(8));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string db() const { return (path / "audit.db").string(); }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AuditRecord make(int64_t ts, std::string id, std::string server, std::string tool, std::string session,
                 std::string outcome) {
  AuditRecord r;
  r.ts_ms = ts;
  r.request_id = std::move(id);
  r.session_id = std::move(session);
  r.virtual_server = std::move(server);
  r.upstream = "up-" + r.virtual_server;
  r.tool = std::move(tool);
  r.original_tool = "orig_" + r.tool;
  r.method = "tools/call";
  r.outcome = std::move(outcome);
  if (r.outcome == "error") {
    r.error_code = -32002;
    r.error_message = "upstream timed out";
  }
  r.latency_ms = 12.5;
  r.upstream_ms = 10.25;
  r.request_bytes = 123;
  r.response_bytes = 4567;
  return r;
}

// "prefix" + n, built by appending (GCC 12 warns falsely on literal + to_string).
std::string numbered(std::string prefix, int n) {
  prefix += std::to_string(n);
  return prefix;
}

std::vector<std::string> ids(const std::vector<AuditRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}

// Builds a query with `set` applied (designated initializers would leave
// members uninitialised-looking to -Wmissing-field-initializers).
template <typename F>
AuditQuery query(F set) {
  AuditQuery q;
  set(q);
  return q;
}

int64_t count_rows(const std::string& path) {
  auto rows = query_audit(path, query([](AuditQuery& q) { q.limit = 0; }));
  REQUIRE(rows.ok());
  return static_cast<int64_t>(rows->size());
}

// Five records with distinct servers, tools, sessions and outcomes.
std::vector<AuditRecord> sample() {
  return {
      make(1000, "r1", "alpha", "search", "s1", "ok"),
      make(2000, "r2", "alpha", "fetch", "s1", "tool_error"),
      make(3000, "r3", "beta", "search", "s2", "error"),
      make(4000, "r4", "beta", "fetch", "s2", "timeout"),
      make(5000, "r5", "alpha", "search", "s3", "cancelled"),
  };
}

}  // namespace

TEST_CASE("records round-trip through query with every filter") {
  TempDir dir;
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE_MESSAGE(log.ok(), log.error());
    for (const auto& r : sample()) (*log)->record(r);
    (*log)->flush();
    CHECK((*log)->written() == 5);
    CHECK((*log)->dropped() == 0);
  }

  auto all = query_audit(dir.db(), AuditQuery{});
  REQUIRE(all.ok());
  auto expected = sample();
  std::reverse(expected.begin(), expected.end());  // newest first
  REQUIRE(all->size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK((*all)[i] == expected[i]);
  CHECK((*all)[2].error_code == -32002);
  CHECK((*all)[2].error_message == "upstream timed out");

  auto q = [&](auto set) {
    auto rows = query_audit(dir.db(), query(set));
    REQUIRE_MESSAGE(rows.ok(), rows.error());
    return ids(*rows);
  };
  using V = std::vector<std::string>;
  CHECK(q([](AuditQuery& x) { x.tool = "search"; }) == V{"r5", "r3", "r1"});
  CHECK(q([](AuditQuery& x) { x.virtual_server = "beta"; }) == V{"r4", "r3"});
  CHECK(q([](AuditQuery& x) { x.session_id = "s1"; }) == V{"r2", "r1"});
  CHECK(q([](AuditQuery& x) { x.outcome = "timeout"; }) == V{"r4"});
  CHECK(q([](AuditQuery& x) { x.outcome = "tool_error"; }) == V{"r2"});
  CHECK(q([](AuditQuery& x) { x.since_ms = 3000; }) == V{"r5", "r4", "r3"});  // inclusive
  CHECK(q([](AuditQuery& x) { x.until_ms = 3000; }) == V{"r2", "r1"});  // exclusive
  CHECK(q([](AuditQuery& x) { x.since_ms = 2000; x.until_ms = 4000; }) == V{"r3", "r2"});
  CHECK(q([](AuditQuery& x) { x.tool = "search"; x.virtual_server = "alpha"; }) == V{"r5", "r1"});
  CHECK(q([](AuditQuery& x) {
          x.tool = "fetch";
          x.virtual_server = "alpha";
          x.session_id = "s1";
          x.outcome = "tool_error";
        }) == V{"r2"});
  CHECK(q([](AuditQuery& x) { x.tool = "nope"; }).empty());
  CHECK(q([](AuditQuery& x) { x.limit = 2; }) == V{"r5", "r4"});
  CHECK(q([](AuditQuery& x) { x.limit = 0; }).size() == 5);
}

TEST_CASE("since filtering keeps only records at or after the bound, newest first, ties in insertion order") {
  TempDir dir;
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE(log.ok());
    (*log)->record(make(100, "old", "s", "t", "x", "ok"));
    (*log)->record(make(200, "tie-a", "s", "t", "x", "ok"));
    (*log)->record(make(200, "tie-b", "s", "t", "x", "ok"));
    (*log)->record(make(199, "just-before", "s", "t", "x", "ok"));
    (*log)->record(make(300, "new", "s", "t", "x", "ok"));
  }  // destructor flushes
  auto rows = query_audit(dir.db(), query([](AuditQuery& q) { q.since_ms = 200; }));
  REQUIRE(rows.ok());
  CHECK(ids(*rows) == std::vector<std::string>{"new", "tie-b", "tie-a"});
}

TEST_CASE("flush makes records visible immediately even with a long batch window") {
  TempDir dir;
  AuditLog::Options opt;
  opt.flush_interval = 60s;  // without flush() nothing would be written for a minute
  auto log = AuditLog::open(dir.db(), opt);
  REQUIRE(log.ok());
  CHECK(count_rows(dir.db()) == 0);
  (*log)->record(make(1, "a", "s", "t", "x", "ok"));
  (*log)->record(make(2, "b", "s", "t", "x", "ok"));
  std::this_thread::sleep_for(50ms);
  CHECK(count_rows(dir.db()) == 0);  // still in the batch window
  (*log)->flush();
  CHECK(count_rows(dir.db()) == 2);
  CHECK((*log)->written() == 2);
  (*log)->flush();  // nothing pending: returns at once
  CHECK((*log)->written() == 2);
}

TEST_CASE("records are committed within the flush interval without an explicit flush") {
  TempDir dir;
  AuditLog::Options opt;
  opt.flush_interval = 20ms;
  auto log = AuditLog::open(dir.db(), opt);
  REQUIRE(log.ok());
  (*log)->record(make(1, "a", "s", "t", "x", "ok"));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((*log)->written() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  CHECK((*log)->written() == 1);
  CHECK(count_rows(dir.db()) == 1);
}

TEST_CASE("concurrent writers from 4 threads all land") {
  TempDir dir;
  constexpr int kThreads = 4, kPerThread = 5000;
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE(log.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          (*log)->record(make(i, numbered(numbered("t", t) + "-", i), "s", "tool", "x", "ok"));
        }
      });
    }
    for (auto& th : threads) th.join();
    (*log)->flush();
    CHECK((*log)->written() == kThreads * kPerThread);
  }
  auto rows = query_audit(dir.db(), query([](AuditQuery& q) { q.limit = 0; }));
  REQUIRE(rows.ok());
  CHECK(rows->size() == kThreads * kPerThread);
  std::set<std::string> unique;
  for (const auto& r : *rows) unique.insert(r.request_id);
  CHECK(unique.size() == kThreads * kPerThread);
}

TEST_CASE("a full queue blocks the caller instead of dropping records") {
  TempDir dir;
  AuditLog::Options opt;
  opt.queue_capacity = 4;
  opt.busy_timeout = 20ms;  // the writer hits SQLITE_BUSY repeatedly and must retry, not drop
  auto log = AuditLog::open(dir.db(), opt);
  REQUIRE(log.ok());

  // Make the writer slow: another connection holds the write lock.
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  constexpr int kRecords = 50;
  std::atomic<int> enqueued{0};
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      (*log)->record(make(i, numbered("r", i), "s", "t", "x", "ok"));
      enqueued.fetch_add(1);
    }
    done = true;
  });

  std::this_thread::sleep_for(300ms);
  // The writer holds one batch of 4 (stuck on the lock) and the queue holds 4.
  CHECK_FALSE(done.load());
  CHECK(enqueued.load() == 8);
  CHECK((*log)->written() == 0);

  REQUIRE(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(blocker);
  producer.join();
  (*log)->flush();
  CHECK(enqueued.load() == kRecords);
  CHECK((*log)->written() == kRecords);
  CHECK((*log)->dropped() == 0);
  CHECK(count_rows(dir.db()) == kRecords);
}

TEST_CASE("open creates the schema with indexes, WAL mode, and reopens an existing database") {
  TempDir dir;
  { REQUIRE(AuditLog::open(dir.db()).ok()); }
  {
    auto log = AuditLog::open(dir.db());  // second open: schema already there
    REQUIRE(log.ok());
    (*log)->record(make(1, "a", "s", "t", "x", "ok"));
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  CHECK(scalar("PRAGMA journal_mode") == "wal");
  CHECK(scalar("PRAGMA user_version") == "2");
  CHECK(scalar("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND "
               "tbl_name = 'audit' ORDER BY name)") == "audit_subject,audit_tool,audit_ts");
  CHECK(scalar("SELECT count(*) FROM audit") == "1");
  // A database from a newer version is refused rather than written into.
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 3", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto newer = AuditLog::open(dir.db());
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().find("schema version 3") != std::string::npos);
}

TEST_CASE("a version 1 database gains the principal columns and keeps its rows") {
  TempDir dir;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
  const char* v1 =
      "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL DEFAULT '', "
      "session_id TEXT NOT NULL DEFAULT '', virtual_server TEXT NOT NULL DEFAULT '', upstream TEXT NOT NULL DEFAULT '', "
      "tool TEXT NOT NULL DEFAULT '', original_tool TEXT NOT NULL DEFAULT '', method TEXT NOT NULL DEFAULT '', "
      "outcome TEXT NOT NULL DEFAULT '', error_code INTEGER NOT NULL DEFAULT 0, error_message TEXT NOT NULL DEFAULT '', "
      "latency_ms REAL NOT NULL DEFAULT 0, upstream_ms REAL NOT NULL DEFAULT 0, request_bytes INTEGER NOT NULL DEFAULT 0, "
      "response_bytes INTEGER NOT NULL DEFAULT 0);"
      "INSERT INTO audit (ts_ms, tool, outcome) VALUES (1000, 'old-tool', 'ok');"
      "PRAGMA user_version = 1;";
  REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE(log.ok());
    AuditRecord r = make(2000, "r2", "s", "new-tool", "x", "ok");
    r.subject = "alice";
    r.auth_method = "oauth";
    r.metadata = {{"team", "payments"}};
    (*log)->record(r);
  }
  AuditQuery q;
  auto rows = query_audit(dir.db(), q);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].subject == "alice");
  CHECK((*rows)[0].metadata == Json{{"team", "payments"}});
  CHECK((*rows)[1].tool == "old-tool");
  CHECK((*rows)[1].subject.empty());
  q.subject = "alice";
  auto alice = query_audit(dir.db(), q);
  REQUIRE(alice.ok());
  REQUIRE(alice->size() == 1);
  CHECK((*alice)[0].tool == "new-tool");
}

TEST_CASE("open fails with a message naming the path when the directory does not exist") {
  auto log = AuditLog::open("/nonexistent-portcullis-dir/audit.db");
  REQUIRE_FALSE(log.ok());
  CHECK(log.error().find("/nonexistent-portcullis-dir/audit.db") != std::string::npos);
}

TEST_CASE("query of a missing database fails") {
  auto rows = query_audit("/nonexistent-portcullis-dir/audit.db", AuditQuery{});
  REQUIRE_FALSE(rows.ok());
  CHECK(rows.error() == "no audit database at /nonexistent-portcullis-dir/audit.db");
}

TEST_CASE("the CLI's JSON output lines parse and match the records") {
  TempDir dir;
  const int64_t now = now_ms();
  std::vector<AuditRecord> written = {
      make(now - 2 * 3600 * 1000, "old", "alpha", "search", "s1", "ok"),
      make(now - 60 * 1000, "recent-1", "alpha", "search", "s1", "error"),
      make(now - 30 * 1000, "recent-2", "beta", "fetch", "s2", "ok"),
      make(now - 10 * 1000, "recent-3", "alpha", "search", "s2", "ok"),
  };
  written[2].error_message = "quote \" backslash \\ newline \n unicode \xc3\xa9";
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE(log.ok());
    for (const auto& r : written) (*log)->record(r);
  }

  auto run = [&](std::vector<std::string> args, std::string* err_text = nullptr, std::string default_db = {}) {
    std::ostringstream out, err;
    int rc = run_audit_cli(args, default_db.empty() ? dir.db() : default_db, out, err);
    if (err_text) *err_text = err.str();
    return std::pair{rc, out.str()};
  };
  auto parse_lines = [](const std::string& text) {
    std::vector<AuditRecord> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      auto j = rpc::parse(line, rpc::Limits{});
      REQUIRE_MESSAGE(j.ok(), j.error());
      auto r = audit_record_from_json(*j);
      REQUIRE(r.ok());
      rows.push_back(*r);
    }
    return rows;
  };

  SUBCASE("all records, newest first, every field intact") {
    auto [rc, out] = run({"--json"});
    CHECK(rc == 0);
    auto rows = parse_lines(out);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0] == written[3]);
    CHECK(rows[1] == written[2]);
    CHECK(rows[2] == written[1]);
    CHECK(rows[3] == written[0]);
  }
  SUBCASE("--since 1h with --tool and --server") {
    auto [rc, out] = run({"--since", "1h", "--tool", "search", "--server", "alpha", "--json"});
    CHECK(rc == 0);
    CHECK(ids(parse_lines(out)) == std::vector<std::string>{"recent-3", "recent-1"});
  }
  SUBCASE("--session, --outcome and --limit, --db and --flag=value forms, leading 'audit' word") {
    auto [rc, out] = run({"audit", "--db=" + dir.db(), "--session", "s2", "--outcome=ok", "--limit", "1", "--json"});
    CHECK(rc == 0);
    CHECK(ids(parse_lines(out)) == std::vector<std::string>{"recent-3"});
  }
  SUBCASE("--config DIR reads the database named by the config's audit.db") {
    auto cfg = dir.path / "cfg";
    std::filesystem::create_directories(cfg / "servers.d");
    {
      std::ofstream yaml(cfg / "portcullis.yaml");
      yaml << "audit: { db: ../audit.db }\n";
    }
    auto [rc, out] = run({"--config", cfg.string(), "--limit", "2", "--json"}, nullptr, "/nonexistent/default.db");
    CHECK(rc == 0);
    CHECK(ids(parse_lines(out)) == std::vector<std::string>{"recent-3", "recent-2"});
    {
      std::ofstream yaml(cfg / "portcullis.yaml");
      yaml << "audit: { db: \"\" }\n";
    }
    std::string err;
    CHECK(run({"--config", cfg.string()}, &err).first == 1);
    CHECK(err.find("portcullis.yaml") != std::string::npos);
  }
  SUBCASE("the table shows ISO-8601 UTC times and the requested columns") {
    auto [rc, out] = run({"--limit", "1"});
    CHECK(rc == 0);
    std::istringstream in(out);
    std::string header, row, extra;
    std::getline(in, header);
    std::getline(in, row);
    CHECK_FALSE(std::getline(in, extra));
    CHECK(header.find("TIME") == 0);
    for (const char* col : {"SERVER", "TOOL", "UPSTREAM", "OUTCOME", "LATENCY"}) {
      CHECK(header.find(col) != std::string::npos);
    }
    CHECK(row.find(format_iso8601_utc(written[3].ts_ms)) == 0);
    CHECK(row.find("alpha") != std::string::npos);
    CHECK(row.find("up-alpha") != std::string::npos);
    CHECK(row.find("12.5 ms") != std::string::npos);
  }
  SUBCASE("usage and runtime errors have distinct exit codes") {
    std::string err;
    CHECK(run({"--bogus"}, &err).first == 2);
    CHECK(err.find("unknown argument \"--bogus\"") != std::string::npos);
    CHECK(run({"--since", "yesterday"}).first == 2);
    CHECK(run({"--outcome", "okay"}).first == 2);
    CHECK(run({"--limit", "-1"}).first == 2);
    CHECK(run({"--tool"}).first == 2);
    CHECK(run({"--db", (dir.path / "missing.db").string()}, &err).first == 1);
    CHECK(err.find("no audit database at") != std::string::npos);
    CHECK(run({"--help"}).first == 0);
  }
}

TEST_CASE("format_iso8601_utc formats epoch milliseconds in UTC") {
  CHECK(format_iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_iso8601_utc(1735787045678) == "2025-01-02T03:04:05.678Z");
  CHECK(format_iso8601_utc(-1) == "1969-12-31T23:59:59.999Z");
}
