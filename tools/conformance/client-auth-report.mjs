// Summarises the client auth runs of tools/conformance/client-auth.sh and
// checks them against its baseline.
//
//   node client-auth-report.mjs BASELINE REVISION=OUTDIR [REVISION=OUTDIR ...]
//
// OUTDIR holds scenarios.txt (the scenarios run, one a line), logs/<scenario>.log
// (the suite's output for each) and the suite's -o output
// (auth/<name>-<time>/checks.json). A scenario passes when it wrote its
// checks and none is a FAILURE or a WARNING: the rule of the suite's own
// summary (its ✓/✗); the probe's exit status does not count there either. Prints one line per scenario (failing checks
// indented), then "client-auth (<revision>): N passed, M failed" per
// revision. BASELINE lines are "<revision> <scenario>: <reason>" ('#'
// starts a comment). Exit status: 0 when every failure is in the baseline.
import fs from 'node:fs';
import path from 'node:path';

const [baselinePath, ...runArgs] = process.argv.slice(2);
if (!baselinePath || runArgs.length === 0) {
  console.error('usage: node client-auth-report.mjs BASELINE REVISION=OUTDIR...');
  process.exit(2);
}

const baseline = new Map();
for (const [i, raw] of fs.readFileSync(baselinePath, 'utf8').split('\n').entries()) {
  const line = raw.replace(/\s+#.*$/, '').trim();
  if (!line || line.startsWith('#')) continue;
  const m = /^(\S+)\s+(\S+?):\s*(.*)$/.exec(line);
  if (!m) {
    console.error(`${baselinePath}:${i + 1}: expected "<revision> <scenario>: <reason>"`);
    process.exit(2);
  }
  baseline.set(`${m[1]} ${m[2]}`, m[3]);
}

const oneLine = (s, max = 400) => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
};

// The newest checks.json of `scenario` ("auth/x") under outDir.
function readChecks(outDir, scenario) {
  const [group, name] = scenario.split('/');
  const dir = path.join(outDir, group);
  let entries = [];
  try { entries = fs.readdirSync(dir); } catch { return null; }
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z$`);
  const runs = entries.filter((e) => re.test(e)).sort();
  if (runs.length === 0) return null;
  try { return JSON.parse(fs.readFileSync(path.join(dir, runs.at(-1), 'checks.json'), 'utf8')); } catch { return null; }
}

const failures = [];
const passes = new Set();
for (const arg of runArgs) {
  const eq = arg.indexOf('=');
  const rev = arg.slice(0, eq);
  const outDir = arg.slice(eq + 1);
  const scenarios = fs.readFileSync(path.join(outDir, 'scenarios.txt'), 'utf8').split('\n').filter(Boolean);
  console.log(`\n=== client auth, ${rev} wire ===`);
  let nPass = 0, nFail = 0;
  for (const s of scenarios) {
    const key = `${rev} ${s}`;
    const checks = readChecks(outDir, s);
    const logPath = path.join(outDir, 'logs', `${s.replace(/\//g, '_')}.log`);
    let log = '';
    try { log = fs.readFileSync(logPath, 'utf8'); } catch { /* none */ }
    const tags = [];
    let ok;
    let why = [];
    if (checks === null) {
      ok = false;
      why = [`no results (the scenario did not complete); last lines of ${logPath}:`,
        ...log.trim().split('\n').slice(-5).map((l) => `  ${l}`)];
    } else {
      const failed = checks.filter((c) => c.status === 'FAILURE');
      const warnings = checks.filter((c) => c.status === 'WARNING');
      ok = failed.length === 0 && warnings.length === 0;
      const exit = /Client exited with code (\d+)/.exec(log);
      if (exit) tags.push(`probe exit ${exit[1]}`);
      tags.push(`${checks.filter((c) => c.status === 'SUCCESS').length}/${checks.filter((c) => c.status === 'SUCCESS' || c.status === 'FAILURE').length} checks`);
      why = [...failed, ...warnings].map((c) => `${c.status === 'WARNING' ? 'warning ' : ''}${c.id}: ${oneLine(c.errorMessage || c.description)}`);
    }
    if (ok) {
      nPass++;
      passes.add(key);
    } else {
      nFail++;
      failures.push(key);
      tags.push(baseline.has(key) ? `in baseline: ${baseline.get(key)}` : 'NOT IN BASELINE');
    }
    console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${s}  (${tags.join('; ')})`);
    for (const w of why) console.log(`        - ${w}`);
  }
  console.log(`client-auth (${rev}): ${nPass} passed, ${nFail} failed`);
}

console.log('\n=== baseline ===');
const revsRun = new Set(runArgs.map((a) => a.slice(0, a.indexOf('='))));
const unexpected = failures.filter((k) => !baseline.has(k));
for (const k of [...baseline.keys()].filter((k) => passes.has(k))) console.log(`  now passing, remove from baseline: ${k}`);
for (const k of [...baseline.keys()].filter((k) => revsRun.has(k.split(' ')[0]) && !passes.has(k) && !failures.includes(k))) {
  console.log(`  baseline entry not run (scenario renamed or removed?): ${k}`);
}
for (const k of unexpected) console.log(`  NEW FAILURE (not in baseline): ${k}`);
console.log(unexpected.length
  ? `  FAILED: ${unexpected.length} failing scenario(s) not in ${baselinePath}`
  : `  OK: all ${failures.length} failing scenario(s) are in the baseline`);
process.exit(unexpected.length ? 1 : 0);
