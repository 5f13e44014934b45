// Typed gateway configuration, loaded from a config DIR:
//   DIR/portcullis.yaml   gateway settings (optional)
//   DIR/servers.d/*.yaml  upstreams and virtual servers (merged, names unique)
//   DIR/policies/         policy files (later issues)
// A loaded GatewayConfig is immutable and shared by snapshot (shared_ptr to
// const); reload builds a new one and swaps it in.
#pragma once
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/json.h"

namespace portcullis::config {

// Where a value came from, for "file:line: message" diagnostics.
struct SourcePos {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string format() const;  // "file:line: message" (or "file: message")
};

enum class Transport { Stdio, Sse, StreamableHttp };
const char* to_string(Transport t);

// How downstream sessions map onto upstream sessions.
//  per_client: each downstream session gets its own upstream session (stdio:
//              its own process), so server->client requests, logging and
//              subscriptions can never cross between users. The default.
//  shared:     one upstream session serves every downstream session; only
//              correlatable traffic (responses, progress) is relayed back.
enum class SessionMode { PerClient, Shared };

// Which MCP protocol era Portcullis speaks to an upstream.
//  Auto:   probe with server/discover and use 2026-07-28 when the server
//          offers it, else the initialize handshake (2024-11-05..2025-11-25).
//  Legacy: always the initialize handshake ("2025-11-25" in YAML).
//  Modern: always 2026-07-28 (stateless); a server that does not speak it
//          fails to start with a clear error ("2026-07-28" in YAML).
// Legacy HTTP+SSE upstreams are always Legacy.
enum class Revision { Auto, Legacy, Modern };
const char* to_string(Revision r);  // "auto", "2025-11-25", "2026-07-28"

// Which credential Portcullis presents to an upstream. The caller's own
// token is never passed through.
//  None:          nothing.
//  Static:        one fixed value for everyone (a header, or env for stdio).
//  TokenExchange: per user: the caller's token exchanged at the issuer's
//                 token endpoint (RFC 8693) for one whose audience is the
//                 upstream; stdio gets it in `token_env`.
//  OAuthUser:     per user: the user's own token from the upstream's
//                 authorization server, obtained once with their consent
//                 (authorization code + PKCE in their browser) and kept,
//                 encrypted, in the credential vault. HTTP upstreams only.
enum class CredentialType { None, Static, TokenExchange, OAuthUser };
const char* to_string(CredentialType t);  // "none", "static", "oauth_token_exchange", "oauth_user"

struct UpstreamAuth {
  CredentialType type = CredentialType::None;
  // static, HTTP: this header with this value (${VAR} expanded); stdio: env.
  std::string header = "Authorization";
  std::string value;
  std::map<std::string, std::string> env;
  // oauth_token_exchange; oauth_user: client_id/client_secret name a client
  // registered out of band at the upstream's authorization server (empty:
  // Client ID Metadata Document or dynamic registration).
  std::string token_endpoint;
  std::string client_id, client_secret;
  std::string audience;  // requested audience (default: none)
  std::string resource;  // requested resource (default: the upstream's url)
  std::vector<std::string> scopes;  // oauth_user: requested scopes (default: what the upstream advertises)
  std::string token_env = "UPSTREAM_TOKEN";  // stdio: the variable that carries the user's token
  SourcePos pos;

  // Each user gets their own credential, so their own upstream session
  // (stdio: process), and catalogues are listed per user.
  bool per_user() const { return type == CredentialType::TokenExchange || type == CredentialType::OAuthUser; }
};

struct UpstreamConfig {
  std::string name;  // [a-z0-9-]+
  Transport transport = Transport::Stdio;
  // stdio
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // ${VAR} already expanded
  std::string cwd;  // absolute; defaults to the config DIR, relative paths resolve against it
  // sse (url of the GET /sse endpoint) and streamable-http (the MCP endpoint)
  std::string url;
  std::map<std::string, std::string> headers;  // ${VAR} already expanded
  std::chrono::milliseconds timeout{30000};           // per request
  std::chrono::milliseconds connect_timeout{30000};   // process start + initialize
  SessionMode sessions = SessionMode::PerClient;
  Revision revision = Revision::Auto;
  size_t max_sessions = 256;  // per_client: upper bound on live upstream sessions
  UpstreamAuth auth;
  SourcePos pos;
  // Not from YAML: the gateway sets it on a per-user link's copy of the
  // config. HTTP transports call it for every request and send its value
  // as the Authorization header (a per-user token, renewed while the
  // upstream session lasts); an empty value sends none.
  std::function<std::string()> authorization;

