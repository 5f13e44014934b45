// The client side of MCP 2026-07-28 ("modern", stateless) as pure functions:
// the per-request _meta envelope, the reading of a server/discover answer
// during era detection, and the subscriptions/listen filter. UpstreamLink
// does the I/O; everything here is deterministic and unit-tested.
#pragma once
#include <set>
#include <string>
#include <string_view>

#include "core/json.h"

namespace portcullis::mcp {

// Stateless revisions Portcullis speaks, newest first. Separate from
// kSupportedRevisions, which lists what initialize may negotiate.
inline constexpr const char* kModernRevisions[] = {"2026-07-28"};
bool is_modern_revision(const std::string& v);

namespace meta_key {
inline constexpr const char* kProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr const char* kLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr const char* kServerInfo = "io.modelcontextprotocol/serverInfo";
inline constexpr const char* kSubscriptionId = "io.modelcontextprotocol/subscriptionId";
}  // namespace meta_key

// Error codes that only a 2026-07-28 server sends.
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingRequiredClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// What every 2026-07-28 request carries in params._meta.
struct Envelope {
  std::string protocol_version;
  Json client_capabilities = Json::object();
  Json client_info = Json::object();
  std::string log_level;  // empty: not sent, so the server sends no log messages
};

// `params` with the envelope merged into params._meta. Keys the caller set
// (progressToken, trace context...) are kept; envelope keys are ours and
// overwrite. Null or absent params become an object.
Json with_envelope(Json params, const Envelope& e);

// What a server/discover answer says about the server's era.
struct DiscoverVerdict {
  enum Kind {
    Modern,   // a DiscoverResult offering `version`; `result` is it
    Retry,    // -32022 naming a version we also speak: discover again with `version`
    Legacy,   // anything else: the server is (probably) 2025-era; `why` says what it answered
    Refused,  // a 2026-07-28 server we cannot use (no common version, or it rejected us); `why`
  } kind = Legacy;
  std::string version;
  Json result;
  std::string why;
};
// `response` is the whole JSON-RPC response (result or error) to a
// server/discover sent with version `requested`.
DiscoverVerdict judge_discover(const Json& response, const std::string& requested);

// The server's identity from a 2026-07-28 result: _meta serverInfo, else a
// serverInfo member of the body, else an empty object.
Json server_info_of(const Json& result);

// params.notifications of the subscriptions/listen request that asks for
// every change notification `capabilities` (a DiscoverResult's) offers, plus
// updates of `uris` when resources.subscribe is offered. Null when there is
// nothing to listen for.
Json listen_filter(const Json& capabilities, const std::set<std::string>& uris);

}  // namespace portcullis::mcp
