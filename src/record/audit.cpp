#include "record/audit.h"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "core/jsonrpc.h"
#include "core/text.h"

namespace portcullis::record {
namespace {

constexpr int kSchemaVersion = 2;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  session_id TEXT NOT NULL DEFAULT '',
  virtual_server TEXT NOT NULL DEFAULT '',
  upstream TEXT NOT NULL DEFAULT '',
  tool TEXT NOT NULL DEFAULT '',
  original_tool TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  latency_ms REAL NOT NULL DEFAULT 0,
  upstream_ms REAL NOT NULL DEFAULT 0,
  request_bytes INTEGER NOT NULL DEFAULT 0,
  response_bytes INTEGER NOT NULL DEFAULT 0,
  subject TEXT NOT NULL DEFAULT '',
  auth_method TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts_ms);
CREATE INDEX IF NOT EXISTS audit_tool ON audit(tool, ts_ms);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, ts_ms);
)sql";

// Version 1 -> 2: who asked.
constexpr const char* kMigrateV1Sql = R"sql(
ALTER TABLE audit ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, ts_ms);
)sql";

// Column order shared by INSERT and SELECT.
constexpr const char* kColumns =
    "ts_ms, request_id, session_id, virtual_server, upstream, tool, original_tool, method, "
    "outcome, error_code, error_message, latency_ms, upstream_ms, request_bytes, response_bytes, "
    "subject, auth_method, metadata";

std::string sqlite_error(sqlite3* db, const std::string& what) {
  return what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s); }
};

Result<void> prepare(sqlite3* db, const std::string& sql, Stmt& out) {
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &out.s,
                         nullptr) != SQLITE_OK) {
    return fail(sqlite_error(db, "preparing \"" + sql + "\""));
  }
  return {};
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

