// Gateway: the running MCP side of Portcullis, independent of HTTP.
//
// It holds the current Runtime (config, running upstreams, virtual
// catalogues) as an immutable snapshot swapped atomically on reload or when
// an upstream's catalogue changes, the table of downstream sessions, and the
// relay that maps every message kind between a downstream session and its
// upstream links: calls, progress, logging, cancellation, server->client
// requests and their answers, subscriptions and list changes.
//
// Threading: every public method is thread-safe. handle_request() may block
// briefly (starting a per-client upstream); upstream calls run on the pool,
// and their responses are pushed to the request's stream.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "compose/catalog.h"
#include "config/config.h"
#include "core/elastic_pool.h"
#include "pipeline/session.h"
#include "pipeline/upstream.h"
#include "record/audit.h"

namespace portcullis::pipeline {

struct Runtime {
  std::shared_ptr<const config::GatewayConfig> config;
  std::map<std::string, std::shared_ptr<Upstream>> upstreams;
  std::map<std::string, std::shared_ptr<const compose::VirtualCatalog>> catalogs;
  std::vector<std::string> problems;  // composition problems (name collisions)
  compose::PinChanges pin_changes;    // tools whose definition differs from its approval

  const compose::VirtualCatalog* catalog(const std::string& vs) const {
    auto it = catalogs.find(vs);
    return it == catalogs.end() ? nullptr : it->second.get();
  }
};

class Gateway {
 public:
  explicit Gateway(std::shared_ptr<const config::GatewayConfig> config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Opens the audit log, starts every upstream in parallel and waits for each
  // to come up or fail (bounded by its connect timeout).
  Result<void> start();
  void stop();

  // Re-reads the config DIR. On errors, returns them and keeps serving the
  // old config. On success, swaps it in atomically and tells affected
  // sessions that their lists changed.
  std::vector<config::Diagnostic> reload();

  std::shared_ptr<const Runtime> runtime() const;
  SessionTable& sessions() { return sessions_; }
  ElasticPool& pool() { return pool_; }
  record::AuditLog* audit() { return audit_.get(); }

  // --- Downstream entry points (transport-independent) ---
  // Handles a request. Exactly one response is eventually pushed, marked
  // final, to `inflight->stream` (or to the outbox when there is no stream).
  void handle_request(const std::shared_ptr<Session>& session, const Json& request,
                      const std::shared_ptr<InFlight>& inflight);
  void handle_notification(const std::shared_ptr<Session>& session, const Json& message);
  void handle_response(const std::shared_ptr<Session>& session, const Json& message);

 private:
  struct CallTarget {
    std::weak_ptr<Session> session;
    std::weak_ptr<InFlight> inflight;
  };

  // Sends the final response; returns its serialized size.
  size_t finish(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                Json response);
  void reply_error(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                   int code, const std::string& message, Json data = nullptr);

  Json initialize(Session& session, const Json& params);
  void list(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
            compose::ListKind kind, const Json& params);
  void call_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                 const Json& params);
  void get_prompt(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                  const Json& params);
  void by_resource(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                   const std::string& method, const Json& params);
  void complete(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                const Json& params);
  void set_log_level(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                     const Json& params);

  struct AuditInfo {
    std::string tool, original;
  };
  // Forwards `method` to `upstream` for this session and finishes the request
  // with the upstream's answer.
  void forward(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
               const std::string& upstream, const std::string& method, Json params,
               std::optional<AuditInfo> audit);
  Result<std::shared_ptr<mcp::UpstreamLink>> link_for(const std::shared_ptr<Session>& session,
                                                      const std::shared_ptr<Upstream>& upstream);
  mcp::UpstreamLink::Handlers client_link_handlers(const std::shared_ptr<Session>& session,
                                                   const std::shared_ptr<Upstream>& upstream);

  // Upstream -> downstream routing.
  void route_notification(const std::shared_ptr<Session>& session, mcp::UpstreamLink* link,
                          const std::string& upstream, const transport::Incoming& in);
  void route_server_request(const std::shared_ptr<Session>& session,
                            const std::shared_ptr<mcp::UpstreamLink>& link,
                            const std::string& upstream, const transport::Incoming& in);
  void on_shared_traffic(const std::shared_ptr<Upstream>& up, const transport::Incoming& in,
                         bool is_request);
  std::optional<CallTarget> target_of(mcp::UpstreamLink* link, const transport::Incoming& in);
  static std::string call_key(const void* link, const Json& id);

  void rebuild_catalogs();
  void configure_sessions(const config::Settings& settings);
  // Builds every virtual catalogue of `rt` from its upstreams' catalogues,
  // checking tool pins first. REQUIRES: rebuild_mu_ held.
  void build_catalogs(Runtime& rt);
  compose::PinChanges check_pins(const Runtime& rt);
  // Opens the pin store once some virtual server pins. REQUIRES: rebuild_mu_ held.
  Result<void> open_pins(const config::GatewayConfig& cfg);
  void watch_pins();
  void notify_list_changes(const Runtime& before, const Runtime& after);
  std::shared_ptr<Runtime> make_runtime(std::shared_ptr<const config::GatewayConfig> cfg,
                                        const Runtime* previous);

  ElasticPool pool_;
  SessionTable sessions_;
  std::unique_ptr<record::AuditLog> audit_;
  std::unique_ptr<compose::PinStore> pins_;  // null when no virtual server pins
  std::string session_key_;                  // this process's own key, when none is configured

  mutable std::mutex runtime_mu_;
  std::shared_ptr<const Runtime> runtime_;  // (runtime_mu_)
  std::mutex rebuild_mu_;                    // serializes reload and catalogue rebuilds

  std::mutex calls_mu_;
  // "p<token>" -> a request's progress token; "c<link>:<id>" -> a call in flight.
  std::unordered_map<std::string, CallTarget> calls_;  // (calls_mu_)
  std::atomic<unsigned long long> next_token_{1};
  std::atomic<bool> stopped_{false};
  // Callbacks that run on other threads (upstream completions, catalogue
  // refreshes, timers) may fire while or after the gateway stops. Each one
  // holds the guard's lock shared while it uses the gateway and returns at
  // once when `stopped` is set; stop() sets it under the exclusive lock, so
  // once stop() returns no callback touches the gateway again.
  struct LifeGuard {
    std::shared_mutex mu;
    bool stopped = false;  // (mu)
  };
  std::shared_ptr<LifeGuard> guard_ = std::make_shared<LifeGuard>();
  // Runs `fn` unless the gateway has stopped; for callbacks on other threads.
  template <typename Fn>
  static void if_running(const std::shared_ptr<LifeGuard>& guard, Fn&& fn) {
    std::shared_lock lock(guard->mu);
    if (!guard->stopped) fn();
  }
  void schedule_reap();
};

}  // namespace portcullis::pipeline
