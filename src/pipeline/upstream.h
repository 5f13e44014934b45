// Upstream: the running side of one configured upstream server.
//
// It keeps one shared link, which lists the catalogue (all pages of tools,
// resources, templates and prompts), refreshes it when the upstream says its
// lists changed, and serves calls for upstreams in `sessions: shared` mode.
// For `per_client` upstreams it opens a private link per downstream session.
// Listing never fans out on the request path: sessions read the cached
// catalogue.
//
// Threading: all methods are thread-safe. on_catalog_changed is invoked on a
// pool or scheduler thread.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "compose/catalog.h"
#include "config/config.h"
#include "mcp/upstream_link.h"

namespace portcullis::pipeline {

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  using OnCatalogChanged = std::function<void(const std::string& upstream)>;
  // Routes a notification or request that arrived on the shared link.
  using OnSharedTraffic = std::function<void(const std::shared_ptr<Upstream>&, const transport::Incoming&, bool is_request)>;

  Upstream(config::UpstreamConfig cfg, OnCatalogChanged on_changed, OnSharedTraffic on_shared);
  ~Upstream();

  // Connects the shared link and loads the catalogue. Blocks up to the
  // connect timeout. Failure leaves the upstream Down and retrying.
  void start();
  void stop();

  const config::UpstreamConfig& config() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  std::shared_ptr<const compose::UpstreamCatalog> catalog() const;
  std::shared_ptr<mcp::UpstreamLink> shared_link() const;
  bool ready() const;
  std::string status() const;  // "ready" or "down: <reason>"

  // Re-lists everything (debounced by 100 ms when scheduled). `notify` is
  // false for the initial load, which the runtime being built reads itself.
  void refresh_catalog(bool notify = true);
  void schedule_refresh();
  // Lists everything `link` (this upstream's shared link or a private one)
  // offers, all pages. A list that fails keeps its entry of `fallback`.
  // Blocks on the upstream; never call it on a scheduler thread.
  std::shared_ptr<const compose::UpstreamCatalog> list_catalog(mcp::UpstreamLink& link,
                                                               const compose::UpstreamCatalog& fallback);

  // A private link for one downstream session (per_client mode). Fails when
  // max_sessions links are open or the upstream cannot be started.
  // `resume`: an upstream session to continue (Streamable HTTP).
  // `personal`: this user's copy of the config (their credential), for
  // upstreams whose auth is per user.
  Result<std::shared_ptr<mcp::UpstreamLink>> open_client_link(
      const Json& client_capabilities, mcp::UpstreamLink::Handlers handlers,
      std::optional<mcp::UpstreamLink::SessionHandle> resume = std::nullopt,
      std::optional<config::UpstreamConfig> personal = std::nullopt);
  // True when the upstream acts as each user (per-user credentials): it has
  // no shared link, and each session lists it with its own credential.
  bool personal() const { return cfg_.auth.per_user(); }
  void client_link_closed();

 private:
  Result<std::vector<Json>> list_all(mcp::UpstreamLink& link, const std::string& method,
                                     const std::string& key);

  config::UpstreamConfig cfg_;
  OnCatalogChanged on_changed_;
  OnSharedTraffic on_shared_;
  std::shared_ptr<mcp::UpstreamLink> link_;
  mutable std::mutex mu_;
  std::shared_ptr<const compose::UpstreamCatalog> catalog_;  // (mu_)
  std::string last_error_;                                    // (mu_)
  std::atomic<bool> refresh_pending_{false};
  std::atomic<size_t> client_links_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> was_ready_{false};  // a later Ready is a restart
};

// Capabilities Portcullis declares to upstreams on its shared links: all it
// can relay, so the catalogue shows every tool an upstream may offer.
Json full_client_capabilities();

}  // namespace portcullis::pipeline