void bind_record(sqlite3_stmt* s, const AuditRecord& r) {
  sqlite3_bind_int64(s, 1, r.ts_ms);
  bind_text(s, 2, r.request_id);
  bind_text(s, 3, r.session_id);
  bind_text(s, 4, r.virtual_server);
  bind_text(s, 5, r.upstream);
  bind_text(s, 6, r.tool);
  bind_text(s, 7, r.original_tool);
  bind_text(s, 8, r.method);
  bind_text(s, 9, r.outcome);
  sqlite3_bind_int(s, 10, r.error_code);
  bind_text(s, 11, r.error_message);
  sqlite3_bind_double(s, 12, r.latency_ms);
  sqlite3_bind_double(s, 13, r.upstream_ms);
  sqlite3_bind_int64(s, 14, static_cast<sqlite3_int64>(r.request_bytes));
  sqlite3_bind_int64(s, 15, static_cast<sqlite3_int64>(r.response_bytes));
  bind_text(s, 16, r.subject);
  bind_text(s, 17, r.auth_method);
  sqlite3_bind_text(s, 18, r.metadata.dump().c_str(), -1, SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

AuditRecord read_record(sqlite3_stmt* s) {
  AuditRecord r;
  r.ts_ms = sqlite3_column_int64(s, 0);
  r.request_id = column_text(s, 1);
  r.session_id = column_text(s, 2);
  r.virtual_server = column_text(s, 3);
  r.upstream = column_text(s, 4);
  r.tool = column_text(s, 5);
  r.original_tool = column_text(s, 6);
  r.method = column_text(s, 7);
  r.outcome = column_text(s, 8);
  r.error_code = sqlite3_column_int(s, 9);
  r.error_message = column_text(s, 10);
  r.latency_ms = sqlite3_column_double(s, 11);
  r.upstream_ms = sqlite3_column_double(s, 12);
  r.request_bytes = static_cast<size_t>(sqlite3_column_int64(s, 13));
  r.response_bytes = static_cast<size_t>(sqlite3_column_int64(s, 14));
  r.subject = column_text(s, 15);
  r.auth_method = column_text(s, 16);
  r.metadata = Json::parse(column_text(s, 17), nullptr, false);
  if (!r.metadata.is_object()) r.metadata = Json::object();
  return r;
}

bool is_transient(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Logs at most once per second per limiter; thread-safe.
class RateLimit {
 public:
  bool allow() {
    int64_t now = steady_ms();
    int64_t last = last_.load(std::memory_order_relaxed);
    if (last != kNever && now - last < 1000) return false;
    return last_.compare_exchange_strong(last, now, std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kNever = INT64_MIN;
  std::atomic<int64_t> last_{kNever};
};

}  // namespace

// ---------------------------------------------------------------- JSON form

Json to_json(const AuditRecord& r) {
  return Json{{"ts_ms", r.ts_ms},
              {"request_id", r.request_id},
              {"session_id", r.session_id},
              {"virtual_server", r.virtual_server},
              {"upstream", r.upstream},
              {"tool", r.tool},
              {"original_tool", r.original_tool},
              {"method", r.method},
              {"outcome", r.outcome},
              {"error_code", r.error_code},
              {"error_message", r.error_message},
              {"latency_ms", r.latency_ms},
              {"upstream_ms", r.upstream_ms},
              {"request_bytes", r.request_bytes},
              {"response_bytes", r.response_bytes},
              {"subject", r.subject},
              {"auth_method", r.auth_method},
              {"metadata", r.metadata}};
}

Result<AuditRecord> audit_record_from_json(const Json& j) {
  if (!j.is_object()) return fail("audit record must be a JSON object");
  try {
    AuditRecord r;
    r.ts_ms = j.value("ts_ms", int64_t{0});
    r.request_id = j.value("request_id", std::string());
    r.session_id = j.value("session_id", std::string());
    r.virtual_server = j.value("virtual_server", std::string());
    r.upstream = j.value("upstream", std::string());
    r.tool = j.value("tool", std::string());
    r.original_tool = j.value("original_tool", std::string());
    r.method = j.value("method", std::string());
    r.outcome = j.value("outcome", std::string());
    r.error_code = j.value("error_code", 0);
    r.error_message = j.value("error_message", std::string());
    r.latency_ms = j.value("latency_ms", 0.0);
    r.upstream_ms = j.value("upstream_ms", 0.0);
    r.request_bytes = j.value("request_bytes", size_t{0});
    r.response_bytes = j.value("response_bytes", size_t{0});
    r.subject = j.value("subject", std::string());
    r.auth_method = j.value("auth_method", std::string());
    r.metadata = j.value("metadata", Json::object());
    return r;
  } catch (const Json::exception& e) {
    return fail(std::string("invalid audit record: ") + e.what());
  }
}

// ------------------------------------------------------------------ writer

struct AuditLog::Impl {
  struct Pending {
    std::chrono::steady_clock::time_point at;
    AuditRecord record;
  };

  std::string path;
  Options options;
  sqlite3* db = nullptr;
  Stmt begin, commit, rollback, insert;

  std::mutex mu;
  std::condition_variable writer_cv;  // writer waits for work / batch window
  std::condition_variable space_cv;   // producers wait for room
  std::condition_variable done_cv;    // flush() waits for progress
  std::deque<Pending> queue;          // guarded by mu
  uint64_t enqueued = 0;              // guarded by mu
  uint64_t processed = 0;             // guarded by mu: committed or dropped
  size_t flush_waiters = 0;           // guarded by mu
  bool stopping = false;              // guarded by mu

  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> dropped{0};
  RateLimit full_warning, busy_warning;
  std::thread thread;

  ~Impl() {
    // Statements must be finalized before the connection is closed.
    sqlite3_finalize(insert.s), insert.s = nullptr;
    sqlite3_finalize(begin.s), begin.s = nullptr;
    sqlite3_finalize(commit.s), commit.s = nullptr;
    sqlite3_finalize(rollback.s), rollback.s = nullptr;
    if (db) sqlite3_close(db);
  }

  size_t batch_threshold() const { return std::max<size_t>(1, std::min(options.max_batch, options.queue_capacity)); }

  // Runs one step of a statement that returns no rows.
  static int step_once(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
  }

  // Commits `batch` in one transaction. Transient lock contention is retried
  // indefinitely (callers block meanwhile; that is the backpressure); any other
  // error drops the batch, loudly.
  void write_batch(const std::vector<AuditRecord>& batch) {
    auto backoff = std::chrono::milliseconds(10);
    for (;;) {
      int rc = step_once(begin.s);
      size_t i = 0;
      if (rc == SQLITE_DONE) {
        for (; i < batch.size(); ++i) {
          bind_record(insert.s, batch[i]);
          rc = sqlite3_step(insert.s);
          sqlite3_reset(insert.s);
          if (rc != SQLITE_DONE) break;
        }
        sqlite3_clear_bindings(insert.s);
        if (i == batch.size()) rc = step_once(commit.s);
      }
      if (rc == SQLITE_DONE) {
        written.fetch_add(batch.size(), std::memory_order_relaxed);
        return;
      }
      std::string message = sqlite3_errmsg(db);
      if (!sqlite3_get_autocommit(db)) step_once(rollback.s);
      if (is_transient(rc)) {
        if (busy_warning.allow()) {
          spdlog::warn("audit log {}: database is locked ({}); retrying {} record(s)", path, message, batch.size());
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      dropped.fetch_add(batch.size(), std::memory_order_relaxed);
      spdlog::error("audit log {}: writing {} record(s) failed, records lost: {} (sqlite code {})", path,
                    batch.size(), message, rc);
      return;
    }
  }

  void run() {
    const size_t threshold = batch_threshold();
    std::vector<AuditRecord> batch;
    batch.reserve(std::min<size_t>(options.max_batch, 4096));
    std::unique_lock lk(mu);
    for (;;) {
      writer_cv.wait(lk, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) break;  // stopping and drained
      // Batch window: wait until the oldest record is flush_interval old, the
      // batch is full, or someone wants it now.
      auto deadline = queue.front().at + options.flush_interval;
      writer_cv.wait_until(lk, deadline,
                           [&] { return stopping || flush_waiters > 0 || queue.size() >= threshold; });
      size_t n = std::min(queue.size(), std::max<size_t>(1, options.max_batch));
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front().record));
        queue.pop_front();
      }
      space_cv.notify_all();
      lk.unlock();
      write_batch(batch);
      lk.lock();
      processed += n;
      done_cv.notify_all();
    }
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) { return open(path, Options{}); }

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, Options options) {
  if (options.queue_capacity == 0) return fail("audit log: queue_capacity must be at least 1");
  if (options.max_batch == 0) return fail("audit log: max_batch must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return fail(sqlite_error(impl->db, "opening audit database " + path));
  sqlite3* db = impl->db;
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  sqlite3_extended_result_codes(db, 1);

  auto exec = [&](const char* sql) -> Result<void> {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errmsg(db);
      sqlite3_free(msg);
      return fail("audit database " + path + ": " + m);
    }
    return {};
  };
  auto pragma_text = [&](const char* sql) -> Result<std::string> {
    Stmt s;
    if (auto p = prepare(db, sql, s); !p) return fail(p.error());
    int step = sqlite3_step(s.s);
    if (step == SQLITE_ROW) return column_text(s.s, 0);
    if (step == SQLITE_DONE) return std::string();
    return fail(sqlite_error(db, "audit database " + path));
  };

  auto version = pragma_text("PRAGMA user_version");
  if (!version) return fail(version.error());
  int v = std::atoi(version->c_str());
  if (v > kSchemaVersion) {
    return fail("audit database " + path + " has schema version " + *version +
                ", newer than this Portcullis supports (" + std::to_string(kSchemaVersion) + ")");
  }
  auto mode = pragma_text("PRAGMA journal_mode=WAL");
  if (!mode) return fail(mode.error());
  if (text::to_lower(*mode) != "wal") {
    return fail("audit database " + path + ": could not enable WAL mode (journal_mode is " + *mode + ")");
  }
  if (auto r = exec("PRAGMA synchronous=NORMAL"); !r) return fail(r.error());
  if (v < kSchemaVersion) {
    // A version-1 table gains its new columns; CREATE ... IF NOT EXISTS
    // leaves an existing table as it is.
    std::string ddl = std::string("BEGIN IMMEDIATE;") + (v == 1 ? kMigrateV1Sql : "") + kSchemaSql +
                      "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
    if (auto r = exec(ddl.c_str()); !r) {
      (void)exec("ROLLBACK");
      return fail(r.error());
    }
  }

  if (auto r = prepare(db, "BEGIN IMMEDIATE", impl->begin); !r) return fail(r.error());
  if (auto r = prepare(db, "COMMIT", impl->commit); !r) return fail(r.error());
  if (auto r = prepare(db, "ROLLBACK", impl->rollback); !r) return fail(r.error());
  if (auto r = prepare(db,
                       std::string("INSERT INTO audit (") + kColumns +
                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                       impl->insert);
      !r) {
    return fail(r.error());
  }

  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->writer_cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void AuditLog::record(AuditRecord r) {
  Impl& im = *impl_;
  std::unique_lock lk(im.mu);
  if (im.queue.size() >= im.options.queue_capacity) {
    auto blocked_since = std::chrono::steady_clock::now();
    im.writer_cv.notify_one();  // a full queue is a full batch: don't wait for the window
    while (im.queue.size() >= im.options.queue_capacity) {
      if (im.full_warning.allow()) {
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            blocked_since);
        spdlog::warn("audit log {}: queue full ({} records); blocking request thread ({} ms so far)", im.path,
                     im.queue.size(), waited.count());
      }
      im.space_cv.wait_for(lk, std::chrono::seconds(1));
    }
  }
  im.queue.push_back(Impl::Pending{std::chrono::steady_clock::now(), std::move(r)});
  ++im.enqueued;
  if (im.queue.size() == 1 || im.queue.size() >= im.batch_threshold()) im.writer_cv.notify_one();
}

void AuditLog::flush() {
  Impl& im = *impl_;
  std::unique_lock lk(im.mu);
  const uint64_t target = im.enqueued;
  if (im.processed >= target) return;
  ++im.flush_waiters;
  im.writer_cv.notify_one();
  im.done_cv.wait(lk, [&] { return im.processed >= target; });
  --im.flush_waiters;
}

uint64_t AuditLog::written() const { return impl_->written.load(std::memory_order_relaxed); }
uint64_t AuditLog::dropped() const { return impl_->dropped.load(std::memory_order_relaxed); }
const std::string& AuditLog::path() const { return impl_->path; }

// ------------------------------------------------------------------- query

Result<std::vector<AuditRecord>> query_audit(const std::string& path, const AuditQuery& q) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail("no audit database at " + path);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close);
  if (rc != SQLITE_OK) return fail(sqlite_error(db, "opening audit database " + path));
  sqlite3_busy_timeout(db, 5000);

  std::string sql = std::string("SELECT ") + kColumns + " FROM audit WHERE 1";
  int n = 0;
  int since_i = 0, until_i = 0, tool_i = 0, server_i = 0, session_i = 0, outcome_i = 0, subject_i = 0, limit_i = 0;
  if (q.since_ms) sql += " AND ts_ms >= ?", since_i = ++n;
  if (q.until_ms) sql += " AND ts_ms < ?", until_i = ++n;
  if (q.tool) sql += " AND tool = ?", tool_i = ++n;
  if (q.virtual_server) sql += " AND virtual_server = ?", server_i = ++n;
  if (q.session_id) sql += " AND session_id = ?", session_i = ++n;
  if (q.outcome) sql += " AND outcome = ?", outcome_i = ++n;
  if (q.subject) sql += " AND subject = ?", subject_i = ++n;
  sql += " ORDER BY ts_ms DESC, id DESC";
  if (q.limit) sql += " LIMIT ?", limit_i = ++n;

  Stmt s;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s.s, nullptr) != SQLITE_OK) {
    return fail(sqlite_error(db, "querying audit database " + path));
  }
  if (since_i) sqlite3_bind_int64(s.s, since_i, *q.since_ms);
  if (until_i) sqlite3_bind_int64(s.s, until_i, *q.until_ms);
  if (tool_i) bind_text(s.s, tool_i, *q.tool);
  if (server_i) bind_text(s.s, server_i, *q.virtual_server);
  if (session_i) bind_text(s.s, session_i, *q.session_id);
  if (outcome_i) bind_text(s.s, outcome_i, *q.outcome);
  if (subject_i) bind_text(s.s, subject_i, *q.subject);
  if (limit_i) sqlite3_bind_int64(s.s, limit_i, static_cast<sqlite3_int64>(std::min<size_t>(q.limit, INT64_MAX)));

  std::vector<AuditRecord> out;
  while ((rc = sqlite3_step(s.s)) == SQLITE_ROW) out.push_back(read_record(s.s));
  if (rc != SQLITE_DONE) return fail(sqlite_error(db, "querying audit database " + path));
  return out;
}

