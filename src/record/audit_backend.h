// The audit settings of portcullis.yaml turned into a running AuditLog (for
// the gateway) or a read-only AuditStore (for the CLI and /admin/audit):
// which sink, which chain, which key, which capture and queue policies.
// Thread-safe (no shared state).
#pragma once
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "record/audit.h"
#include "record/audit_store.h"

namespace portcullis::record {

// This instance's chain id: audit.instance_id, else the host name.
std::string instance_id(const config::AuditSettings& a);
Result<AuditLog::Options> audit_options(const config::Settings& s);
Result<std::unique_ptr<AuditLog>> open_audit_log(const config::Settings& s);
// `db_override`: a SQLite path that replaces the configured sink.
Result<std::unique_ptr<AuditStore>> open_audit_reader(const config::Settings& s, const std::string& db_override = {});
Result<std::optional<SigningKey>> signing_key_of(const config::AuditSettings& a);

}  // namespace portcullis::record
