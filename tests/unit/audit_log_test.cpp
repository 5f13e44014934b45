// AuditLog: queueing, batching, queue-full policies, capture, migration,
// retention, queries and the CLI.
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit_fixtures.h"
#include "core/jsonrpc.h"
#include "core/text.h"
#include "record/audit_cli.h"

using namespace audit_test;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> ids(const std::vector<AuditRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}
}  // namespace

TEST_CASE("records round-trip through query with every filter") {
  TempDir dir;
  {
    auto log = AuditLog::open(dir.db());
    REQUIRE(log.ok());
    int i = 0;
    for (std::string team : {"payments", "search", "payments"}) {
      ++i;
      AuditRecord r = make(1000 * i, numbered("r", i), i == 3 ? "beta" : "alpha", i == 2 ? "fetch" : "search",
                           numbered("s", i), i == 2 ? "error" : "ok");
      r.subject = i == 1 ? "alice" : "bob";
      r.metadata = {{"team", team}, {"project_id", numbered("p", i)}, {"ticket_id", "T-1"}};
      r.groups = Json::array({"eng"});
      if (i == 3) {
        r.decision = "denied";
        r.policy_ids = Json::array({"deny-prod"});
        r.findings = Json::array({Json{{"rule", "secrets.aws"}, {"action", "redact"}}});
      }
      (*log)->record(r);
    }
  }
  auto all = query_all(dir.db());
  REQUIRE(all.size() == 3);
  CHECK(ids(all) == std::vector<std::string>{"r3", "r2", "r1"});
  CHECK(all[0].findings == Json::array({Json{{"rule", "secrets.aws"}, {"action", "redact"}}}));
  CHECK(all[0].policy_ids == Json::array({"deny-prod"}));
  CHECK(all[2].groups == Json::array({"eng"}));
  CHECK(all[2].phases.total_us == 12500);
  auto by = [&](auto set) {
    AuditQuery q;
    set(q);
    return ids(query_all(dir.db(), q));
  };
  CHECK(by([](AuditQuery& q) { q.subject = "alice"; }) == std::vector<std::string>{"r1"});
  CHECK(by([](AuditQuery& q) { q.team = "payments"; }) == std::vector<std::string>{"r3", "r1"});
  CHECK(by([](AuditQuery& q) { q.project = "p2"; }) == std::vector<std::string>{"r2"});
  CHECK(by([](AuditQuery& q) { q.ticket = "T-1"; }).size() == 3);
  CHECK(by([](AuditQuery& q) { q.session_id = "s2"; }) == std::vector<std::string>{"r2"});
  CHECK(by([](AuditQuery& q) { q.virtual_server = "beta"; }) == std::vector<std::string>{"r3"});
  CHECK(by([](AuditQuery& q) { q.tool = "fetch"; }) == std::vector<std::string>{"r2"});
  CHECK(by([](AuditQuery& q) { q.decision = "denied"; }) == std::vector<std::string>{"r3"});
  CHECK(by([](AuditQuery& q) { q.guardrail = "secrets.aws"; }) == std::vector<std::string>{"r3"});
  CHECK(by([](AuditQuery& q) { q.outcome = "error"; }) == std::vector<std::string>{"r2"});
  CHECK(by([](AuditQuery& q) { q.since_ms = 2000; q.until_ms = 3000; }) == std::vector<std::string>{"r2"});
}

