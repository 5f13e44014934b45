#!/usr/bin/env bash
# tools/bench/guard_run.sh: what guardrails add to a tools/call, at 1 KB and
# 100 KB arguments (the echo upstream returns as much, so mcp_post_tool scans
# the same size).
#
#   tools/bench/guard_run.sh [--calls N] [--warmup W] [--rounds R] [--build DIR]
#
# Same workload as run.sh (bench-loadgen, closed loop, concurrency 1, against
# bench-upstream), three ways per size, each R times in turn (default 3; the
# median p50 is reported, so one noisy run on shared cores does not decide
# the difference): direct, through a gateway without
# guardrails, and through a gateway whose virtual server runs secrets, pii,
# sql and injection at mcp_pre_tool and secrets + pii at mcp_post_tool
# (enforce; validate before, mutate after). Reported per size:
#   - p50 of each way and the p50 the guardrails add (guarded - plain);
#   - the guard phase as the gateway itself measured it (mean and p50 of
#     phases_us.guard over the guarded run's audit records): the cost of the
#     guardrails alone, free of loopback HTTP noise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build"
CALLS=5000
WARMUP=500
ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls) CALLS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: $0 [--calls N] [--warmup W] [--rounds R] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "guard-bench: $*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-guard-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

meson compile -C "$BUILD" portcullis bench-upstream bench-loadgen >"$TMP/build.log" 2>&1 ||
  { tail -n 40 "$TMP/build.log" >&2; exit 1; }
LOADGEN="$BUILD/tools/bench/bench-loadgen"

"$BUILD/tools/bench/bench-upstream" --listen 127.0.0.1:0 >"$TMP/upstream.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  UP_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/upstream.out")
  [[ -n "${UP_PORT:-}" ]] && break
  sleep 0.05
done
[[ -n "${UP_PORT:-}" ]] || { log "bench-upstream did not start"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# gateway NAME GUARDED: a gateway on a free port; sets PORT_<NAME>.
gateway() {
  local cfg="$TMP/$1" port
  port=$(free_port)
  mkdir -p "$cfg/servers.d" "$cfg/policies"
  cat >"$cfg/servers.d/bench.yaml" <<EOF
upstreams:
  fast: { transport: streamable-http, url: "http://127.0.0.1:$UP_PORT/mcp", timeout: 10s }
virtual_servers:
  bench: { tools: [ { upstream: fast } ] }
EOF
  if [[ $2 == 1 ]]; then
    cat >"$cfg/policies/guardrails.yaml" <<'EOF'
guardrails:
  - { name: secrets-in, detector: secrets, hooks: [mcp_pre_tool] }
  - { name: pii-in, detector: pii, hooks: [mcp_pre_tool] }
  - { name: sql-in, detector: sql, hooks: [mcp_pre_tool] }
  - { name: injection-in, detector: injection, hooks: [mcp_pre_tool] }
  - { name: secrets-out, detector: secrets, hooks: [mcp_post_tool], action: mutate }
  - { name: pii-out, detector: pii, hooks: [mcp_post_tool], action: mutate }
global: [secrets-in, pii-in, sql-in, injection-in, secrets-out, pii-out]
EOF
  fi
  "$BUILD/portcullis" serve --config "$cfg" --listen "127.0.0.1:$port" --log-level warn >"$TMP/$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  printf -v "PORT_$1" '%s' "$port"
}
gateway plain 0
gateway guarded 1

p50() { sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p' "$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() {  # load NAME URL BYTES
  "$LOADGEN" --url "$2" --calls "$CALLS" --warmup "$WARMUP" --concurrency 1 --arg-bytes "$3" --json >"$TMP/$1.json" ||
    { log "$1 failed: $(cat "$TMP/$1.json")"; exit 1; }
}

printf '\ntools/call echo, concurrency 1, %s calls after %s warm-up, median of %s rounds, %s cores shared by everything\n\n' \
  "$CALLS" "$WARMUP" "$ROUNDS" "$(nproc)"
printf '%-8s %10s %10s %10s %12s %14s %14s\n' "args" "direct" "gateway" "guarded" "added p50" "guard mean" "guard p50"
for bytes in 1024 102400; do
  before=$(sqlite3 "$TMP/guarded/portcullis-audit.db" 'SELECT coalesce(max(rowid),0) FROM audit' 2>/dev/null || echo 0)
  for r in $(seq 1 "$ROUNDS"); do
    load "direct-$bytes-$r" "http://127.0.0.1:$UP_PORT/mcp" "$bytes"
    load "plain-$bytes-$r" "http://127.0.0.1:$PORT_plain/mcp/bench" "$bytes"
    load "guarded-$bytes-$r" "http://127.0.0.1:$PORT_guarded/mcp/bench" "$bytes"
  done
  sleep 1  # the audit writer commits in batches
  read -r mean med < <(sqlite3 -separator ' ' "$TMP/guarded/portcullis-audit.db" \
    "WITH g AS (SELECT guard_us FROM audit WHERE rowid > $before AND method = 'tools/call' ORDER BY guard_us)
     SELECT printf('%.1f', avg(guard_us)), (SELECT guard_us FROM g LIMIT 1 OFFSET (SELECT count(*) / 2 FROM g)) FROM g")
  d=$(for r in $(seq 1 "$ROUNDS"); do p50 "$TMP/direct-$bytes-$r.json"; done | median)
  g=$(for r in $(seq 1 "$ROUNDS"); do p50 "$TMP/plain-$bytes-$r.json"; done | median)
  q=$(for r in $(seq 1 "$ROUNDS"); do p50 "$TMP/guarded-$bytes-$r.json"; done | median)
  printf '%-8s %10s %10s %10s %12s %14s %14s\n' "$((bytes / 1024)) KB" "$d" "$g" "$q" \
    "$(awk -v a="$q" -v b="$g" 'BEGIN { printf "%+.1f", a - b }')" "$mean" "$med"
done
printf '\n(microseconds; "guard" is phases_us.guard of the guarded run: both hooks, as the gateway measured them)\n'
