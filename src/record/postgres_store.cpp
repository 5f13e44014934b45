#include "record/postgres_store.h"

#include <libpq-fe.h>

#include <set>

#include "record/audit_columns.h"

namespace portcullis::record {
namespace {

constexpr const char* kSchemaSql = R"sql(
SELECT pg_advisory_xact_lock(7461747431);
CREATE TABLE IF NOT EXISTS audit (
  id BIGSERIAL PRIMARY KEY,
  ts_ms BIGINT NOT NULL,
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
  identity_us BIGINT NOT NULL DEFAULT 0,
  authorize_us BIGINT NOT NULL DEFAULT 0,
  guard_us BIGINT NOT NULL DEFAULT 0,
  upstream_us BIGINT NOT NULL DEFAULT 0,
  total_us BIGINT NOT NULL DEFAULT 0,
  request_bytes BIGINT NOT NULL DEFAULT 0,
  response_bytes BIGINT NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT '',
  error_code BIGINT NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  chain TEXT NOT NULL DEFAULT '',
  seq BIGINT NOT NULL DEFAULT 0,
  prev_hash TEXT NOT NULL DEFAULT '',
  hash TEXT NOT NULL DEFAULT '',
  dropped_before BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts_ms);
CREATE INDEX IF NOT EXISTS audit_seq ON audit(chain, seq);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, ts_ms);
CREATE TABLE IF NOT EXISTS audit_checkpoint (
  id BIGSERIAL PRIMARY KEY,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  dropped_total BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  mac TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_checkpoint_seq ON audit_checkpoint(chain, seq);
CREATE TABLE IF NOT EXISTS audit_anchor (chain TEXT PRIMARY KEY, checkpoint TEXT NOT NULL);
)sql";

constexpr const char* kCheckpointColumns = "chain, seq, head_hash, dropped_total, ts_ms, key_id, mac";

struct Res {
  PGresult* r;
  explicit Res(PGresult* p) : r(p) {}
  ~Res() { PQclear(r); }
  Res(const Res&) = delete;
  Res& operator=(const Res&) = delete;
  bool ok() const {
    auto s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  std::string text(int row, int col) const { return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col)); }
  int64_t num(int row, int col) const { return PQgetisnull(r, row, col) ? 0 : std::stoll(PQgetvalue(r, row, col)); }
  int rows() const { return PQntuples(r); }
};

std::string error_of(PGconn* c) { return PQerrorMessage(c); }

// Runs `sql` with text parameters.
Res run(PGconn* c, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  return Res(PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr, 0));
}

std::string as_text(const ColumnValue& v) {
  if (auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  return std::get<std::string>(v);
}

AuditRecord read_record(const Res& r, int row, int first) {
  std::vector<ColumnValue> cols(kAuditColumns.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    int at = first + static_cast<int>(i);
    if (kAuditColumns[i].integer) cols[i] = r.num(row, at);
    else cols[i] = r.text(row, at);
  }
  return from_columns(cols);
}

Checkpoint read_checkpoint(const Res& r, int row, int first) {
  Checkpoint c;
  c.chain_id = r.text(row, first);
  c.seq = r.num(row, first + 1);
  c.head_hash = r.text(row, first + 2);
  c.dropped_total = static_cast<uint64_t>(r.num(row, first + 3));
  c.ts_ms = r.num(row, first + 4);
  c.key_id = r.text(row, first + 5);
  c.mac = r.text(row, first + 6);
  return c;
}

}  // namespace

PostgresStore::~PostgresStore() {
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& dsn, bool read_only) {
  std::unique_ptr<PostgresStore> s(new PostgresStore());
  s->conn_ = PQconnectdb(dsn.c_str());
  if (!s->conn_ || PQstatus(s->conn_) != CONNECTION_OK) {
    return fail("cannot connect to the audit database (PostgreSQL): " + (s->conn_ ? error_of(s->conn_) : "out of memory"));
  }
  Res quiet(PQexec(s->conn_, "SET client_min_messages = warning"));
  if (!read_only) {
    Res r(PQexec(s->conn_, (std::string("BEGIN;") + kSchemaSql + "COMMIT;").c_str()));
    if (!r.ok()) {
      std::string m = error_of(s->conn_);
      Res rb(PQexec(s->conn_, "ROLLBACK"));
      return fail("creating the audit tables in PostgreSQL: " + m);
    }
  }
  return s;
}

