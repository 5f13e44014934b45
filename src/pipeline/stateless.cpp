// Protocol revision 2026-07-28 on the downstream side: requests without a
// session (discovery, listen streams, result decoration), the links they
// share, and the translation of input requests between a 2026-07-28 client
// and an older upstream (MRTR: an upstream's sampling, elicitation or roots
// request becomes an input_required result, and the client's next request
// answers it).
#include <spdlog/spdlog.h>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "core/scheduler.h"
#include "core/text.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {

constexpr const char* kSubscriptionId = "io.modelcontextprotocol/subscriptionId";
// Prefix of requestState values this gateway issues; anything else belongs
// to a 2026-07-28 upstream and passes through.
constexpr std::string_view kStatePrefix = "pcx1.";
constexpr std::string_view kStateAad = "portcullis/requestState/v1";
// How long a held call waits for the client to answer its input requests.
constexpr long long kInputWaitMs = 10 * 60 * 1000;
// Input requests arriving this close together go out in one result.
constexpr auto kInputCoalesce = std::chrono::milliseconds(20);
// A 2026-07-28 upstream asking a 2025-11-25 client for input more often than
// this in one call is looping.
constexpr int kMaxInputRounds = 16;

bool cacheable(const std::string& method) {
  return method == "server/discover" || method == "tools/list" || method == "prompts/list" ||
         method == "resources/list" || method == "resources/templates/list" || method == "resources/read";
}

}  // namespace

std::string request_digest(const std::string& method, const Json& params) {
  Json p = params.is_object() ? params : Json::object();
  p.erase("_meta");
  p.erase("inputResponses");
  p.erase("requestState");
  return crypto::sha256_hex(method + "\n" + p.dump());
}

std::string Gateway::seal_key() const {
  const auto& configured = runtime()->config->settings.session_key;
  return configured.empty() ? session_key_ : configured;
}

// ------------------------------------------------------------ discovery

void Gateway::decorate(const Session& session, const InFlight& inflight, Json& response) {
  auto r = response.find("result");
  if (r == response.end() || !r->is_object()) return;
  if (!r->contains("resultType")) (*r)["resultType"] = "complete";
  Json& meta = (*r)["_meta"];
  if (meta.is_null()) meta = Json::object();
  if (meta.is_object()) meta["io.modelcontextprotocol/serverInfo"] = virtual_server_info(session.virtual_server);
  if ((*r)["resultType"] == "complete" && cacheable(inflight.method)) {
    // Lists change whenever an upstream's do, and listen streams announce
    // it; without that signal a client should ask again, so nothing is
    // promised fresh. With identity configured, what a user sees is theirs.
    if (!r->contains("ttlMs")) (*r)["ttlMs"] = 0;
    bool personal = runtime()->config->settings.auth_configured || r->value("cacheScope", "") == "private";
    (*r)["cacheScope"] = personal ? "private" : "public";
  }
}

void Gateway::discover(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight) {
  std::string instructions;
  Json result = {{"supportedVersions", Json::array({kStatelessRevision})},
                 {"capabilities", virtual_capabilities(session->virtual_server, &instructions)}};
  if (!instructions.empty()) result["instructions"] = instructions;
  finish(session, inflight, rpc::make_result(inflight->downstream_id, std::move(result)));
}

// --------------------------------------------------------- listen streams

