#include "record/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/text.h"
#include "record/audit_columns.h"

namespace portcullis::record {
namespace {

constexpr int kSchemaVersion = 3;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  jsonrpc_id TEXT NOT NULL DEFAULT '',
  session_id TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  auth_method TEXT NOT NULL DEFAULT '',
  groups TEXT NOT NULL DEFAULT '[]',
  metadata TEXT NOT NULL DEFAULT '{}',
  method TEXT NOT NULL DEFAULT '',
  virtual_server TEXT NOT NULL DEFAULT '',
  upstream TEXT NOT NULL DEFAULT '',
  tool TEXT NOT NULL DEFAULT '',
  original_tool TEXT NOT NULL DEFAULT '',
  arguments TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '',
  decision TEXT NOT NULL DEFAULT 'allowed',
  policy_ids TEXT NOT NULL DEFAULT '[]',
  findings TEXT NOT NULL DEFAULT '[]',
  approval TEXT NOT NULL DEFAULT '',
  pin_state TEXT NOT NULL DEFAULT '',
  identity_us INTEGER NOT NULL DEFAULT 0,
  authorize_us INTEGER NOT NULL DEFAULT 0,
  guard_us INTEGER NOT NULL DEFAULT 0,
  upstream_us INTEGER NOT NULL DEFAULT 0,
  total_us INTEGER NOT NULL DEFAULT 0,
  request_bytes INTEGER NOT NULL DEFAULT 0,
  response_bytes INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT '',
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  chain TEXT NOT NULL DEFAULT '',
  seq INTEGER NOT NULL DEFAULT 0,
  prev_hash TEXT NOT NULL DEFAULT '',
  hash TEXT NOT NULL DEFAULT '',
  dropped_before INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts_ms);
CREATE INDEX IF NOT EXISTS audit_tool ON audit(tool, ts_ms);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, ts_ms);
CREATE INDEX IF NOT EXISTS audit_seq ON audit(chain, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoint (
  id INTEGER PRIMARY KEY,
  chain TEXT NOT NULL,
  seq INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  dropped_total INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  mac TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_checkpoint_seq ON audit_checkpoint(chain, seq);
CREATE TABLE IF NOT EXISTS audit_anchor (chain TEXT PRIMARY KEY, checkpoint TEXT NOT NULL);
)sql";

// Version 1 -> 2: who asked.
constexpr const char* kMigrateV1Sql = R"sql(
ALTER TABLE audit ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
)sql";

// Version 2 -> 3: the whole request, phases in microseconds, the chain.
constexpr const char* kMigrateV2Sql = R"sql(
ALTER TABLE audit ADD COLUMN jsonrpc_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE audit ADD COLUMN arguments TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN result TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN decision TEXT NOT NULL DEFAULT 'allowed';
ALTER TABLE audit ADD COLUMN policy_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE audit ADD COLUMN findings TEXT NOT NULL DEFAULT '[]';
ALTER TABLE audit ADD COLUMN approval TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN pin_state TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN identity_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN authorize_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN guard_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN upstream_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN total_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN dropped_before INTEGER NOT NULL DEFAULT 0;
UPDATE audit SET jsonrpc_id = request_id,
                 total_us = CAST(round(latency_ms * 1000) AS INTEGER),
                 upstream_us = CAST(round(upstream_ms * 1000) AS INTEGER);
ALTER TABLE audit DROP COLUMN latency_ms;
ALTER TABLE audit DROP COLUMN upstream_ms;
)sql";

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
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

// The JSON columns of one record, serialized; bound SQLITE_STATIC, so they
// must outlive the statement's step.
struct JsonColumns {
  std::string groups, metadata, policy_ids, findings;
};