  // True when two configs would produce the same upstream behaviour; used by
  // reload to keep running connections of unchanged upstreams.
  bool same_connection(const UpstreamConfig& o) const;
};

// One `- upstream: X` entry under tools/resources/prompts of a virtual server.
struct SourceSelection {
  std::string upstream;
  std::vector<std::string> include;  // globs; empty = all
  std::vector<std::string> exclude;  // globs
  std::optional<std::string> prefix;  // unset = auto (upstream name when >1 upstream)
  std::map<std::string, std::string> rename;    // original -> exposed
  std::map<std::string, std::string> describe;  // original -> description
  std::map<std::string, Json> fixed;            // original -> {arg: value}, must be objects
  SourcePos pos;
};

// What a virtual server does when an upstream tool's approved definition
// (description, schemas, annotations) changes: nothing, log and audit it, or
// also hide the tool and refuse calls to it until it is approved again.
enum class PinningMode { Off, Warn, Block };
const char* to_string(PinningMode m);

// What a virtual server does with an upstream tool whose description or
// schema carries hidden instructions for the model (tool poisoning, checked
// when catalogues load): nothing, log and audit it, or also leave it out of
// tools/list and refuse calls to it as an unknown tool.
enum class PoisoningMode { Off, Warn, Hide };
const char* to_string(PoisoningMode m);  // "off", "warn", "hide"

struct VirtualServerConfig {
  std::string name;  // [a-z0-9-]+, served at /mcp/<name> and /sse/<name>
  std::vector<SourceSelection> tools;
  std::vector<SourceSelection> resources;
  std::vector<SourceSelection> prompts;
  std::string instructions;  // optional, returned in initialize
  size_t page_size = 0;      // list pagination; 0 = gateway default
  PinningMode pinning = PinningMode::Warn;
  PoisoningMode poisoning = PoisoningMode::Warn;
  // The `guardrails:` block as written (undefined when absent). Only its
  // shape is checked here; the guard layer parses it against the detectors
  // (guard/settings.h), which config cannot see. Read-only once loaded.
  YAML::Node guardrails;
  SourcePos guardrails_pos;
  SourcePos pos;

  // Number of distinct upstreams across tools, resources and prompts.
  size_t upstream_count() const;
};

// The metadata contract keys (identity/principal.h re-exports them as
// identity::kMetadataKeys; a static_assert there keeps the two equal). They
// live here because config validates `metadata.required` and
// `auth.oauth.metadata_claims` against them and sits below identity.
inline constexpr std::array<std::string_view, 9> kMetadataKeys = {
    "team",        "project_id", "workflow",  "surface",       "environment",
    "cost_center", "ticket_id",  "session_id", "policy_version"};

// How downstream clients authenticate to the gateway.
//  None:          no authentication; main only allows a loopback listener.
//  ApiKey:        a key from api_keys_file (Authorization: Bearer pk_... or X-API-Key).
//  OAuth:         a JWT access token from the configured issuer.
//  OAuthOrApiKey: either ("oauth+api_key" in YAML).
enum class AuthMode { None, ApiKey, OAuth, OAuthOrApiKey };
const char* to_string(AuthMode m);  // "none", "api_key", "oauth", "oauth+api_key"

struct OAuthSettings {
  std::string issuer;    // compared exactly with the token's `iss`
  std::string jwks_uri;  // empty: discovered from the issuer's metadata
  std::vector<std::string> audience;  // extra accepted `aud` values besides auth.resource
  std::string groups_claim = "groups";
  std::vector<std::string> scopes;      // required on every request; empty = none
  std::vector<std::string> algorithms;  // allow-list; defaults to RS256, ES256 (+ HS256 with a secret)
  std::string hs256_secret;             // ${VAR} expanded; empty = HS256 disabled
  std::chrono::milliseconds leeway{60000};
  std::map<std::string, std::string> metadata_claims;  // metadata key -> claim name
  SourcePos pos;
};

struct AuthSettings {
  AuthMode mode = AuthMode::None;
  std::string resource;  // this gateway's resource identifier (RFC 8707/9728), no trailing '/'
  OAuthSettings oauth;   // meaningful when uses_oauth()
  std::string api_keys_file;  // absolute (resolved against DIR); set when uses_api_keys()
  SourcePos pos;