TEST_CASE("capture stores a hash by default, the payload in full mode, and nothing in none mode") {
  Json args = {{"query", "select 1"}, {"limit", 5}};
  Json result = {{"content", Json::array({Json{{"type", "text"}, {"text", "1"}}})}};
  for (auto [mode, want_args] : {std::pair{CaptureMode::Hash, payload_digest(args)},
                                 {CaptureMode::Full, std::string(R"({"limit":5,"query":"select 1"})")},
                                 {CaptureMode::None, std::string()},
                                 {CaptureMode::Redacted, payload_digest(args)}}) {
    TempDir dir;
    AuditLog::Options o;
    o.capture = mode;
    {
      auto log = AuditLog::open(dir.db(), o);
      REQUIRE(log.ok());
      AuditRecord r = make(1, "r", "vs", "t", "s", "ok");
      r.raw_arguments = args;
      r.raw_result = result;
      (*log)->record(r);
    }
    auto rows = query_all(dir.db());
    REQUIRE(rows.size() == 1);
    CAPTURE(to_string(mode));
    CHECK(rows[0].arguments == want_args);
    CHECK(text::starts_with(want_args, "sha256:") == (mode == CaptureMode::Hash || mode == CaptureMode::Redacted));
  }
  CHECK(payload_digest(args).size() == 7 + 64);
}

TEST_CASE("flush makes records visible immediately even with a long batch window") {
  TempDir dir;
  AuditLog::Options opt;
  opt.flush_interval = 10s;
  auto log = AuditLog::open(dir.db(), opt);
  REQUIRE(log.ok());
  (*log)->record(make(1, "a", "s", "t", "x", "ok"));
  auto t0 = std::chrono::steady_clock::now();
  (*log)->flush();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(query_all(dir.db()).size() == 1);
}

TEST_CASE("concurrent writers from 4 threads all land in one verifiable chain") {
  TempDir dir;
  auto key = test_key();
  {
    AuditLog::Options o;
    o.key = key;
    o.max_batch = 64;
    auto log = AuditLog::open(dir.db(), o);
    REQUIRE(log.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) (*log)->record(make(i, numbered(numbered("t", t) + "-", i), "s", "t", "x", "ok"));
      });
    }
    for (auto& th : threads) th.join();
    (*log)->flush();
    CHECK((*log)->written() == 2000);
  }
  auto v = verify_db(dir.db(), &key);
  CHECK_MESSAGE(v.ok, v.message);
  CHECK(v.records == 2000);
}

TEST_CASE("a full queue in block mode makes the caller wait instead of dropping records") {
  TempDir dir;
  AuditLog::Options opt;
  opt.queue_capacity = 4;
  opt.busy_timeout = 20ms;  // the writer hits SQLITE_BUSY repeatedly and must retry, not drop
  auto log = AuditLog::open(dir.db(), opt);
  REQUIRE(log.ok());
  sqlite3* blocker = nullptr;  // another connection holds the write lock: the writer is stuck
  REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  constexpr int kRecords = 50;
  std::atomic<int> enqueued{0};
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      (*log)->record(make(i, numbered("r", i), "s", "t", "x", "ok"));
      enqueued.fetch_add(1);
    }
  });
  std::this_thread::sleep_for(300ms);
  CHECK(enqueued.load() == 8);  // one batch of 4 held by the writer, 4 queued
  CHECK((*log)->written() == 0);
  REQUIRE(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(blocker);
  producer.join();
  (*log)->flush();
  CHECK((*log)->written() == kRecords);
  CHECK((*log)->dropped_full() == 0);
  CHECK(query_all(dir.db()).size() == kRecords);
}

TEST_CASE("a full queue in drop mode returns at once, counts the drops and records the count in the chain") {
  TempDir dir;
  auto key = test_key();
  {
    AuditLog::Options opt;
    opt.queue_capacity = 4;
    opt.busy_timeout = 20ms;
    opt.queue_full = AuditLog::QueueFull::Drop;
    opt.key = key;
    auto log = AuditLog::open(dir.db(), opt);
    REQUIRE(log.ok());
    sqlite3* blocker = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
    REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    (*log)->record(make(0, "first", "s", "t", "x", "ok"));
    std::this_thread::sleep_for(100ms);  // the writer takes it and is stuck on the lock
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= 20; ++i) (*log)->record(make(i, numbered("r", i), "s", "t", "x", "ok"));
    CHECK(std::chrono::steady_clock::now() - t0 < 100ms);  // never waited
    CHECK((*log)->dropped_full() == 16);                   // 4 fit in the queue
    REQUIRE(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(blocker);
    (*log)->flush();  // the queue is empty again
    (*log)->record(make(21, "after", "s", "t", "x", "ok"));
    (*log)->flush();
    CHECK((*log)->written() == 6);
  }
  auto rows = query_all(dir.db());
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].request_id == "after");
  CHECK(rows[0].dropped_before == 16);
  auto v = verify_db(dir.db(), &key);
  CHECK_MESSAGE(v.ok, v.message);
  CHECK(v.dropped_total == 16);
  // Hiding the drops breaks the chain.
  sql(dir.db(), "UPDATE audit SET dropped_before = 0 WHERE request_id = 'after'");
  CHECK_FALSE(verify_db(dir.db(), &key).ok);
}

