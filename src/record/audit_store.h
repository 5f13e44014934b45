// AuditStore: where audit records and their checkpoints are kept. One
// implementation per backend: SQLite (sqlite_store.h, the embedded default)
// and PostgreSQL (postgres_store.h, one chain per gateway instance).
//
// A store opened for writing belongs to AuditLog's writer thread, which is
// the only caller of chain_state/append/prune. A store opened read-only (CLI,
// admin route) serves query/verify from any one thread at a time.
// REQUIRES: external synchronization; a store object is never shared by
// threads concurrently.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "record/audit_chain.h"
#include "record/audit_record.h"

namespace portcullis::record {

// Filters of `portcullis audit query` and GET /admin/audit. Unset = any.
struct AuditQuery {
  std::optional<int64_t> since_ms;  // inclusive
  std::optional<int64_t> until_ms;  // exclusive
  std::optional<std::string> subject;                 // --user
  std::optional<std::string> team, project, ticket;   // metadata team / project_id / ticket_id
  std::optional<std::string> session_id, virtual_server, tool, method, outcome;
  std::optional<std::string> decision;   // allowed | denied
  std::optional<std::string> guardrail;  // a finding's rule
  std::optional<std::string> chain;
  size_t limit = 1000;  // 0 = no limit
};

// Retention (audit.retention). 0 = no bound. max_bytes bounds the live
// data (SQLite: pages in use, free pages not counted, since the file keeps
// its high-water size and reuses them; PostgreSQL: this chain's share of
// the audit table's total size).
struct Retention {
  std::chrono::milliseconds max_age{0};
  uint64_t max_rows = 0;
  uint64_t max_bytes = 0;
  bool any() const { return max_age.count() > 0 || max_rows > 0 || max_bytes > 0; }
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Writer side.
  // Where `chain` stands: its last record and dropped count.
  virtual Result<ChainState> chain_state(const std::string& chain) = 0;
  enum class Append { Ok, Busy, Failed };
  // Commits `batch` (chain fields filled) and `cp` in one transaction.
  // Busy: transient lock contention, nothing written, try again.
  virtual Append append(const std::vector<AuditRecord>& batch, const Checkpoint& cp, std::string* error) = 0;
  // Deletes the oldest records of `chain` that `r` no longer keeps, cutting
  // at a checkpoint, which stays as the chain's anchor. Returns the number
  // of records deleted.
  virtual Result<uint64_t> prune(const std::string& chain, const Retention& r, int64_t now_ms) = 0;

  // Reader side.
  // Newest first (ts_ms descending, then insertion order descending).
  virtual Result<std::vector<AuditRecord>> query(const AuditQuery& q) = 0;
  // Every chain in the store (or only `chain`), each verified from its
  // anchor; an empty store yields no results.
  virtual Result<std::vector<VerifyResult>> verify(const SigningKey* key, const std::optional<std::string>& chain) = 0;
};

// Cuts the chain for retention: the newest checkpoint seq <= `target` (0
// when there is none).
int64_t cut_at_checkpoint(const std::vector<int64_t>& checkpoint_seqs, int64_t target);

}  // namespace portcullis::record
