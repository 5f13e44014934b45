// Upstreams that act as each user with the user's own OAuth token (auth type
// oauth_user). A user who has not connected their account sees a
// connect_<upstream> tool instead of the upstream's catalogue; calling it,
// or any call that reaches the upstream, asks for consent: a URL-mode
// elicitation (MCP 2025-11-25) whose link leads through the upstream's
// authorization server back to the gateway, which keeps the token in its
// vault. The call then goes on. Clients without URL-mode elicitation get
// error -32042 carrying the link, and retry once the user is done. The
// token never passes through the client or the model's context.
#include <spdlog/spdlog.h>

#include "core/jsonrpc.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {

bool supports_url_elicitation(const Session& session) {
  const Json& caps = session.client_capabilities;
  if (!caps.is_object()) return false;
  auto e = caps.find("elicitation");
  return e != caps.end() && e->is_object() && e->contains("url");
}

std::shared_ptr<const identity::Principal> principal_of(Session& session) {
  std::lock_guard lock(session.mu);
  return session.principal;
}

}  // namespace

Result<bool> Gateway::lacks_consent(Session& session, const config::UpstreamConfig& up) {
  if (up.auth.type != config::CredentialType::OAuthUser || session.stateless) return false;
  auto consent = runtime()->consent;
  if (!consent) return fail("upstream '" + up.name + "' needs the credential vault (credentials.key), which is not open");
  auto who = principal_of(session);
  if (!who) return fail("upstream '" + up.name + "' acts as each user, and this request has no identity");
  auto token = consent->access_token(who->key(), up);
  if (!token.ok()) return fail("upstream '" + up.name + "': " + token.error());
  return !token.value().has_value();
}

Result<config::UpstreamConfig> Gateway::oauth_user_config(const std::shared_ptr<Session>& session,
                                                          config::UpstreamConfig cfg) {
  auto consent = runtime()->consent;
  if (!consent) return fail("upstream '" + cfg.name + "' needs the credential vault (credentials.key), which is not open");
  auto who = principal_of(*session);
  auto token = consent->access_token(who->key(), cfg);
  if (!token.ok()) return fail("upstream '" + cfg.name + "': " + token.error());
  if (!token.value())
    return fail("you have not connected your account at upstream '" + cfg.name + "' yet: call connect_" + cfg.name);
  // Every HTTP request carries the user's current token: refreshed before
  // it expires, gone once revoked.
  std::weak_ptr<Session> ws = session;
  std::weak_ptr<identity::UpstreamConsent> wc = consent;
  config::UpstreamConfig base = cfg;
  base.authorization = nullptr;
  cfg.authorization = [ws, wc, base]() -> std::string {
    auto s = ws.lock();
    auto c = wc.lock();
    if (!s || !c) return {};
    auto p = principal_of(*s);
    if (!p) return {};
    auto t = c->access_token(p->key(), base);
    if (!t.ok()) {
      spdlog::warn("upstream '{}': {}", base.name, t.error());
      return {};
    }
    return t.value() ? "Bearer " + *t.value() : std::string();
  };
  return cfg;
}

bool Gateway::token_refused(const std::shared_ptr<Session>& session, const Upstream& up, const std::string& why) {
  if (up.config().auth.type != config::CredentialType::OAuthUser || why.find("HTTP 401") == std::string::npos)
    return false;
  auto consent = runtime()->consent;
  auto who = principal_of(*session);
  if (!consent || !who) return false;
  consent->token_refused(who->key(), up.name());
  return true;
}

void Gateway::token_outcome(const std::shared_ptr<Session>& session, const Upstream& up, Json& response) {
  auto e = response.find("error");
  if (e == response.end() || !e->is_object()) return;
  auto m = e->find("message");
  if (m == e->end() || !m->is_string() || !token_refused(session, up, m->get_ref<const std::string&>())) return;
  m->get_ref<std::string&>() += " (the upstream refused your token; Portcullis refreshed it, or, if that was "
                                "refused too, will ask you to connect again on the next call)";
}