void Gateway::listen(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                     const Json& params) {
  auto f = params.find("notifications");
  if (f == params.end() || !f->is_object()) {
    return reply_error(session, inflight, rpc::kInvalidParams,
                       "subscriptions/listen needs params.notifications (which notifications to send)");
  }
  std::string unused;
  Json caps = virtual_capabilities(session->virtual_server, &unused);
  auto l = std::make_shared<Listener>();
  l->virtual_server = session->virtual_server;
  l->id = inflight->downstream_id;
  l->session = session;
  l->inflight = inflight;
  l->tools = f->value("toolsListChanged", false) && caps.contains("tools");
  l->prompts = f->value("promptsListChanged", false) && caps.contains("prompts");
  l->resources = f->value("resourcesListChanged", false) && caps.contains("resources");
  Json agreed = {{"toolsListChanged", l->tools}, {"promptsListChanged", l->prompts},
                 {"resourcesListChanged", l->resources}};
  auto uris = f->find("resourceSubscriptions");
  if (uris != f->end() && uris->is_array()) {
    auto rt = runtime();
    auto seen = catalog_of(*session, rt);
  const compose::VirtualCatalog* cat = seen.get();
    for (const auto& u : *uris) {
      if (!u.is_string() || !cat) continue;
      auto upstream = cat->resource_upstream(u.get<std::string>());
      if (!upstream) continue;  // not ours: not agreed
      l->uris.insert(u.get<std::string>());
      auto up = rt->upstreams.find(*upstream);
      if (up == rt->upstreams.end()) continue;
      auto link = stateless_link(up->second);
      if (link.ok() && link.value()->server_capabilities().value("resources", Json::object()).value("subscribe", false)) {
        link.value()->call_async("resources/subscribe", {{"uri", u}}, {}, [](Json) {});
      }
    }
    agreed["resourceSubscriptions"] = Json(l->uris);
  }
  {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(l);
  }
  std::weak_ptr<Listener> weak = l;
  // The client ends a listen stream by closing it.
  inflight->cancel->on_cancel([this, guard = guard_, weak] {
    if_running(guard, [&] {
      if (auto l = weak.lock()) end_listener(l, /*tell_client=*/false);
    });
  });
  session->deliver(rpc::make_notification("notifications/subscriptions/acknowledged",
                                          {{"notifications", agreed}, {"_meta", {{kSubscriptionId, l->id}}}}),
                   inflight);
}

void Gateway::end_listener(const std::shared_ptr<Listener>& l, bool tell_client) {
  std::set<std::string> still_wanted;
  bool found = false;
  {
    std::lock_guard lock(listeners_mu_);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (*it == l) {
        it = listeners_.erase(it);
        found = true;
      } else {
        still_wanted.insert((*it)->uris.begin(), (*it)->uris.end());
        ++it;
      }
    }
  }
  if (!found) return;
  // Resource subscriptions nobody listens to any more end upstream too.
  auto rt = runtime();
  auto seen = stateless_catalog(l->virtual_server, rt);
  const compose::VirtualCatalog* cat = seen.get();
  for (const auto& uri : l->uris) {
    if (still_wanted.count(uri) || !cat) continue;
    auto upstream = cat->resource_upstream(uri);
    auto up = upstream ? rt->upstreams.find(*upstream) : rt->upstreams.end();
    if (up == rt->upstreams.end()) continue;
    auto link = stateless_link(up->second, /*open=*/false);
    if (link.ok() && link.value()->server_capabilities().value("resources", Json::object()).value("subscribe", false)) {
      link.value()->call_async("resources/unsubscribe", {{"uri", uri}}, {}, [](Json) {});
    }
  }
  if (tell_client) {
    finish(l->session, l->inflight, rpc::make_result(l->id, {{"resultType", "complete"}}));
  }
}

void Gateway::notify_listeners(const std::string& vs, const char* method) {
  std::vector<std::shared_ptr<Listener>> targets;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& l : listeners_) {
      std::string_view m = method;
      bool wants = (m == "notifications/tools/list_changed" && l->tools) ||
                   (m == "notifications/prompts/list_changed" && l->prompts) ||
                   (m == "notifications/resources/list_changed" && l->resources);
      if (wants && l->virtual_server == vs) targets.push_back(l);
    }
  }
  for (const auto& l : targets) {
    l->session->deliver(rpc::make_notification(method, {{"_meta", {{kSubscriptionId, l->id}}}}), l->inflight);
  }
}

void Gateway::fan_out_resource_update(const Json& message) {
  const Json params = message.value("params", Json::object());
  std::string uri = params.value("uri", std::string());
  std::vector<std::shared_ptr<Listener>> targets;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& l : listeners_) {
      if (l->uris.count(uri)) targets.push_back(l);
    }
  }
  for (const auto& l : targets) {
    Json msg = message;
    msg["params"]["_meta"][kSubscriptionId] = l->id;
    l->session->deliver(msg, l->inflight);
  }
}

