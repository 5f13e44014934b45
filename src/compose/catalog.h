// Catalogues: what upstreams offer and what a virtual server exposes.
//
// An UpstreamCatalog is a snapshot of one upstream's tools, resources,
// resource templates and prompts, as listed by the upstream (all pages). A
// VirtualCatalog is built from a VirtualServerConfig and the upstream
// catalogues: it applies include/exclude, prefix, rename, description
// overrides and fixed arguments, makes every name legal, and holds the routes
// back to each upstream's own names. Both are immutable once built and shared
// by snapshot between threads.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "compose/pinning.h"
#include "config/config.h"
#include "core/json.h"
#include "core/result.h"

namespace portcullis::compose {

struct UpstreamCatalog {
  std::vector<Json> tools;
  std::vector<Json> resources;
  std::vector<Json> resource_templates;
  std::vector<Json> prompts;
};
using UpstreamCatalogs = std::map<std::string, std::shared_ptr<const UpstreamCatalog>>;

// Where an exposed tool or prompt really lives.
struct Route {
  std::string upstream;
  std::string original;
  Json fixed = Json::object();  // arguments injected on every call; they win over the caller's
  // Arguments mirrored in HTTP headers (2026-07-28, `x-mcp-header` in the
  // exposed input schema): property path -> header name after "Mcp-Param-".
  std::vector<std::pair<std::vector<std::string>, std::string>> header_params;
  // Not an upstream tool: the gateway's own "connect your account" tool for
  // an upstream that acts as each user (auth type oauth_user).
  bool connect = false;
};

enum class ListKind { Tools, Resources, ResourceTemplates, Prompts };

class VirtualCatalog {
 public:
  // Builds the catalogue. Name collisions that remain after renaming keep the
  // first entry (config order) and add a message to `problems`. With
  // `pin_changes` and pinning `block`, a tool whose definition changed since
  // its approval is left out and remembered as blocked.
  static std::shared_ptr<const VirtualCatalog> build(const config::VirtualServerConfig& vs,
                                                     const UpstreamCatalogs& upstreams,
                                                     std::vector<std::string>* problems,
                                                     const PinChanges* pin_changes = nullptr);

  // A copy that also offers `tool` (a tool definition with a "name"),
  // routed to `route`; null when that name is already taken.
  std::shared_ptr<const VirtualCatalog> with_tool(Json tool, Route route) const;

  const std::vector<Json>& list(ListKind kind) const;
  const Route* tool(const std::string& exposed) const;
  const Route* prompt(const std::string& exposed) const;
  // Why a tool is blocked by pinning (a user-facing sentence), or null.
  const std::string* blocked(const std::string& exposed) const;
  // The upstream serving `uri`: an exact resource URI, else a matching
  // resource template, else the only upstream selected for resources.
  std::optional<std::string> resource_upstream(const std::string& uri) const;
  // Upstreams this virtual server uses, for any kind.
  const std::vector<std::string>& upstreams() const { return upstreams_; }
  // A digest of each list, so a rebuild can tell which lists changed.
  const std::string& digest(ListKind kind) const;

 private:
  std::vector<Json> tools_, resources_, templates_, prompts_;
  std::unordered_map<std::string, Route> tool_routes_, prompt_routes_;
  std::unordered_map<std::string, std::string> blocked_;  // exposed tool name -> why
  std::unordered_map<std::string, std::string> resource_routes_;  // uri -> upstream
  std::vector<std::pair<std::string, std::string>> template_routes_;  // uriTemplate -> upstream
  std::vector<std::string> resource_upstreams_;
  std::vector<std::string> upstreams_;
  std::string digests_[4];
};

// True if `uri` matches the RFC 6570 level-1 template `tmpl` ({var} matches
// one or more characters other than '/'; {+var}/{#var}/{/var} match anything).
bool uri_matches_template(const std::string& tmpl, const std::string& uri);

// Removes the fixed arguments from a tool's inputSchema (properties and
// required), so the model never sees them.
Json hide_fixed_arguments(Json input_schema, const Json& fixed);

// One page of `items` starting at `cursor` (empty = first page). Returns the
// result object {"<key>": [...], "nextCursor"?: "..."} or an error message for
// an invalid cursor.
Result<Json> paginate(const std::vector<Json>& items, const std::string& key,
                      const std::string& cursor, size_t page_size);

}  // namespace portcullis::compose