void Gateway::ask_consent(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                          const std::shared_ptr<Upstream>& up, std::function<void()> then) {
  auto consent = runtime()->consent;
  auto who = principal_of(*session);
  if (!consent || !who) {
    return reply_error(session, inflight, rpc::kUpstreamUnavailable,
                       "upstream '" + up->name() + "' acts as each user, and this request has no identity");
  }
  auto started = consent->start(who->key(), who->subject.empty() ? who->key() : who->subject, up->config());
  if (!started.ok()) return reply_error(session, inflight, rpc::kUpstreamUnavailable, started.error());
  const auto c = started.value();
  Json elicitation = {{"mode", "url"}, {"elicitationId", c.id}, {"url", c.url}, {"message", c.message}};
  if (!supports_url_elicitation(*session)) {
    // The client cannot show a link: the error carries it, and the user
    // retries once done (MCP 2025-11-25, URLElicitationRequiredError).
    return reply_error(session, inflight, rpc::kUrlElicitationRequired, c.message + " Link: " + c.url,
                       {{"elicitations", Json::array({elicitation})}});
  }
  const std::string id = c.id;
  consent->when_done(id, [this, guard = guard_, session, inflight, id, name = up->name(),
                          then = std::move(then)](const Result<void>& r) {
    // Settled on an HTTP callback or timer thread: continue on the pool.
    Result<void> outcome = r;
    pool_.enqueue([this, guard, session, inflight, id, name, then, outcome] {
      std::shared_lock lock(guard->mu);
      if (guard->stopped || inflight->finished || inflight->cancel->cancelled() || session->closed()) return;
      if (!outcome.ok()) {
        return reply_error(session, inflight, rpc::kUpstreamUnavailable,
                           "upstream '" + name + "' needs your consent, which was not given: " + outcome.error());
      }
      session->deliver(rpc::make_notification("notifications/elicitation/complete", {{"elicitationId", id}}),
                       inflight);
      list_personal_catalogs(session);
      then();
    });
  });
  std::weak_ptr<identity::UpstreamConsent> wc = consent;
  Session::PendingServerRequest pending;
  pending.upstream = up->name();
  pending.answer = [wc, id](const Json& msg) {
    auto consent = wc.lock();
    if (!consent) return;
    if (msg.contains("error")) {
      return consent->abandon(id, "the client could not show the consent link: " +
                                      msg["error"].value("message", std::string("error")));
    }
    const std::string action = msg.value("result", Json::object()).value("action", "");
    if (action == "accept") return;  // the user opened the link; the callback settles it
    consent->abandon(id, action == "decline" ? "you declined" : "you cancelled");
  };
  std::string gateway_id;
  {
    std::lock_guard lock(session->mu);
    gateway_id = Json("pc-" + std::to_string(session->next_server_request++)).dump();
    session->server_requests[gateway_id] = std::move(pending);
  }
  session->deliver(rpc::make_request(Json::parse(gateway_id), "elicitation/create", std::move(elicitation)), inflight);
}

void Gateway::connect_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                           const std::string& upstream) {
  auto rt = runtime();
  auto up = rt->upstreams.find(upstream);
  if (up == rt->upstreams.end()) {
    return reply_error(session, inflight, rpc::kUpstreamUnavailable, "upstream '" + upstream + "' is not configured");
  }
  auto connected = [this, session, inflight, upstream](bool already) {
    list_personal_catalogs(session);
    std::string text = already ? "Your account at '" + upstream + "' is already connected; its tools are available."
                               : "Connected your account at '" + upstream + "'. Its tools are now available.";
    finish(session, inflight,
           rpc::make_result(inflight->downstream_id, {{"content", Json::array({{{"type", "text"}, {"text", text}}})}}));
  };
  auto lacks = lacks_consent(*session, up->second->config());
  if (!lacks.ok()) return reply_error(session, inflight, rpc::kUpstreamUnavailable, lacks.error());
  if (!lacks.value()) return connected(true);
  ask_consent(session, inflight, up->second, [connected] { connected(false); });
}

void Gateway::show_unconnected(const std::shared_ptr<Session>& session, const std::string& upstream) {
  auto overlay = overlay_of(*session);
  auto rt = runtime();
  auto before = catalog_of(*session, rt);
  {
    std::lock_guard lock(overlay->mu);
    if (overlay->unconnected.count(upstream)) return;
    overlay->unconnected.insert(upstream);
    overlay->upstreams[upstream] = std::make_shared<const compose::UpstreamCatalog>();
    overlay->catalogs.clear();
  }
  if (!session->initialized) return;
  auto after = catalog_of(*session, rt);
  for (const char* method : list_change_notifications(before.get(), after.get()))
    session->outbox.push(rpc::dump(rpc::make_notification(method, nullptr)));
}

void Gateway::consent_given(const std::string& upstream, const std::string& user_key) {
  // The user's sessions list the upstream now, before the browser hears
  // "connected": a call made right after sees the tools.
  for (const auto& s : sessions_.all()) {
    if (s->stateless || s->owner != user_key || s->closed()) continue;
    {
      auto overlay = overlay_of(*s);
      std::lock_guard lock(overlay->mu);
      if (!overlay->unconnected.count(upstream)) continue;
    }
    std::shared_lock lock(guard_->mu);
    if (!guard_->stopped && !s->closed()) list_personal_catalogs(s);
  }
}

}  // namespace portcullis::pipeline