// ----------------------------------------------------------- shared links

Result<std::shared_ptr<mcp::UpstreamLink>> Gateway::stateless_link(const std::shared_ptr<Upstream>& up, bool open) {
  if (up->config().sessions == config::SessionMode::Shared) {
    auto link = up->shared_link();
    if (!link) return fail("upstream '" + up->name() + "' is not started");
    return link;
  }
  std::shared_ptr<StatelessSlot> slot;
  {
    std::lock_guard lock(stateless_mu_);
    auto& s = stateless_links_[up->name()];
    if (!s) s = std::make_shared<StatelessSlot>();
    slot = s;
  }
  std::lock_guard lock(slot->mu);
  if (slot->link && slot->owner.lock() == up && slot->link->state() != mcp::LinkState::Closed) return slot->link;
  if (!open) return fail("no link to upstream '" + up->name() + "' is open");
  if (slot->link) {
    // The upstream was reconfigured (or its link closed): start afresh.
    slot->link->close();
    if (auto old = slot->owner.lock()) old->client_link_closed();
    slot->link.reset();
  }
  auto link = up->open_client_link(full_client_capabilities(), stateless_link_handlers(up));
  if (!link.ok()) return fail(link.error());
  slot->link = link.value();
  slot->owner = up;
  return slot->link;
}

mcp::UpstreamLink::Handlers Gateway::stateless_link_handlers(const std::shared_ptr<Upstream>& up) {
  std::weak_ptr<Upstream> wu = up;
  std::string name = up->name();
  // The link is created after its handlers: they find it through its slot.
  auto find_link = [this, name]() -> std::shared_ptr<mcp::UpstreamLink> {
    std::shared_ptr<StatelessSlot> slot;
    {
      std::lock_guard lock(stateless_mu_);
      auto it = stateless_links_.find(name);
      if (it == stateless_links_.end()) return nullptr;
      slot = it->second;
    }
    std::lock_guard lock(slot->mu);
    return slot->link;
  };
  mcp::UpstreamLink::Handlers h;
  h.on_notification = [this, guard = guard_, wu, name, find_link](const transport::Incoming& in) {
    if_running(guard, [&] {
      const std::string method = in.message.value("method", "");
      if (method == "notifications/tools/list_changed" || method == "notifications/prompts/list_changed" ||
          method == "notifications/resources/list_changed") {
        // The stateless link's own upstream session changed what it offers:
        // stateless requests see that list from now on.
        if (auto u = wu.lock()) u->schedule_refresh();
        if (auto link = find_link()) relist_private(stateless_overlay_, nullptr, name, link);
        return;
      }
      if (method == "notifications/resources/updated") return fan_out_resource_update(in.message);
      auto link = find_link();
      if (!link) return;
      auto target = target_of(link.get(), in);
      // Over stdio a log message names no request: it belongs to the newest
      // call on the link, as a mid-call request does.
      if (!target && method == "notifications/message") target = latest_call_on(link.get());
      if (!target) return;  // nobody to tell: the request it concerned is gone
      if (auto s = target->session.lock()) route_notification(s, link.get(), name, in, target->inflight.lock());
    });
  };
  h.on_request = [this, guard = guard_, name, find_link](const transport::Incoming& in) {
    if_running(guard, [&] {
      auto link = find_link();
      if (!link) return;
      const Json& id = in.message["id"];
      auto target = target_of(link.get(), in);
      if (!target) target = latest_call_on(link.get());
      auto session = target ? target->session.lock() : nullptr;
      auto inflight = target ? target->inflight.lock() : nullptr;
      if (!session || !inflight) {
        if (in.message.value("method", "") == "roots/list") {
          // Asked outside any call: no client stands behind this link now.
          link->respond(id, rpc::make_result(id, {{"roots", Json::array()}}));
        } else {
          link->respond(id, rpc::make_error(id, rpc::kMethodNotFound,
                                            "no client request is in flight on this link to ask in"));
        }
        return;
      }
      ask_input(session, link, in, inflight);
    });
  };
  h.on_state = [name](mcp::LinkState state, const std::string& reason) {
    if (state == mcp::LinkState::Down) spdlog::warn("stateless link to upstream '{}' down: {}", name, reason);
  };
  return h;
}

