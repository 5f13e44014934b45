#!/usr/bin/env bash
# tools/bench/run.sh: tools/call latency and throughput, direct vs through the
# gateway.
#
#   tools/bench/run.sh [--json] [--calls N] [--warmup W] [--build DIR]
#
# 1. builds portcullis, bench-upstream and bench-loadgen (incremental),
# 2. starts bench-upstream (a minimal MCP Streamable HTTP server, tool `echo`),
# 3. runs bench-loadgen directly against it at concurrency 1 and 16,
# 4. starts `portcullis serve` with a generated config that exposes the
#    upstream as virtual server `bench`, waits for /healthz, and runs the same
#    loads against http://127.0.0.1:PORT/mcp/bench, then again as a stateless
#    2026-07-28 client (rows marked 2026; the upstream is the same), then
#    through a second gateway that authenticates every request with an API
#    key and the metadata contract (rows marked key), and through a third
#    that also authorizes every call with 100 Cedar policies (rows marked
#    cedar; rows marked cedar-key compare it with the key gateway),
# 5. prints one table: p50/p99 (microseconds) and calls/s, direct vs gateway, the added
#    latency (gateway − direct) and the ratio (gateway / direct).
#
# Every run: N measured calls after W unmeasured warm-up calls, each worker on
# its own MCP session and keep-alive connection, closed loop. Everything runs
# on this machine: the load generator, the upstream and the gateway share the
# same cores, so the concurrency-16 figures are CPU-bound on small machines.
# Any failed call makes the script exit non-zero.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
CALLS=20000
WARMUP=1000
JSON=0
STREAMS=5000  # open GET streams held during the last gateway run (0 = skip)

