// Catalogues seen through private upstream links. A per_client upstream runs
// one upstream session (for stdio, one process) per downstream session, and
// the stateless requests share another; each may change what it offers on
// its own (a tool that appears after a call, say). The shared catalogue
// cannot show that, so such a change is listed from the link that announced
// it into an overlay that only its clients see. Upstreams that act as each
// user have no shared catalogue at all: every session lists them through its
// own links, with its own credential, into the same kind of overlay.
#include <spdlog/spdlog.h>

#include <thread>

#include "core/jsonrpc.h"
#include "core/scheduler.h"
#include "pipeline/gateway.h"

namespace portcullis::pipeline {

namespace {
constexpr long long kPersonalRetryMs = 5000;
}  // namespace

std::shared_ptr<CatalogOverlay> Gateway::overlay_of(Session& session) {
  std::lock_guard lock(session.mu);
  if (!session.catalogs) session.catalogs = std::make_shared<CatalogOverlay>();
  return session.catalogs;
}

void Gateway::list_personal_catalogs(const std::shared_ptr<Session>& session) {
  if (session->stateless) return;
  auto rt = runtime();
  const compose::VirtualCatalog* cat = rt->catalog(session->virtual_server);
  if (!cat) return;
  for (const auto& name : cat->upstreams()) {
    auto up = rt->upstreams.find(name);
    if (up == rt->upstreams.end() || !up->second->personal()) continue;
    {
      std::lock_guard lock(session->mu);
      // After a failure, requests within a few seconds do not try again: an
      // issuer that is down must not cost every request its timeout.
      auto failed = session->personal_failures.find(name);
      if (failed != session->personal_failures.end() && now_ms() - failed->second.at_ms < kPersonalRetryMs) continue;
      if (session->personal_listed.count(name)) continue;
    }
    // A user who has not connected their account sees the connect tool; the
    // vault is asked again on every request until they have.
    if (auto lacks = lacks_consent(*session, up->second->config()); lacks.ok() && lacks.value()) {
      show_unconnected(session, name);
      continue;
    }
    {
      std::lock_guard lock(session->mu);
      if (!session->personal_listed.insert(name).second) continue;
    }
    auto link = link_for(session, up->second);
    if (!link.ok() && token_refused(session, *up->second, link.error())) {
      // The stored token was refused: refreshed now, or dropped, in which
      // case the user is asked to connect again.
      if (auto lacks = lacks_consent(*session, up->second->config()); lacks.ok() && lacks.value()) {
        {
          std::lock_guard lock(session->mu);
          session->personal_listed.erase(name);
        }
        show_unconnected(session, name);
        continue;
      }
      link = link_for(session, up->second);
    }
    if (!link.ok()) {
      spdlog::warn("session {}: upstream '{}' could not be listed with the user's credential: {}", session->id, name,
                   link.error());
      std::lock_guard lock(session->mu);
      session->personal_listed.erase(name);  // the next request tries again
      session->personal_failures[name] = {link.error(), now_ms()};
      continue;
    }
    {
      std::lock_guard lock(session->mu);
      session->personal_failures.erase(name);
    }
    apply_private_list(*overlay_of(*session), session, name, *link.value());
  }
}

std::shared_ptr<const compose::VirtualCatalog> Gateway::catalog_of(Session& session,
                                                                   const std::shared_ptr<const Runtime>& rt) {
  if (session.stateless) return stateless_catalog(session.virtual_server, rt);
  std::shared_ptr<CatalogOverlay> overlay;
  {
    std::lock_guard lock(session.mu);
    overlay = session.catalogs;
  }
  if (overlay) {
    if (auto own = overlay_catalog(*overlay, session.virtual_server, rt)) return own;
  }
  auto it = rt->catalogs.find(session.virtual_server);
  return it == rt->catalogs.end() ? nullptr : it->second;
}

std::shared_ptr<const compose::VirtualCatalog> Gateway::stateless_catalog(const std::string& vs,
                                                                          const std::shared_ptr<const Runtime>& rt) {
  if (auto own = overlay_catalog(*stateless_overlay_, vs, rt)) return own;
  auto it = rt->catalogs.find(vs);
  return it == rt->catalogs.end() ? nullptr : it->second;
}

std::shared_ptr<const compose::VirtualCatalog> Gateway::overlay_catalog(CatalogOverlay& o, const std::string& vs,
                                                                        const std::shared_ptr<const Runtime>& rt) {
  std::lock_guard lock(o.mu);
  if (o.upstreams.empty()) return nullptr;
  if (o.built_for.lock() != rt) {
    o.catalogs.clear();
    o.built_for = rt;
  }
  if (auto it = o.catalogs.find(vs); it != o.catalogs.end()) return it->second;
  auto& slot = o.catalogs[vs];
  const compose::VirtualCatalog* base = rt->catalog(vs);
  auto cfg = rt->config->virtual_servers.find(vs);
  if (!base || cfg == rt->config->virtual_servers.end()) return nullptr;
  bool replaced = false;
  for (const auto& up : base->upstreams()) replaced |= o.upstreams.count(up) > 0;
  if (!replaced) return nullptr;
  compose::UpstreamCatalogs merged;
  for (const auto& [name, up] : rt->upstreams) {
    auto own = o.upstreams.find(name);
    merged[name] = own != o.upstreams.end() ? own->second : up->catalog();
  }
  compose::PinChanges pins;
  for (const auto& [key, change] : rt->pin_changes) {
    if (!o.upstreams.count(key.first)) pins.emplace(key, change);
  }
  for (const auto& [key, change] : o.pin_changes) pins.emplace(key, change);
  std::vector<std::string> problems;  // the same collisions the shared build reported
  slot = compose::VirtualCatalog::build(cfg->second, screen_tools(*rt, cfg->second, merged), &problems, &pins);
  for (const auto& up : o.unconnected) {
    if (std::find(base->upstreams().begin(), base->upstreams().end(), up) == base->upstreams().end()) continue;
    Json tool = {{"name", "connect_" + up},
                 {"description", "Connect your account at '" + up + "' so that its tools become available to you. "
                                 "Opens a sign-in page of that service in your browser; your credentials never pass "
                                 "through this conversation."},
                 {"inputSchema", {{"type", "object"}, {"properties", Json::object()}}},
                 {"annotations", {{"readOnlyHint", true}, {"openWorldHint", true}}}};
    compose::Route route;
    route.upstream = up;
    route.connect = true;
    if (auto with = slot->with_tool(std::move(tool), std::move(route))) slot = with;
  }
  return slot;
}

void Gateway::relist_private(const std::shared_ptr<CatalogOverlay>& overlay, const std::shared_ptr<Session>& session,
                             const std::string& upstream, const std::shared_ptr<mcp::UpstreamLink>& link) {
  {
    std::lock_guard lock(overlay->mu);
    if (!overlay->relisting.insert(upstream).second) return;  // one re-list covers a burst
  }
  std::weak_ptr<Session> ws = session;
  std::weak_ptr<mcp::UpstreamLink> wl = link;
  const bool for_session = session != nullptr;
  // Listing calls the upstream, so it must not run on the scheduler thread.
  Scheduler::shared().after(std::chrono::milliseconds(100), [this, guard = guard_, overlay, ws, wl, upstream,
                                                             for_session] {
    std::thread([this, guard, overlay, ws, wl, upstream, for_session] {
      {
        std::lock_guard lock(overlay->mu);
        overlay->relisting.erase(upstream);  // a change announced from now on lists again
      }
      if_running(guard, [&] {
        auto session = ws.lock();
        auto link = wl.lock();
        if ((for_session && (!session || session->closed())) || !link) return;
        if (link->state() != mcp::LinkState::Ready) return;
        apply_private_list(*overlay, session, upstream, *link);
      });
    }).detach();
  });
}

void Gateway::apply_private_list(CatalogOverlay& overlay, const std::shared_ptr<Session>& session,
                                 const std::string& upstream, mcp::UpstreamLink& link) {
  auto rt = runtime();
  auto up = rt->upstreams.find(upstream);
  if (up == rt->upstreams.end()) return;
  std::shared_ptr<const compose::UpstreamCatalog> previous;
  {
    std::lock_guard lock(overlay.mu);
    auto it = overlay.upstreams.find(upstream);
    previous = it != overlay.upstreams.end() ? it->second : up->second->catalog();
  }
  auto listed = up->second->list_catalog(link, *previous);
  // A private process can pull the rug as well as the shared one.
  auto pins = check_pins_of(*rt, upstream, listed->tools);

  // Which virtual servers see this overlay, and what they showed before.
  std::vector<std::string> servers;
  if (session) {
    servers.push_back(session->virtual_server);
  } else {
    for (const auto& [name, cat] : rt->catalogs) {
      const auto& ups = cat->upstreams();
      if (std::find(ups.begin(), ups.end(), upstream) != ups.end()) servers.push_back(name);
    }
  }
  auto seen = [&](const std::string& vs) {
    auto own = overlay_catalog(overlay, vs, rt);
    return own ? own : std::shared_ptr<const compose::VirtualCatalog>(rt, rt->catalog(vs));
  };
  std::vector<std::shared_ptr<const compose::VirtualCatalog>> before;
  for (const auto& vs : servers) before.push_back(seen(vs));
  {
    std::lock_guard lock(overlay.mu);
    overlay.upstreams[upstream] = listed;
    overlay.unconnected.erase(upstream);
    for (auto it = overlay.pin_changes.begin(); it != overlay.pin_changes.end();) {
      it = it->first.first == upstream ? overlay.pin_changes.erase(it) : std::next(it);
    }
    overlay.pin_changes.merge(pins);
    overlay.catalogs.clear();
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    auto notes = list_change_notifications(before[i].get(), seen(servers[i]).get());
    if (notes.empty()) continue;
    spdlog::debug("virtual server '{}': upstream '{}' changed its lists on a private link{}", servers[i], upstream,
                  session ? " of session " + session->id : std::string(" of stateless requests"));
    for (const char* method : notes) {
      if (session) {
        if (session->initialized) session->outbox.push(rpc::dump(rpc::make_notification(method, nullptr)));
      } else {
        notify_listeners(servers[i], method);
      }
    }
  }
}

}  // namespace portcullis::pipeline
