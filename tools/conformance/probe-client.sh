#!/usr/bin/env bash
# The client command the conformance suite runs for its client auth
# scenarios (tools/conformance/client-auth.sh passes it as --command):
#
#   probe-client.sh <mcp-server-url>
#
# Translates the suite's environment into `portcullis probe` flags:
#   MCP_CONFORMANCE_PROTOCOL_VERSION  -> --protocol-version
#   MCP_CONFORMANCE_CONTEXT           -> --client-id / --client-secret (pre-registration)
# and always offers the suite's Client ID Metadata Document URL, which the
# probe uses only where the authorization server advertises support.
#   PORTCULLIS_BIN  the gateway binary (default: build/portcullis)
#   NODE            node binary to read the context JSON with (default: node)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${PORTCULLIS_BIN:-$ROOT/build/portcullis}"
URL="${!#}"
args=(probe "$URL" --client-metadata-url "https://conformance-test.local/client-metadata.json")
[[ -n "${MCP_CONFORMANCE_PROTOCOL_VERSION:-}" ]] && args+=(--protocol-version "$MCP_CONFORMANCE_PROTOCOL_VERSION")
if [[ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]]; then
  # Only the authorization-code scenarios' pre-registered client is used;
  # extension scenarios (client credentials, enterprise) are not supported.
  read_ctx() { "${NODE:-node}" -e 'const c=JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT);process.stdout.write(String(c[process.argv[1]]??""))' "$1"; }
  id="$(read_ctx client_id)"
  secret="$(read_ctx client_secret)"
  [[ -n "$id" ]] && args+=(--client-id "$id")
  [[ -n "$secret" ]] && args+=(--client-secret "$secret")
fi
exec "$BIN" "${args[@]}"
