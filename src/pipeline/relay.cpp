// The relay: every downstream message kind, and every upstream message that
// must reach a downstream session.
#include <spdlog/spdlog.h>

#include <set>
#include <thread>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "core/text.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {

constexpr const char* kGatewayVersion = "0.1.0";

std::string id_key(const Json& id) { return id.dump(); }

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// Whether a log message at `level` reaches a client that asked for
// `threshold` and above (nothing when it asked for nothing).
bool log_level_passes(const std::string& level, const std::string& threshold) {
  static const char* order[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};
  auto rank = [](const std::string& l) {
    for (int i = 0; i < 8; ++i) {
      if (l == order[i]) return i;
    }
    return -1;
  };
  return !threshold.empty() && rank(level) >= rank(threshold);
}

}  // namespace

const char* client_capability_for(const std::string& method) {
  if (method == "sampling/createMessage") return "sampling";
  if (method == "elicitation/create") return "elicitation";
  if (method == "roots/list") return "roots";
  return nullptr;
}

Json virtual_server_info(const std::string& virtual_server) {
  return {{"name", "portcullis/" + virtual_server},
          {"title", "Portcullis: " + virtual_server},
          {"version", kGatewayVersion}};
}

std::string Gateway::call_key(const void* link, const Json& id) {
  char buf[32];
  snprintf(buf, sizeof buf, "c%p:", link);
  return buf + id.dump();
}

// ---------------------------------------------------------------- requests

size_t Gateway::finish(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                       Json response) {
  if (inflight->finished.exchange(true)) return 0;
  response["id"] = inflight->downstream_id;
  if (session->stateless) decorate(*session, *inflight, response);
  {
    std::lock_guard lock(session->mu);
    session->inflight.erase(id_key(inflight->downstream_id));
  }
  std::string text = rpc::dump(response);
  size_t size = text.size();
  inflight->total_us = static_cast<int64_t>(ms_since(inflight->started) * 1000);
  if (!(inflight->stream && inflight->stream->push(std::move(text), /*final=*/true))) {
    session->outbox.push(rpc::dump(response));
  }
  record_request(*session, *inflight, std::move(response), size);
  return size;
}

void Gateway::reply_error(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                          int code, const std::string& message, Json data) {
  finish(session, inflight, rpc::make_error(inflight->downstream_id, code, message, std::move(data)));
}

void Gateway::handle_request(const std::shared_ptr<Session>& session, const Json& request,
                             const std::shared_ptr<InFlight>& inflight) {
  session->last_seen_ms = now_ms();
  const std::string& method = request["method"].get_ref<const std::string&>();
  inflight->method = method;
  static const Json kNoParams = Json::object();
  const Json& params = request.contains("params") ? request["params"] : kNoParams;
  {
    std::lock_guard lock(session->mu);
    session->inflight[id_key(inflight->downstream_id)] = inflight;
    if (inflight->principal) session->principal = inflight->principal;
  }
  if (session->stateless) {
    // 2026-07-28 has no handshake, no ping, no session-wide log level and no
    // per-resource subscribe; it adds discovery and listen streams.
    if (method == "server/discover") return discover(session, inflight);
    if (method == "subscriptions/listen") return listen(session, inflight, params);
    if (method == "initialize" || method == "ping" || method == "logging/setLevel" ||
        method == "resources/subscribe" || method == "resources/unsubscribe") {
      return reply_error(session, inflight, rpc::kMethodNotFound,
                         "Method not found: " + method + " is not part of protocol revision " +
                             session->protocol_version);
    }
    if ((method == "tools/call" || method == "prompts/get" || method == "resources/read") &&
        resume(session, inflight, method, params)) {
      return;
    }
  } else if (method == "server/discover" || method == "subscriptions/listen") {
    return reply_error(session, inflight, rpc::kMethodNotFound,
                       "Method not found: " + method + " belongs to protocol revision 2026-07-28; this session "
                       "negotiated " + session->protocol_version);
  }
  if (!session->stateless && method != "initialize" && method != "ping" && method != "logging/setLevel") {
    // A session restored elsewhere has not listed its per-user upstreams yet.
    list_personal_catalogs(session);
  }
  if (method == "initialize") {
    Json result = initialize(*session, params);
    open_roaming_links(session);
    list_personal_catalogs(session);
    finish(session, inflight, rpc::make_result(inflight->downstream_id, std::move(result)));
  } else if (method == "ping") {
    finish(session, inflight, rpc::make_result(inflight->downstream_id, Json::object()));
  } else if (method == "tools/list") {
    list(session, inflight, compose::ListKind::Tools, params);
  } else if (method == "resources/list") {
    list(session, inflight, compose::ListKind::Resources, params);
  } else if (method == "resources/templates/list") {
    list(session, inflight, compose::ListKind::ResourceTemplates, params);
  } else if (method == "prompts/list") {
    list(session, inflight, compose::ListKind::Prompts, params);
  } else if (method == "tools/call") {
    call_tool(session, inflight, params);
  } else if (method == "prompts/get") {
    get_prompt(session, inflight, params);
  } else if (method == "resources/read" || method == "resources/subscribe" ||
             method == "resources/unsubscribe") {
    by_resource(session, inflight, method, params);
  } else if (method == "completion/complete") {
    complete(session, inflight, params);
  } else if (method == "logging/setLevel") {
    set_log_level(session, inflight, params);
  } else {
    reply_error(session, inflight, rpc::kMethodNotFound, "Method not found: " + method);
  }
}

