// Helpers shared by the HTTP upstream transports (Streamable HTTP and legacy
// HTTP+SSE): URL handling, a per-origin pool of keep-alive httplib clients,
// the worker pool that runs HTTP exchanges, and synthesized error responses.
#pragma once
#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/elastic_pool.h"
#include "core/json.h"
#include "core/jsonrpc.h"
#include "core/result.h"

namespace portcullis::transport::detail {

// Limits for messages coming from upstreams: generous, they are trusted more
// than downstream clients but must not exhaust memory.
inline constexpr rpc::Limits kUpstreamLimits{64 * 1024 * 1024, 512};

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written (IPv6 keeps its brackets)
  int port = 0;
  std::string target;  // path + query, at least "/"
  std::string origin() const;  // scheme://host:port
  std::string str() const { return origin() + target; }
};

Result<Url> parse_url(std::string_view url);
// Resolves `ref` (absolute URL, absolute path, or relative path) against `base`.
Result<Url> resolve_url(const Url& base, std::string_view ref);

// Runs HTTP exchanges and streams for every HTTP transport in the process.
ElasticPool& http_pool();

struct ClientTimeouts {
  std::chrono::milliseconds connect{10000};
  std::chrono::milliseconds read{30000};
  std::chrono::milliseconds write{10000};
};

// Keep-alive clients for one origin (scheme://host:port), shared by every
// transport talking to it. A client is used by one exchange at a time.
class ClientPool {
 public:
  static std::shared_ptr<ClientPool> for_origin(const std::string& origin);

  std::unique_ptr<httplib::Client> checkout(const ClientTimeouts& t);
  // Returns a client for reuse (pass reusable=false after an aborted exchange).
  void checkin(std::unique_ptr<httplib::Client> c, bool reusable = true);
  // A fresh client, not pooled (long-lived streams).
  std::unique_ptr<httplib::Client> make(const ClientTimeouts& t) const;

  explicit ClientPool(std::string origin) : origin_(std::move(origin)) {}

 private:
  static constexpr size_t kMaxIdle = 32;
  std::string origin_;
  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

ClientTimeouts timeouts_for(const config::UpstreamConfig& cfg);

// Configured headers plus the given ones (the given ones win).
httplib::Headers base_headers(const config::UpstreamConfig& cfg);

std::string excerpt(std::string_view s, size_t max = 200);
std::string describe_error(httplib::Error e);

enum class MsgKind { Request, Notification, Response, Other };
MsgKind kind_of(const Json& msg);

// SEP-2243 (2026-07-28) header value encoding: a value that is empty, not
// printable ASCII (tab allowed inside), has leading/trailing whitespace or
// already looks like the sentinel is sent as "=?base64?<base64(UTF-8)>?=".
std::string encode_header_value(std::string_view value);

// The standard headers of a 2026-07-28 request: MCP-Protocol-Version (from
// params._meta), Mcp-Method, and Mcp-Name (params.name for tools/call and
// prompts/get, params.uri for resources/read, params.taskId for tasks/*).
// Empty for anything that is not a request carrying the modern envelope, so
// legacy exchanges never get them.
std::vector<std::pair<std::string, std::string>> modern_request_headers(const Json& message);

// A message queued for POSTing: serialized once, with what the transport
// needs to answer for it if the POST fails.
struct Outgoing {
  std::string body;
  MsgKind kind = MsgKind::Other;
  Json id;             // requests only
  std::string method;  // requests and notifications
  // Non-empty for 2026-07-28 requests (see modern_request_headers).
  std::vector<std::pair<std::string, std::string>> modern_headers;
  bool modern() const { return !modern_headers.empty(); }
};
Outgoing outgoing(const Json& message);

// Stable map key for a JSON-RPC id.
inline std::string id_key(const Json& id) { return rpc::dump(id); }

}  // namespace portcullis::transport::detail
