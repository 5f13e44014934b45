// UpstreamTransport: moves JSON-RPC messages between Portcullis (as MCP
// client) and one upstream MCP server session. Three implementations:
// stdio (child process), legacy HTTP+SSE, and Streamable HTTP.
//
// Threading: open/send/close may be called from any thread. Incoming messages
// are delivered on transport-owned threads, possibly concurrently for HTTP
// transports (one per in-flight POST); the sink must be thread-safe.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/json.h"
#include "core/result.h"

namespace portcullis::transport {

struct Incoming {
  Json message;
  // Streamable HTTP: the id of the client request whose POST stream carried
  // this message (server requests/notifications related to that call).
  std::optional<Json> related_request_id;
  // Set (with a null message) when the upstream wrote output that is not
  // JSON at all: an excerpt, so a call it leaves unanswered can say why.
  std::optional<std::string> invalid_output;
};

class UpstreamTransport {
 public:
  using Sink = std::function<void(Incoming&&)>;
  // Called once when the transport dies on its own (process exit, stream
  // closed), with a human-readable reason. Not called after close().
  using OnClosed = std::function<void(const std::string& reason)>;

  virtual ~UpstreamTransport() = default;

  // Starts the transport (spawns the process / opens the SSE stream).
  virtual Result<void> open(Sink sink, OnClosed on_closed) = 0;

  // Sends one message. Never blocks on the upstream's answer. If a *request*
  // cannot be delivered or its HTTP exchange fails, the transport delivers a
  // JSON-RPC error response for that id through the sink (code
  // rpc::kUpstreamUnavailable or rpc::kUpstreamInvalid, message naming the
  // upstream and the cause) so that no caller waits forever.
  virtual void send(const Json& message) = 0;

  // After initialize: HTTP transports send MCP-Protocol-Version on every
  // later request, and Streamable HTTP opens its GET stream.
  virtual void on_initialized(const std::string& protocol_version) { (void)protocol_version; }

  // Abandons the exchange that carries request `id`, telling the server
  // nothing more. Streamable HTTP closes that POST's connection, which is
  // the cancellation signal of 2026-07-28, and returns true. Transports with
  // no per-request channel (stdio, HTTP+SSE) return false: the caller must
  // send notifications/cancelled instead.
  virtual bool abort_request(const Json& id) { (void)id; return false; }

  // Ends the session (Streamable HTTP: DELETE; stdio: close stdin, then
  // SIGTERM, then SIGKILL). Idempotent.
  virtual void close() = 0;

  // Upstream sessions that outlive this transport (Streamable HTTP only):
  // the Mcp-Session-Id in use (empty: none); before open(), continue an
  // existing one instead of starting one (false: this transport cannot);
  // and close() that leaves the session alive for whoever holds its id.
  virtual std::string session_handle() const { return {}; }
  virtual bool adopt_session(const std::string& session_id) { (void)session_id; return false; }
  virtual void detach() { close(); }

  // Stable, human-readable description for logs ("stdio pid 1234").
  virtual std::string describe() const = 0;
};

std::unique_ptr<UpstreamTransport> make_transport(const config::UpstreamConfig& cfg);

}  // namespace portcullis::transport