std::optional<Gateway::CallTarget> Gateway::latest_call_on(const mcp::UpstreamLink* link) {
  char prefix[32];
  snprintf(prefix, sizeof prefix, "c%p:", static_cast<const void*>(link));
  std::optional<CallTarget> best;
  std::chrono::steady_clock::time_point best_started{};
  std::lock_guard lock(calls_mu_);
  for (const auto& [key, target] : calls_) {
    if (!text::starts_with(key, prefix)) continue;
    auto f = target.inflight.lock();
    if (f && (!best || f->started > best_started)) {
      best = target;
      best_started = f->started;
    }
  }
  return best;
}

// ------------------------------------ 2026-07-28 client, older upstream

std::shared_ptr<Exchange> Gateway::exchange_of(const std::shared_ptr<InFlight>& inflight) {
  std::lock_guard lock(exchanges_mu_);
  return inflight->exchange;
}

std::pair<std::shared_ptr<Session>, std::shared_ptr<InFlight>> Gateway::current_of(
    const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight) {
  auto ex = exchange_of(inflight);
  if (!ex) return {session, inflight};
  std::lock_guard lock(ex->mu);
  return {ex->session, ex->current};
}

void Gateway::ask_input(const std::shared_ptr<Session>& session, const std::shared_ptr<mcp::UpstreamLink>& link,
                        const transport::Incoming& in, const std::shared_ptr<InFlight>& inflight) {
  const Json& id = in.message["id"];
  const std::string method = in.message.value("method", "");
  const Json params = in.message.value("params", Json::object());
  const char* cap = client_capability_for(method);
  if (!cap) {
    link->respond(id, rpc::make_error(id, rpc::kMethodNotFound, "Method not found: " + method));
    return;
  }
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard lock(exchanges_mu_);
    ex = inflight->exchange;
    if (!ex) {
      ex = std::make_shared<Exchange>();
      ex->handle = crypto::random_hex(16);
      ex->owner = session->owner;
      static const Json kNoParams = Json::object();
      const Json* req = inflight->request.get();
      ex->digest = request_digest(inflight->method, req && req->contains("params") ? (*req)["params"] : kNoParams);
      ex->upstream_cancel = inflight->cancel;
      ex->session = session;
      ex->current = inflight;
      inflight->exchange = ex;
      exchanges_[ex->handle] = ex;
    }
  }
  // What the request needs, in 2026-07-28 terms: a URL elicitation needs
  // the url mode, anything else the capability itself.
  Json needed = {{cap, Json::object()}};
  bool declared = false;
  {
    std::lock_guard lock(ex->mu);
    const Json& caps = ex->session->client_capabilities;
    declared = caps.is_object() && caps.contains(cap);
    if (declared && method == "elicitation/create" && params.value("mode", "form") == "url") {
      const Json& e = caps[cap];
      declared = e.is_object() && e.contains("url");
      needed = {{cap, {{"url", Json::object()}}}};
    }
  }
  if (!declared) {
    link->respond(id, rpc::make_error(id, rpc::kMethodNotFound,
                                      std::string("the client behind Portcullis did not declare the ") + cap +
                                          " capability"));
    std::shared_ptr<Session> s;
    std::shared_ptr<InFlight> f;
    {
      std::lock_guard lock(ex->mu);
      s = ex->session;
      f = std::exchange(ex->current, nullptr);
      ex->asks.clear();
      ex->final_response = Json();  // the call is abandoned: drop its answer
    }
    {
      std::lock_guard lock(exchanges_mu_);
      exchanges_.erase(ex->handle);
    }
    ex->upstream_cancel->cancel();
    if (f) {
      finish(s, f,
             rpc::make_error(f->downstream_id, rpc::kMissingClientCapability,
                             "Missing required client capability: the upstream asked for " + method + ", which needs " +
                                 needed.dump() + " in io.modelcontextprotocol/clientCapabilities",
                             {{"requiredCapabilities", needed}}));
    }
    return;
  }
  {
    std::lock_guard lock(ex->mu);
    std::string key = std::string(cap) + "-" + std::to_string(++ex->counters[cap]);
    ex->asks[key] = {link, id, {{"method", method}, {"params", params}}};
  }
  schedule_flush(ex);
}