Json Gateway::initialize(Session& session, const Json& params) {
  std::string requested = params.value("protocolVersion", std::string());
  session.protocol_version = mcp::is_supported_revision(requested) ? requested : mcp::kSupportedRevisions[0];
  session.client_capabilities = params.value("capabilities", Json::object());
  session.client_info = params.value("clientInfo", Json::object());
  std::string instructions;
  Json caps = virtual_capabilities(session.virtual_server, &instructions);
  Json result = {{"protocolVersion", session.protocol_version},
                 {"capabilities", caps},
                 {"serverInfo", virtual_server_info(session.virtual_server)}};
  if (!instructions.empty()) result["instructions"] = instructions;
  return result;
}

void Gateway::open_roaming_links(const std::shared_ptr<Session>& session) {
  auto rt = runtime();
  if (rt->config->settings.session_key.empty() || session->legacy_sse) return;
  const compose::VirtualCatalog* cat = rt->catalog(session->virtual_server);
  std::vector<std::shared_ptr<Upstream>> roaming;
  for (const auto& name : cat ? cat->upstreams() : std::vector<std::string>{}) {
    auto it = rt->upstreams.find(name);
    if (it == rt->upstreams.end()) continue;
    const config::UpstreamConfig& cfg = it->second->config();
    // Only Streamable HTTP sessions can be continued from elsewhere (stdio
    // processes and SSE streams belong to one instance, 2026-07-28 has no
    // sessions). An upstream that is down would stall initialize: its link
    // opens on first use instead, as without a key.
    if (cfg.transport != config::Transport::StreamableHttp || cfg.sessions != config::SessionMode::PerClient ||
        cfg.revision == config::Revision::Modern || !it->second->ready()) {
      continue;
    }
    roaming.push_back(it->second);
  }
  std::vector<std::optional<mcp::UpstreamLink::SessionHandle>> handles(roaming.size());
  auto open = [&](size_t i) {
    auto link = link_for(session, roaming[i]);
    if (!link.ok()) {
      spdlog::warn("upstream '{}' could not be opened at initialize ({}); it opens on first use",
                   roaming[i]->name(), link.error());
      return;
    }
    handles[i] = link.value()->session_handle();
  };
  std::vector<std::thread> workers;
  for (size_t i = 1; i < roaming.size(); ++i) workers.emplace_back(open, i);
  if (!roaming.empty()) open(0);
  for (auto& w : workers) w.join();
  for (size_t i = 0; i < roaming.size(); ++i) {
    if (handles[i]) session->upstream_handles.emplace(roaming[i]->name(), std::move(*handles[i]));
  }
}

Json Gateway::virtual_capabilities(const std::string& name, std::string* instructions) {
  auto rt = runtime();
  Json caps = {{"logging", Json::object()}, {"completions", Json::object()}};
  auto it = rt->config->virtual_servers.find(name);
  if (it == rt->config->virtual_servers.end()) return caps;
  const auto& vs = it->second;
  if (!vs.tools.empty()) caps["tools"] = {{"listChanged", true}};
  if (!vs.resources.empty()) caps["resources"] = {{"subscribe", true}, {"listChanged", true}};
  if (!vs.prompts.empty()) caps["prompts"] = {{"listChanged", true}};
  *instructions = vs.instructions;
  if (instructions->empty()) {
    // Compose the upstreams' own instructions, each under its name.
    const compose::VirtualCatalog* cat = rt->catalog(vs.name);
    for (const auto& up : cat ? cat->upstreams() : std::vector<std::string>{}) {
      auto u = rt->upstreams.find(up);
      if (u == rt->upstreams.end() || !u->second->shared_link()) continue;
      std::string text = u->second->shared_link()->instructions();
      if (!text.empty()) *instructions += "## " + up + "\n" + text + "\n\n";
    }
  }
  return caps;
}

void Gateway::list(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                   compose::ListKind kind, const Json& params) {
  auto rt = runtime();
  auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
  static const char* keys[] = {"tools", "resources", "resourceTemplates", "prompts"};
  const char* key = keys[static_cast<int>(kind)];
  if (!cat) return reply_error(session, inflight, rpc::kInternalError, "virtual server is gone");
  std::string cursor;
  if (params.contains("cursor")) {
    if (!params["cursor"].is_string()) return reply_error(session, inflight, rpc::kInvalidParams, "cursor must be a string");
    cursor = params["cursor"].get<std::string>();
  }
  auto it = rt->config->virtual_servers.find(session->virtual_server);
  size_t page = it->second.page_size ? it->second.page_size : rt->config->settings.page_size;
  auto visible = visible_items(*rt, *inflight, session->virtual_server, *cat, kind);  // authorize stage
  auto result = compose::paginate(visible ? visible->items : cat->list(kind), key, cursor, page);
  if (!result.ok()) return reply_error(session, inflight, rpc::kInvalidParams, result.error());
  finish(session, inflight, rpc::make_result(inflight->downstream_id, std::move(result.value())));
}

