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
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "compose/catalog.h"
#include "config/config.h"
#include "core/elastic_pool.h"
#include "identity/authenticator.h"
#include "identity/upstream_consent.h"
#include "identity/upstream_tokens.h"
#include "pipeline/guard_stage.h"
#include "pipeline/policy_stage.h"
#include "pipeline/session.h"
#include "pipeline/upstream.h"
#include "record/audit.h"
#include "record/audit_backend.h"

namespace portcullis::pipeline {

struct Runtime {
  std::shared_ptr<const config::GatewayConfig> config;
  // The identity stage for this config (auth and metadata settings).
  std::shared_ptr<const identity::Authenticator> authenticator;
  // Users' own upstream tokens and their consent flow (auth type
  // oauth_user); null without a credential vault (credentials.key).
  std::shared_ptr<identity::UpstreamConsent> consent;
  // The authorize stage (policies/*.cedar); null: no policies, all allowed.
  std::shared_ptr<const PolicyStage> policy;
  std::map<std::string, std::shared_ptr<Upstream>> upstreams;
  std::map<std::string, std::shared_ptr<const compose::VirtualCatalog>> catalogs;
  std::vector<std::string> problems;  // composition problems (name collisions)
  compose::PinChanges pin_changes;    // tools whose definition differs from its approval
  // This config's guardrails and poisoning screen (guard_stage.h); null
  // only before start().
  std::shared_ptr<const GuardStage> guards;

  const compose::VirtualCatalog* catalog(const std::string& vs) const {
    auto it = catalogs.find(vs);
    return it == catalogs.end() ? nullptr : it->second.get();
  }
};

// The stateless protocol revision (no handshake, per-request _meta).
inline constexpr const char* kStatelessRevision = "2026-07-28";

// The client capability an upstream's request to the client needs
// ("sampling", "elicitation", "roots"), or null for other methods.
const char* client_capability_for(const std::string& method);
// The list_changed notifications that tell a client who saw `before` that
// it now sees `after` (every list when `before` is null).
std::vector<const char*> list_change_notifications(const compose::VirtualCatalog* before,
                                                  const compose::VirtualCatalog* after);
// serverInfo of a virtual server, as in initialize results and _meta.
Json virtual_server_info(const std::string& virtual_server);
// Identifies a request for MRTR continuations: method and params without
// _meta, inputResponses and requestState.
std::string request_digest(const std::string& method, const Json& params);

// A stateless (2026-07-28) request whose upstream, speaking 2025-11-25 or
// older, asked the client for input in the middle of the call (sampling,
// elicitation, roots). The upstream call stays open; the client gets an
// input_required result and continues with a new request carrying its answers
// and our sealed requestState. Lives in Gateway::exchanges_ until the call
// ends or the client stops answering.
struct Exchange {
  std::mutex mu;
  std::string handle;  // key in exchanges_, sealed into requestState
  std::string owner;   // Principal::key() of the client; only it may continue
  std::string digest;  // of the first request: every continuation must repeat it
  std::shared_ptr<mcp::CancelToken> upstream_cancel;  // cancels the held call
  // The downstream request now waiting for the call; null while the client
  // is answering.
  std::shared_ptr<Session> session;   // (mu)
  std::shared_ptr<InFlight> current;  // (mu)
  struct Ask {
    std::weak_ptr<mcp::UpstreamLink> link;
    Json upstream_id;
    Json request;  // {"method", "params"} as it goes into inputRequests
  };
  std::map<std::string, Ask> asks;       // (mu) unanswered input requests by key
  std::map<std::string, int> counters;   // (mu) per capability, for keys
  int round = 0;                         // (mu) counts input_required results sent
  bool flush_scheduled = false;          // (mu)
  std::optional<Json> final_response;    // (mu) the call ended while nobody waited
  long long expires_ms = 0;              // (mu) while nobody waits
};

// A 2026-07-28 subscriptions/listen stream: list changes and resource
// updates of one virtual server, filtered and tagged for one client.
struct Listener {
  std::string virtual_server;
  Json id;                      // the listen request's id: its subscriptionId
  bool tools = false, prompts = false, resources = false;
  std::set<std::string> uris;   // resource subscriptions
  std::shared_ptr<Session> session;
  std::shared_ptr<InFlight> inflight;
};

// What private upstream links offer (a per_client session's own links, or
// the links stateless requests share) once one of them announced a list
// change. Until then a private link is taken to offer what the upstream's
// shared link lists, so the common case costs nothing.
struct CatalogOverlay {
  std::mutex mu;
  compose::UpstreamCatalogs upstreams;  // (mu) replaces these upstreams' shared catalogues
  compose::PinChanges pin_changes;      // (mu) pin changes of the replaced upstreams' tools
  std::set<std::string> relisting;      // (mu) upstreams with a re-list scheduled
  // oauth_user upstreams the session's user has not connected yet: their
  // catalogue is empty and a "connect_<upstream>" tool stands in for it.
  std::set<std::string> unconnected;    // (mu)
  // Virtual catalogues built for one runtime snapshot; a null entry: that
  // virtual server uses no replaced upstream and sees the runtime's own.
  std::weak_ptr<const Runtime> built_for;                                          // (mu)
  std::map<std::string, std::shared_ptr<const compose::VirtualCatalog>> catalogs;  // (mu)
};

// The link that stateless requests share for one per-client upstream.
struct StatelessSlot {
  std::mutex mu;  // serializes creation
  std::weak_ptr<Upstream> owner;
  std::shared_ptr<mcp::UpstreamLink> link;
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
  // Who is asking: the current config's identity stage. Never null after start().
  std::shared_ptr<const identity::Authenticator> authenticator() const { return runtime()->authenticator; }
  // The consent flow of oauth_user upstreams (null without a vault): the
  // HTTP front serves its browser steps.
  std::shared_ptr<identity::UpstreamConsent> consent() const { return runtime()->consent; }
  // A user finished a consent in their browser: their sessions list the
  // upstream with the new token.
  void consent_given(const std::string& upstream, const std::string& user_key);
  SessionTable& sessions() { return sessions_; }
  ElasticPool& pool() { return pool_; }
  record::AuditLog* audit() { return audit_.get(); }

