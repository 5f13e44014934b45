// UpstreamLink: one MCP client session with one upstream server, over an
// UpstreamTransport. Owns the initialize handshake and version negotiation,
// request/response correlation, per-request timeouts with cancellation sent
// upstream, and restart with exponential backoff when the transport dies.
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

class UpstreamLink : public std::enable_shared_from_this<UpstreamLink> {
 public:
  struct Handlers {
    // Upstream notification (progress, message, list_changed, resources/updated, cancelled...).
    std::function<void(const transport::Incoming&)> on_notification;
    // Upstream request to the client (sampling/createMessage, elicitation/create,
    // roots/list, ping is answered by the link itself). The handler must
    // eventually call link.respond(id, response) exactly once.
    std::function<void(const transport::Incoming&)> on_request;
    // State changes (Ready after (re)initialize, Down with reason).
    std::function<void(LinkState, const std::string& reason)> on_state;
  };

  struct ClientInfo {
    Json capabilities = Json::object();  // what we declare upstream
    Json client_info = {{"name", "portcullis"}, {"version", "0.1.0"}};
    std::string protocol_version = "2025-11-25";  // what we ask for
  };

  static std::shared_ptr<UpstreamLink> create(config::UpstreamConfig cfg, ClientInfo client,
                                              Handlers handlers);
  ~UpstreamLink();

  // Opens the transport and runs initialize / notifications/initialized.
  // Blocks up to cfg.connect_timeout. On failure, the link schedules restarts
  // with backoff (1s doubling to 30s) unless close() was called.
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

  void notify(const std::string& method, Json params);
  // Answers an upstream->client request previously given to on_request.
  void respond(const Json& upstream_request_id, Json result_or_error_response);

  void close();

  LinkState state() const;
  const config::UpstreamConfig& config() const { return cfg_; }
  // Valid after Ready.
  Json server_capabilities() const;
  Json server_info() const;
  std::string instructions() const;
  std::string protocol_version() const;
  // For logs and diagnostics: "upstream 'x' (stdio pid 1234 (cmd))".
  std::string describe() const;

 private:
  UpstreamLink(config::UpstreamConfig cfg, ClientInfo client, Handlers handlers);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  config::UpstreamConfig cfg_;
};

}  // namespace portcullis::mcp
