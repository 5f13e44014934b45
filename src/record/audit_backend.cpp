#include "record/audit_backend.h"

#include <unistd.h>

#include "record/postgres_store.h"
#include "record/sqlite_store.h"

namespace portcullis::record {

std::string instance_id(const config::AuditSettings& a) {
  if (!a.instance_id.empty()) return a.instance_id;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) return host;
  return "local";
}

Result<std::optional<SigningKey>> signing_key_of(const config::AuditSettings& a) {
  return SigningKey::load(a.signing_key_file, a.signing_key_env);
}

Result<AuditLog::Options> audit_options(const config::Settings& s) {
  const auto& a = s.audit;
  AuditLog::Options o;
  auto capture = parse_capture_mode(a.capture);
  if (!capture) return fail(capture.error());
  o.capture = *capture;
  o.queue_full = a.queue_full == "drop" ? AuditLog::QueueFull::Drop : AuditLog::QueueFull::Block;
  o.queue_capacity = a.queue_capacity;
  o.synchronous_full = a.synchronous_full;
  // One SQLite file holds one chain; PostgreSQL holds one per instance.
  o.chain_id = a.sink == "postgres" ? instance_id(a) : (a.instance_id.empty() ? "local" : a.instance_id);
  auto key = signing_key_of(a);
  if (!key) return fail(key.error());
  o.key = std::move(*key);
  o.retention.max_age = a.max_age;
  o.retention.max_rows = a.max_rows;
  o.retention.max_bytes = a.max_bytes;
  return o;
}

Result<std::unique_ptr<AuditLog>> open_audit_log(const config::Settings& s) {
  auto o = audit_options(s);
  if (!o) return fail(o.error());
  if (s.audit.sink == "postgres") {
    auto store = PostgresStore::open(s.audit.postgres_dsn, /*read_only=*/false);
    if (!store) return fail(store.error());
    return AuditLog::open(std::move(store.value()), "postgres", std::move(*o));
  }
  return AuditLog::open(s.audit_db, std::move(*o));
}

Result<std::unique_ptr<AuditStore>> open_audit_reader(const config::Settings& s, const std::string& db_override) {
  if (db_override.empty() && s.audit.sink == "postgres") {
    auto store = PostgresStore::open(s.audit.postgres_dsn, /*read_only=*/true);
    if (!store) return fail(store.error());
    return std::unique_ptr<AuditStore>(std::move(store.value()));
  }
  SqliteStore::Options so;
  so.read_only = true;
  auto store = SqliteStore::open(db_override.empty() ? s.audit_db : db_override, so);
  if (!store) return fail(store.error());
  return std::unique_ptr<AuditStore>(std::move(store.value()));
}

}  // namespace portcullis::record
