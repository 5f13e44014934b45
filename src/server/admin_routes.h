// Admin routes: the audit log over HTTP, behind admin authentication.
//
//   GET /admin/audit?since=1h&user=alice&tool=echo&...   the records that
//       `portcullis audit query` would list, newest first:
//       {"records": [...]} (same objects as `audit query --json`), or JSON
//       lines with format=jsonl. Filters: since, until, user (subject),
//       team, project, ticket, session, server, tool, method, outcome,
//       decision, guardrail, chain, limit (default 1000).
//   GET /admin/audit/verify   {"ok": bool, "chains": [...]} as `audit verify --json`;
//       status 200 either way (the body says whether the chain holds).
//
// Who is an admin (portcullis.yaml `admin:`): a request carrying
// X-Admin-Key whose SHA-256 is listed in admin.api_keys, or a principal
// authenticated by the normal identity stage (bearer token / X-API-Key)
// holding one of admin.groups or admin.scopes. No credentials, or an unknown
// admin key: 401. Authenticated but not an admin: 403. Bad filter: 400.
//
// Thread rules: handlers run on the HTTP pool; each opens its own read-only
// store connection.
#pragma once
#include <functional>
#include <memory>

#include "identity/principal.h"
#include "pipeline/gateway.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace portcullis::server {

// The identity stage of the HTTP front: the caller's principal, or null with
// the refusal already written to the response.
using Identify = std::function<std::shared_ptr<const identity::Principal>(const httplib::Request&, httplib::Response&)>;

void add_admin_routes(httplib::Server& svr, pipeline::Gateway& gw, Identify identify);

}  // namespace portcullis::server
