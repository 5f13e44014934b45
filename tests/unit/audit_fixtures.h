// Shared helpers of the audit unit tests: temp dirs, sample records, raw
// SQLite access (the "attacker" edits the file directly).
#pragma once
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "record/audit.h"
#include "record/sqlite_store.h"

namespace audit_test {
using namespace portcullis;
using namespace portcullis::record;

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
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline AuditRecord make(int64_t ts, std::string id, std::string server, std::string tool, std::string session,
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
  r.phases.total_us = 12500;
  r.phases.upstream_us = 10250;
  r.request_bytes = 123;
  r.response_bytes = 4567;
  return r;
}

inline std::string numbered(std::string prefix, int n) {
  prefix += std::to_string(n);
  return prefix;
}

inline SigningKey test_key(char fill = 'a') { return SigningKey::from_hex(std::string(64, fill)).value(); }

inline std::vector<AuditRecord> query_all(const std::string& path, AuditQuery q = {}) {
  SqliteStore::Options o;
  o.read_only = true;
  auto store = SqliteStore::open(path, o);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error()));
  q.limit = q.limit == 1000 ? 0 : q.limit;
  auto rows = (*store)->query(q);
  REQUIRE(rows.ok());
  return *rows;
}

inline VerifyResult verify_db(const std::string& path, const SigningKey* key) {
  SqliteStore::Options o;
  o.read_only = true;
  auto store = SqliteStore::open(path, o);
  REQUIRE(store.ok());
  auto res = (*store)->verify(key, std::nullopt);
  REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.error()));
  REQUIRE(res->size() == 1);
  return res->front();
}

inline void sql(const std::string& path, const std::string& statement) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &msg);
  std::string m = msg ? msg : "";
  sqlite3_free(msg);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, m);
}

// Writes `n` records (one batch each when `batches`) signed with `key`.
inline void write_records(const std::string& path, int n, const SigningKey& key, bool batches = true) {
  AuditLog::Options o;
  o.key = key;
  auto log = AuditLog::open(path, o);
  REQUIRE(log.ok());
  for (int i = 1; i <= n; ++i) {
    (*log)->record(make(1000 * i, numbered("r", i), "vs", numbered("tool", i), "s", "ok"));
    if (batches) (*log)->flush();
  }
}

}  // namespace audit_test