  bool uses_oauth() const { return mode == AuthMode::OAuth || mode == AuthMode::OAuthOrApiKey; }
  bool uses_api_keys() const { return mode == AuthMode::ApiKey || mode == AuthMode::OAuthOrApiKey; }
};

// What happens to a request missing a required metadata key: it is tagged
// with the value UNTAGGED, or refused with 400.
enum class UntaggedPolicy { Tag, Reject };
const char* to_string(UntaggedPolicy p);  // "tag", "reject"

struct MetadataSettings {
  std::vector<std::string> required;  // kMetadataKeys only, no duplicates
  UntaggedPolicy untagged = UntaggedPolicy::Tag;
  SourcePos pos;
};

// The vault of per-user upstream credentials (upstream auth type
// oauth_user) and where users' browsers reach the gateway to grant them.
struct CredentialSettings {
  std::string vault;  // SQLite file, absolute; default: portcullis-credentials.db beside audit_db
  std::string key;    // 32 raw bytes (AES-256-GCM); empty: no vault, so no oauth_user upstream
  // The gateway's URL as users' browsers reach it, no trailing '/': the
  // OAuth redirect_uri is <public_url>/oauth/callback and consent links
  // start at <public_url>/oauth/connect/. Default: auth.resource, else
  // http://<listen>.
  std::string public_url;
  // How long a consent link stays valid, and a call waits for it.
  std::chrono::milliseconds consent_timeout{10 * 60 * 1000};
  // confirm_user: a client registered at auth.oauth.issuer (redirect URI
  // <public_url>/oauth/confirm). With it, whoever opens a consent link first
  // signs in there, and only the user the link was made for may go on: a
  // link that reaches someone else cannot connect their account to the
  // requesting user. Empty client id: links are bound only by being secret.
  std::string confirm_client_id, confirm_client_secret;
  SourcePos pos;
};

// portcullis.yaml `audit:` (besides `db`). Parsed by load_audit().
struct AuditSettings {
  std::string capture = "hash";          // hash | redacted | full | none
  std::string queue_full = "block";      // block | drop
  size_t queue_capacity = 65536;
  bool synchronous_full = false;         // synchronous: full (default normal)
  std::string signing_key_file;          // signing_key: {file: PATH} (resolved against DIR)
  std::string signing_key_env;           // signing_key: {env: NAME}
  std::string sink = "sqlite";           // sqlite | postgres
  std::string postgres_dsn;              // postgres: {dsn: ...}
  std::string instance_id;               // this instance's chain id; empty: the host name
  std::chrono::milliseconds max_age{0};  // retention: {max_age, max_rows, max_bytes}; 0 = unbounded
  size_t max_rows = 0, max_bytes = 0;
};

// portcullis.yaml `admin:`: who may use /admin routes. A caller is an admin
// when it presents one of the API keys (X-Admin-Key, stored as SHA-256 hex)
// or its principal has one of the groups or scopes. Nothing configured: the
// admin routes answer 403 to everyone.
struct AdminSettings {
  std::vector<std::string> api_key_sha256;  // lowercase hex
  std::vector<std::string> groups, scopes;
};

struct Settings {
  std::string listen = "127.0.0.1:8080";
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_json_depth = 64;
  size_t page_size = 100;
  std::chrono::milliseconds session_idle_timeout{30 * 60 * 1000};
  // Session ids are sealed (AES-256-GCM) under this 32-byte key, so any
  // instance holding it serves any session. Empty: a random key per process.
  std::string session_key;
  std::chrono::milliseconds session_ttl{24 * 60 * 60 * 1000};  // a session id's lifetime
  std::vector<std::string> allowed_origins;  // besides loopback origins
  std::string pins_db;  // approved tool definitions; default: portcullis-pins.db beside audit_db
  std::string audit_db = "portcullis-audit.db";  // load() resolves it against the config DIR
  AuditSettings audit;
  AdminSettings admin;
  AuthSettings auth;
  MetadataSettings metadata;
  CredentialSettings credentials;
  bool auth_configured = false;  // auth.mode != none
  SourcePos pos;
};

struct GatewayConfig {
  std::string dir;
  Settings settings;
  std::map<std::string, UpstreamConfig> upstreams;
  std::map<std::string, VirtualServerConfig> virtual_servers;
  // Files that were read, for change detection on reload.
  std::vector<std::string> files;
};

struct LoadResult {
  std::shared_ptr<const GatewayConfig> config;  // null when errors is non-empty
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
};

// Loads and validates DIR. Static checks only (no upstream is contacted):
// syntax, types, unknown keys, names, references, duration/size formats,
// rename collisions, exposed-name legality of explicit renames and prefixes.
LoadResult load(const std::string& dir);

}  // namespace portcullis::config
