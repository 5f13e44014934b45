// UpstreamLink: one MCP client session with one upstream server, over an
// UpstreamTransport. Owns era detection and version negotiation, request/
// response correlation, per-request timeouts with cancellation sent
// upstream, and restart with exponential backoff when the transport dies.
//
// Two eras. Legacy (2024-11-05..2025-11-25): the initialize handshake and a
// session. Modern (2026-07-28): stateless; server/discover replaces
// initialize and every request carries the envelope in params._meta. With
// `revision: auto` each start (and restart) probes with server/discover
// (see start()). In the modern era the link hides what 2026-07-28 removed,
// so callers use one API for both: ping, logging/setLevel and
// resources/(un)subscribe are answered locally (the level travels in later
// requests' _meta, the URIs in the link's subscriptions/listen request), and
// list_changed / resources/updated notifications arrive through
// on_notification as before, from one long-lived subscriptions/listen
// request the link keeps open. Results are passed on untouched, including
// resultType "input_required": the link does not drive MRTR rounds.
//
// Threading: every public method is thread-safe. call() blocks the calling
// thread until the response, the timeout, or cancellation. Handlers are
// invoked on transport threads and must not block for long.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/json.h"
#include "mcp/modern_protocol.h"
#include "transport/upstream_transport.h"

namespace portcullis::mcp {

// Protocol revisions Portcullis speaks, newest first.
inline constexpr const char* kSupportedRevisions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                      "2024-11-05"};
bool is_supported_revision(const std::string& v);

// Cancellation flag shared between the downstream request and the call.
class CancelToken {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Registers a callback run once on cancel (immediately if already cancelled).
  void on_cancel(std::function<void()> fn);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> callbacks_;
};

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // default: upstream's timeout
  std::shared_ptr<CancelToken> cancel;
  // Invoked with each id the link assigns, before sending, so a caller can
  // map upstream traffic related to this request back to its origin.
  std::function<void(const Json& upstream_id)> on_sent;
};

enum class LinkState { Connecting, Ready, Down, Closed };

// The protocol era of a link's current connection (see the file comment).
enum class Era { Legacy, Modern };
const char* to_string(Era e);

class UpstreamLink : public std::enable_shared_from_this<UpstreamLink> {
 public:
  struct Handlers {
    // Upstream notification (progress, message, list_changed, resources/updated, cancelled...).
    std::function<void(const transport::Incoming&)> on_notification;
    // Upstream request to the client (sampling/createMessage, elicitation/create,
    // roots/list, ping is answered by the link itself). The handler must
    // eventually call link.respond(id, response) exactly once. Never called
    // in the modern era (2026-07-28 servers ask through input_required results).
    std::function<void(const transport::Incoming&)> on_request;
    // State changes (Ready after (re)initialize, Down with reason).
    std::function<void(LinkState, const std::string& reason)> on_state;
  };

  // An upstream session (Streamable HTTP, initialize era) that another link,
  // possibly in another gateway instance, started: enough to go on speaking
  // in it without a new initialize.
  struct SessionHandle {
    std::string session_id;  // Mcp-Session-Id
    std::string protocol_version;
    Json capabilities = Json::object();
    Json server_info = Json::object();
  };

  struct ClientInfo {
    Json capabilities = Json::object();  // what we declare upstream
    Json client_info = {{"name", "portcullis"}, {"version", "0.1.0"}};
    std::string protocol_version = "2025-11-25";  // what initialize asks for
    // The first start continues this session instead of initializing (a
    // Streamable HTTP upstream only; ignored otherwise). A restart, or a
    // session the server no longer knows, initializes afresh.
    std::optional<SessionHandle> resume;
  };

  static std::shared_ptr<UpstreamLink> create(config::UpstreamConfig cfg, ClientInfo client,
                                              Handlers handlers);
  ~UpstreamLink();

  // Opens the transport and finds the server's era (cfg.revision):
  //  - auto, stdio: server/discover with the envelope; a DiscoverResult
  //    offering 2026-07-28 (or a 2026-only error) means modern; any other
  //    answer, or none within min(connect_timeout, 3s), means initialize
  //    (on a fresh process if the probe killed it).
  //  - auto, streamable-http: the same probe as a 2026-07-28 POST; a 400
  //    carrying -32022 naming a version we speak is retried with it.
  //  - sse, or revision 2025-11-25: initialize / notifications/initialized.
  //  - revision 2026-07-28: server/discover only; a server that does not
  //    speak 2026-07-28 fails the start with an error saying so.
  // Blocks up to cfg.connect_timeout. On failure, the link schedules restarts
  // with backoff (1s doubling to 30s) unless close() was called. Each
  // restart detects the era again.
  Result<void> start();

  // Sends a request and waits for its response message (the whole JSON-RPC
  // response object: {"result":...} or {"error":...}). Failures to get a
  // response are returned as JSON-RPC error objects too, never thrown:
  //  - link not ready: rpc::kUpstreamUnavailable, "upstream 'x' is unavailable: <reason>"
  //  - timeout: rpc::kUpstreamTimeout, and notifications/cancelled is sent upstream
  //  - cancelled: rpc::kRequestCancelled, and notifications/cancelled is sent upstream
  //  - transport died mid-call: rpc::kUpstreamUnavailable
  // The returned object's "id" is unspecified; callers re-stamp it.
  Json call(const std::string& method, Json params, const CallOptions& opts = {});

  // Like call(), but returns at once. `done` runs exactly once with the
  // response (or the same synthesized errors as call()), on a transport,
  // scheduler or pool thread; it must not block. This is the request path's
  // form: no thread waits for the upstream.
  void call_async(const std::string& method, Json params, const CallOptions& opts,
                  std::function<void(Json response)> done);

  // Sends a notification. Modern era: dropped (2026-07-28 defines no
  // client notifications besides cancellation, which the link sends itself).
  void notify(const std::string& method, Json params);
  // Answers an upstream->client request previously given to on_request.
  void respond(const Json& upstream_request_id, Json result_or_error_response);

  void close();
  // close(), but the upstream session stays alive (no DELETE), for a link
  // whose handle was handed out (see session_handle()).
  void detach();

  // The upstream session this link speaks in, when it could be continued
  // elsewhere: Ready, initialize era, Streamable HTTP with a session id.
  std::optional<SessionHandle> session_handle() const;

  LinkState state() const;
  const config::UpstreamConfig& config() const { return cfg_; }
  // Valid after Ready.
  Json server_capabilities() const;
  Json server_info() const;
  std::string instructions() const;
  std::string protocol_version() const;
  // Legacy until a start found a 2026-07-28 server.
  Era era() const;
  // For logs and diagnostics: "upstream 'x' (stdio pid 1234 (cmd))".
  std::string describe() const;

 private:
  UpstreamLink(config::UpstreamConfig cfg, ClientInfo client, Handlers handlers);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  config::UpstreamConfig cfg_;
};

}  // namespace portcullis::mcp