TEST_CASE("drops that no later record carries are written as a marker record at shutdown") {
  TempDir dir;
  auto key = test_key();
  {
    AuditLog::Options opt;
    opt.queue_capacity = 1;
    opt.busy_timeout = 20ms;
    opt.queue_full = AuditLog::QueueFull::Drop;
    opt.key = key;
    auto log = AuditLog::open(dir.db(), opt);
    REQUIRE(log.ok());
    sqlite3* blocker = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
    REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    (*log)->record(make(0, "a", "s", "t", "x", "ok"));
    std::this_thread::sleep_for(100ms);
    (*log)->record(make(1, "b", "s", "t", "x", "ok"));  // queued
    (*log)->record(make(2, "c", "s", "t", "x", "ok"));  // dropped
    (*log)->record(make(3, "d", "s", "t", "x", "ok"));  // dropped
    sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(blocker);
  }
  auto rows = query_all(dir.db());
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].method == "audit/dropped");
  CHECK(rows[0].dropped_before == 2);
  auto v = verify_db(dir.db(), &key);
  CHECK_MESSAGE(v.ok, v.message);
  CHECK(v.dropped_total == 2);
}

TEST_CASE("version 1 and 2 databases are migrated in place, keep their rows and join the chain") {
  for (int version : {1, 2}) {
    CAPTURE(version);
    TempDir dir;
    std::string ddl =
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL DEFAULT '', "
        "session_id TEXT NOT NULL DEFAULT '', virtual_server TEXT NOT NULL DEFAULT '', upstream TEXT NOT NULL DEFAULT '', "
        "tool TEXT NOT NULL DEFAULT '', original_tool TEXT NOT NULL DEFAULT '', method TEXT NOT NULL DEFAULT '', "
        "outcome TEXT NOT NULL DEFAULT '', error_code INTEGER NOT NULL DEFAULT 0, error_message TEXT NOT NULL DEFAULT '', "
        "latency_ms REAL NOT NULL DEFAULT 0, upstream_ms REAL NOT NULL DEFAULT 0, request_bytes INTEGER NOT NULL DEFAULT 0, "
        "response_bytes INTEGER NOT NULL DEFAULT 0";
    ddl += version == 2 ? ", subject TEXT NOT NULL DEFAULT '', auth_method TEXT NOT NULL DEFAULT '', metadata TEXT NOT NULL DEFAULT '{}');"
                        : ");";
    ddl += "INSERT INTO audit (ts_ms, request_id, tool, outcome, latency_ms, upstream_ms) VALUES (1000, '7', 'old-tool', 'ok', 12.5, 3.25);";
    ddl += "PRAGMA user_version = " + std::to_string(version) + ";";
    sql(dir.db(), ddl);
    auto key = test_key();
    {
      AuditLog::Options o;
      o.key = key;
      auto log = AuditLog::open(dir.db(), o);
      REQUIRE(log.ok());
      AuditRecord r = make(2000, "r2", "s", "new-tool", "x", "ok");
      r.subject = "alice";
      (*log)->record(r);
    }
    auto rows = query_all(dir.db());
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].tool == "old-tool");
    CHECK(rows[1].phases.total_us == 12500);
    CHECK(rows[1].phases.upstream_us == 3250);
    CHECK(rows[1].jsonrpc_id == "7");
    CHECK(rows[1].seq == 1);
    CHECK(rows[0].seq == 2);
    CHECK(rows[0].subject == "alice");
    auto v = verify_db(dir.db(), &key);
    CHECK_MESSAGE(v.ok, v.message);
    CHECK(v.records == 2);
  }
}