void Gateway::call_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                        const Json& params) {
  if (!params.contains("name") || !params["name"].is_string()) {
    return reply_error(session, inflight, rpc::kInvalidParams, "tools/call needs a string \"name\"");
  }
  if (params.contains("arguments") && !params["arguments"].is_object()) {
    return reply_error(session, inflight, rpc::kInvalidParams, "tools/call \"arguments\" must be an object");
  }
  std::string name = params["name"].get<std::string>();
  note_route(*inflight, name, params.contains("arguments") ? params["arguments"] : Json::object());
  auto rt = runtime();
  auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
  const compose::Route* route = cat ? cat->tool(name) : nullptr;
  if (!route && cat && cat->blocked(name)) {
    inflight->routed.pin_state = "blocked";
    return reply_error(session, inflight, rpc::kInvalidParams, *cat->blocked(name));
  }
  if (!route) {
    // A tool can be unknown because its upstream never came up to list it:
    // say so, or the client chases a typo that is not there.
    std::string why;
    if (auto vs = rt->config->virtual_servers.find(session->virtual_server); vs != rt->config->virtual_servers.end()) {
      std::set<std::string> seen;
      for (const auto& sel : vs->second.tools) {
        auto up = rt->upstreams.find(sel.upstream);
        if (!seen.insert(sel.upstream).second || up == rt->upstreams.end()) continue;
        if (!up->second->ready() && !up->second->personal() && up->second->catalog()->tools.empty()) {
          why += (why.empty() ? " (" : "; ") + std::string("upstream '") + sel.upstream + "' is " + up->second->status() +
                 ", so its tools are not listed";
        }
        if (up->second->personal()) {
          std::lock_guard lock(session->mu);
          if (auto f = session->personal_failures.find(sel.upstream); f != session->personal_failures.end()) {
            why += (why.empty() ? " (" : "; ") + std::string("the tools of upstream '") + sel.upstream +
                   "' could not be listed for you: " + f->second.why;
          }
        }
      }
      if (!why.empty()) why += ")";
    }
    return reply_error(session, inflight, rpc::kInvalidParams, "Unknown tool: " + name + why);
  }
  inflight->routed.upstream = route->upstream;  // for the record, even if a stage refuses
  inflight->routed.original = route->original;
  if (route->connect) return connect_tool(session, inflight, route->upstream);
  // authorize, then guard.pre, then the upstream (ARCHITECTURE.md).
  auto run = [this, session, inflight, name, up_params = params, route = *route]() mutable {
    up_params["name"] = route.original;
    if (!guard_pre_tool(session, inflight, name, up_params)) return;  // guard stage: mcp_pre_tool
    if (!route.fixed.empty()) {
      Json& args = up_params["arguments"];
      if (!args.is_object()) args = Json::object();
      for (auto it = route.fixed.begin(); it != route.fixed.end(); ++it) args[it.key()] = it.value();
    }
    forward(session, inflight, route.upstream, "tools/call", std::move(up_params), AuditInfo{name, route.original});
  };
  if (rt->policy) {
    // Policies see the arguments as sent (fixed ones win); the human asked
    // for approval sees the caller's own, never the hidden fixed ones.
    Json sent_args = params.value("arguments", Json::object());
    for (auto it = route->fixed.begin(); it != route->fixed.end(); ++it) sent_args[it.key()] = it.value();
    PolicyTarget target{"Tool", session->virtual_server, name, route->upstream, route->original};
    std::string approval;
    switch (authorize(*rt, *inflight, PolicyAction::CallTool, target, sent_args, &approval)) {
      case Authz::Deny: return reply_error(session, inflight, rpc::kInvalidParams, "Unknown tool: " + name);
      case Authz::Ask:
        return ask_approval(session, inflight, target, params.value("arguments", Json::object()), approval,
                            std::move(run));
      case Authz::Allow: break;
    }
  }
  run();
}

void Gateway::get_prompt(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                         const Json& params) {
  if (!params.contains("name") || !params["name"].is_string()) {
    return reply_error(session, inflight, rpc::kInvalidParams, "prompts/get needs a string \"name\"");
  }
  std::string name = params["name"].get<std::string>();
  note_route(*inflight, name, params.contains("arguments") ? params["arguments"] : Json::object());
  auto rt = runtime();
  auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
  const compose::Route* route = cat ? cat->prompt(name) : nullptr;
  if (!route) return reply_error(session, inflight, rpc::kInvalidParams, "Unknown prompt: " + name);
  inflight->routed.upstream = route->upstream;
  inflight->routed.original = route->original;
  Json up_params = params;
  up_params["name"] = route->original;
  if (!route->fixed.empty()) {
    Json& args = up_params["arguments"];
    if (!args.is_object()) args = Json::object();
    for (auto it = route->fixed.begin(); it != route->fixed.end(); ++it) {
      args[it.key()] = it.value().is_string() ? it.value() : Json(it.value().dump());
    }
  }
  PolicyTarget target{"Prompt", session->virtual_server, name, route->upstream, route->original};
  std::string approval;
  const Json& args = up_params.contains("arguments") ? up_params["arguments"] : Json::object();
  switch (authorize(*rt, *inflight, PolicyAction::GetPrompt, target, args, &approval)) {
    case Authz::Deny: return reply_error(session, inflight, rpc::kInvalidParams, "Unknown prompt: " + name);
    case Authz::Ask:  // the human sees the caller's arguments, not the fixed (hidden) ones
      return ask_approval(session, inflight, target, params.value("arguments", Json::object()), approval,
                          [this, session, inflight, upstream = route->upstream, up_params, name,
                           original = route->original]() mutable {
                            forward(session, inflight, upstream, "prompts/get", std::move(up_params),
                                    AuditInfo{name, original});
                          });
    case Authz::Allow: break;
  }
  forward(session, inflight, route->upstream, "prompts/get", std::move(up_params), AuditInfo{name, route->original});
}

