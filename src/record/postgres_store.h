// PostgresStore: the audit store for deployments with several gateway
// instances. All instances share one database; each writes its own chain
// (chain id = audit.instance_id, default the host name), so no instance ever
// waits for another's chain head. Same tables and columns as SQLite
// (sqlite_store.h), with BIGSERIAL ids and the JSON columns as text (so the
// canonical form is read back byte for byte; queries cast them to jsonb).
//
// Schema creation is serialized across instances with an advisory lock.
// A lost connection makes append() report Busy after trying to reconnect,
// so the writer retries (and the queue policy applies) until the database
// is back.
//
// Thread rules: see audit_store.h.
#pragma once
#include <memory>
#include <string>

#include "record/audit_store.h"

struct pg_conn;

namespace portcullis::record {

class PostgresStore : public AuditStore {
 public:
  // `dsn`: a libpq connection string or URI.
  static Result<std::unique_ptr<PostgresStore>> open(const std::string& dsn, bool read_only);
  ~PostgresStore() override;

  Result<ChainState> chain_state(const std::string& chain) override;
  Append append(const std::vector<AuditRecord>& batch, const Checkpoint& cp, std::string* error) override;
  Result<uint64_t> prune(const std::string& chain, const Retention& r, int64_t now_ms) override;
  Result<std::vector<AuditRecord>> query(const AuditQuery& q) override;
  Result<std::vector<VerifyResult>> verify(const SigningKey* key, const std::optional<std::string>& chain) override;

 private:
  PostgresStore() = default;
  pg_conn* conn_ = nullptr;
};

}  // namespace portcullis::record