void Gateway::schedule_flush(const std::shared_ptr<Exchange>& ex) {
  {
    std::lock_guard lock(ex->mu);
    if (ex->flush_scheduled) return;
    ex->flush_scheduled = true;
  }
  Scheduler::shared().after(kInputCoalesce, [this, guard = guard_, ex] {
    if_running(guard, [&] { flush_input(ex); });
  });
}

void Gateway::flush_input(const std::shared_ptr<Exchange>& ex) {
  std::shared_ptr<Session> s;
  std::shared_ptr<InFlight> f;
  Json result;
  {
    std::lock_guard lock(ex->mu);
    ex->flush_scheduled = false;
    if (!ex->current || ex->asks.empty() || ex->final_response) return;
    Json requests = Json::object();
    for (const auto& [key, ask] : ex->asks) requests[key] = ask.request;
    ex->round++;
    ex->expires_ms = now_ms() + kInputWaitMs;
    // Sealed, so the client can neither read nor forge it; it names the held
    // call, the request it continues, which round, and until when.
    Json state = {{"h", ex->handle}, {"d", ex->digest}, {"r", ex->round}, {"e", ex->expires_ms}, {"o", ex->owner}};
    result = {{"resultType", "input_required"},
              {"inputRequests", std::move(requests)},
              {"requestState", std::string(kStatePrefix) + crypto::seal(seal_key(), state.dump(), kStateAad)}};
    s = ex->session;
    f = std::exchange(ex->current, nullptr);
  }
  finish(s, f, rpc::make_result(f->downstream_id, std::move(result)));
}