  // The catalogue a stateless (2026-07-28) request to `vs` sees. Null when
  // the virtual server is gone.
  std::shared_ptr<const compose::VirtualCatalog> stateless_catalog(const std::string& vs,
                                                                   const std::shared_ptr<const Runtime>& rt);

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
  // With a configured session key any instance may serve a session next:
  // its per_client Streamable HTTP upstream sessions start at initialize, so
  // that the sealed id carries them and other instances continue them.
  void open_roaming_links(const std::shared_ptr<Session>& session);
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

  // --- The guard stage (guard_stage.cpp) ---
  // mcp_pre_tool over a tools/call's `params.arguments` (redacted in place
  // by mutate guardrails). False when it answered the request (blocked, or
  // a bad X-Portcullis-Guardrails header).
  bool guard_pre_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                      const std::string& tool, Json& params);
  // mcp_post_tool over a tools/call's upstream response: redacts it in place,
  // or replaces its result with the block's tool error.
  void guard_post_tool(const Session& session, InFlight& inflight, Json& response);
  // The upstream catalogues virtual server `vs` may expose (poisoning).
  compose::UpstreamCatalogs screen_tools(const Runtime& rt, const config::VirtualServerConfig& vs,
                                         const compose::UpstreamCatalogs& upstreams);

  // --- The record stage (record_stage.cpp) ---
  // One audit record for an audited request (tools/call, tools/list,
  // resources/read, prompts/get) as its final response goes out.
  void record_request(const Session& session, InFlight& inflight, Json response, size_t response_bytes);
  // Routing's notes for the record: the name asked for and, when
  // audit.capture keeps payloads, the arguments.
  void note_route(InFlight& inflight, const std::string& name, const Json& arguments);

  struct AuditInfo {
    std::string tool, original;
  };
  // One forwarded call, across its upstream rounds.
  struct CallState {
    long long ts = 0;
    std::chrono::steady_clock::time_point sent = std::chrono::steady_clock::now();
    std::string progress_key, call_key;  // (calls_mu_)
    std::optional<AuditInfo> audit;
    int rounds = 0;  // input_required rounds fulfilled for a 2025-11-25 client
  };
  // Forwards `method` to `upstream` for this session and finishes the request
  // with the upstream's answer.
  void forward(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
               const std::string& upstream, const std::string& method, Json params,
               std::optional<AuditInfo> audit);
  // One upstream round of a forwarded call; a 2026-07-28 upstream's
  // input_required result for a 2025-11-25 client starts another.
  void send(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
            const std::shared_ptr<Upstream>& up, const std::shared_ptr<mcp::UpstreamLink>& link,
            const std::string& method, Json params, const std::shared_ptr<CallState>& state);
  // The call's final answer: to the request waiting for it, which for a held
  // exchange may be a later one than `inflight`. Returns the bytes sent.
  size_t deliver_final(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                       Json response);
  // --- Catalogues seen through private links (private_catalogs.cpp) ---
  // The catalogue `session` sees: its own when one of its private upstream
  // links changed its lists (the stateless links' for a stateless request),
  // else the runtime's. Null when the virtual server is gone.
  std::shared_ptr<const compose::VirtualCatalog> catalog_of(Session& session,
                                                            const std::shared_ptr<const Runtime>& rt);
  // The session's own overlay, created on first use.
  static std::shared_ptr<CatalogOverlay> overlay_of(Session& session);
  std::shared_ptr<const compose::VirtualCatalog> overlay_catalog(CatalogOverlay& overlay, const std::string& vs,
                                                                 const std::shared_ptr<const Runtime>& rt);
  // A private link of `upstream` announced a list change: re-list from it
  // (debounced) into `overlay`, then tell the clients that see it: `session`
  // (a per_client session's overlay) or the listen streams (stateless).
  void relist_private(const std::shared_ptr<CatalogOverlay>& overlay, const std::shared_ptr<Session>& session,
                      const std::string& upstream, const std::shared_ptr<mcp::UpstreamLink>& link);
  void apply_private_list(CatalogOverlay& overlay, const std::shared_ptr<Session>& session,
                          const std::string& upstream, mcp::UpstreamLink& link);