usage() {
  echo "usage: $0 [--json] [--calls N] [--warmup W] [--streams N] [--build DIR]" >&2
  exit 2
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) JSON=1 ;;
    --calls) [[ $# -ge 2 ]] || usage; CALLS=$2; shift ;;
    --warmup) [[ $# -ge 2 ]] || usage; WARMUP=$2; shift ;;
    --build) [[ $# -ge 2 ]] || usage; BUILD=$2; shift ;;
    --streams) [[ $# -ge 2 ]] || usage; STREAMS=$2; shift ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
  shift
done
[[ "$CALLS" =~ ^[0-9]+$ && "$CALLS" -gt 0 && "$WARMUP" =~ ^[0-9]+$ ]] || usage

log() { echo "bench: $*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
UP_PID=""
GW_PID=""
ST_PID=""
cleanup() {
  local pid
  for pid in "$ST_PID" "$GW_PID" "$UP_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      # give it a moment, then insist
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [[ ! -f "$BUILD/build.ninja" ]]; then
  log "configuring $BUILD"
  meson setup "$BUILD" "$ROOT" >"$TMP/setup.log" 2>&1 || { cat "$TMP/setup.log" >&2; exit 1; }
fi
log "building portcullis bench-upstream bench-loadgen (meson compile -C $BUILD)"
meson compile -C "$BUILD" portcullis bench-upstream bench-loadgen bench-streams >"$TMP/build.log" 2>&1 ||
  { tail -n 40 "$TMP/build.log" >&2; exit 1; }
UPSTREAM_BIN="$BUILD/tools/bench/bench-upstream"
LOADGEN_BIN="$BUILD/tools/bench/bench-loadgen"
STREAMS_BIN="$BUILD/tools/bench/bench-streams"
# PORTCULLIS_BIN overrides the gateway binary (e.g. an installed build); it is
# started as `$PORTCULLIS_BIN serve --config DIR --listen HOST:PORT`.
GATEWAY_BIN="${PORTCULLIS_BIN:-$BUILD/portcullis}"

# ---------------------------------------------------------------- processes

# HTTP status of a GET, "000" when nothing answers.
http_status() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" || true
  else
    local line
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3 &&
      head -n1 <&3) 2>/dev/null || true)
    [[ "$line" =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] && echo "${BASH_REMATCH[1]}" || echo 000
  fi
}

# A TCP port nothing listens on (best effort; the gateway failing to bind is
# detected below).
free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

"$UPSTREAM_BIN" --listen 127.0.0.1:0 >"$TMP/upstream.out" 2>"$TMP/upstream.err" &
UP_PID=$!
UP_PORT=""
for _ in $(seq 1 100); do
  UP_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/upstream.out")
  [[ -n "$UP_PORT" ]] && break
  kill -0 "$UP_PID" 2>/dev/null || break
  sleep 0.05
done
if [[ -z "$UP_PORT" ]]; then
  log "bench-upstream did not start:"
  cat "$TMP/upstream.err" >&2
  exit 1
fi
log "bench-upstream on 127.0.0.1:$UP_PORT (pid $UP_PID)"

# run_load NAME URL CONCURRENCY [LOADGEN FLAGS...]: writes $TMP/NAME.json;
# returns loadgen's status.
run_load() {
  local name=$1 url=$2 c=$3 rc=0
  shift 3
  log "$name: $CALLS calls, concurrency $c, warm-up $WARMUP -> $url $*"
  "$LOADGEN_BIN" --url "$url" --calls "$CALLS" --concurrency "$c" --warmup "$WARMUP" --json "$@" \
    >"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    log "$name FAILED (exit $rc): $(cat "$TMP/$name.err") $(cat "$TMP/$name.json")"
  fi
  return $rc
}

# field NAME KEY: a number from $TMP/NAME.json (flat object written by loadgen).
field() {
  sed -n "s/.*\"$2\":\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" "$TMP/$1.json"
}

FAILED=0
run_load direct_c1 "http://127.0.0.1:$UP_PORT/mcp" 1 || FAILED=1
run_load direct_c16 "http://127.0.0.1:$UP_PORT/mcp" 16 || FAILED=1

# ---------------------------------------------------------------- gateway
GW_PORT=$(free_port)
CFG="$TMP/config"
mkdir -p "$CFG/servers.d"
cat >"$CFG/servers.d/bench.yaml" <<EOF
upstreams:
  fast: { transport: streamable-http, url: "http://127.0.0.1:$UP_PORT/mcp", timeout: 10s }
virtual_servers:
  bench: { tools: [ { upstream: fast } ] }
EOF

# start_gateway CFG PORT LOG: runs portcullis serve and waits for /healthz.
# Sets GW_STARTED_PID, or GW_START_WHY when it did not come up.
start_gateway() {
  local cfg=$1 port=$2 logf=$3 rc
  GW_STARTED_PID="" GW_START_WHY=""
  if [[ ! -x "$GATEWAY_BIN" ]]; then
    GW_START_WHY="$GATEWAY_BIN was not built"
    return 1
  fi
  "$GATEWAY_BIN" serve --config "$cfg" --listen "127.0.0.1:$port" >"$logf" 2>&1 &
  local pid=$!
  log "portcullis serve on 127.0.0.1:$port (pid $pid), waiting for /healthz"
  for _ in $(seq 1 300); do  # up to 30 s
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null && rc=0 || rc=$?
      GW_START_WHY="portcullis serve exited with status $rc: $(tail -n 5 "$logf" | tr '\n' ' ')"
      return 1
    fi
    if [[ $(http_status "$port" /healthz) == 200 ]]; then
      GW_STARTED_PID=$pid
      return 0
    fi
    sleep 0.1
  done
  GW_START_WHY="GET /healthz did not return 200 within 30 s: $(tail -n 5 "$logf" | tr '\n' ' ')"
  kill "$pid" 2>/dev/null
  return 1
}

GATEWAY_OK=0
if start_gateway "$CFG" "$GW_PORT" "$TMP/gateway.log"; then
  GATEWAY_OK=1
  GW_PID=$GW_STARTED_PID
fi
GATEWAY_WHY=$GW_START_WHY

if [[ $GATEWAY_OK -eq 1 ]]; then
  run_load gateway_c1 "http://127.0.0.1:$GW_PORT/mcp/bench" 1 || FAILED=1
  run_load gateway_c16 "http://127.0.0.1:$GW_PORT/mcp/bench" 16 || FAILED=1
  # The same calls from a 2026-07-28 client: no session, _meta on every
  # request, headers checked against the body; the upstream stays 2025-11-25.
  run_load gateway_c1_stateless "http://127.0.0.1:$GW_PORT/mcp/bench" 1 --stateless || FAILED=1
  run_load gateway_c16_stateless "http://127.0.0.1:$GW_PORT/mcp/bench" 16 --stateless || FAILED=1
  # The same calls through a second gateway that authenticates every request
  # with an API key (the identity stage and the metadata contract).
  AUTH_CFG="$TMP/config-auth"
  mkdir -p "$AUTH_CFG/servers.d"
  cp "$CFG/servers.d/bench.yaml" "$AUTH_CFG/servers.d/"
  "$GATEWAY_BIN" keys new --id bench --subject bench@loadgen --meta team=bench --meta project_id=bench \
    >"$TMP/key.out" 2>"$TMP/key.err"
  API_KEY=$(head -n 1 "$TMP/key.out")
  tail -n +2 "$TMP/key.out" >"$AUTH_CFG/api_keys.yaml"
  printf 'auth:\n  mode: api_key\n  api_keys_file: api_keys.yaml\nmetadata:\n  required: [team, project_id]\n' \
    >"$AUTH_CFG/portcullis.yaml"
  AUTH_PORT=$(free_port)
  if start_gateway "$AUTH_CFG" "$AUTH_PORT" "$TMP/gateway-auth.log"; then
    AUTH_PID=$GW_STARTED_PID
    run_load gateway_c1_apikey "http://127.0.0.1:$AUTH_PORT/mcp/bench" 1 --api-key "$API_KEY" || FAILED=1
    run_load gateway_c16_apikey "http://127.0.0.1:$AUTH_PORT/mcp/bench" 16 --api-key "$API_KEY" || FAILED=1
    kill "$AUTH_PID" 2>/dev/null
    wait "$AUTH_PID" 2>/dev/null
  else
    log "the API-key gateway did not start: $GW_START_WHY"
    FAILED=1
  fi
  # The same API-key gateway with 100 Cedar policies in policies/ (the
  # authorize stage on every call): 99 that do not apply to this caller,
  # scoped to other servers and groups, and one that permits it.
  CEDAR_CFG="$TMP/config-cedar"
  cp -r "$AUTH_CFG" "$CEDAR_CFG"
  mkdir -p "$CEDAR_CFG/policies"
  for i in $(seq 0 98); do
    printf '@id("p%d")\npermit (principal in Group::"team%d", action == Action::"call_tool", resource == Tool::"srv%d/tool%d")\nwhen { context.arguments has amount && context.arguments.amount < %d && context.metadata.team like "team*" };\n' \
      "$i" $((i % 20)) $((i % 10)) "$i" $((100 * i + 50))
  done >"$CEDAR_CFG/policies/bench.cedar"
  printf '@id("bench")\npermit (principal == User::"bench@loadgen", action, resource in Server::"bench")\nwhen { context.metadata.team == "bench" };\n' \
    >>"$CEDAR_CFG/policies/bench.cedar"
  CEDAR_PORT=$(free_port)
  if start_gateway "$CEDAR_CFG" "$CEDAR_PORT" "$TMP/gateway-cedar.log"; then
    CEDAR_PID=$GW_STARTED_PID
    run_load gateway_c1_cedar "http://127.0.0.1:$CEDAR_PORT/mcp/bench" 1 --api-key "$API_KEY" || FAILED=1
    run_load gateway_c16_cedar "http://127.0.0.1:$CEDAR_PORT/mcp/bench" 16 --api-key "$API_KEY" || FAILED=1
    kill "$CEDAR_PID" 2>/dev/null
    wait "$CEDAR_PID" 2>/dev/null
  else
    log "the Cedar gateway did not start: $GW_START_WHY"
    FAILED=1
  fi
  if [[ $STREAMS -gt 0 ]]; then
    # The same c=1 load while STREAMS other sessions hold GET streams open:
    # open streams must not starve anyone.
    log "opening $STREAMS sessions with GET streams"
    mkfifo "$TMP/hold"
    "$STREAMS_BIN" --url "http://127.0.0.1:$GW_PORT/mcp/bench" --sessions "$STREAMS" <"$TMP/hold" >"$TMP/streams.out" 2>&1 &
    ST_PID=$!
    exec 4>"$TMP/hold"  # holds the streams until closed
    for _ in $(seq 1 1200); do
      grep -q '^ready' "$TMP/streams.out" 2>/dev/null && break
      kill -0 "$ST_PID" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q '^ready' "$TMP/streams.out"; then
      run_load gateway_c1_streams "http://127.0.0.1:$GW_PORT/mcp/bench" 1 || FAILED=1
    else
      log "could not open $STREAMS streams: $(cat "$TMP/streams.out")"
      FAILED=1
    fi
    exec 4>&-
  fi
else
  log "gateway not measured: $GATEWAY_WHY"
  FAILED=1
fi

# ---------------------------------------------------------------- report
CORES=$(nproc 2>/dev/null || echo "?")
# have NAME: the run completed with every call correct.
have() { [[ -s "$TMP/$1.json" ]] && grep -q '"ok":true' "$TMP/$1.json"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

if [[ $JSON -eq 1 ]]; then
  # Failed runs are included as loadgen reported them ("ok": false).
  raw() { if [[ -s "$TMP/$1.json" ]]; then tr -d '\n' <"$TMP/$1.json"; else echo null; fi; }
  comparison() {  # comparison C -> {"p50_added_us":..,"p99_added_us":..,"p50_ratio":..,"p99_ratio":..,"throughput_ratio":..}
    local d="direct_c$1" g="gateway_c$1"
    if have "$d" && have "$g"; then
      awk -v dp50="$(field $d p50_us)" -v gp50="$(field $g p50_us)" -v dp99="$(field $d p99_us)" \
        -v gp99="$(field $g p99_us)" -v dt="$(field $d throughput_cps)" -v gt="$(field $g throughput_cps)" \
        'BEGIN { printf "{\"p50_added_us\":%.1f,\"p99_added_us\":%.1f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f,\"throughput_ratio\":%.3f}",
                 gp50 - dp50, gp99 - dp99, gp50 / dp50, gp99 / dp99, gt / dt }'
    else
      echo null
    fi
  }
  why=$(printf '%s' "$GATEWAY_WHY" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\000-\037')
  printf '{"ok":%s,"calls":%s,"warmup":%s,"cores":"%s","gateway_error":%s,' \
    "$([[ $FAILED -eq 0 ]] && echo true || echo false)" "$CALLS" "$WARMUP" "$CORES" \
    "$([[ -n "$why" ]] && echo "\"$why\"" || echo null)"
  printf '"direct":{"c1":%s,"c16":%s},"gateway":{"c1":%s,"c16":%s},' \
    "$(raw direct_c1)" "$(raw direct_c16)" "$(raw gateway_c1)" "$(raw gateway_c16)"
  printf '"comparison":{"c1":%s,"c16":%s},"open_streams":%s,"gateway_c1_with_open_streams":%s,' \
    "$(comparison 1)" "$(comparison 16)" "$STREAMS" "$(raw gateway_c1_streams)"
  printf '"gateway_stateless":{"c1":%s,"c16":%s},' "$(raw gateway_c1_stateless)" "$(raw gateway_c16_stateless)"
  printf '"gateway_api_key":{"c1":%s,"c16":%s},' "$(raw gateway_c1_apikey)" "$(raw gateway_c16_apikey)"
  printf '"gateway_api_key_100_policies":{"c1":%s,"c16":%s}}\n' "$(raw gateway_c1_cedar)" "$(raw gateway_c16_cedar)"
else
  printf '\ntools/call echo, %s calls per run after %s warm-up, loopback, %s cores shared by load generator, upstream and gateway\n\n' \
    "$CALLS" "$WARMUP" "$CORES"
  printf '%-14s %12s %12s %12s %9s\n' "" "direct" "gateway" "added" "ratio"
  for c in 1 16; do
    d="direct_c$c" g="gateway_c$c"
    for metric in p50_us p99_us throughput_cps; do
      case $metric in
        p50_us) label="c=$c p50 us" ;;
        p99_us) label="c=$c p99 us" ;;
        throughput_cps) label="c=$c calls/s" ;;
      esac
      dv="n/a" gv="n/a" added="" ratio=""
      if have "$d"; then dv=$(calc '%.1f' "$(field $d $metric)"); fi
      if have "$g"; then gv=$(calc '%.1f' "$(field $g $metric)"); fi
      if have "$d" && have "$g"; then
        if [[ $metric == throughput_cps ]]; then
          added="-"
          dv=$(calc '%.0f' "$(field $d $metric)")
          gv=$(calc '%.0f' "$(field $g $metric)")
        else
          added=$(calc '%+.1f' "$(field $g $metric) - $(field $d $metric)")
        fi
        ratio=$(calc '%.2fx' "$(field $g $metric) / $(field $d $metric)")
      elif [[ $metric == throughput_cps && $dv != n/a ]]; then
        dv=$(calc '%.0f' "$(field $d $metric)")
      fi
      printf '%-14s %12s %12s %12s %9s\n' "$label" "$dv" "$gv" "$added" "$ratio"
    done
  done
  for variant in stateless:2026 apikey:key cedar:cedar; do
    for c in 1 16; do
      d="direct_c$c" g="gateway_c${c}_${variant%%:*}" tag=${variant#*:}
      have "$d" && have "$g" || continue
      for metric in p50_us p99_us throughput_cps; do
        if [[ $metric == throughput_cps ]]; then
          printf '%-14s %12s %12s %12s %9s\n' "c=$c calls/s $tag" "$(calc '%.0f' "$(field $d $metric)")" \
            "$(calc '%.0f' "$(field $g $metric)")" "-" "$(calc '%.2fx' "$(field $g $metric) / $(field $d $metric)")"
        else
          printf '%-14s %12s %12s %12s %9s\n' "c=$c ${metric%_us} us $tag" "$(calc '%.1f' "$(field $d $metric)")" \
            "$(calc '%.1f' "$(field $g $metric)")" "$(calc '%+.1f' "$(field $g $metric) - $(field $d $metric)")" \
            "$(calc '%.2fx' "$(field $g $metric) / $(field $d $metric)")"
        fi
      done
    done
  done
  # The authorize stage's cost: the 100-policy gateway against the same
  # API-key gateway without policies.
  for c in 1 16; do
    have "gateway_c${c}_apikey" && have "gateway_c${c}_cedar" || continue
    for metric in p50_us p99_us; do
      printf '%-14s %12s %12s %12s %9s\n' "c=$c ${metric%_us} us cedar-key" \
        "$(calc '%.1f' "$(field gateway_c${c}_apikey $metric)")" "$(calc '%.1f' "$(field gateway_c${c}_cedar $metric)")" \
        "$(calc '%+.1f' "$(field gateway_c${c}_cedar $metric) - $(field gateway_c${c}_apikey $metric)")" \
        "$(calc '%.2fx' "$(field gateway_c${c}_cedar $metric) / $(field gateway_c${c}_apikey $metric)")"
    done
  done
  if have gateway_c1_streams && have direct_c1; then
    for metric in p50_us p99_us; do
      printf '%-14s %12s %12s %12s %9s\n' "c=1 ${metric%_us} us +${STREAMS} streams" \
        "$(calc '%.1f' "$(field direct_c1 $metric)")" "$(calc '%.1f' "$(field gateway_c1_streams $metric)")" \
        "$(calc '%+.1f' "$(field gateway_c1_streams $metric) - $(field direct_c1 $metric)")" \
        "$(calc '%.2fx' "$(field gateway_c1_streams $metric) / $(field direct_c1 $metric)")"
    done
  fi
  if [[ $GATEWAY_OK -eq 0 ]]; then printf '\ngateway not measured: %s\n' "$GATEWAY_WHY"; fi
  [[ $FAILED -eq 0 ]] || printf '\nsome runs FAILED (see messages above); figures of failed runs are not shown\n'
fi
exit $FAILED
