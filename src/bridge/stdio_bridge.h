// `portcullis connect`: a stdio <-> Streamable HTTP bridge.
//
// MCP clients that can only launch local processes (Claude Desktop) run
// `portcullis connect <virtual-server>`. The bridge reads newline-delimited
// JSON-RPC from stdin and POSTs every message to the gateway's Streamable
// HTTP endpoint (/mcp/<virtual-server>) through the gateway's own Streamable
// HTTP client transport; every message the gateway sends (responses,
// notifications, server->client requests on POST or GET streams) becomes one
// line on stdout. stdout carries nothing else; logs go to stderr.
//
// Every client request gets exactly one answer: the gateway's, or a JSON-RPC
// error naming the gateway URL and the cause when the gateway is unreachable
// or its session ended. A dead gateway does not end the bridge: the next
// message opens a new connection (the client must initialize again).
// stdin EOF, SIGTERM and SIGINT end the session (DELETE) and exit 0.
//
// Credentials come from the environment, never the command line (which
// other users can read): PORTCULLIS_TOKEN (an OAuth access token, sent as
// "Authorization: Bearer"), PORTCULLIS_API_KEY (X-API-Key) and
// PORTCULLIS_METADATA (X-Portcullis-Metadata, a JSON object).
#pragma once
#include <map>
#include <string>

#include "core/result.h"

namespace portcullis::bridge {

// The default endpoint of `virtual_server`: http://<listen of
// DIR/portcullis.yaml, default 127.0.0.1:8080>/mcp/<virtual_server>. Fails
// when DIR is not a directory or portcullis.yaml cannot be read.
Result<std::string> default_gateway_url(const std::string& config_dir, const std::string& virtual_server);

// Runs the bridge on stdin/stdout until EOF or a signal. `url` (may be empty)
// overrides the endpoint; `log_level` (may be empty: warn) sets the stderr
// log level. Returns the process exit code: 0 after a clean end, 2 for bad
// arguments (with a message on stderr).
// The gateway credentials the environment holds, as request headers.
std::map<std::string, std::string> gateway_credentials();

int run_connect(const std::string& virtual_server, const std::string& url, const std::string& config_dir,
                const std::string& log_level);

}  // namespace portcullis::bridge
