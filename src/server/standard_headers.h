// The 2026-07-28 standard request headers (SEP-2243): MCP-Protocol-Version,
// Mcp-Method, Mcp-Name and Mcp-Param-*, which mirror parts of the JSON-RPC
// body so that HTTP infrastructure can route and filter without parsing it.
// A server that reads the body must reject any disagreement (HTTP 400,
// JSON-RPC -32020), or the header a proxy acted on is not what runs.
//
// Pure functions; thread-safe.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "compose/catalog.h"
#include "core/json.h"

namespace portcullis::server {

// A header's value by (case-insensitive) name, or nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string>(const std::string& name)>;

// A header value as the body would hold it: optional whitespace around it
// removed, and "=?base64?<data>?=" decoded. Nullopt when the base64 is not
// valid (bad alphabet or padding).
std::optional<std::string> decode_header_value(std::string_view raw);

// Checks Mcp-Method, Mcp-Name and, for tools/call, the Mcp-Param-* headers
// of `route` against the request body. Returns why they disagree, or
// nullopt when they agree.
std::optional<std::string> check_standard_headers(const Json& request, const compose::Route* route,
                                                  const HeaderLookup& header);

}  // namespace portcullis::server
