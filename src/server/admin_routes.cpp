#include "server/admin_routes.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <map>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "record/audit_backend.h"
#include "record/audit_cli.h"

namespace portcullis::server {
namespace {

void send(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(rpc::dump(body), "application/json");
}

bool has_any(const std::vector<std::string>& have, const std::vector<std::string>& wanted) {
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& w) { return std::find(have.begin(), have.end(), w) != have.end(); });
}

// True when the caller is an admin; otherwise the 401/403 is in `res`.
bool admit(const httplib::Request& req, httplib::Response& res, pipeline::Gateway& gw, const Identify& identify) {
  const config::AdminSettings& admin = gw.runtime()->config->settings.admin;
  if (req.has_header("X-Admin-Key")) {
    std::string digest = crypto::sha256_hex(req.get_header_value("X-Admin-Key"));
    for (const auto& h : admin.api_key_sha256) {
      if (h.size() == digest.size() && CRYPTO_memcmp(h.data(), digest.data(), h.size()) == 0) return true;
    }
    send(res, 401, {{"error", "unauthorized"}, {"error_description", "unknown admin key"}});
    return false;
  }
  bool presented = req.has_header("Authorization") || req.has_header("X-API-Key");
  auto who = identify(req, res);
  if (!who) return false;  // 401 (or 403 for scopes) already written
  if (who->method == identity::AuthMethod::None && !presented) {
    res.set_header("WWW-Authenticate", "Bearer");
    send(res, 401, {{"error", "unauthorized"},
                    {"error_description", "admin routes need credentials: X-Admin-Key, or a token or API key of an admin"}});
    return false;
  }
  if (has_any(who->groups, admin.groups) || has_any(who->scopes, admin.scopes)) return true;
  send(res, 403, {{"error", "forbidden"},
                  {"error_description", "'" + who->subject + "' is not an admin (admin.groups / admin.scopes)"}});
  return false;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void audit_query(const httplib::Request& req, httplib::Response& res, pipeline::Gateway& gw) {
  std::map<std::string, std::string> params;
  std::string format = "json";
  for (const auto& [k, v] : req.params) {
    if (k == "format") format = v;
    else params[k] = v;
  }
  if (format != "json" && format != "jsonl") return send(res, 400, {{"error", "format must be json or jsonl"}});
  auto q = record::parse_query_params(params, now_ms());
  if (!q) return send(res, 400, {{"error", q.error()}});
  auto store = record::open_audit_reader(gw.runtime()->config->settings);
  if (!store) return send(res, 503, {{"error", store.error()}});
  auto rows = (*store)->query(*q);
  if (!rows) return send(res, 500, {{"error", rows.error()}});
  if (format == "jsonl") {
    std::string body;
    for (const auto& r : *rows) body += rpc::dump(record::to_json(r)) + "\n";
    res.set_content(body, "application/jsonl");
    return;
  }
  Json list = Json::array();
  for (const auto& r : *rows) list.push_back(record::to_json(r));
  send(res, 200, {{"records", std::move(list)}});
}

void audit_verify(httplib::Response& res, pipeline::Gateway& gw) {
  const auto& settings = gw.runtime()->config->settings;
  auto key = record::signing_key_of(settings.audit);
  if (!key) return send(res, 500, {{"error", key.error()}});
  auto store = record::open_audit_reader(settings);
  if (!store) return send(res, 503, {{"error", store.error()}});
  auto results = (*store)->verify(*key ? &**key : nullptr, std::nullopt);
  if (!results) return send(res, 500, {{"error", results.error()}});
  bool ok = true;
  Json chains = Json::array();
  for (const auto& r : *results) {
    ok = ok && r.ok;
    chains.push_back({{"chain", r.chain_id}, {"ok", r.ok}, {"message", r.message}, {"failed_record", r.failed_row},
                      {"records", r.records}, {"last_seq", r.last_seq}, {"head_hash", r.head_hash},
                      {"dropped_total", r.dropped_total}, {"signed", r.signed_checkpoints}});
  }
  send(res, 200, {{"ok", ok}, {"chains", chains}});
}

}  // namespace

void add_admin_routes(httplib::Server& svr, pipeline::Gateway& gw, Identify identify) {
  svr.Get("/admin/audit", [&gw, identify](const httplib::Request& req, httplib::Response& res) {
    if (admit(req, res, gw, identify)) audit_query(req, res, gw);
  });
  svr.Get("/admin/audit/verify", [&gw, identify](const httplib::Request& req, httplib::Response& res) {
    if (admit(req, res, gw, identify)) audit_verify(res, gw);
  });
}

}  // namespace portcullis::server
