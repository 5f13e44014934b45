// HttpFront: the downstream HTTP endpoints of Portcullis.
//   POST/GET/DELETE /mcp/<vs>     Streamable HTTP (protocol 2025-03-26 .. 2025-11-25)
//   GET /sse/<vs>                 legacy HTTP+SSE stream (2024-11-05)
//   POST /sse/<vs>/message?sessionId=...   legacy HTTP+SSE messages
//   GET /healthz                  liveness and upstream status
// It validates the HTTP envelope (size, depth, JSON-RPC shape, session,
// protocol version header, Origin) and hands messages to the Gateway.
//
// Connections are served on an ElasticPool so that thousands of open
// streams never starve ordinary requests.
#pragma once
#include <memory>
#include <string>

#include "core/result.h"
#include "pipeline/gateway.h"

namespace portcullis::server {

struct ListenAddress {
  std::string host;
  int port = 0;
};
Result<ListenAddress> parse_listen(const std::string& s);
bool is_loopback_host(const std::string& host);

class HttpFront {
 public:
  explicit HttpFront(pipeline::Gateway& gateway);
  ~HttpFront();
  // Binds and serves until stop(). Returns an error if binding fails.
  Result<void> listen(const ListenAddress& addr);
  // Binds only; returns the bound port (for port 0). Then call serve().
  Result<int> bind(const ListenAddress& addr);
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::server