void Gateway::by_resource(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                          const std::string& method, const Json& params) {
  if (!params.contains("uri") || !params["uri"].is_string()) {
    return reply_error(session, inflight, rpc::kInvalidParams, method + " needs a string \"uri\"");
  }
  std::string uri = params["uri"].get<std::string>();
  note_route(*inflight, uri, Json::object({{"uri", uri}}));
  auto rt = runtime();
  auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
  auto upstream = cat ? cat->resource_upstream(uri) : std::nullopt;
  if (upstream) inflight->routed.upstream = *upstream, inflight->routed.original = uri;
  PolicyTarget target{"Resource", session->virtual_server, uri, upstream.value_or(""), uri};
  std::string approval;
  Authz authz = upstream ? authorize(*rt, *inflight, PolicyAction::ReadResource, target, {{"uri", uri}}, &approval)
                         : Authz::Deny;
  if (authz == Authz::Ask && method != "resources/read") authz = Authz::Allow;  // subscribing reads nothing yet
  if (authz == Authz::Deny) {
    // 2026-07-28 moved "resource not found" to -32602.
    return reply_error(session, inflight, session->stateless ? rpc::kInvalidParams : rpc::kResourceNotFound,
                       "Resource not found: " + uri, {{"uri", uri}});
  }
  if (method == "resources/subscribe" || method == "resources/unsubscribe") {
    std::lock_guard lock(session->mu);
    if (method == "resources/subscribe") session->subscriptions.insert(uri);
    else session->subscriptions.erase(uri);
  }
  if (authz == Authz::Ask) {
    return ask_approval(session, inflight, target, Json{{"uri", uri}}, approval,
                        [this, session, inflight, up = *upstream, method, params, uri]() {
                          forward(session, inflight, up, method, params, AuditInfo{uri, uri});
                        });
  }
  forward(session, inflight, *upstream, method, params, AuditInfo{uri, uri});
}

void Gateway::complete(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                       const Json& params) {
  const Json ref = params.value("ref", Json::object());
  std::string type = ref.value("type", std::string());
  auto rt = runtime();
  auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
  Json up_params = params;
  if (type == "ref/prompt") {
    const compose::Route* route = cat ? cat->prompt(ref.value("name", std::string())) : nullptr;
    if (!route) return reply_error(session, inflight, rpc::kInvalidParams, "Unknown prompt: " + ref.value("name", std::string()));
    up_params["ref"]["name"] = route->original;
    return forward(session, inflight, route->upstream, "completion/complete", std::move(up_params), std::nullopt);
  }
  if (type == "ref/resource") {
    std::string uri = ref.value("uri", std::string());
    auto upstream = cat ? cat->resource_upstream(uri) : std::nullopt;
    if (!upstream) return reply_error(session, inflight, rpc::kInvalidParams, "Unknown resource template: " + uri);
    return forward(session, inflight, *upstream, "completion/complete", std::move(up_params), std::nullopt);
  }
  reply_error(session, inflight, rpc::kInvalidParams, "completion/complete needs ref.type ref/prompt or ref/resource");
}

void Gateway::set_log_level(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                            const Json& params) {
  static const std::set<std::string> levels = {"debug", "info", "notice", "warning",
                                               "error", "critical", "alert", "emergency"};
  std::string level = params.value("level", std::string());
  if (!levels.count(level)) return reply_error(session, inflight, rpc::kInvalidParams, "invalid log level: " + level);
  std::vector<std::shared_ptr<mcp::UpstreamLink>> links;
  {
    std::lock_guard lock(session->mu);
    session->log_level = level;
    for (auto& [name, slot] : session->links) {
      if (slot->link) links.push_back(slot->link);
    }
  }
  // Apply to the upstream sessions this client already has; new ones get the
  // level when they open.
  pool_.enqueue([links, level] {
    for (auto& l : links) {
      if (l->server_capabilities().contains("logging")) l->call("logging/setLevel", {{"level", level}});
    }
  });
  finish(session, inflight, rpc::make_result(inflight->downstream_id, Json::object()));
}

// ---------------------------------------------------------------- forwarding

