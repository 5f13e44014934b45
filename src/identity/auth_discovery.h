// Discovery for the upstream OAuth client (MCP authorization, 2025-11-25):
// from an upstream's 401/403 challenge or its well-known URLs to the
// Protected Resource Metadata (RFC 9728), and from there to the
// authorization server's metadata (RFC 8414 or OpenID Connect Discovery),
// validated as the spec requires. Also the 2025-03-26 fallback for servers
// that publish no PRM: metadata at the server's origin, else the default
// /authorize, /token and /register endpoints.
//
// URLs are built from the strings as written (no port or case
// normalization): issuers are compared byte for byte.
//
// The pure functions are thread-safe; the fetching ones block on HTTP.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::identity {

// The Bearer challenge of a WWW-Authenticate header (RFC 6750 §3, RFC 9728
// §5.1). Unknown parameters are ignored.
struct BearerChallenge {
  std::string resource_metadata;  // PRM URL
  std::string scope;              // space-separated
  std::string error;              // "invalid_token", "insufficient_scope", ...
  std::string error_description;
  bool insufficient_scope() const { return error == "insufficient_scope"; }
};
// nullopt when the header has no Bearer challenge.
std::optional<BearerChallenge> parse_bearer_challenge(std::string_view www_authenticate);

// An URL cut where discovery needs it: "https://h:1" + "/a/b" + "?q".
struct UrlParts {
  std::string origin;  // scheme://authority as written
  std::string path;    // "" or starting with '/'
  std::string query;   // "" or starting with '?'
};
Result<UrlParts> split_url(std::string_view url);

// RFC 9728 §3.1 well-known locations, in the order MCP clients try them:
// path-inserted (when the URL has a path), then the root.
std::vector<std::string> protected_resource_metadata_urls(std::string_view server_url);
// Authorization server metadata locations for `issuer`, in the spec's order:
// with a path, /.well-known/oauth-authorization-server/<path>,
// /.well-known/openid-configuration/<path>, <path>/.well-known/openid-configuration;
// without, /.well-known/oauth-authorization-server, /.well-known/openid-configuration.
std::vector<std::string> authorization_server_metadata_urls(std::string_view issuer);

// The RFC 8707 resource to ask for when no PRM names one: the server URL
// without fragment (and without a trailing slash on a bare origin).
std::string canonical_resource(std::string_view server_url);
// Whether a PRM `resource` may speak for `server_url`: same origin and a
// path that is a segment-wise prefix of the server's path.
bool resource_covers(std::string_view resource, std::string_view server_url);

// Scope to request (MCP "scope selection strategy"): the challenge's scope,
// else the PRM's scopes_supported, else none; plus `previous` (step-up
// asks for the union); plus offline_access when the AS lists it.
std::vector<std::string> select_scopes(std::string_view challenge_scope,
                                       const std::vector<std::string>& prm_scopes_supported,
                                       const std::vector<std::string>& previous,
                                       const std::vector<std::string>& as_scopes_supported);
std::vector<std::string> split_scopes(std::string_view s);
std::string join_scopes(const std::vector<std::string>& v);

struct ProtectedResourceMetadata {
  std::string url;  // where it was found
  std::string resource;
  std::vector<std::string> authorization_servers;
  std::vector<std::string> scopes_supported;
};

struct AuthorizationServerMetadata {
  std::string url;  // where it was found; "" when built from defaults
  std::string issuer;
  std::string authorization_endpoint, token_endpoint, registration_endpoint;
  std::vector<std::string> scopes_supported;
  std::vector<std::string> code_challenge_methods_supported;
  std::vector<std::string> token_endpoint_auth_methods_supported;  // empty = RFC 8414 default (basic)
  std::vector<std::string> grant_types_supported;
  bool client_id_metadata_document_supported = false;
  bool authorization_response_iss_parameter_supported = false;  // RFC 9207
};
// Reads and checks one metadata document: issuer equal to `expected_issuer`
// (when given), http(s) endpoints, S256 among code_challenge_methods_supported.
Result<AuthorizationServerMetadata> parse_authorization_server_metadata(const Json& doc,
                                                                        std::string_view expected_issuer);

// The metadata of the authorization server `issuer`, from the first of
// authorization_server_metadata_urls(issuer) that answers.
Result<AuthorizationServerMetadata> discover_issuer(const std::string& issuer);

// What discovery found: where to authorize, and for which resource.
struct AuthDiscovery {
  std::optional<ProtectedResourceMetadata> prm;  // nullopt: 2025-03-26 fallback
  AuthorizationServerMetadata as;
  std::string resource;  // the `resource` parameter, exactly as the PRM wrote it
};

// Runs discovery for the MCP server at `server_url`, starting from its
// challenge when it sent one. Fails with a message naming the URL and the
// rule when a document exists but may not be used (resource mismatch,
// issuer mismatch, no PKCE S256); never proceeds with such a document.
Result<AuthDiscovery> discover_authorization(std::string_view server_url, const BearerChallenge* challenge);

}  // namespace portcullis::identity
