// The pure parts of the 2026-07-28 client side: SEP-2243 headers and their
// value encoding, the per-request _meta envelope, how a server/discover
// answer decides the era, and the subscriptions/listen filter.
#include <doctest/doctest.h>

#include "core/jsonrpc.h"
#include "mcp/modern_protocol.h"
#include "transport/http_common.h"

using namespace portcullis;
using namespace portcullis::mcp;
using portcullis::transport::detail::encode_header_value;
using portcullis::transport::detail::modern_request_headers;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Json modern_request(const std::string& method, Json params) {
  params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}};
  return rpc::make_request(7, method, std::move(params));
}

}  // namespace

TEST_CASE("header values that are plain printable ASCII are sent as they are") {
  CHECK(encode_header_value("get_weather") == "get_weather");
  CHECK(encode_header_value("file:///tmp/a b.txt") == "file:///tmp/a b.txt");
  CHECK(encode_header_value("tab\tinside") == "tab\tinside");
}

TEST_CASE("header values that are empty, non-ASCII, have controls, edge whitespace or look encoded are base64-wrapped") {
  CHECK(encode_header_value("") == "=?base64??=");
  CHECK(encode_header_value("héllo") == "=?base64?aMOpbGxv?=");
  CHECK(encode_header_value("a\nb") == "=?base64?YQpi?=");
  CHECK(encode_header_value(" lead") == "=?base64?IGxlYWQ=?=");
  CHECK(encode_header_value("trail ") == "=?base64?dHJhaWwg?=");
  CHECK(encode_header_value("=?base64?abc?=") == "=?base64?PT9iYXNlNjQ/YWJjPz0=?=");
  CHECK(encode_header_value("\x7f") == "=?base64?fw==?=");
}

TEST_CASE("a modern request gets MCP-Protocol-Version, Mcp-Method and, where the spec says, Mcp-Name") {
  CHECK(modern_request_headers(modern_request("tools/call", {{"name", "echo"}})) ==
        Headers{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "echo"}});
  CHECK(modern_request_headers(modern_request("prompts/get", {{"name", "grüß"}})) ==
        Headers{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "prompts/get"}, {"Mcp-Name", "=?base64?Z3LDvMOf?="}});
  CHECK(modern_request_headers(modern_request("resources/read", {{"uri", "demo://x"}})).back() ==
        std::pair<std::string, std::string>{"Mcp-Name", "demo://x"});
  CHECK(modern_request_headers(modern_request("tools/list", Json::object())) ==
        Headers{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}});
}

TEST_CASE("legacy requests, notifications and responses get no 2026 headers") {
  CHECK(modern_request_headers(rpc::make_request(1, "tools/call", {{"name", "echo"}})).empty());
  CHECK(modern_request_headers(rpc::make_notification("notifications/cancelled", {{"requestId", 1}})).empty());
  CHECK(modern_request_headers(rpc::make_result(1, Json::object())).empty());
}

TEST_CASE("the envelope is merged into params._meta, keeping the caller's keys") {
  Envelope e;
  e.protocol_version = "2026-07-28";
  e.client_capabilities = {{"sampling", Json::object()}};
  e.client_info = {{"name", "portcullis"}, {"version", "0.1.0"}};
  Json p = with_envelope({{"name", "echo"}, {"_meta", {{"progressToken", "pc-1"}}}}, e);
  CHECK(p["name"] == "echo");
  CHECK(p["_meta"]["progressToken"] == "pc-1");
  CHECK(p["_meta"][meta_key::kProtocolVersion] == "2026-07-28");
  CHECK(p["_meta"][meta_key::kClientCapabilities] == Json{{"sampling", Json::object()}});
  CHECK(p["_meta"][meta_key::kClientInfo]["name"] == "portcullis");
  CHECK_FALSE(p["_meta"].contains(meta_key::kLogLevel));

  e.log_level = "debug";
  Json q = with_envelope(nullptr, e);
  CHECK(q["_meta"][meta_key::kLogLevel] == "debug");
  CHECK(q.size() == 1);

  // A request relayed for one client keeps that client's capabilities and level.
  Json r = with_envelope({{"_meta", {{meta_key::kClientCapabilities, Json::object()}, {meta_key::kLogLevel, "error"}}}}, e);
  CHECK(r["_meta"][meta_key::kClientCapabilities] == Json::object());
  CHECK(r["_meta"][meta_key::kLogLevel] == "error");
  CHECK(r["_meta"][meta_key::kProtocolVersion] == "2026-07-28");
}