// Binds r in kAuditColumns order, straight from the record: text is bound
// SQLITE_STATIC (no copies), so `r` and `json` must outlive the step.
void bind_record(sqlite3_stmt* s, const AuditRecord& r, JsonColumns& json) {
  json.groups = canonical_json(r.groups);
  json.metadata = canonical_json(r.metadata);
  json.policy_ids = canonical_json(r.policy_ids);
  json.findings = canonical_json(r.findings);
  int at = 0;
  auto t = [&](const std::string& v) {
    sqlite3_bind_text(s, ++at, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  };
  auto i = [&](auto v) { sqlite3_bind_int64(s, ++at, static_cast<sqlite3_int64>(v)); };
  i(r.ts_ms), t(r.request_id), t(r.jsonrpc_id), t(r.session_id), t(r.subject), t(r.auth_method);
  t(json.groups), t(json.metadata), t(r.method), t(r.virtual_server), t(r.upstream), t(r.tool),
      t(r.original_tool);
  t(r.arguments), t(r.result), t(r.decision), t(json.policy_ids), t(json.findings), t(r.approval),
      t(r.pin_state);
  i(r.phases.identity_us), i(r.phases.authorize_us), i(r.phases.guard_us), i(r.phases.upstream_us);
  i(r.phases.total_us), i(r.request_bytes), i(r.response_bytes), t(r.outcome), i(r.error_code),
      t(r.error_message);
  t(r.chain_id), i(r.seq), t(r.prev_hash), t(r.hash), i(r.dropped_before);
}

AuditRecord read_record(sqlite3_stmt* s, int first = 0) {
  std::vector<ColumnValue> row(kAuditColumns.size());
  for (size_t i = 0; i < row.size(); ++i) {
    int at = first + static_cast<int>(i);
    if (kAuditColumns[i].integer) row[i] = static_cast<int64_t>(sqlite3_column_int64(s, at));
    else row[i] = column_text(s, at);
  }
  return from_columns(row);
}

Checkpoint read_checkpoint(sqlite3_stmt* s, int first) {
  Checkpoint c;
  c.chain_id = column_text(s, first);
  c.seq = sqlite3_column_int64(s, first + 1);
  c.head_hash = column_text(s, first + 2);
  c.dropped_total = static_cast<uint64_t>(sqlite3_column_int64(s, first + 3));
  c.ts_ms = sqlite3_column_int64(s, first + 4);
  c.key_id = column_text(s, first + 5);
  c.mac = column_text(s, first + 6);
  return c;
}

void bind_checkpoint(sqlite3_stmt* s, const Checkpoint& c) {
  bind_text(s, 1, c.chain_id);
  sqlite3_bind_int64(s, 2, c.seq);
  bind_text(s, 3, c.head_hash);
  sqlite3_bind_int64(s, 4, static_cast<sqlite3_int64>(c.dropped_total));
  sqlite3_bind_int64(s, 5, c.ts_ms);
  bind_text(s, 6, c.key_id);
  bind_text(s, 7, c.mac);
}

bool is_transient(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

int step_once(sqlite3_stmt* s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc;
}

constexpr const char* kCheckpointColumns = "chain, seq, head_hash, dropped_total, ts_ms, key_id, mac";

}  // namespace

struct SqliteStore::Statements {
  Stmt begin, commit, rollback, insert, checkpoint;
};

SqliteStore::~SqliteStore() {
  st_.reset();  // statements before the connection
  if (db_) sqlite3_close(db_);
}

Result<void> SqliteStore::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return fail("audit database " + path_ + ": " + m);
  }
  return {};
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, Options options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = path;
  if (options.read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return fail("no audit database at " + path);
  }
  int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &store->db_, flags, nullptr) != SQLITE_OK) {
    return fail(sqlite_error(store->db_, "opening audit database " + path));
  }
  sqlite3* db = store->db_;
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  sqlite3_extended_result_codes(db, 1);

  auto scalar = [&](const char* sql) -> Result<std::string> {
    Stmt s;
    if (auto p = prepare(db, sql, s); !p) return fail(p.error());
    int step = sqlite3_step(s.s);
    if (step == SQLITE_ROW) return column_text(s.s, 0);
    if (step == SQLITE_DONE) return std::string();
    return fail(sqlite_error(db, "audit database " + path));
  };
  auto version = scalar("PRAGMA user_version");
  if (!version) return fail(version.error());
  int v = std::atoi(version->c_str());
  if (v > kSchemaVersion) {
    return fail("audit database " + path + " has schema version " + *version +
                ", newer than this Portcullis supports (" + std::to_string(kSchemaVersion) + ")");
  }
  if (options.read_only) {
    if (v < kSchemaVersion) {
      return fail("audit database " + path + " has schema version " + *version +
                  "; start the gateway once to migrate it to version " + std::to_string(kSchemaVersion));
    }
    return store;
  }
  auto mode = scalar("PRAGMA journal_mode=WAL");
  if (!mode) return fail(mode.error());
  if (text::to_lower(*mode) != "wal") {
    return fail("audit database " + path + ": could not enable WAL mode (journal_mode is " + *mode + ")");
  }
  if (auto r = store->exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !r) {
    return fail(r.error());
  }
  if (v < kSchemaVersion) {
    std::string ddl = "BEGIN IMMEDIATE;";
    if (v >= 1 && v < 2) ddl += kMigrateV1Sql;
    if (v >= 1 && v < 3) ddl += kMigrateV2Sql;
    ddl += std::string(kSchemaSql) + "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
    if (auto r = store->exec(ddl); !r) {
      (void)store->exec("ROLLBACK");
      return fail(r.error());
    }
  }
  store->st_ = std::make_unique<Statements>();
  auto& st = *store->st_;
  std::string placeholders;
  for (size_t i = 1; i <= kAuditColumns.size(); ++i) placeholders += (i > 1 ? ", ?" : "?") + std::to_string(i);
  for (auto [stmt, sql] : {std::pair{&st.begin, std::string("BEGIN IMMEDIATE")},
                           {&st.commit, "COMMIT"},
                           {&st.rollback, "ROLLBACK"},
                           {&st.insert, "INSERT INTO audit (" + audit_column_list() + ") VALUES (" + placeholders + ")"},
                           {&st.checkpoint, std::string("INSERT INTO audit_checkpoint (") + kCheckpointColumns +
                                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"}}) {
    if (auto r = prepare(db, sql, *stmt); !r) return fail(r.error());
  }
  return store;
}

Result<ChainState> SqliteStore::chain_state(const std::string& chain) {
  ChainState state;
  Stmt s;
  if (auto p = prepare(db_, "SELECT seq, hash FROM audit WHERE chain = ?1 ORDER BY seq DESC LIMIT 1", s); !p) {
    return fail(p.error());
  }
  bind_text(s.s, 1, chain);
  int rc = sqlite3_step(s.s);
  if (rc == SQLITE_ROW) {
    state.seq = sqlite3_column_int64(s.s, 0);
    state.hash = column_text(s.s, 1);
  } else if (rc != SQLITE_DONE) {
    return fail(sqlite_error(db_, "reading the audit chain head"));
  }
  Stmt c;
  if (auto p = prepare(db_, "SELECT seq, head_hash, dropped_total FROM audit_checkpoint WHERE chain = ?1 ORDER BY seq DESC, id DESC LIMIT 1", c);
      !p) {
    return fail(p.error());
  }
  bind_text(c.s, 1, chain);
  if (sqlite3_step(c.s) == SQLITE_ROW) {
    state.dropped_total = static_cast<uint64_t>(sqlite3_column_int64(c.s, 2));
    if (state.seq == 0) {  // everything pruned: continue from the checkpoint
      state.seq = sqlite3_column_int64(c.s, 0);
      state.hash = column_text(c.s, 1);
    }
  }
  return state;
}

AuditStore::Append SqliteStore::append(const std::vector<AuditRecord>& batch, const Checkpoint& cp,
                                       std::string* error) {
  auto& st = *st_;
  int rc = step_once(st.begin.s);
  if (rc == SQLITE_DONE) {
    JsonColumns json;
    for (const auto& r : batch) {
      bind_record(st.insert.s, r, json);
      rc = step_once(st.insert.s);
      sqlite3_clear_bindings(st.insert.s);
      if (rc != SQLITE_DONE) break;
    }
    if (rc == SQLITE_DONE) {
      bind_checkpoint(st.checkpoint.s, cp);
      rc = step_once(st.checkpoint.s);
    }
    if (rc == SQLITE_DONE) rc = step_once(st.commit.s);
    if (rc != SQLITE_DONE) {
      std::string msg = sqlite3_errmsg(db_);
      step_once(st.rollback.s);
      if (error) *error = msg;
    }
  } else if (error) {
    *error = sqlite3_errmsg(db_);
  }
  if (rc == SQLITE_DONE) return Append::Ok;
  return is_transient(rc) ? Append::Busy : Append::Failed;
}

Result<uint64_t> SqliteStore::chain_unchained(AuditChain& chain, int64_t now_ms) {
  std::vector<std::pair<int64_t, AuditRecord>> rows;
  {
    Stmt s;
    if (auto p = prepare(db_, "SELECT id, " + audit_column_list() + " FROM audit WHERE hash = '' ORDER BY id", s); !p) {
      return fail(p.error());
    }
    while (sqlite3_step(s.s) == SQLITE_ROW) rows.emplace_back(sqlite3_column_int64(s.s, 0), read_record(s.s, 1));
  }
  if (rows.empty()) return uint64_t{0};
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return fail(r.error());
  Stmt up;
  std::string sql = "UPDATE audit SET chain = ?1, seq = ?2, prev_hash = ?3, hash = ?4 WHERE id = ?5";
  if (auto p = prepare(db_, sql, up); !p) return (void)exec("ROLLBACK"), fail(p.error());
  for (auto& [id, r] : rows) {
    r.dropped_before = 0;
    chain.link(r);
    bind_text(up.s, 1, r.chain_id);
    sqlite3_bind_int64(up.s, 2, r.seq);
    bind_text(up.s, 3, r.prev_hash);
    bind_text(up.s, 4, r.hash);
    sqlite3_bind_int64(up.s, 5, id);
    if (step_once(up.s) != SQLITE_DONE) {
      std::string m = sqlite_error(db_, "chaining migrated audit records");
      (void)exec("ROLLBACK");
      return fail(m);
    }
  }
  bind_checkpoint(st_->checkpoint.s, chain.checkpoint(now_ms));
  if (step_once(st_->checkpoint.s) != SQLITE_DONE || !exec("COMMIT")) {
    std::string m = sqlite_error(db_, "chaining migrated audit records");
    (void)exec("ROLLBACK");
    return fail(m);
  }
  return static_cast<uint64_t>(rows.size());
}

int64_t SqliteStore::used_bytes() {
  Stmt s;
  if (!prepare(db_,
               "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM "
               "pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())",
               s) ||
      sqlite3_step(s.s) != SQLITE_ROW) {
    return 0;
  }
  return sqlite3_column_int64(s.s, 0) * sqlite3_column_int64(s.s, 1);
}

Result<uint64_t> SqliteStore::prune(const std::string& chain, const Retention& ret, int64_t now_ms) {
  // A size bound can take several cuts: each assumes bytes proportional to
  // rows, which overestimates what fits while fixed pages (the schema, each
  // table's and index's root) are a large share of a small database.
  uint64_t total = 0;
  for (int round = 0; round < 8; ++round) {
    auto n = prune_once(chain, ret, now_ms);
    if (!n) return n;
    total += *n;
    if (*n == 0 || ret.max_bytes == 0 || used_bytes() <= static_cast<int64_t>(ret.max_bytes)) break;
  }
  return total;
}

Result<uint64_t> SqliteStore::prune_once(const std::string& chain, const Retention& ret,
                                         int64_t now_ms) {
  if (!ret.any()) return uint64_t{0};
  auto int_of = [&](const std::string& sql, int64_t dflt, std::optional<int64_t> arg = std::nullopt) -> int64_t {
    Stmt s;
    if (!prepare(db_, sql, s)) return dflt;
    bind_text(s.s, 1, chain);
    if (arg) sqlite3_bind_int64(s.s, 2, *arg);
    if (sqlite3_step(s.s) == SQLITE_ROW && sqlite3_column_type(s.s, 0) != SQLITE_NULL) return sqlite3_column_int64(s.s, 0);
    return dflt;
  };
  int64_t last = int_of("SELECT max(seq) FROM audit WHERE chain = ?1", 0);
  int64_t rows = int_of("SELECT count(*) FROM audit WHERE chain = ?1", 0);
  if (rows == 0) return uint64_t{0};
  int64_t target = 0;
  if (ret.max_age.count() > 0) {
    // Everything before the oldest record young enough to keep.
    int64_t keep_from = int_of("SELECT min(seq) FROM audit WHERE chain = ?1 AND ts_ms >= ?2", last + 1,
                               now_ms - ret.max_age.count());
    target = std::max(target, keep_from - 1);
  }
  if (ret.max_rows > 0 && static_cast<uint64_t>(rows) > ret.max_rows) {
    target = std::max(target, last - static_cast<int64_t>(ret.max_rows));
  }
  if (ret.max_bytes > 0) {
    const int64_t used = used_bytes();
    if (used > static_cast<int64_t>(ret.max_bytes)) {
      // Keep the share of rows that fits, with 10% headroom.
      double keep = static_cast<double>(rows) * static_cast<double>(ret.max_bytes) / static_cast<double>(used) * 0.9;
      target = std::max(target, last - static_cast<int64_t>(keep));
    }
  }
  if (target <= 0) return uint64_t{0};
  std::vector<int64_t> seqs;
  {
    Stmt s;
    if (auto p = prepare(db_, "SELECT seq FROM audit_checkpoint WHERE chain = ?1 AND seq <= ?2 ORDER BY seq", s); !p) {
      return fail(p.error());
    }
    bind_text(s.s, 1, chain);
    sqlite3_bind_int64(s.s, 2, target);
    while (sqlite3_step(s.s) == SQLITE_ROW) seqs.push_back(sqlite3_column_int64(s.s, 0));
  }
  int64_t cut = cut_at_checkpoint(seqs, target);
  if (cut <= 0) return uint64_t{0};
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return fail(r.error());
  auto rollback = [&](const std::string& what) -> Result<uint64_t> {
    std::string m = sqlite_error(db_, what);
    (void)exec("ROLLBACK");
    return fail(m);
  };
  Checkpoint anchor;
  {
    Stmt s;
    if (!prepare(db_, std::string("SELECT ") + kCheckpointColumns +
                          " FROM audit_checkpoint WHERE chain = ?1 AND seq = ?2 ORDER BY id DESC LIMIT 1", s)) {
      return rollback("reading the retention anchor");
    }
    bind_text(s.s, 1, chain);
    sqlite3_bind_int64(s.s, 2, cut);
    if (sqlite3_step(s.s) != SQLITE_ROW) return rollback("reading the retention anchor");
    anchor = read_checkpoint(s.s, 0);
  }
  int64_t deleted = 0;
  {
    Stmt s;
    if (!prepare(db_, "DELETE FROM audit WHERE chain = ?1 AND seq <= ?2", s)) return rollback("pruning");
    bind_text(s.s, 1, chain);
    sqlite3_bind_int64(s.s, 2, cut);
    if (sqlite3_step(s.s) != SQLITE_DONE) return rollback("pruning");
    deleted = sqlite3_changes(db_);
  }
  {
    Stmt s;
    if (!prepare(db_, "DELETE FROM audit_checkpoint WHERE chain = ?1 AND seq < ?2", s)) return rollback("pruning");
    bind_text(s.s, 1, chain);
    sqlite3_bind_int64(s.s, 2, cut);
    if (sqlite3_step(s.s) != SQLITE_DONE) return rollback("pruning");
  }
  {
    Stmt s;
    if (!prepare(db_, "INSERT OR REPLACE INTO audit_anchor (chain, checkpoint) VALUES (?1, ?2)", s)) {
      return rollback("pruning");
    }
    bind_text(s.s, 1, chain);
    bind_text(s.s, 2, canonical_json(to_json(anchor)));
    if (sqlite3_step(s.s) != SQLITE_DONE) return rollback("pruning");
  }
  if (auto r = exec("COMMIT"); !r) return rollback("pruning");
  return static_cast<uint64_t>(deleted);
}

Result<std::vector<AuditRecord>> SqliteStore::query(const AuditQuery& q) {
  Filter f = build_filter(q, Dialect::Sqlite);
  std::string sql = "SELECT " + audit_column_list() + " FROM audit WHERE " + f.where + " ORDER BY ts_ms DESC, id DESC";
  if (q.limit) sql += " LIMIT " + std::to_string(q.limit);
  Stmt s;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s.s, nullptr) != SQLITE_OK) {
    return fail(sqlite_error(db_, "querying audit database " + path_));
  }
  for (size_t i = 0; i < f.params.size(); ++i) {
    int at = static_cast<int>(i) + 1;
    if (auto* n = std::get_if<int64_t>(&f.params[i])) sqlite3_bind_int64(s.s, at, *n);
    else bind_text(s.s, at, std::get<std::string>(f.params[i]));
  }
  std::vector<AuditRecord> out;
  int rc;
  while ((rc = sqlite3_step(s.s)) == SQLITE_ROW) out.push_back(read_record(s.s));
  if (rc != SQLITE_DONE) return fail(sqlite_error(db_, "querying audit database " + path_));
  return out;
}

