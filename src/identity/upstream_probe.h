// `portcullis probe`: connects to one MCP server over Streamable HTTP as
// the gateway would, authorizing with the upstream OAuth client when the
// server asks (401, or 403 insufficient_scope for step-up), then
// initializes, lists tools and calls one. A diagnostic for "can Portcullis
// reach and authorize at this upstream?", and the client the official
// conformance suite's client auth scenarios run against.
//
// The "browser" step is headless: the probe GETs the authorization URL and
// follows redirects until one reaches its own loopback callback
// (http://127.0.0.1:<port>/callback). When the authorization server wants a
// person instead (a login page), the probe prints the URL and waits up to
// browser_wait for the callback.
//
// Tokens are kept in a credential vault (in memory unless vault_path is
// set) and are never printed.
#pragma once
#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/json.h"

namespace portcullis::identity {

struct ProbeOptions {
  std::string url;                              // the MCP endpoint
  std::string protocol_version = "2025-11-25";  // 2026-07-28: the stateless wire
  // A pre-registered client (any issuer); empty: CIMD or DCR.
  std::string client_id, client_secret, client_auth_method;
  std::string client_metadata_url;  // CIMD client_id, used where the AS supports it
  std::string tool;                 // "" = the first tool listed
  Json tool_arguments;              // null = defaults for required arguments
  std::string vault_path;           // "" = in memory
  std::string vault_key_hex;        // 64 hex digits; required with vault_path
  int max_authorizations = 3;       // per run, including step-ups
  std::chrono::seconds browser_wait{0};
};

// Runs the probe; results on `out`, progress and errors on `err`. Returns
// the process exit status: 0 when the tool call succeeded.
int run_probe(const ProbeOptions& options, std::ostream& out, std::ostream& err);

// `portcullis probe URL [flags]` (the arguments after "probe"); usage
// errors exit 2. The vault key comes from PORTCULLIS_VAULT_KEY.
int run_probe_cli(const std::vector<std::string>& args);
inline constexpr const char* kProbeUsage =
    "  portcullis probe <url> [--client-id ID [--client-secret S] [--client-auth METHOD]]\n"
    "                  [--client-metadata-url URL] [--protocol-version V] [--tool NAME]\n"
    "                  [--args JSON] [--vault PATH] [--browser-wait SECONDS] [--max-authorizations N]\n"
    "      Connect to one MCP server over Streamable HTTP as the gateway would, running\n"
    "      the upstream OAuth flow when it asks (discovery, registration, PKCE, step-up),\n"
    "      then list its tools and call one (the first unless --tool). Tokens are never\n"
    "      printed; --vault keeps them (key: PORTCULLIS_VAULT_KEY, 64 hex digits).\n";

}  // namespace portcullis::identity