Result<ChainState> PostgresStore::chain_state(const std::string& chain) {
  ChainState state;
  Res r = run(conn_, "SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1", {chain});
  if (!r.ok()) return fail("reading the audit chain head: " + error_of(conn_));
  if (r.rows()) state.seq = r.num(0, 0), state.hash = r.text(0, 1);
  Res c = run(conn_, "SELECT seq, head_hash, dropped_total FROM audit_checkpoint WHERE chain = $1 ORDER BY seq DESC, id DESC LIMIT 1",
              {chain});
  if (!c.ok()) return fail("reading the audit chain head: " + error_of(conn_));
  if (c.rows()) {
    state.dropped_total = static_cast<uint64_t>(c.num(0, 2));
    if (state.seq == 0) state.seq = c.num(0, 0), state.hash = c.text(0, 1);
  }
  return state;
}

AuditStore::Append PostgresStore::append(const std::vector<AuditRecord>& batch, const Checkpoint& cp,
                                         std::string* error) {
  auto failed = [&]() {
    if (error) *error = error_of(conn_);
    Res rb(PQexec(conn_, "ROLLBACK"));
    if (PQstatus(conn_) != CONNECTION_OK) {
      PQreset(conn_);
      return Append::Busy;  // the database went away: retry once it is back
    }
    return Append::Failed;
  };
  if (PQstatus(conn_) != CONNECTION_OK) {
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      if (error) *error = error_of(conn_);
      return Append::Busy;
    }
  }
  Res begin(PQexec(conn_, "BEGIN"));
  if (!begin.ok()) return failed();
  const size_t ncol = kAuditColumns.size();
  const size_t per_stmt = 60000 / ncol;  // under the 65535 parameter limit
  for (size_t at = 0; at < batch.size(); at += per_stmt) {
    size_t end = std::min(batch.size(), at + per_stmt);
    std::string sql = "INSERT INTO audit (" + audit_column_list() + ") VALUES ";
    std::vector<std::string> params;
    params.reserve((end - at) * ncol);
    for (size_t i = at; i < end; ++i) {
      sql += i == at ? "(" : ",(";
      auto cols = to_columns(batch[i]);
      for (size_t c = 0; c < ncol; ++c) {
        params.push_back(as_text(cols[c]));
        sql += (c ? ",$" : "$") + std::to_string(params.size());
      }
      sql += ")";
    }
    Res r = run(conn_, sql, params);
    if (!r.ok()) return failed();
  }
  Res c = run(conn_, std::string("INSERT INTO audit_checkpoint (") + kCheckpointColumns + ") VALUES ($1,$2,$3,$4,$5,$6,$7)",
              {cp.chain_id, std::to_string(cp.seq), cp.head_hash, std::to_string(cp.dropped_total),
               std::to_string(cp.ts_ms), cp.key_id, cp.mac});
  if (!c.ok()) return failed();
  Res commit(PQexec(conn_, "COMMIT"));
  if (!commit.ok()) return failed();
  return Append::Ok;
}

Result<uint64_t> PostgresStore::prune(const std::string& chain, const Retention& ret, int64_t now_ms) {
  if (!ret.any()) return uint64_t{0};
  Res stats = run(conn_, "SELECT coalesce(max(seq), 0), count(*) FROM audit WHERE chain = $1", {chain});
  if (!stats.ok()) return fail("retention: " + error_of(conn_));
  int64_t last = stats.num(0, 0), rows = stats.num(0, 1);
  if (rows == 0) return uint64_t{0};
  int64_t target = 0;
  if (ret.max_age.count() > 0) {
    Res r = run(conn_, "SELECT min(seq) FROM audit WHERE chain = $1 AND ts_ms >= $2",
                {chain, std::to_string(now_ms - ret.max_age.count())});
    if (!r.ok()) return fail("retention: " + error_of(conn_));
    int64_t keep_from = PQgetisnull(r.r, 0, 0) ? last + 1 : r.num(0, 0);
    target = std::max(target, keep_from - 1);
  }
  if (ret.max_rows > 0 && static_cast<uint64_t>(rows) > ret.max_rows) {
    target = std::max(target, last - static_cast<int64_t>(ret.max_rows));
  }
  if (ret.max_bytes > 0) {
    // This chain's share of the table's size.
    Res r = run(conn_, "SELECT pg_total_relation_size('audit'), (SELECT count(*) FROM audit)");
    if (r.ok() && r.num(0, 1) > 0) {
      double per_row = static_cast<double>(r.num(0, 0)) / static_cast<double>(r.num(0, 1));
      double used = per_row * static_cast<double>(rows);
      if (used > static_cast<double>(ret.max_bytes)) {
        target = std::max(target, last - static_cast<int64_t>(static_cast<double>(ret.max_bytes) / per_row * 0.9));
      }
    }
  }
  if (target <= 0) return uint64_t{0};
  Res seqs = run(conn_, "SELECT seq FROM audit_checkpoint WHERE chain = $1 AND seq <= $2", {chain, std::to_string(target)});
  if (!seqs.ok()) return fail("retention: " + error_of(conn_));
  std::vector<int64_t> v;
  for (int i = 0; i < seqs.rows(); ++i) v.push_back(seqs.num(i, 0));
  int64_t cut = cut_at_checkpoint(v, target);
  if (cut <= 0) return uint64_t{0};
  const std::string cut_s = std::to_string(cut);
  Res begin(PQexec(conn_, "BEGIN"));
  auto rollback = [&] {
    std::string m = error_of(conn_);
    Res rb(PQexec(conn_, "ROLLBACK"));
    return fail("retention: " + m);
  };
  Res a = run(conn_, std::string("SELECT ") + kCheckpointColumns +
                         " FROM audit_checkpoint WHERE chain = $1 AND seq = $2 ORDER BY id DESC LIMIT 1",
              {chain, cut_s});
  if (!a.ok() || a.rows() == 0) return rollback();
  std::string anchor = canonical_json(to_json(read_checkpoint(a, 0, 0)));
  Res del = run(conn_, "DELETE FROM audit WHERE chain = $1 AND seq <= $2", {chain, cut_s});
  if (!del.ok()) return rollback();
  uint64_t deleted = std::stoull(PQcmdTuples(del.r));
  Res delc = run(conn_, "DELETE FROM audit_checkpoint WHERE chain = $1 AND seq < $2", {chain, cut_s});
  if (!delc.ok()) return rollback();
  Res up = run(conn_,
               "INSERT INTO audit_anchor (chain, checkpoint) VALUES ($1, $2) ON CONFLICT (chain) DO UPDATE SET "
               "checkpoint = EXCLUDED.checkpoint",
               {chain, anchor});
  if (!up.ok()) return rollback();
  Res commit(PQexec(conn_, "COMMIT"));
  if (!commit.ok()) return rollback();
  return deleted;
}

