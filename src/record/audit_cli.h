// `portcullis audit`: query, export, verify and keygen over the configured
// audit store (SQLite or PostgreSQL), plus the query-string parsing that
// GET /admin/audit shares with it.
//
//   portcullis audit [query] [FILTERS] [--limit N] [--json]
//   portcullis audit export --format jsonl|csv [FILTERS] [--out FILE]
//   portcullis audit verify [--key-file FILE] [--chain ID] [--json]
//   portcullis audit keygen FILE
// `--db PATH` reads that SQLite file instead of the configured sink. The
// options of the old `portcullis audit` (--since --tool --server --session
// --outcome --subject --limit --json) keep working: query is the default.
// Exit codes: 0 success, 1 runtime failure (no database, broken chain,
// bad config), 2 usage error.
//
// Thread rules: none shared; run from the main thread.
#pragma once
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "record/audit_store.h"

namespace portcullis::record {

int run_audit_cli(const std::string& config_dir, const std::vector<std::string>& args);
int run_audit_cli(const std::string& config_dir, const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

// "1h" (back from `now`), "2025-01-02T03:04:05Z", or epoch milliseconds.
Result<int64_t> parse_time_bound(const std::string& s, int64_t now);
// Filters by name (since, until, user|subject, team, project, ticket, session,
// server, tool, method, outcome, decision, guardrail, chain, limit).
Result<AuditQuery> parse_query_params(const std::map<std::string, std::string>& params, int64_t now);
std::string format_table(const std::vector<AuditRecord>& rows);

}  // namespace portcullis::record
