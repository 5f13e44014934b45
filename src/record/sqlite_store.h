// SqliteStore: the embedded audit store, one SQLite file in WAL mode holding
// one chain.
//
// Schema version 3 (PRAGMA user_version = 3):
//   audit(id INTEGER PRIMARY KEY, ts_ms, request_id, jsonrpc_id, session_id,
//         subject, auth_method, groups JSON, metadata JSON, method,
//         virtual_server, upstream, tool, original_tool, arguments, result,
//         decision, policy_ids JSON, findings JSON, approval, pin_state,
//         identity_us, authorize_us, guard_us, upstream_us, total_us,
//         request_bytes, response_bytes, outcome, error_code, error_message,
//         chain, seq, prev_hash, hash, dropped_before)
//   audit_checkpoint(id INTEGER PRIMARY KEY, chain, seq, head_hash,
//         dropped_total, ts_ms, key_id, mac)
//   audit_anchor(chain PRIMARY KEY, checkpoint JSON): where a pruned chain
//         now starts.
// Versions 1 and 2 are migrated in place on open for writing: new columns
// are added (v2 latency_ms/upstream_ms become total_us/upstream_us), and
// the existing rows, which had no chain, are chained in id order by
// AuditLog (chain_unchained) and covered by a checkpoint.
//
// Durability: every append is one transaction (records + checkpoint), so a
// crash leaves either the whole batch or none of it. synchronous=NORMAL
// (default) keeps committed transactions across a process crash (kill -9);
// synchronous=FULL also across an OS crash or power loss.
//
// Thread rules: see audit_store.h.
#pragma once
#include <memory>
#include <string>

#include "record/audit_store.h"

struct sqlite3;

namespace portcullis::record {

class SqliteStore : public AuditStore {
 public:
  struct Options {
    bool read_only = false;
    bool synchronous_full = false;
    std::chrono::milliseconds busy_timeout{5000};
  };
  // Opens (for writing: creating and migrating) the database at `path`.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, Options options);
  ~SqliteStore() override;

  Result<ChainState> chain_state(const std::string& chain) override;
  Append append(const std::vector<AuditRecord>& batch, const Checkpoint& cp, std::string* error) override;
  Result<uint64_t> prune(const std::string& chain, const Retention& r, int64_t now_ms) override;
  Result<std::vector<AuditRecord>> query(const AuditQuery& q) override;
  Result<std::vector<VerifyResult>> verify(const SigningKey* key, const std::optional<std::string>& chain) override;

  // Rows migrated from schema 1/2 have no chain yet: links them (in id
  // order) into `chain` and commits them with a checkpoint. Returns how many.
  Result<uint64_t> chain_unchained(AuditChain& chain, int64_t now_ms);

  sqlite3* handle() { return db_; }

 private:
  struct Statements;
  SqliteStore() = default;
  Result<void> exec(const std::string& sql);
  Result<uint64_t> prune_once(const std::string& chain, const Retention& r, int64_t now_ms);
  int64_t used_bytes();  // live pages (size minus free pages) x page size, WAL included
  std::string path_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> st_;
};

}  // namespace portcullis::record