bool Gateway::resume(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                     const std::string& method, const Json& params) {
  auto rs = params.find("requestState");
  if (rs == params.end() || !rs->is_string() || !text::starts_with(rs->get_ref<const std::string&>(), kStatePrefix)) {
    return false;  // no state, or a 2026-07-28 upstream's own
  }
  auto refuse = [&](const std::string& why) {
    reply_error(session, inflight, rpc::kInvalidParams, "Invalid requestState: " + why);
    return true;
  };
  auto opened = crypto::open(seal_key(), std::string_view(rs->get_ref<const std::string&>()).substr(kStatePrefix.size()),
                             kStateAad);
  if (!opened) return refuse("it failed its integrity check (altered, or issued under another key)");
  Json state = Json::parse(*opened, nullptr, false);
  if (!state.is_object() || !state["h"].is_string() || !state["d"].is_string() || !state["r"].is_number_integer() ||
      !state["e"].is_number_integer()) {
    return refuse("unreadable");
  }
  if (state["e"].get<long long>() < now_ms()) return refuse("it expired; send the request again without it");
  // Only whoever started the call may continue it.
  if (state.value("o", std::string()) != session->owner) return refuse("it was issued to another principal");
  if (state["d"] != request_digest(method, params)) {
    return refuse("it belongs to another request (the method, name and arguments must repeat the original's)");
  }
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard lock(exchanges_mu_);
    auto it = exchanges_.find(state["h"].get<std::string>());
    if (it != exchanges_.end()) ex = it->second;
  }
  if (!ex) {
    return refuse("the call it continues is no longer held here (it ended, timed out, or is held by another "
                  "Portcullis instance); send the request again without it");
  }
  const Json* answers = nullptr;
  if (auto ir = params.find("inputResponses"); ir != params.end()) {
    if (!ir->is_object()) return refuse("inputResponses must be an object keyed like inputRequests");
    answers = &*ir;
  }
  struct Reply {
    std::weak_ptr<mcp::UpstreamLink> link;
    Json id, result;
  };
  std::vector<Reply> replies;
  std::optional<Json> final_response;
  bool more = false;
  {
    std::lock_guard lock(ex->mu);
    if (state["r"].get<int>() != ex->round) return refuse("it is stale; use the one from the latest input_required result");
    if (ex->current) return refuse("another request is already continuing this call");
    if (answers) {
      // Check every answer before sending any: all or nothing.
      for (const auto& [key, ask] : ex->asks) {
        auto a = answers->find(key);
        if (a != answers->end() && !a->is_object()) {
          return refuse("inputResponses." + key + " must be the client's result object for " +
                        ask.request["method"].get<std::string>());
        }
      }
      for (auto it = ex->asks.begin(); it != ex->asks.end();) {
        auto a = answers->find(it->first);
        if (a == answers->end()) {
          ++it;
          continue;
        }
        replies.push_back({it->second.link, it->second.upstream_id, *a});
        it = ex->asks.erase(it);
      }
    }
    // Attach before answering, so an answer the upstream finishes on at once
    // finds this request waiting.
    ex->current = inflight;
    ex->session = session;
    if (ex->final_response) final_response = std::exchange(ex->final_response, std::nullopt);
    more = !ex->asks.empty();
  }
  inflight->upstream = "(continuation)";
  std::weak_ptr<Exchange> weak = ex;
  std::weak_ptr<InFlight> weak_f = inflight;
  inflight->cancel->on_cancel([weak, weak_f] {
    auto ex = weak.lock();
    if (!ex) return;
    std::lock_guard lock(ex->mu);
    if (ex->current && ex->current == weak_f.lock()) ex->upstream_cancel->cancel();
  });
  for (auto& r : replies) {
    if (auto link = r.link.lock()) link->respond(r.id, rpc::make_result(r.id, std::move(r.result)));
  }
  if (final_response) {
    deliver_final(session, inflight, std::move(*final_response));
  } else if (more) {
    schedule_flush(ex);  // ask again for what is still unanswered
  }
  return true;
}

size_t Gateway::deliver_final(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                              Json response) {
  auto ex = exchange_of(inflight);
  if (!ex) return finish(session, inflight, std::move(response));
  std::shared_ptr<Session> s;
  std::shared_ptr<InFlight> f;
  {
    std::lock_guard lock(ex->mu);
    ex->asks.clear();
    if (ex->final_response && ex->final_response->is_null()) return 0;  // abandoned
    if (!ex->current) {
      // The client is still answering; its next request gets this.
      ex->final_response = std::move(response);
      ex->expires_ms = now_ms() + kInputWaitMs;
      return 0;
    }
    s = ex->session;
    f = std::exchange(ex->current, nullptr);
  }
  {
    std::lock_guard lock(exchanges_mu_);
    exchanges_.erase(ex->handle);
  }
  return finish(s, f, std::move(response));
}