std::string format_iso8601_utc(int64_t ts_ms) {
  int64_t secs = ts_ms / 1000;
  int64_t ms = ts_ms % 1000;
  if (ms < 0) ms += 1000, secs -= 1;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// --------------------------------------------------------------------- CLI

namespace {

constexpr const char* kUsage =
    "usage: portcullis audit [--config DIR] [--db PATH] [--since DURATION] [--tool T]\n"
    "                        [--server S] [--session ID] [--outcome O] [--subject SUB]\n"
    "                        [--limit N] [--json]\n"
    "  --since 1h     only calls that started in the last DURATION (ms, s, m, h, d)\n"
    "  --outcome O    ok | tool_error | error | timeout | cancelled\n"
    "  --subject SUB  only requests of this principal (token sub, or API key subject)\n"
    "  --limit N      at most N rows, newest first (default 1000, 0 = all)\n"
    "  --json         one JSON object per line instead of a table\n";

void print_table(const std::vector<AuditRecord>& rows, std::ostream& out) {
  const std::vector<std::string> headers = {"TIME", "WHO", "SERVER", "TOOL", "UPSTREAM", "OUTCOME", "LATENCY"};
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  for (const auto& r : rows) {
    std::string outcome = r.outcome;
    if (r.error_code != 0) outcome += " (" + std::to_string(r.error_code) + ")";
    std::ostringstream lat;
    lat << std::fixed << std::setprecision(1) << r.latency_ms << " ms";
    cells.push_back({format_iso8601_utc(r.ts_ms), r.subject.empty() ? "-" : r.subject, r.virtual_server, r.tool,
                     r.upstream, outcome, lat.str()});
  }
  std::vector<size_t> width(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) {
    width[c] = headers[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t c = 0; c < row.size(); ++c) {
      bool last = c + 1 == row.size();
      if (last) {  // latency: right-aligned
        s += std::string(width[c] - row[c].size(), ' ') + row[c];
      } else {
        s += row[c] + std::string(width[c] - row[c].size() + 2, ' ');
      }
    }
    out << s << '\n';
  };
  line(headers);
  for (const auto& row : cells) line(row);
}

}  // namespace

int run_audit_cli(const std::vector<std::string>& args, const std::string& default_db_path) {
  return run_audit_cli(args, default_db_path, std::cout, std::cerr);
}

int run_audit_cli(const std::vector<std::string>& args_in, const std::string& default_db_path, std::ostream& out,
                  std::ostream& err) {
  std::vector<std::string> args = args_in;
  if (!args.empty() && args.front() == "audit") args.erase(args.begin());

  std::optional<std::string> config_dir, db_path;
  std::optional<std::string> since;
  AuditQuery q;
  bool json = false;

  auto usage_error = [&](const std::string& message) {
    err << "portcullis audit: " << message << "\n" << kUsage;
    return 2;
  };

  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); text::starts_with(flag, "--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "-h" || flag == "--help") {
      out << kUsage;
      return 0;
    }
    if (flag == "--json") {
      if (inline_value) return usage_error("--json takes no value");
      json = true;
      continue;
    }
    std::optional<std::string>* target = nullptr;
    std::optional<std::string> limit_text;
    if (flag == "--config") target = &config_dir;
    else if (flag == "--db") target = &db_path;
    else if (flag == "--since") target = &since;
    else if (flag == "--tool") target = &q.tool;
    else if (flag == "--server") target = &q.virtual_server;
    else if (flag == "--session") target = &q.session_id;
    else if (flag == "--outcome") target = &q.outcome;
    else if (flag == "--subject") target = &q.subject;
    else if (flag == "--limit") target = &limit_text;
    else return usage_error("unknown argument \"" + args[i] + "\"");
    if (inline_value) {
      *target = *inline_value;
    } else {
      if (i + 1 >= args.size()) return usage_error(flag + " needs a value");
      *target = args[++i];
    }
    if (limit_text) {
      unsigned long long n = 0;
      auto [end, ec] = std::from_chars(limit_text->data(), limit_text->data() + limit_text->size(), n);
      if (ec != std::errc() || end != limit_text->data() + limit_text->size()) {
        return usage_error("--limit expects a non-negative integer, got \"" + *limit_text + "\"");
      }
      q.limit = static_cast<size_t>(n);
    }
  }

  if (q.outcome) {
    static const char* const kOutcomes[] = {"ok", "tool_error", "error", "timeout", "cancelled"};
    if (std::find(std::begin(kOutcomes), std::end(kOutcomes), *q.outcome) == std::end(kOutcomes)) {
      return usage_error("--outcome must be one of ok, tool_error, error, timeout, cancelled (got \"" +
                         *q.outcome + "\")");
    }
  }
  if (since) {
    auto d = text::parse_duration(*since);
    if (!d) return usage_error("--since: " + d.error());
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    q.since_ms = now_ms - d->count();
  }

  std::string path;
  if (db_path) {
    path = *db_path;
  } else if (config_dir) {
    auto loaded = config::load(*config_dir);
    if (!loaded.config) {
      for (const auto& d : loaded.errors) err << d.format() << "\n";
      err << "portcullis audit: configuration in " << *config_dir << " is invalid\n";
      return 1;
    }
    path = loaded.config->settings.audit_db;  // load() resolved it against DIR
  } else {
    path = default_db_path;
  }

  auto rows = query_audit(path, q);
  if (!rows) {
    err << "portcullis audit: " << rows.error() << "\n";
    return 1;
  }
  if (json) {
    for (const auto& r : *rows) out << rpc::dump(to_json(r)) << '\n';
  } else if (rows->empty()) {
    err << "no audit records match\n";
  } else {
    print_table(*rows, out);
  }
  out.flush();
  return 0;
}

}  // namespace portcullis::record
