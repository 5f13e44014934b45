// JSON-RPC 2.0 framing for MCP: parsing with hard limits, message
// classification and constructors for responses and errors.
// All functions are pure and thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::rpc {

// Standard JSON-RPC and MCP error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined server errors (-32000..-32099).
inline constexpr int kUpstreamUnavailable = -32001;  // upstream dead or not connected
inline constexpr int kUpstreamTimeout = -32002;      // upstream did not answer in time
inline constexpr int kUpstreamInvalid = -32003;      // upstream answered garbage
inline constexpr int kRequestCancelled = -32800;     // request cancelled (LSP convention)
inline constexpr int kResourceNotFound = -32002;     // MCP resources/read not found (until 2025-11-25)
// Reserved by MCP 2026-07-28.
inline constexpr int kHeaderMismatch = -32020;              // HTTP headers disagree with the body
inline constexpr int kMissingClientCapability = -32021;     // the request needs an undeclared capability
inline constexpr int kUnsupportedProtocolVersion = -32022;  // data: {supported, requested}
inline constexpr int kUrlElicitationRequired = -32042;      // 2025-11-25: data: {elicitations: [url elicitations]}

struct Limits {
  size_t max_bytes = 4 * 1024 * 1024;
  size_t max_depth = 64;
};

// Returns the nesting depth of arrays/objects in `text`, stopping early once
// `stop_at` is exceeded. Strings (with escapes) are skipped correctly.
size_t nesting_depth(std::string_view text, size_t stop_at);

// Parses one JSON text under `limits`, exactly as nlohmann's parser would
// (see core/json_read.h). The error string is user-facing.
Result<Json> parse(std::string_view text, const Limits& limits);

enum class Kind { Request, Notification, Response, Invalid };
// Classifies a parsed JSON-RPC message. `why` receives the reason for Invalid.
Kind classify(const Json& msg, std::string* why = nullptr);

Json make_request(const Json& id, std::string_view method, Json params);
Json make_notification(std::string_view method, Json params);
Json make_result(const Json& id, Json result);
// An error response. MCP ids are strings or integers, never null: when the
// request's id is unknown (unparseable body, transport-level refusal), pass
// null and the response carries no "id" at all.
Json make_error(const Json& id, int code, std::string_view message, Json data = nullptr);

// True if `msg` is a response carrying "error".
inline bool is_error(const Json& msg) { return msg.contains("error"); }

// Compact serialization that never throws on invalid UTF-8 (replaces it):
// the bytes of j.dump(-1, ' ', false, error_handler_t::replace), written by
// append_json (core/json_write.h).
std::string dump(const Json& j);

}  // namespace portcullis::rpc