  // Capabilities and instructions of a virtual server, as announced by
  // initialize and server/discover.
  Json virtual_capabilities(const std::string& vs, std::string* instructions);

  // --- 2026-07-28: stateless requests (stateless.cpp) ---
  void discover(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight);
  void listen(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
              const Json& params);
  void end_listener(const std::shared_ptr<Listener>& l, bool tell_client);
  void notify_listeners(const std::string& vs, const char* method);
  void fan_out_resource_update(const Json& message);
  // resultType, serverInfo and caching hints on a stateless request's result.
  void decorate(const Session& session, const InFlight& inflight, Json& response);
  // `open`: start the link when there is none yet.
  Result<std::shared_ptr<mcp::UpstreamLink>> stateless_link(const std::shared_ptr<Upstream>& up, bool open = true);
  mcp::UpstreamLink::Handlers stateless_link_handlers(const std::shared_ptr<Upstream>& up);
  // The newest call in flight on `link` (stdio upstreams relate nothing).
  std::optional<CallTarget> latest_call_on(const mcp::UpstreamLink* link);
  // 2026-07-28 client, older upstream: the upstream's request becomes an
  // input request of the held call's exchange.
  void ask_input(const std::shared_ptr<Session>& session, const std::shared_ptr<mcp::UpstreamLink>& link,
                 const transport::Incoming& in, const std::shared_ptr<InFlight>& inflight);
  void schedule_flush(const std::shared_ptr<Exchange>& ex);
  void flush_input(const std::shared_ptr<Exchange>& ex);
  // A request carrying our requestState continues its exchange. Returns
  // false when the request is not a continuation of ours.
  bool resume(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
              const std::string& method, const Json& params);
  std::shared_ptr<Exchange> exchange_of(const std::shared_ptr<InFlight>& inflight);
  // Where events of `inflight`'s upstream call go now.
  std::pair<std::shared_ptr<Session>, std::shared_ptr<InFlight>> current_of(
      const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight);
  void reap_exchanges();
  // 2025-11-25 client, 2026-07-28 upstream: the upstream's input_required
  // result becomes requests to the client; their answers go back upstream in
  // a new round.
  void fulfil_input(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                    const std::shared_ptr<Upstream>& up, const std::shared_ptr<mcp::UpstreamLink>& link,
                    const std::string& method, Json params, const Json& result,
                    const std::shared_ptr<CallState>& state);
  Result<std::shared_ptr<mcp::UpstreamLink>> link_for(const std::shared_ptr<Session>& session,
                                                      const std::shared_ptr<Upstream>& upstream);
  // The session principal's own copy of a per-user upstream's config: its
  // token in the environment (stdio) or on every request (HTTP). `expires`:
  // when the token handed out now expires.
  Result<config::UpstreamConfig> personal_config(const std::shared_ptr<Session>& session,
                                                 const std::shared_ptr<Upstream>& upstream, long long* expires);
  // personal_config of an oauth_user upstream: the user's token from the
  // vault on every HTTP request.
  Result<config::UpstreamConfig> oauth_user_config(const std::shared_ptr<Session>& session,
                                                   config::UpstreamConfig cfg);
  // Lists the per-user upstreams of the session's virtual server through the
  // session's own links, once, into its catalogue overlay.
  void list_personal_catalogs(const std::shared_ptr<Session>& session);