Result<std::vector<AuditRecord>> PostgresStore::query(const AuditQuery& q) {
  Filter f = build_filter(q, Dialect::Postgres);
  std::string sql = "SELECT " + audit_column_list() + " FROM audit WHERE " + f.where + " ORDER BY ts_ms DESC, id DESC";
  if (q.limit) sql += " LIMIT " + std::to_string(q.limit);
  std::vector<std::string> params;
  for (const auto& p : f.params) params.push_back(as_text(p));
  Res r = run(conn_, sql, params);
  if (!r.ok()) return fail("querying the audit database (PostgreSQL): " + error_of(conn_));
  std::vector<AuditRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_record(r, i, 0));
  return out;
}

Result<std::vector<VerifyResult>> PostgresStore::verify(const SigningKey* key, const std::optional<std::string>& only) {
  // One snapshot for checkpoints and records alike.
  Res begin(PQexec(conn_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  struct End {
    PGconn* c;
    ~End() { Res e(PQexec(c, "COMMIT")); }
  } end{conn_};
  Res chains = run(conn_,
                   "SELECT chain FROM audit UNION SELECT chain FROM audit_checkpoint UNION SELECT chain FROM audit_anchor "
                   "ORDER BY 1");
  if (!chains.ok()) return fail("verifying the audit database (PostgreSQL): " + error_of(conn_));
  std::vector<VerifyResult> out;
  for (int c = 0; c < chains.rows(); ++c) {
    std::string chain = chains.text(c, 0);
    if (only && chain != *only) continue;
    ChainVerifier v(chain, key);
    Res a = run(conn_, "SELECT checkpoint FROM audit_anchor WHERE chain = $1", {chain});
    if (!a.ok()) return fail(error_of(conn_));
    std::optional<Checkpoint> anchor;
    if (a.rows()) {
      auto cp = checkpoint_from_json(Json::parse(a.text(0, 0), nullptr, false));
      if (!cp) return fail("audit_anchor of chain '" + chain + "': " + cp.error());
      anchor = *cp;
    }
    bool ok = v.set_anchor(anchor);
    if (ok) {
      Res cps = run(conn_, std::string("SELECT id, ") + kCheckpointColumns +
                               " FROM audit_checkpoint WHERE chain = $1 ORDER BY seq, id",
                    {chain});
      if (!cps.ok()) return fail(error_of(conn_));
      for (int i = 0; ok && i < cps.rows(); ++i) ok = v.add_checkpoint(cps.num(i, 0), read_checkpoint(cps, i, 1));
    }
    if (ok) {
      Res recs = run(conn_, "SELECT id, " + audit_column_list() + " FROM audit WHERE chain = $1 ORDER BY seq, id", {chain});
      if (!recs.ok()) return fail(error_of(conn_));
      for (int i = 0; ok && i < recs.rows(); ++i) ok = v.add(recs.num(i, 0), read_record(recs, i, 1));
    }
    out.push_back(v.finish());
  }
  return out;
}

}  // namespace portcullis::record
