#include "mcp/modern_protocol.h"

#include "core/jsonrpc.h"

namespace portcullis::mcp {

bool is_modern_revision(const std::string& v) {
  for (const char* r : kModernRevisions) {
    if (v == r) return true;
  }
  return false;
}

Json with_envelope(Json params, const Envelope& e) {
  if (!params.is_object()) params = Json::object();
  Json& meta = params["_meta"];
  if (!meta.is_object()) meta = Json::object();
  meta[meta_key::kProtocolVersion] = e.protocol_version;
  // A request made for one 2026-07-28 client already names that client's
  // capabilities and log level: the upstream must see those, not the link's.
  auto caps = meta.find(meta_key::kClientCapabilities);
  if (caps == meta.end() || !caps->is_object()) {
    meta[meta_key::kClientCapabilities] = e.client_capabilities.is_object() ? e.client_capabilities : Json::object();
  }
  meta[meta_key::kClientInfo] = e.client_info;
  if (!meta.contains(meta_key::kLogLevel) && !e.log_level.empty()) meta[meta_key::kLogLevel] = e.log_level;
  return params;
}

namespace {

bool flag(const Json& caps, const char* group, const char* key) {
  if (!caps.is_object() || !caps.contains(group) || !caps[group].is_object()) return false;
  const Json& g = caps[group];
  return g.contains(key) && g[key].is_boolean() && g[key].get<bool>();
}

std::string error_text(const Json& err) {
  std::string msg = err.contains("message") && err["message"].is_string() ? err["message"].get<std::string>() : "";
  if (msg.empty()) msg = rpc::dump(err).substr(0, 200);
  return msg + " (" + (err.contains("code") ? rpc::dump(err["code"]) : std::string("no code")) + ")";
}

std::string join(const Json& list) {
  std::string out;
  for (const Json& v : list) out += (out.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : rpc::dump(v));
  return out.empty() ? "none" : out;
}

}  // namespace

DiscoverVerdict judge_discover(const Json& response, const std::string& requested) {
  DiscoverVerdict v;
  if (!response.is_object()) {
    v.why = "server/discover got no usable answer";
    return v;
  }
  if (response.contains("error")) {
    const Json& err = response["error"];
    const int code = err.is_object() && err.contains("code") && err["code"].is_number_integer() ? err["code"].get<int>() : 0;
    v.why = "server/discover failed: " + (err.is_object() ? error_text(err) : rpc::dump(err));
    if (code == kUnsupportedProtocolVersion) {
      const Json data = err.value("data", Json::object());
      const Json supported = data.is_object() ? data.value("supported", Json()) : Json();
      if (!supported.is_array()) return v;  // not the 2026 shape: take it as a legacy error
      for (const char* mine : kModernRevisions) {
        for (const Json& s : supported) {
          if (s.is_string() && s.get<std::string>() == mine && requested != mine) {
            v.kind = DiscoverVerdict::Retry;
            v.version = mine;
            return v;
          }
        }
      }
      for (const Json& s : supported) {
        // A server naming a 2025 revision it supports serves initialize.
        if (s.is_string() && !s.get<std::string>().empty() && s.get<std::string>() < "2026") return v;
      }
      v.kind = DiscoverVerdict::Refused;
      v.why = "the server speaks protocol versions " + join(supported) + ", none of which Portcullis supports";
      return v;
    }
    if (code == kHeaderMismatch || code == kMissingRequiredClientCapability) {
      v.kind = DiscoverVerdict::Refused;
      v.why = "the server speaks 2026-07-28 but rejected server/discover: " + error_text(err);
    }
    return v;
  }
  const Json& r = response.contains("result") ? response["result"] : Json();
  if (!r.is_object() || !r.contains("supportedVersions") || !r["supportedVersions"].is_array()) {
    v.why = "server/discover answered without supportedVersions";
    return v;
  }
  for (const char* mine : kModernRevisions) {
    for (const Json& s : r["supportedVersions"]) {
      if (s.is_string() && s.get<std::string>() == mine) {
        v.kind = DiscoverVerdict::Modern;
        v.version = mine;
        v.result = r;
        return v;
      }
    }
  }
  v.why = "server/discover offers only " + join(r["supportedVersions"]);
  return v;  // Legacy: a dual-era server may still serve initialize
}

Json server_info_of(const Json& result) {
  if (!result.is_object()) return Json::object();
  if (result.contains("_meta") && result["_meta"].is_object()) {
    const Json& m = result["_meta"];
    if (m.contains(meta_key::kServerInfo) && m[meta_key::kServerInfo].is_object()) return m[meta_key::kServerInfo];
  }
  if (result.contains("serverInfo") && result["serverInfo"].is_object()) return result["serverInfo"];
  return Json::object();
}

Json listen_filter(const Json& caps, const std::set<std::string>& uris) {
  Json f = Json::object();
  if (flag(caps, "tools", "listChanged")) f["toolsListChanged"] = true;
  if (flag(caps, "prompts", "listChanged")) f["promptsListChanged"] = true;
  if (flag(caps, "resources", "listChanged")) f["resourcesListChanged"] = true;
  if (flag(caps, "resources", "subscribe") && !uris.empty()) {
    f["resourceSubscriptions"] = Json::array();
    for (const auto& u : uris) f["resourceSubscriptions"].push_back(u);
  }
  return f.empty() ? Json() : f;
}

}  // namespace portcullis::mcp