Result<config::UpstreamConfig> Gateway::personal_config(const std::shared_ptr<Session>& session,
                                                        const std::shared_ptr<Upstream>& up, long long* expires) {
  std::shared_ptr<const identity::Principal> who;
  {
    std::lock_guard lock(session->mu);
    who = session->principal;
  }
  if (!who) return fail("upstream '" + up->name() + "' needs the caller's identity, and this request has none");
  config::UpstreamConfig cfg = up->config();
  if (cfg.auth.type == config::CredentialType::OAuthUser) return oauth_user_config(session, std::move(cfg));
  // Fail now, with the issuer's reason, rather than on the upstream's 401.
  auto token = upstream_tokens_->token_for(*who, cfg);
  if (!token.ok()) return fail(token.error());
  *expires = token.value().expires_at;
  if (cfg.transport == config::Transport::Stdio) {
    // This user's own process, with this user's token in its environment.
    cfg.env[cfg.auth.token_env] = token.value().value;
    return cfg;
  }
  // HTTP: the newest token of the session's principal on every request.
  std::weak_ptr<Session> ws = session;
  std::shared_ptr<identity::UpstreamTokens> tokens = upstream_tokens_;
  config::UpstreamConfig base = cfg;
  cfg.authorization = [ws, tokens, base]() -> std::string {
    auto s = ws.lock();
    if (!s) return {};
    std::shared_ptr<const identity::Principal> p;
    {
      std::lock_guard lock(s->mu);
      p = s->principal;
    }
    auto t = p ? tokens->token_for(*p, base) : Result<identity::UpstreamTokens::Token>(fail("no principal"));
    if (!t.ok()) {
      spdlog::warn("{}", t.error());
      return {};
    }
    return "Bearer " + t.value().value;
  };
  return cfg;
}

Result<std::shared_ptr<mcp::UpstreamLink>> Gateway::link_for(const std::shared_ptr<Session>& session,
                                                             const std::shared_ptr<Upstream>& up) {
  if (session->stateless && up->config().auth.per_user()) {
    return fail("upstream '" + up->name() + "' acts as each user, which 2026-07-28 stateless requests cannot do yet; "
                "use a 2025-11-25 session (initialize) for it");
  }
  if (session->stateless) return stateless_link(up);
  if (up->config().sessions == config::SessionMode::Shared) {
    auto link = up->shared_link();
    if (!link) return fail("upstream '" + up->name() + "' is not started");
    return link;
  }
  std::shared_ptr<Session::LinkSlot> slot;
  {
    std::lock_guard lock(session->mu);
    auto& s = session->links[up->name()];
    if (!s) s = std::make_shared<Session::LinkSlot>();
    slot = s;
  }
  std::lock_guard lock(slot->mu);
  if (slot->link && slot->link->state() != mcp::LinkState::Closed) {
    // A stdio process holds its user's token from its start: renew it by
    // restarting the process shortly before the token expires.
    if (!slot->credential_expires || now_ms() / 1000 < slot->credential_expires - 60) return slot->link;
    spdlog::info("upstream '{}': the user's token expires soon; restarting their process with a fresh one", up->name());
    slot->link->close();
    if (slot->release) slot->release();
    slot->release = nullptr;
    slot->link.reset();
  }
  std::optional<mcp::UpstreamLink::SessionHandle> resume;
  if (auto h = session->upstream_handles.find(up->name()); h != session->upstream_handles.end()) resume = h->second;
  std::optional<config::UpstreamConfig> personal;
  slot->credential_expires = 0;
  if (up->config().auth.per_user()) {
    long long expires = 0;
    auto cfg = personal_config(session, up, &expires);
    if (!cfg.ok()) return fail(cfg.error());
    personal = std::move(cfg.value());
    if (personal->transport == config::Transport::Stdio) slot->credential_expires = expires;
  }
  auto link = up->open_client_link(session->client_capabilities, client_link_handlers(session, up), std::move(resume),
                                   std::move(personal));
  if (!link.ok()) return fail(link.error());
  slot->link = link.value();
  std::weak_ptr<Upstream> weak_up = up;
  slot->release = [weak_up] {
    if (auto u = weak_up.lock()) u->client_link_closed();
  };
  if (session->closed()) {
    slot->link->close();
    return fail("session closed");
  }
  std::string level;
  {
    std::lock_guard slock(session->mu);
    level = session->log_level;
  }
  if (!level.empty() && slot->link->server_capabilities().contains("logging")) {
    slot->link->call("logging/setLevel", {{"level", level}});
  }
  return slot->link;
}

namespace {

bool is_modern(const mcp::UpstreamLink& link) { return link.protocol_version() >= "2026-07-28"; }

bool may_ask_input(const std::string& method) {
  return method == "tools/call" || method == "prompts/get" || method == "resources/read";
}

bool is_input_required(const Json& response) {
  auto r = response.find("result");
  return r != response.end() && r->is_object() && r->value("resultType", "") == "input_required";
}

}  // namespace