  // --- oauth_user upstreams: the user's consent (consent.cpp) ---
  // The session's user has no token for `up`: ask for consent (URL-mode
  // elicitation, or error -32042 with the link for clients without it),
  // then run `then` on a pool thread once given; the request fails with the
  // reason when it is not.
  void ask_consent(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                   const std::shared_ptr<Upstream>& up, std::function<void()> then);
  // An oauth_user upstream answered a call made with the user's token: an
  // HTTP 401 means the token was refused (expired early, or revoked), so it
  // is refreshed, or dropped so that the next call asks for consent again.
  void token_outcome(const std::shared_ptr<Session>& session, const Upstream& up, Json& response);
  // True when `why` (an upstream error) is an oauth_user upstream refusing
  // the user's token; the token has then been refreshed or dropped.
  bool token_refused(const std::shared_ptr<Session>& session, const Upstream& up, const std::string& why);
  // The connect_<upstream> tool.
  void connect_tool(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                    const std::string& upstream);
  // The session's user has no token for `upstream` yet: show the connect
  // tool instead of its catalogue.
  void show_unconnected(const std::shared_ptr<Session>& session, const std::string& upstream);
  // True when `up` is oauth_user and the session's user holds no token for
  // it; an error when the vault cannot say.
  Result<bool> lacks_consent(Session& session, const config::UpstreamConfig& up);
  mcp::UpstreamLink::Handlers client_link_handlers(const std::shared_ptr<Session>& session,
                                                   const std::shared_ptr<Upstream>& upstream);

  // --- The authorize stage (authorize.cpp) ---
  enum class Authz { Allow, Deny, Ask };
  // Decides `action` on `target` for this request with the runtime's
  // policies and notes the verdict on `inflight` for the record. Ask: the
  // @approval value is in *approval.
  Authz authorize(const Runtime& rt, InFlight& inflight, PolicyAction action, const PolicyTarget& target,
                  const Json& arguments, std::string* approval);
  // The entries of a list the request's principal may see; null: all. What
  // policy hid is noted for the record ("filtered", the forbids, the names).
  std::shared_ptr<const Listing> visible_items(const Runtime& rt, InFlight& inflight, const std::string& vs,
                                               const compose::VirtualCatalog& cat, compose::ListKind kind);
  // Asks the client's human to confirm (form-mode elicitation/create), then
  // runs `then` on a pool thread; a refusal finishes the request with a
  // tool error, a client that cannot ask with error -32021.
  void ask_approval(const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight,
                    const PolicyTarget& target, const Json& arguments, const std::string& approval,
                    std::function<void()> then);

  // Upstream -> downstream routing.
  // `hint`: the request it belongs to when the message itself does not say.
  void route_notification(const std::shared_ptr<Session>& session, mcp::UpstreamLink* link,
                          const std::string& upstream, const transport::Incoming& in,
                          std::shared_ptr<InFlight> hint = nullptr);
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
  // Checks one upstream's `tools` against their approvals, logging and
  // auditing changes first seen now for each virtual server that pins them.
  compose::PinChanges check_pins_of(const Runtime& rt, const std::string& upstream, const std::vector<Json>& tools);
  // Opens the pin store once some virtual server pins. REQUIRES: rebuild_mu_ held.
  Result<void> open_pins(const config::GatewayConfig& cfg);
  void watch_pins();
  void notify_list_changes(const Runtime& before, const Runtime& after);
  std::shared_ptr<Runtime> make_runtime(std::shared_ptr<const config::GatewayConfig> cfg,
                                        const Runtime* previous, std::shared_ptr<const GuardStage> guards);

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

  // Stateless requests share one link per upstream (per principal, once
  // identity exists), opened with every capability the gateway can relay.
  std::mutex stateless_mu_;
  std::map<std::string, std::shared_ptr<StatelessSlot>> stateless_links_;  // (stateless_mu_)
  const std::shared_ptr<CatalogOverlay> stateless_overlay_ = std::make_shared<CatalogOverlay>();
  // Per-user tokens for upstreams that act as each user.
  const std::shared_ptr<identity::UpstreamTokens> upstream_tokens_ = std::make_shared<identity::UpstreamTokens>();
  std::mutex exchanges_mu_;
  std::unordered_map<std::string, std::shared_ptr<Exchange>> exchanges_;  // (exchanges_mu_)
  std::mutex listeners_mu_;
  std::vector<std::shared_ptr<Listener>> listeners_;  // (listeners_mu_)
  std::string seal_key() const;
  // Runs `fn` unless the gateway has stopped; for callbacks on other threads.
  template <typename Fn>
  static void if_running(const std::shared_ptr<LifeGuard>& guard, Fn&& fn) {
    std::shared_lock lock(guard->mu);
    if (!guard->stopped) fn();
  }
  void schedule_reap();
};

}  // namespace portcullis::pipeline
