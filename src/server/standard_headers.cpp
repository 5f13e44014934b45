#include "server/standard_headers.h"


#include <charconv>

#include "core/base64.h"
#include "core/text.h"

namespace portcullis::server {

namespace {

constexpr std::string_view kB64Open = "=?base64?";
constexpr std::string_view kB64Close = "?=";

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}


// The value at `path` inside `args`, or null.
const Json* at_path(const Json& args, const std::vector<std::string>& path) {
  const Json* cur = &args;
  for (const auto& key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// Whether a header value stands for a body value: strings as they are,
// integers numerically, booleans as true/false.
bool header_matches(const std::string& header, const Json& value) {
  if (value.is_string()) return header == value.get_ref<const std::string&>();
  if (value.is_boolean()) return header == (value.get<bool>() ? "true" : "false");
  if (value.is_number_integer()) {
    long long parsed = 0;
    auto [p, ec] = std::from_chars(header.data(), header.data() + header.size(), parsed);
    return ec == std::errc() && p == header.data() + header.size() && parsed == value.get<long long>();
  }
  return header == value.dump();
}

}  // namespace

std::optional<std::string> decode_header_value(std::string_view raw) {
  std::string_view v = trim_ows(raw);
  if (v.size() >= kB64Open.size() + kB64Close.size() && text::starts_with(v, kB64Open) &&
      v.substr(v.size() - kB64Close.size()) == kB64Close) {
    return base64_decode(v.substr(kB64Open.size(), v.size() - kB64Open.size() - kB64Close.size()));
  }
  return std::string(v);
}

std::optional<std::string> check_standard_headers(const Json& request, const compose::Route* route,
                                                  const HeaderLookup& header) {
  const std::string& method = request["method"].get_ref<const std::string&>();
  auto m = header("Mcp-Method");
  if (!m) return "the Mcp-Method header is missing (it must repeat the body's method, " + method + ")";
  auto mv = decode_header_value(*m);
  if (!mv || *mv != method) return "the Mcp-Method header (" + *m + ") does not match the body's method (" + method + ")";

  static const Json kNone;
  const Json& params = request.contains("params") && request["params"].is_object() ? request["params"] : kNone;
  const char* name_field = method == "tools/call" || method == "prompts/get" ? "name"
                           : method == "resources/read"                     ? "uri"
                                                                            : nullptr;
  if (name_field && params.is_object() && params.contains(name_field) && params[name_field].is_string()) {
    const std::string& name = params[name_field].get_ref<const std::string&>();
    auto n = header("Mcp-Name");
    if (!n) return std::string("the Mcp-Name header is missing (it must repeat params.") + name_field + ", " + name + ")";
    auto nv = decode_header_value(*n);
    if (!nv) return "the Mcp-Name header is not valid base64 inside =?base64?...?=";
    if (*nv != name) {
      return std::string("the Mcp-Name header (") + *nv + ") does not match params." + name_field + " (" + name + ")";
    }
  }
  if (method != "tools/call" || !route || route->header_params.empty()) return std::nullopt;
  static const Json kNoArgs = Json::object();
  const Json& args = params.is_object() && params.contains("arguments") ? params["arguments"] : kNoArgs;
  for (const auto& [path, name] : route->header_params) {
    const Json* value = at_path(args, path);
    auto h = header("Mcp-Param-" + name);
    bool present = value && !value->is_null();
    if (!present && !h) continue;
    if (!h) return "the Mcp-Param-" + name + " header is missing (the argument it mirrors is set)";
    auto hv = decode_header_value(*h);
    if (!hv) return "the Mcp-Param-" + name + " header is not valid base64 inside =?base64?...?=";
    if (!present) return "the Mcp-Param-" + name + " header is set but the argument it mirrors is not";
    if (!header_matches(*hv, *value)) return "the Mcp-Param-" + name + " header does not match its argument";
  }
  return std::nullopt;
}

}  // namespace portcullis::server
