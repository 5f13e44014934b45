#!/usr/bin/env bash
# Installs everything (tools/setup.sh), then runs every test:
#   1. unit tests (doctest runners registered with meson), and
#   2. integration tests (tests/integration/*.test.mjs, Node's test runner,
#      real MCP servers and the official SDK client against build/portcullis),
#   3. the official MCP conformance suite through the gateway
#      (tools/conformance/run.sh; known failures are in its baseline.txt),
#   4. the suite's client auth scenarios against `portcullis probe`
#      (tools/conformance/client-auth.sh).
# Exits non-zero if anything failed. The last line is "N passed, M failed",
# counting unit test cases, integration tests, and each conformance step as one.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[test] %s\n' "$*"; }

if ! bash tools/setup.sh; then
  say "setup failed; no tests were run"
  echo "0 passed, 1 failed"
  exit 1
fi
if [[ -x "$ROOT/.tools/node/bin/node" ]]; then
  export PATH="$ROOT/.tools/node/bin:$PATH"
fi

# --- unit tests --------------------------------------------------------------
say "unit tests: meson test -C build"
meson test -C build --print-errorlogs
unit_rc=$?

# Count doctest test cases from meson's JSON log; a runner that printed no
# doctest summary (crash, timeout) counts as one failure, a passing one as one
# pass.
read -r unit_pass unit_fail < <(node -e '
  const fs = require("fs");
  let pass = 0, fail = 0;
  let lines = [];
  try { lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean); } catch {}
  for (const line of lines) {
    let t; try { t = JSON.parse(line); } catch { continue; }
    const m = /\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed/.exec(t.stdout || "");
    const ok = t.result === "OK" || t.result === "EXPECTEDFAIL";
    if (m) { pass += +m[2]; fail += +m[3]; if (!ok && +m[3] === 0) fail += 1; }
    else if (ok) pass += 1; else fail += 1;
  }
  console.log(pass, fail);
' build/meson-logs/testlog.json)
if [[ $unit_rc -ne 0 && $unit_fail -eq 0 ]]; then unit_fail=1; fi
say "unit tests: $unit_pass passed, $unit_fail failed"

# --- integration tests -------------------------------------------------------
# Node 20 takes the directory; from Node 21 on, arguments are globs and a
# directory would be run as a file, so name the files instead.
if [[ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]]; then
  targets=(tests/integration/)
else
  targets=(tests/integration/*.test.mjs)
fi
say "integration tests: node --test --test-concurrency=1 ${targets[*]}"
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${targets[@]}"
int_rc=$?

# The runner's own summary: the closing "# tests/# pass/# fail..." lines.
summary="$(grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$tap" | tail -n 8)"
echo
echo "$summary"
int_pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' <<<"$summary")"
int_fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' <<<"$summary")"
int_cancelled="$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' <<<"$summary")"
int_pass="${int_pass:-0}"
int_fail=$(( ${int_fail:-0} + ${int_cancelled:-0} ))
if [[ $int_rc -ne 0 && $int_fail -eq 0 ]]; then int_fail=1; fi

# --- conformance -------------------------------------------------------------
# The official MCP conformance suite through the gateway, per revision.
# Scenarios that still fail are listed with their reason in
# tools/conformance/baseline.txt; any other failure fails this step, which
# counts as one failed test below.
say "conformance: tools/conformance/run.sh"
conf_log="$(mktemp)"
bash tools/conformance/run.sh >"$conf_log" 2>&1
conf_rc=$?
grep -E '^(  (FAIL|PASS) |20[0-9-]+( \([a-z0-9-]+\))?: |=== |  (OK|NEW|now passing))' "$conf_log" | grep -v '^  PASS ' || true
if [[ $conf_rc -ne 0 ]]; then
  say "conformance FAILED (exit $conf_rc); last lines:"
  tail -n 30 "$conf_log"
fi
rm -f "$conf_log"
conf_pass=$(( conf_rc == 0 ? 1 : 0 ))
conf_fail=$(( conf_rc == 0 ? 0 : 1 ))

# --- client auth conformance -------------------------------------------------
# The suite's client authorization scenarios against Portcullis's upstream
# OAuth client (`portcullis probe`); known failures in
# tools/conformance/client-auth-baseline.txt. Counts as one test.
say "client auth conformance: tools/conformance/client-auth.sh"
ca_log="$(mktemp)"
bash tools/conformance/client-auth.sh >"$ca_log" 2>&1
ca_rc=$?
grep -E '^(client-auth \(|  FAIL |  (OK|NEW|now passing))' "$ca_log" || true
if [[ $ca_rc -ne 0 ]]; then
  say "client auth conformance FAILED (exit $ca_rc); last lines:"
  tail -n 30 "$ca_log"
fi
rm -f "$ca_log"
conf_pass=$(( conf_pass + (ca_rc == 0 ? 1 : 0) ))
conf_fail=$(( conf_fail + (ca_rc == 0 ? 0 : 1) ))

echo
echo "$(( unit_pass + int_pass + conf_pass )) passed, $(( unit_fail + int_fail + conf_fail )) failed"
[[ $unit_rc -eq 0 && $int_rc -eq 0 && $conf_rc -eq 0 && $ca_rc -eq 0 ]]