void Gateway::forward(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                      const std::string& upstream, const std::string& method, Json params,
                      std::optional<AuditInfo> audit) {
  inflight->upstream = upstream;
  auto rt = runtime();
  auto it = rt->upstreams.find(upstream);
  if (it == rt->upstreams.end()) {
    return reply_error(session, inflight, rpc::kUpstreamUnavailable, "upstream '" + upstream + "' is not configured");
  }
  std::shared_ptr<Upstream> up = it->second;
  if (auto lacks = lacks_consent(*session, up->config()); !lacks.ok()) {
    return reply_error(session, inflight, rpc::kUpstreamUnavailable, lacks.error());
  } else if (lacks.value()) {
    // Ask the user first; the call goes on once they agreed.
    return ask_consent(session, inflight, up, [this, session, inflight, upstream, method, params, audit]() mutable {
      forward(session, inflight, upstream, method, std::move(params), std::move(audit));
    });
  }
  // The first call of a session to a per-client upstream starts its link
  // here, on this thread; every later call only sends.
  auto link = link_for(session, up);
  if (!link.ok()) return reply_error(session, inflight, rpc::kUpstreamUnavailable, link.error());

  if (session->stateless && !is_modern(*link.value())) {
    // An older upstream knows nothing of MRTR: only the gateway's own
    // requestState (handled before routing) could continue a call here.
    if (params.contains("requestState")) {
      return reply_error(session, inflight, rpc::kInvalidParams,
                         "Invalid requestState: this gateway did not issue it, and upstream '" + upstream +
                             "' speaks " + link.value()->protocol_version() + ", which has no requestState");
    }
    params.erase("inputResponses");  // answers to questions nobody asked: ignored
  }
  auto state = std::make_shared<CallState>();
  state->ts = now_ms();
  if (audit) inflight->routed.original = audit->original;  // record stage
  state->audit = std::move(audit);
  auto meta = params.find("_meta");
  if (meta != params.end() && meta->is_object()) {
    if (session->stateless) {
      // The request's own envelope describes the client to us. A 2026-07-28
      // upstream gets the client's capabilities (it must not ask for more);
      // the link adds its revision and identity. Older upstreams get none of it.
      bool modern = is_modern(*link.value());
      for (auto k = meta->begin(); k != meta->end();) {
        bool envelope = text::starts_with(k.key(), "io.modelcontextprotocol/");
        bool keep = modern && (k.key() == "io.modelcontextprotocol/clientCapabilities" ||
                               k.key() == "io.modelcontextprotocol/logLevel");
        k = envelope && !keep ? meta->erase(k) : std::next(k);
      }
    }
    // The progress token is ours upstream, so two clients' tokens never meet.
    if (meta->contains("progressToken")) {
      inflight->downstream_progress_token = (*meta)["progressToken"];
      std::string token = "pc-" + std::to_string(next_token_++);
      (*meta)["progressToken"] = token;
      state->progress_key = "p" + Json(token).dump();
      std::lock_guard lock(calls_mu_);
      calls_[state->progress_key] = {session, inflight};
    }
  }
  send(session, inflight, up, link.value(), method, std::move(params), state);
}

void Gateway::send(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                   const std::shared_ptr<Upstream>& up, const std::shared_ptr<mcp::UpstreamLink>& link,
                   const std::string& method, Json params, const std::shared_ptr<CallState>& state) {
  mcp::CallOptions opts;
  opts.cancel = inflight->cancel;
  mcp::UpstreamLink* raw = link.get();
  opts.on_sent = [this, raw, state, session, inflight](const Json& id) {
    std::lock_guard lock(calls_mu_);
    state->call_key = call_key(raw, id);
    calls_[state->call_key] = {session, inflight};
  };
  // A 2026-07-28 upstream may answer a 2025-11-25 client's call with
  // input_required; the next round repeats the request, so keep it.
  std::shared_ptr<Json> kept;
  if (!session->stateless && may_ask_input(method) && is_modern(*link)) kept = std::make_shared<Json>(params);
  link->call_async(method, std::move(params), opts,
                   [this, guard = guard_, session, inflight, up, link, method, state, kept](Json response) {
    std::shared_lock lock(guard->mu);
    if (guard->stopped) return;
    double upstream_ms = ms_since(state->sent);
    {
      std::lock_guard lock(calls_mu_);
      if (!state->call_key.empty()) calls_.erase(state->call_key);
      state->call_key.clear();
    }
    if (kept && is_input_required(response)) {
      return fulfil_input(session, inflight, up, link, method, std::move(*kept), response["result"], state);
    }
    {
      std::lock_guard lock(calls_mu_);
      if (!state->progress_key.empty()) calls_.erase(state->progress_key);
    }
    if (!session->stateless && is_modern(*link)) {
      // A 2025-11-25 client's schema has no 2026-07-28 result fields.
      if (auto r = response.find("result"); r != response.end() && r->is_object()) {
        r->erase("resultType");
        r->erase("ttlMs");
        r->erase("cacheScope");
      }
    }
    if (!response.contains("result") && !response.contains("error")) {
      response = rpc::make_error(nullptr, rpc::kUpstreamInvalid,
                                 "upstream '" + up->name() + "' answered without a result or an error");
    }
    if (up->config().auth.type == config::CredentialType::OAuthUser) token_outcome(session, *up, response);
    inflight->upstream_us = static_cast<int64_t>(upstream_ms * 1000);
    if (method == "tools/call") guard_post_tool(*session, *inflight, response);  // guard stage: mcp_post_tool
    deliver_final(session, inflight, std::move(response));
  });
}

