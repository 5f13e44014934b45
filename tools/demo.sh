#!/usr/bin/env bash
# Installs everything (tools/setup.sh), then runs the gateway on the demo
# config: the repo root, which holds servers.d/demo.yaml and policies/.
#
#   bash tools/demo.sh            # listens on 127.0.0.1:8080
#   PORT=9000 bash tools/demo.sh  # another port
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash tools/setup.sh
# setup.sh may have fetched Node 20 into .tools/node; the stdio servers of the
# demo are node scripts, so the gateway must find that node first.
if [[ -x "$ROOT/.tools/node/bin/node" ]]; then
  export PATH="$ROOT/.tools/node/bin:$PATH"
fi

PORT="${PORT:-8080}"
export PORTCULLIS_DEMO_DIR="${PORTCULLIS_DEMO_DIR:-${TMPDIR:-/tmp}}"

cat <<MSG

Portcullis demo: virtual server "demo" at http://127.0.0.1:$PORT/mcp/demo
  (legacy SSE clients: http://127.0.0.1:$PORT/sse/demo)

Connect Claude Code:
  claude mcp add --transport http demo http://127.0.0.1:$PORT/mcp/demo

Connect VS Code (.vscode/mcp.json):
  { "servers": { "demo": { "type": "http", "url": "http://127.0.0.1:$PORT/mcp/demo" } } }

Audit log of tool calls:  build/portcullis audit --config . --since 1h
Stop with Ctrl-C.

MSG

exec build/portcullis serve --config . --listen "127.0.0.1:$PORT"