TEST_CASE("retention by rows prunes at a checkpoint, which anchors the chain so it still verifies") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 10, key);
  {
    AuditLog::Options o;
    o.key = key;
    o.retention.max_rows = 4;
    auto log = AuditLog::open(dir.db(), o);  // prunes as the writer starts
    REQUIRE(log.ok());
    (*log)->record(make(11000, "r11", "vs", "t", "s", "ok"));
    (*log)->flush();
  }
  auto rows = query_all(dir.db());
  CHECK(rows.size() == 5);  // seq 7..10 kept by the prune, then seq 11
  CHECK(rows.back().seq == 7);
  auto v = verify_db(dir.db(), &key);
  CHECK_MESSAGE(v.ok, v.message);
  CHECK(v.anchored);
  CHECK(v.first_seq == 7);
  // Deleting the oldest kept record now is a deletion, not a prune.
  sql(dir.db(), "DELETE FROM audit WHERE seq = 7");
  auto w = verify_db(dir.db(), &key);
  CHECK_FALSE(w.ok);
  CHECK(w.message == "deleted: seq 7 missing before record 8 (seq 8)");
}

TEST_CASE("retention by age keeps the records younger than max_age") {
  TempDir dir;
  auto key = test_key();
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  {
    AuditLog::Options o;
    o.key = key;
    auto log = AuditLog::open(dir.db(), o);
    REQUIRE(log.ok());
    for (int i = 0; i < 6; ++i) {
      (*log)->record(make(i < 3 ? now - 48 * 3600 * 1000LL : now, numbered("r", i), "vs", "t", "s", "ok"));
      (*log)->flush();
    }
  }
  {
    AuditLog::Options o;
    o.key = key;
    o.retention.max_age = std::chrono::hours(24);
    auto log = AuditLog::open(dir.db(), o);
    REQUIRE(log.ok());
    (*log)->flush();
    std::this_thread::sleep_for(100ms);
  }
  auto rows = query_all(dir.db());
  CHECK(ids(rows) == std::vector<std::string>{"r5", "r4", "r3"});
  CHECK(verify_db(dir.db(), &key).ok);
}