Result<std::vector<VerifyResult>> SqliteStore::verify(const SigningKey* key, const std::optional<std::string>& only) {
  // Read everything in one snapshot, so that a running writer does not make
  // the checkpoints and the records disagree.
  if (auto r = exec("BEGIN"); !r) return fail(r.error());
  struct End {
    SqliteStore* s;
    ~End() { (void)s->exec("COMMIT"); }
  } end{this};
  std::set<std::string> chains;
  for (const char* sql : {"SELECT DISTINCT chain FROM audit", "SELECT DISTINCT chain FROM audit_checkpoint",
                          "SELECT chain FROM audit_anchor"}) {
    Stmt s;
    if (auto p = prepare(db_, sql, s); !p) return fail(p.error());
    while (sqlite3_step(s.s) == SQLITE_ROW) chains.insert(column_text(s.s, 0));
  }
  std::vector<VerifyResult> out;
  for (const auto& chain : chains) {
    if (only && chain != *only) continue;
    ChainVerifier v(chain, key);
    std::optional<Checkpoint> anchor;
    {
      Stmt s;
      if (auto p = prepare(db_, "SELECT checkpoint FROM audit_anchor WHERE chain = ?1", s); !p) return fail(p.error());
      bind_text(s.s, 1, chain);
      if (sqlite3_step(s.s) == SQLITE_ROW) {
        auto c = checkpoint_from_json(Json::parse(column_text(s.s, 0), nullptr, false));
        if (!c) return fail("audit_anchor of chain '" + chain + "': " + c.error());
        anchor = *c;
      }
    }
    bool ok = v.set_anchor(anchor);
    if (ok) {
      Stmt s;
      if (auto p = prepare(db_, std::string("SELECT id, ") + kCheckpointColumns +
                                    " FROM audit_checkpoint WHERE chain = ?1 ORDER BY seq, id", s);
          !p) {
        return fail(p.error());
      }
      bind_text(s.s, 1, chain);
      while (ok && sqlite3_step(s.s) == SQLITE_ROW) ok = v.add_checkpoint(sqlite3_column_int64(s.s, 0), read_checkpoint(s.s, 1));
    }
    if (ok) {
      Stmt s;
      if (auto p = prepare(db_, "SELECT id, " + audit_column_list() + " FROM audit WHERE chain = ?1 ORDER BY seq, id", s);
          !p) {
        return fail(p.error());
      }
      bind_text(s.s, 1, chain);
      while (ok && sqlite3_step(s.s) == SQLITE_ROW) ok = v.add(sqlite3_column_int64(s.s, 0), read_record(s.s, 1));
    }
    out.push_back(v.finish());
  }
  return out;
}

}  // namespace portcullis::record