void Gateway::reap_exchanges() {
  std::vector<std::shared_ptr<Exchange>> expired;
  long long now = now_ms();
  {
    std::lock_guard lock(exchanges_mu_);
    for (auto it = exchanges_.begin(); it != exchanges_.end();) {
      std::lock_guard elock(it->second->mu);
      if (!it->second->current && it->second->expires_ms && it->second->expires_ms < now) {
        expired.push_back(it->second);
        it = exchanges_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& ex : expired) {
    spdlog::info("input request {} expired unanswered; cancelling its upstream call", ex->handle.substr(0, 8));
    ex->upstream_cancel->cancel();
  }
}

// ------------------------------------ 2025-11-25 client, 2026-07-28 upstream

void Gateway::fulfil_input(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                           const std::shared_ptr<Upstream>& up, const std::shared_ptr<mcp::UpstreamLink>& link,
                           const std::string& method, Json params, const Json& result,
                           const std::shared_ptr<CallState>& state) {
  auto fail_call = [&](int code, const std::string& message, Json data = nullptr) {
    {
      std::lock_guard lock(calls_mu_);
      if (!state->progress_key.empty()) calls_.erase(state->progress_key);
    }
    deliver_final(session, inflight, rpc::make_error(inflight->downstream_id, code, message, std::move(data)));
  };
  if (++state->rounds > kMaxInputRounds) {
    return fail_call(rpc::kUpstreamInvalid, "upstream '" + up->name() + "' asked for client input more than " +
                                                std::to_string(kMaxInputRounds) + " times in one call");
  }
  Json requests = result.value("inputRequests", Json::object());
  const Json request_state = result.value("requestState", Json());
  if (!requests.is_object() || (requests.empty() && !request_state.is_string())) {
    return fail_call(rpc::kUpstreamInvalid,
                     "upstream '" + up->name() + "' answered input_required without inputRequests or requestState");
  }
  for (auto it = requests.begin(); it != requests.end(); ++it) {
    const std::string m = it->is_object() ? it->value("method", "") : "";
    const char* cap = client_capability_for(m);
    if (!cap) {
      return fail_call(rpc::kUpstreamInvalid, "upstream '" + up->name() + "' sent an input request '" + it.key() +
                                                  "' that is not sampling, elicitation or roots");
    }
    if (!session->client_supports(cap)) {
      return fail_call(rpc::kMissingClientCapability,
                       "upstream '" + up->name() + "' needs the client's " + cap +
                           " capability, which this session did not declare",
                       {{"requiredCapabilities", {{cap, Json::object()}}}});
    }
  }
  // Ask the client each request, collect every answer, then call again.
  struct Collect {
    std::mutex mu;
    size_t remaining;
    Json answers = Json::object();
    Json refusal;  // the first error the client answered with
  };
  auto collect = std::make_shared<Collect>();
  collect->remaining = requests.size();
  auto next_round = [this, guard = guard_, session, inflight, up, link, method, params, request_state, state,
                     collect]() mutable {
    if_running(guard, [&] {
      if (!collect->refusal.is_null()) {
        {
          std::lock_guard lock(calls_mu_);
          if (!state->progress_key.empty()) calls_.erase(state->progress_key);
        }
        Json err = collect->refusal;
        deliver_final(session, inflight,
                      rpc::make_error(inflight->downstream_id, err.value("code", rpc::kInternalError),
                                      "the client refused the upstream's input request: " +
                                          err.value("message", std::string("(no message)")),
                                      err.value("data", Json())));
        return;
      }
      params["inputResponses"] = std::move(collect->answers);
      if (request_state.is_string()) params["requestState"] = request_state;
      else params.erase("requestState");
      send(session, inflight, up, link, method, std::move(params), state);
    });
  };
  if (requests.empty()) return next_round();
  for (auto it = requests.begin(); it != requests.end(); ++it) {
    std::string key = it.key();
    Json msg = {{"jsonrpc", "2.0"}, {"method", (*it)["method"]}, {"params", it->value("params", Json::object())}};
    std::string gateway_id;
    {
      std::lock_guard lock(session->mu);
      gateway_id = Json("pc-" + std::to_string(session->next_server_request++)).dump();
      Session::PendingServerRequest pending;
      pending.upstream = up->name();
      pending.answer = [collect, key, next_round](const Json& answer) mutable {
        bool last = false;
        {
          std::lock_guard lock(collect->mu);
          if (answer.contains("result")) {
            collect->answers[key] = answer["result"];
          } else if (collect->refusal.is_null()) {
            collect->refusal = answer.value("error", Json{{"code", rpc::kInternalError}});
          }
          last = --collect->remaining == 0;
        }
        if (last) next_round();
      };
      session->server_requests[gateway_id] = std::move(pending);
    }
    msg["id"] = Json::parse(gateway_id);
    session->deliver(msg, inflight);
  }
}

}  // namespace portcullis::pipeline
