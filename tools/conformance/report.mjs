// Summarises `conformance server` runs for tools/conformance/run.sh and checks
// them against the baseline.
//
//   node report.mjs BASELINE RUN=OUTDIR [RUN=OUTDIR ...]
//
// RUN is REVISION[/VS] ("2025-11-25", "2026-07-28", "2025-11-25/mixed", ...); OUTDIR holds the
// suite's stdout (suite.log) and its -o output (server-<scenario>-<time>/
// checks.json). Scenario results come from the suite's own "=== SUMMARY ==="
// lines (a scenario fails when any of its checks is a FAILURE; warnings do not
// fail it), so the totals are the suite's; checks.json only adds the reasons.
//
// Prints, per run, one line per scenario (failing checks indented under it)
// and then exactly one "<revision>: N passed, M failed" line ("2025-11-25
// (mixed): ..." for the mixed run). Then compares with BASELINE, whose lines
// are "<run> <scenario>: <reason>" ('#' starts a comment). Exit status: 0 when
// every failure is in the baseline, 1 otherwise.
import fs from 'node:fs';
import path from 'node:path';

const [baselinePath, ...runArgs] = process.argv.slice(2);
if (!baselinePath || runArgs.length === 0) {
  console.error('usage: node report.mjs BASELINE RUN=OUTDIR...');
  process.exit(2);
}

const display = (run) => (run.includes('/') ? `${run.split('/')[0]} (${run.split('/')[1]})` : run);

// --- baseline ---------------------------------------------------------------------
const baseline = new Map(); // "run scenario" -> reason
for (const [i, raw] of fs.readFileSync(baselinePath, 'utf8').split('\n').entries()) {
  const line = raw.replace(/\s+#.*$/, '').trim();
  if (!line || line.startsWith('#')) continue;
  const m = /^(\S+)\s+(\S+?):\s*(.*)$/.exec(line);
  if (!m) {
    console.error(`${baselinePath}:${i + 1}: expected "<run> <scenario>: <reason>"`);
    process.exit(2);
  }
  baseline.set(`${m[1]} ${m[2]}`, m[3]);
}

// --- one run ------------------------------------------------------------------------
function readChecks(outDir) {
  const byScenario = new Map();
  let entries = [];
  try { entries = fs.readdirSync(outDir, { withFileTypes: true }); } catch { /* none */ }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const m = /^server-(.+)-(\d{4}-\d{2}-\d{2}T[\d-]+Z)$/.exec(e.name);
    if (!m) continue;
    try {
      byScenario.set(m[1], JSON.parse(fs.readFileSync(path.join(outDir, e.name, 'checks.json'), 'utf8')));
    } catch { /* scenario crashed before writing */ }
  }
  return byScenario;
}

function parseSuiteLog(text) {
  const results = []; // {scenario, ok, passed, failed}
  const notScored = new Map(); // scenario -> reason
  let inSummary = false;
  let total = null;
  for (const line of text.split('\n')) {
    if (line.includes('=== SUMMARY ===')) { inSummary = true; continue; }
    if (!inSummary) continue;
    let m = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed/.exec(line);
    if (m) { results.push({ scenario: m[2], ok: m[1] === '✓', passed: +m[3], failed: +m[4] }); continue; }
    m = /^Total: (\d+) passed, (\d+) failed/.exec(line);
    if (m) { total = { passed: +m[1], failed: +m[2] }; continue; }
    m = /^\s+[✓✗] (\S+) \((.*)\)\s*$/.exec(line);
    if (m) notScored.set(m[1], m[2]);
  }
  return { results, notScored, total };
}

const oneLine = (s, max = 400) => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
};

const failures = []; // {run, scenario}
const passes = new Set(); // "run scenario"
let incomplete = false;

for (const arg of runArgs) {
  const eq = arg.indexOf('=');
  const run = arg.slice(0, eq);
  const outDir = arg.slice(eq + 1);
  let log = '';
  try { log = fs.readFileSync(path.join(outDir, 'suite.log'), 'utf8'); } catch { /* missing */ }
  const { results, notScored, total } = parseSuiteLog(log);
  const checks = readChecks(outDir);

  console.log(`\n=== ${display(run)} ===`);
  if (total === null) {
    incomplete = true;
    console.log(`  the suite did not finish (no SUMMARY in ${path.join(outDir, 'suite.log')}); last lines:`);
    for (const l of log.trim().split('\n').slice(-10)) console.log(`    ${l}`);
  }
  let nPass = 0, nFail = 0;
  for (const r of results) {
    const key = `${run} ${r.scenario}`;
    const tags = [];
    if (notScored.has(r.scenario)) tags.push(`not scored: ${notScored.get(r.scenario)}`);
    const cs = checks.get(r.scenario) ?? [];
    const warnings = cs.filter((c) => c.status === 'WARNING');
    if (warnings.length) tags.push(`${warnings.length} warning${warnings.length > 1 ? 's' : ''}`);
    if (r.ok) {
      nPass++;
      passes.add(key);
    } else {
      nFail++;
      failures.push({ run, scenario: r.scenario });
      tags.push(baseline.has(key) ? 'in baseline' : 'NOT IN BASELINE');
    }
    const counts = `${r.passed}/${r.passed + r.failed} checks`;
    console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.scenario}  (${counts}${tags.length ? `; ${tags.join('; ')}` : ''})`);
    if (!r.ok) {
      const failed = cs.filter((c) => c.status === 'FAILURE');
      if (failed.length === 0) {
        const crash = log.split('\n').find((l) => l.startsWith(`Failed to run scenario ${r.scenario}:`));
        console.log(`        - scenario did not run to completion: ${oneLine(crash ? crash.slice(crash.indexOf(':') + 1) : 'see suite.log')}`);
      }
      for (const c of failed) console.log(`        - ${c.id}: ${oneLine(c.errorMessage || c.description)}`);
    }
  }
  console.log(`${display(run)}: ${nPass} passed, ${nFail} failed`);
}

// --- baseline comparison -------------------------------------------------------------
console.log('\n=== baseline ===');
const unexpected = failures.filter((f) => !baseline.has(`${f.run} ${f.scenario}`));
const runsDone = new Set(runArgs.map((a) => a.slice(0, a.indexOf('='))));
const fixed = [...baseline.keys()].filter((k) => passes.has(k));
const unseen = [...baseline.keys()].filter((k) => runsDone.has(k.split(' ')[0]) && !passes.has(k)
  && !failures.some((f) => `${f.run} ${f.scenario}` === k));
for (const k of fixed) console.log(`  now passing, remove from baseline: ${k}`);
for (const k of unseen) console.log(`  baseline entry not run (scenario renamed or removed?): ${k}`);
for (const f of unexpected) console.log(`  NEW FAILURE (not in baseline): ${f.run} ${f.scenario}`);
if (incomplete) console.log('  a suite run did not complete (see above)');
const bad = unexpected.length > 0 || incomplete;
console.log(bad
  ? `  FAILED: ${unexpected.length} failing scenario(s) not in ${baselinePath}`
  : `  OK: all ${failures.length} failing scenario(s) are in the baseline`);
process.exit(bad ? 1 : 0);
