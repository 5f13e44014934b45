// The 2026-07-28 standard headers: value decoding and agreement with the body.
#include "server/standard_headers.h"

#include <doctest/doctest.h>

#include <map>

using portcullis::Json;
using portcullis::compose::Route;
using portcullis::server::check_standard_headers;
using portcullis::server::decode_header_value;

namespace {

// Header lookup over a fixed map (names as given; the HTTP layer folds case).
portcullis::server::HeaderLookup headers(std::map<std::string, std::string> h) {
  return [h](const std::string& name) -> std::optional<std::string> {
    auto it = h.find(name);
    if (it == h.end()) return std::nullopt;
    return it->second;
  };
}

Json call(const std::string& name, Json args = Json::object()) {
  return {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"}, {"params", {{"name", name}, {"arguments", args}}}};
}

}  // namespace

TEST_CASE("header values: whitespace around them is not part of them") {
  CHECK(decode_header_value("  tools/list \t") == std::optional<std::string>("tools/list"));
  CHECK(decode_header_value("a b") == std::optional<std::string>("a b"));
}

TEST_CASE("header values: =?base64?...?= is decoded strictly") {
  CHECK(decode_header_value("=?base64?SGVsbG8=?=") == std::optional<std::string>("Hello"));
  CHECK(decode_header_value("=?base64?w6lsw6h2ZQ==?=") == std::optional<std::string>("\xc3\xa9l\xc3\xa8ve"));
  CHECK_FALSE(decode_header_value("=?base64?SGVsbG8?=").has_value());      // padding missing
  CHECK_FALSE(decode_header_value("=?base64?SGVs!!!bG8=?=").has_value());  // not the alphabet
  CHECK_FALSE(decode_header_value("=?base64?SG=sbG8=?=").has_value());     // padding inside
  // Without both markers it is a literal.
  CHECK(decode_header_value("=?base64?SGVsbG8=") == std::optional<std::string>("=?base64?SGVsbG8="));
  CHECK(decode_header_value("SGVsbG8=") == std::optional<std::string>("SGVsbG8="));
}

TEST_CASE("Mcp-Method must be present and equal the method, case-sensitively") {
  Json list = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}};
  CHECK_FALSE(check_standard_headers(list, nullptr, headers({{"Mcp-Method", "tools/list"}})));
  CHECK(check_standard_headers(list, nullptr, headers({})));
  CHECK(check_standard_headers(list, nullptr, headers({{"Mcp-Method", "TOOLS/LIST"}})));
  CHECK(check_standard_headers(list, nullptr, headers({{"Mcp-Method", "prompts/list"}})));
}

TEST_CASE("Mcp-Name mirrors params.name or params.uri") {
  CHECK_FALSE(check_standard_headers(call("echo"), nullptr, headers({{"Mcp-Method", "tools/call"}, {"Mcp-Name", " echo "}})));
  CHECK(check_standard_headers(call("echo"), nullptr, headers({{"Mcp-Method", "tools/call"}})));
  CHECK(check_standard_headers(call("echo"), nullptr, headers({{"Mcp-Method", "tools/call"}, {"Mcp-Name", "other"}})));
  Json read = {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "resources/read"}, {"params", {{"uri", "file:///é"}}}};
  CHECK_FALSE(check_standard_headers(read, nullptr,
                                     headers({{"Mcp-Method", "resources/read"}, {"Mcp-Name", "=?base64?ZmlsZTovLy/DqQ==?="}})));
}

TEST_CASE("Mcp-Param-* mirrors the arguments the tool's schema marks") {
  Route route;
  route.header_params = {{{"region"}, "Region"}, {{"count"}, "Count"}, {{"opts", "dry"}, "Dry"}};
  auto h = [](std::map<std::string, std::string> extra) {
    extra["Mcp-Method"] = "tools/call";
    extra["Mcp-Name"] = "deploy";
    return headers(extra);
  };
  Json args = {{"region", "eu-west"}, {"count", 3}, {"opts", {{"dry", true}}}};
  CHECK_FALSE(check_standard_headers(call("deploy", args), &route,
                                     h({{"Mcp-Param-Region", "eu-west"}, {"Mcp-Param-Count", "3"}, {"Mcp-Param-Dry", "true"}})));
  // Missing while the argument is set, set while the argument is not, and mismatches.
  CHECK(check_standard_headers(call("deploy", args), &route, h({{"Mcp-Param-Count", "3"}, {"Mcp-Param-Dry", "true"}})));
  CHECK(check_standard_headers(call("deploy", {{"count", 3}}), &route, h({{"Mcp-Param-Count", "3"}, {"Mcp-Param-Region", "x"}})));
  CHECK(check_standard_headers(call("deploy", args), &route,
                               h({{"Mcp-Param-Region", "eu-west"}, {"Mcp-Param-Count", "03x"}, {"Mcp-Param-Dry", "true"}})));
  CHECK(check_standard_headers(call("deploy", args), &route,
                               h({{"Mcp-Param-Region", "eu-west"}, {"Mcp-Param-Count", "3"}, {"Mcp-Param-Dry", "1"}})));
  // Integers compare numerically; base64 is decoded first.
  CHECK_FALSE(check_standard_headers(call("deploy", {{"count", 3}}), &route, h({{"Mcp-Param-Count", "3"}})));
  CHECK_FALSE(check_standard_headers(call("deploy", {{"region", "eu-west"}}), &route,
                                     h({{"Mcp-Param-Region", "=?base64?ZXUtd2VzdA==?="}})));
  CHECK(check_standard_headers(call("deploy", {{"region", "eu-west"}}), &route,
                               h({{"Mcp-Param-Region", "=?base64?ZXUtd2VzdA?="}})));
  // Null counts as absent.
  CHECK_FALSE(check_standard_headers(call("deploy", {{"region", nullptr}}), &route, h({})));
}