// ------------------------------------------------------ downstream messages

void Gateway::handle_notification(const std::shared_ptr<Session>& session, const Json& msg) {
  session->last_seen_ms = now_ms();
  const std::string method = msg.value("method", "");
  const Json params = msg.value("params", Json::object());
  if (method == "notifications/initialized") {
    session->initialized = true;
  } else if (method == "notifications/cancelled") {
    if (!params.contains("requestId")) return;
    std::shared_ptr<InFlight> f;
    {
      std::lock_guard lock(session->mu);
      auto it = session->inflight.find(id_key(params["requestId"]));
      if (it != session->inflight.end()) f = it->second;
    }
    if (f) {
      spdlog::debug("session {}: client cancelled request {}", session->id, params["requestId"].dump());
      f->cancel->cancel();
    }
  } else if (method == "notifications/roots/list_changed") {
    std::vector<std::shared_ptr<mcp::UpstreamLink>> links;
    {
      std::lock_guard lock(session->mu);
      for (auto& [name, slot] : session->links) {
        if (slot->link) links.push_back(slot->link);
      }
    }
    for (auto& l : links) l->notify(method, params);
  } else {
    spdlog::debug("session {}: ignoring notification {}", session->id, method);
  }
}

void Gateway::handle_response(const std::shared_ptr<Session>& session, const Json& msg) {
  session->last_seen_ms = now_ms();
  Session::PendingServerRequest pending;
  {
    std::lock_guard lock(session->mu);
    auto it = session->server_requests.find(id_key(msg["id"]));
    if (it == session->server_requests.end()) {
      spdlog::debug("session {}: response to unknown request {}", session->id, msg["id"].dump());
      return;
    }
    pending = std::move(it->second);
    session->server_requests.erase(it);
  }
  if (pending.answer) return pending.answer(msg);
  if (auto link = pending.link.lock()) {
    Json answer = msg;
    answer["id"] = pending.upstream_id;
    link->respond(pending.upstream_id, std::move(answer));
  }
}

// -------------------------------------------------------- upstream messages

std::optional<Gateway::CallTarget> Gateway::target_of(mcp::UpstreamLink* link, const transport::Incoming& in) {
  std::lock_guard lock(calls_mu_);
  if (in.related_request_id) {
    auto it = calls_.find(call_key(link, *in.related_request_id));
    if (it != calls_.end()) return it->second;
  }
  const Json& params = in.message.contains("params") ? in.message["params"] : Json::object();
  if (params.is_object() && params.contains("progressToken")) {
    auto it = calls_.find("p" + params["progressToken"].dump());
    if (it != calls_.end()) return it->second;
  }
  return std::nullopt;
}

mcp::UpstreamLink::Handlers Gateway::client_link_handlers(const std::shared_ptr<Session>& session,
                                                          const std::shared_ptr<Upstream>& up) {
  std::weak_ptr<Session> ws = session;
  std::weak_ptr<Upstream> wu = up;
  std::string name = up->name();
  // The link is created after its handlers, so handlers find it through the
  // session's slot.
  auto find_link = [ws, name]() -> std::shared_ptr<mcp::UpstreamLink> {
    auto s = ws.lock();
    if (!s) return nullptr;
    std::shared_ptr<Session::LinkSlot> slot;
    {
      std::lock_guard lock(s->mu);
      auto it = s->links.find(name);
      if (it == s->links.end()) return nullptr;
      slot = it->second;
    }
    std::lock_guard lock(slot->mu);
    return slot->link;
  };
  mcp::UpstreamLink::Handlers h;
  h.on_notification = [this, guard = guard_, ws, wu, name, find_link](const transport::Incoming& in) {
    std::shared_lock lock(guard->mu);
    auto s = ws.lock();
    if (guard->stopped || !s) return;
    const std::string method = in.message.value("method", "");
    if (method == "notifications/tools/list_changed" || method == "notifications/prompts/list_changed" ||
        method == "notifications/resources/list_changed") {
      // This session's own upstream session changed what it offers: the
      // session sees that list from now on. The shared catalogue re-lists
      // too, in case the change is not this session's alone.
      if (auto u = wu.lock()) u->schedule_refresh();
      if (auto link = find_link()) relist_private(overlay_of(*s), s, name, link);
      return;
    }
    auto link = find_link();
    route_notification(s, link.get(), name, in);
  };
  h.on_request = [this, guard = guard_, ws, name, find_link](const transport::Incoming& in) {
    std::shared_lock lock(guard->mu);
    auto s = ws.lock();
    auto link = find_link();
    if (guard->stopped || !link) return;
    route_server_request(s, link, name, in);
  };
  h.on_state = [ws, name](mcp::LinkState state, const std::string& reason) {
    if (state == mcp::LinkState::Down) {
      if (auto s = ws.lock()) spdlog::warn("session {}: upstream '{}' session down: {}", s->id, name, reason);
    }
  };
  return h;
}