namespace {
// Bytes the database's live pages take (its size minus free pages), WAL
// included, as retention by size measures it.
int64_t used_bytes(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(
              db,
              "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM "
              "pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size())",
              -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  int64_t used = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return used;
}
}  // namespace

TEST_CASE(
    "retention by size prunes the oldest records at a checkpoint until the database fits in "
    "max_bytes") {
  TempDir dir;
  auto key = test_key();
  constexpr int kRecords = 400;
  {
    AuditLog::Options o;
    o.key = key;
    auto log = AuditLog::open(dir.db(), o);
    REQUIRE(log.ok());
    for (int i = 1; i <= kRecords; ++i) {
      auto r = make(1000 * i, numbered("r", i), "vs", "t", "s", "error");
      r.error_message = std::string(1000, 'x');  // ~1 KB per record
      (*log)->record(r);
      (*log)->flush();  // one checkpoint per record: retention may cut anywhere
    }
  }
  const int64_t before = used_bytes(dir.db());
  REQUIRE(before > 400 * 1000);
  const uint64_t limit = 100 * 1024;
  SUBCASE("a limit above the database's size keeps everything") {
    AuditLog::Options o;
    o.key = key;
    o.retention.max_bytes = static_cast<uint64_t>(before) * 2;
    {
      auto log = AuditLog::open(dir.db(), o);
      REQUIRE(log.ok());
      (*log)->record(make(500000, "last", "vs", "t", "s", "ok"));
      (*log)->flush();
    }
    CHECK(query_all(dir.db()).size() == kRecords + 1);
    CHECK_FALSE(verify_db(dir.db(), &key).anchored);
  }
  SUBCASE("a limit below it deletes the oldest records and anchors the chain") {
    AuditLog::Options o;
    o.key = key;
    o.retention.max_bytes = limit;
    {
      auto log = AuditLog::open(dir.db(), o);  // prunes as the writer starts
      REQUIRE(log.ok());
      (*log)->record(make(500000, "last", "vs", "t", "s", "ok"));
      (*log)->flush();
    }
    auto rows = query_all(dir.db());
    REQUIRE(rows.size() > 1);
    CHECK(rows.size() < kRecords / 3);
    CHECK(rows.front().request_id == "last");
    // The newest records are the ones kept, without a gap.
    CHECK(rows[1].request_id == numbered("r", kRecords));
    CHECK(rows.back().seq == kRecords + 2 - static_cast<int64_t>(rows.size()));
    CHECK(used_bytes(dir.db()) <= static_cast<int64_t>(limit));
    auto v = verify_db(dir.db(), &key);
    CHECK_MESSAGE(v.ok, v.message);
    CHECK(v.anchored);
    CHECK(v.first_seq == rows.back().seq);
    CHECK(v.last_seq == kRecords + 1);
  }
}

TEST_CASE("the CLI queries with filters, exports CSV and JSON lines, and verify exits 1 on a broken chain") {
  TempDir dir;
  auto key = test_key();
  std::string keyfile = dir.file("k");
  { std::ofstream(keyfile) << std::string(64, 'a') << "\n"; }
  write_records(dir.db(), 3, key);
  auto run = [&](std::vector<std::string> args, std::string* out_text = nullptr) {
    std::ostringstream out, err;
    args.push_back("--db");
    args.push_back(dir.db());
    int rc = run_audit_cli(dir.path.string(), args, out, err);
    if (out_text) *out_text = out.str() + err.str();
    return rc;
  };
  std::string out;
  REQUIRE(run({"query", "--tool", "tool2", "--json"}, &out) == 0);
  auto line = Json::parse(out.substr(0, out.find('\n')));
  CHECK(line["tool"] == "tool2");
  CHECK(line["seq"] == 2);
  REQUIRE(run({"--tool", "tool2", "--json"}, &out) == 0);  // the old form still works
  CHECK(Json::parse(out.substr(0, out.find('\n')))["request_id"] == "r2");
  REQUIRE(run({"export", "--format", "csv"}, &out) == 0);
  CHECK(text::starts_with(out, "approval,arguments,auth_method,chain,"));  // the JSON keys, sorted
  CHECK(out.find(",identity_us,authorize_us,guard_us,upstream_us,total_us,") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 4);
  REQUIRE(run({"export", "--format", "jsonl"}, &out) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 3);
  CHECK(run({"verify", "--key-file", keyfile}, &out) == 0);
  CHECK(out.find("OK chain 'local' intact: 3 records") == 0);
  sql(dir.db(), "UPDATE audit SET outcome = 'error' WHERE seq = 2");
  CHECK(run({"verify", "--key-file", keyfile}, &out) == 1);
  CHECK(out.find("FAILED chain 'local': record 2 (seq 2): altered") == 0);
  CHECK(run({"query", "--decision", "maybe"}) == 2);
  CHECK(run({"export"}) == 2);
}

TEST_CASE("time bounds accept durations, ISO times and epoch milliseconds") {
  CHECK(parse_time_bound("1h", 10'000'000).value() == 10'000'000 - 3'600'000);
  CHECK(parse_time_bound("2025-01-02T03:04:05Z", 0).value() == 1735787045000);
  CHECK(parse_time_bound("2025-01-02T03:04:05.250Z", 0).value() == 1735787045250);
  CHECK(parse_time_bound("1735787045000", 0).value() == 1735787045000);
  CHECK_FALSE(parse_time_bound("yesterday", 0).ok());
}