TEST_CASE("a DiscoverResult offering 2026-07-28 means modern, with its capabilities and server info") {
  Json resp = rpc::make_result(1, {{"supportedVersions", {"2025-11-25", "2026-07-28"}},
                                   {"capabilities", {{"tools", {{"listChanged", true}}}}},
                                   {"resultType", "complete"},
                                   {"_meta", {{meta_key::kServerInfo, {{"name", "m"}, {"version", "2"}}}}}});
  auto v = judge_discover(resp, "2026-07-28");
  CHECK(v.kind == DiscoverVerdict::Modern);
  CHECK(v.version == "2026-07-28");
  CHECK(server_info_of(v.result)["name"] == "m");
  CHECK(server_info_of(Json{{"serverInfo", {{"name", "body"}}}})["name"] == "body");
  CHECK(server_info_of(Json::object()) == Json::object());
}

TEST_CASE("a 2025-era answer to server/discover means legacy, whatever the error code") {
  for (int code : {rpc::kMethodNotFound, rpc::kInvalidRequest, -32000, rpc::kUpstreamUnavailable}) {
    auto v = judge_discover(rpc::make_error(1, code, "Method not found"), "2026-07-28");
    CHECK(v.kind == DiscoverVerdict::Legacy);
    CHECK(v.why.find("Method not found") != std::string::npos);
  }
  CHECK(judge_discover(rpc::make_result(1, {{"tools", Json::array()}}), "2026-07-28").kind == DiscoverVerdict::Legacy);
  // A dual-era server that offers only a revision we do not speak as modern.
  CHECK(judge_discover(rpc::make_result(1, {{"supportedVersions", {"2027-01-01", "2025-11-25"}}}), "2026-07-28").kind ==
        DiscoverVerdict::Legacy);
}

TEST_CASE("2026-only errors to server/discover mean a modern server: retry, or refuse with the reason") {
  Json unsupported = rpc::make_error(1, kUnsupportedProtocolVersion, "Unsupported protocol version");
  unsupported["error"]["data"] = {{"supported", {"2026-07-28"}}, {"requested", "2026-01-01"}};
  auto retry = judge_discover(unsupported, "2026-01-01");
  CHECK(retry.kind == DiscoverVerdict::Retry);
  CHECK(retry.version == "2026-07-28");

  unsupported["error"]["data"]["supported"] = {"2027-03-01"};
  auto refused = judge_discover(unsupported, "2026-07-28");
  CHECK(refused.kind == DiscoverVerdict::Refused);
  CHECK(refused.why.find("2027-03-01") != std::string::npos);

  unsupported["error"]["data"]["supported"] = {"2027-03-01", "2025-06-18"};
  CHECK(judge_discover(unsupported, "2026-07-28").kind == DiscoverVerdict::Legacy);

  auto missing = judge_discover(rpc::make_error(1, kMissingRequiredClientCapability, "needs sampling"), "2026-07-28");
  CHECK(missing.kind == DiscoverVerdict::Refused);
  CHECK(missing.why.find("needs sampling") != std::string::npos);
  CHECK(judge_discover(rpc::make_error(1, kHeaderMismatch, "bad header"), "2026-07-28").kind == DiscoverVerdict::Refused);
}

TEST_CASE("the listen filter asks for what the capabilities offer, and resource updates only for subscribed URIs") {
  Json caps = {{"tools", {{"listChanged", true}}},
               {"prompts", Json::object()},
               {"resources", {{"subscribe", true}, {"listChanged", true}}}};
  CHECK(listen_filter(caps, {}) == Json{{"toolsListChanged", true}, {"resourcesListChanged", true}});
  CHECK(listen_filter(caps, {"b://2", "a://1"})["resourceSubscriptions"] == Json{"a://1", "b://2"});
  caps["resources"]["subscribe"] = false;
  CHECK_FALSE(listen_filter(caps, {"a://1"}).contains("resourceSubscriptions"));
  CHECK(listen_filter({{"tools", Json::object()}}, {"a://1"}).is_null());
  CHECK(listen_filter(Json::object(), {}).is_null());
}