void Gateway::route_notification(const std::shared_ptr<Session>& first_session, mcp::UpstreamLink* link,
                                 const std::string& upstream, const transport::Incoming& in,
                                 std::shared_ptr<InFlight> hint) {
  Json msg = in.message;
  const std::string method = msg.value("method", "");
  auto target = target_of(link, in);
  std::shared_ptr<InFlight> inflight = target ? target->inflight.lock() : std::move(hint);
  std::shared_ptr<Session> session = first_session;
  if (inflight) std::tie(session, inflight) = current_of(session, inflight);
  if (!session) return;
  if (session->stateless) {
    // A stateless request hears only about itself, and log messages only
    // when it asked for them with _meta logLevel.
    if (!inflight) return;
    if (method == "notifications/message") {
      std::lock_guard lock(session->mu);
      if (!log_level_passes(msg.value("params", Json::object()).value("level", ""), session->log_level)) return;
    }
  }
  if (method == "notifications/progress") {
    // Progress without a live request has nowhere to go.
    if (!inflight || inflight->downstream_progress_token.is_null()) return;
    msg["params"]["progressToken"] = inflight->downstream_progress_token;
  } else if (method == "notifications/cancelled") {
    // The upstream withdrew a request it sent us: withdraw ours downstream.
    const Json params = msg.value("params", Json::object());
    if (!params.contains("requestId")) return;
    std::string gateway_id;
    {
      std::lock_guard lock(session->mu);
      for (auto it = session->server_requests.begin(); it != session->server_requests.end(); ++it) {
        if (it->second.upstream == upstream && it->second.upstream_id == params["requestId"]) {
          gateway_id = it->first;
          session->server_requests.erase(it);
          break;
        }
      }
    }
    if (gateway_id.empty()) return;
    msg["params"]["requestId"] = Json::parse(gateway_id);
  } else if (method == "notifications/resources/updated") {
    std::string uri = msg.value("params", Json::object()).value("uri", std::string());
    std::lock_guard lock(session->mu);
    if (!session->subscriptions.count(uri)) return;
  }
  session->deliver(msg, inflight);
}

void Gateway::route_server_request(const std::shared_ptr<Session>& session,
                                   const std::shared_ptr<mcp::UpstreamLink>& link,
                                   const std::string& upstream, const transport::Incoming& in) {
  const Json& id = in.message["id"];
  const std::string method = in.message.value("method", "");
  auto refuse = [&](const std::string& why) {
    link->respond(id, rpc::make_error(id, rpc::kMethodNotFound, why));
  };
  if (!session || session->closed()) return refuse("the client session behind Portcullis has ended");
  if (session->stateless) {
    auto target = target_of(link.get(), in);
    if (!target) target = latest_call_on(link.get());
    auto inflight = target ? target->inflight.lock() : nullptr;
    if (!inflight) return refuse("no request of the client is in flight to ask it in");
    return ask_input(session, link, in, inflight);
  }
  const char* cap = client_capability_for(method);
  if (cap && !session->client_supports(cap)) {
    return refuse(std::string("the client does not support ") + cap);
  }
  auto target = target_of(link.get(), in);
  std::shared_ptr<InFlight> inflight = target ? target->inflight.lock() : nullptr;
  if (!inflight) {
    // stdio carries no relation: use the session's latest call to this
    // upstream, so the request travels on a stream the client is reading.
    std::lock_guard lock(session->mu);
    for (auto& [k, f] : session->inflight) {
      if (f->upstream == upstream && (!inflight || f->started > inflight->started)) inflight = f;
    }
  }
  Json msg = in.message;
  std::string gateway_id;
  {
    std::lock_guard lock(session->mu);
    gateway_id = Json("pc-" + std::to_string(session->next_server_request++)).dump();
    session->server_requests[gateway_id] = {link, upstream, id, nullptr};
  }
  msg["id"] = Json::parse(gateway_id);
  session->deliver(msg, inflight);
}

void Gateway::on_shared_traffic(const std::shared_ptr<Upstream>& up, const transport::Incoming& in,
                                bool is_request) {
  auto link = up->shared_link();
  if (!link) return;
  auto target = target_of(link.get(), in);
  std::shared_ptr<Session> session = target ? target->session.lock() : nullptr;
  if (is_request) {
    const std::string method = in.message.value("method", "");
    if (method == "roots/list" && !session) {
      // Shared links declare roots so catalogues are complete; no client stands behind them.
      link->respond(in.message["id"], rpc::make_result(in.message["id"], {{"roots", Json::array()}}));
      return;
    }
    if (!session) {
      link->respond(in.message["id"],
                    rpc::make_error(in.message["id"], rpc::kMethodNotFound,
                                    "upstream '" + up->name() + "' is shared between clients, so a " + method +
                                        " request that is not tied to a call cannot be routed; set "
                                        "sessions: per_client"));
      return;
    }
    return route_server_request(session, link, up->name(), in);
  }
  if (session) return route_notification(session, link.get(), up->name(), in);
  const std::string method = in.message.value("method", "");
  if (method == "notifications/resources/updated") fan_out_resource_update(in.message);
  if (method == "notifications/message") {
    spdlog::info("[upstream {}] {}", up->name(), in.message.value("params", Json::object()).dump());
  }
}

}  // namespace portcullis::pipeline
