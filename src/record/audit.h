// Audit log: one row per tools/call that passed through the gateway, stored
// in SQLite (WAL mode) and queryable from the `portcullis audit` CLI.
//
// AuditLog::record() only enqueues; a single writer thread owns the SQLite
// connection and commits records in batches (one transaction per batch). The
// queue is bounded: when it is full, record() blocks the caller until the
// writer has made room. Records are never dropped silently; the only way a
// record is lost is a hard SQLite error (disk full, I/O error), which is
// logged at error level and counted in dropped().
//
// Schema version 1 (PRAGMA user_version = 1):
//   audit(id INTEGER PRIMARY KEY, ts_ms, request_id, session_id,
//         virtual_server, upstream, tool, original_tool, method, outcome,
//         error_code, error_message, latency_ms, upstream_ms, request_bytes,
//         response_bytes)
//   indexes: audit_ts(ts_ms), audit_tool(tool, ts_ms)
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::record {

struct AuditRecord {
  int64_t ts_ms = 0;       // unix epoch ms, set by caller (start of request)
  std::string request_id;  // gateway-generated id
  std::string session_id, virtual_server, upstream;
  std::string tool;           // exposed name
  std::string original_tool;  // name at the upstream
  std::string method;         // "tools/call"
  // "ok" | "tool_error" (isError result) | "error" (JSON-RPC error) |
  // "timeout" | "cancelled"
  std::string outcome;
  int error_code = 0;
  std::string error_message;
  double latency_ms = 0;  // total, as seen by the gateway
  double upstream_ms = 0;
  size_t request_bytes = 0, response_bytes = 0;
  // Who asked: the principal's subject, how it was authenticated ("none",
  // "oauth", "api_key") and its metadata contract (JSON object, keys of
  // identity::kMetadataKeys; UNTAGGED where a required key was missing).
  std::string subject;
  std::string auth_method;
  Json metadata = Json::object();

  bool operator==(const AuditRecord&) const = default;
};

// JSON form used by `portcullis audit --json` (one object per line). Keys are
// the field names above.
Json to_json(const AuditRecord& r);
Result<AuditRecord> audit_record_from_json(const Json& j);

class AuditLog {
 public:
  struct Options {
    size_t queue_capacity = 65536;             // records waiting for the writer
    size_t max_batch = 1024;                   // records per transaction
    std::chrono::milliseconds flush_interval{50};  // max time a record waits
    std::chrono::milliseconds busy_timeout{5000};  // SQLite busy handler
  };

  // Opens (creating if needed) the database at `path`: schema, WAL mode,
  // synchronous=NORMAL. Starts the writer thread.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path, Options options);

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();  // flushes and joins the writer

  // Thread-safe. Enqueues; blocks while the queue is full (warning logged at
  // most once per second while any caller is blocked). Never touches disk.
  void record(AuditRecord r);
  // Blocks until every record enqueued before the call is committed (or,
  // after a hard SQLite error, given up on and counted in dropped()).
  void flush();

  uint64_t written() const;  // records committed
  uint64_t dropped() const;  // records lost to hard SQLite errors (logged)
  const std::string& path() const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct AuditQuery {
  std::optional<int64_t> since_ms;  // inclusive
  std::optional<int64_t> until_ms;  // exclusive
  std::optional<std::string> tool, virtual_server, session_id, outcome, subject;
  size_t limit = 1000;  // 0 = no limit
};

// Newest first (ts_ms descending, then insertion order descending). Opens the
// database read-only; fails if it does not exist.
Result<std::vector<AuditRecord>> query_audit(const std::string& path, const AuditQuery& q);

// "2025-01-02T03:04:05.678Z"
std::string format_iso8601_utc(int64_t ts_ms);

// `portcullis audit [--config DIR] [--db PATH] [--since 1h] [--tool T]
//   [--server S] [--session ID] [--outcome O] [--limit N] [--json]`
// `args` are the arguments after the `audit` subcommand (a leading "audit" is
// skipped). Database path: --db if given; else, with --config DIR, the
// config's settings.audit_db resolved against DIR; else `default_db_path`.
// Prints a table (time, server, tool, upstream, outcome, latency) or JSON
// lines to `out`, diagnostics to `err`. Returns the process exit code:
// 0 success, 1 runtime failure (no database, bad config), 2 usage error.
int run_audit_cli(const std::vector<std::string>& args, const std::string& default_db_path);
int run_audit_cli(const std::vector<std::string>& args, const std::string& default_db_path,
                  std::ostream& out, std::ostream& err);

}  // namespace portcullis::record
