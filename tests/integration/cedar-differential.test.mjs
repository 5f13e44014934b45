// Differential tests of the Cedar engine: seeded random policy sets, entity
// graphs and requests (tests/cedar/generate.mjs) are decided by the reference
// implementation (@cedar-policy/cedar-wasm) and by `portcullis authorize`,
// which must agree on every decision, on the determining policies, and on
// which policies errored. CEDAR_SEED and CEDAR_SCENARIOS replay or widen a run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

import { mutatedPolicyText, scenario } from '../cedar/generate.mjs';
import * as h from './harness.mjs';

const BASE_SEED = Number(process.env.CEDAR_SEED ?? 20261123);
const SCENARIOS = Number(process.env.CEDAR_SCENARIOS ?? 200);
const REQUESTS = 30;

function reference(s, req) {
  const answer = cedar.isAuthorized({ ...req, policies: { staticPolicies: s.policies }, entities: s.entities });
  if (answer.type !== 'success') return { failure: answer.errors.map((e) => e.message).join('; ') };
  const d = answer.response;
  return {
    decision: d.decision,
    reasons: [...d.diagnostics.reason].sort(),
    errored: [...new Set(d.diagnostics.errors.map((e) => e.policyId))].sort(),
  };
}

function ours(s, dir) {
  const pdir = path.join(dir, 'policies');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(pdir, { recursive: true });
  for (const [name, text] of s.files) fs.writeFileSync(path.join(pdir, name), text);
  fs.writeFileSync(path.join(dir, 'entities.json'), JSON.stringify(s.entities));
  fs.writeFileSync(path.join(dir, 'requests.json'), JSON.stringify(s.requests));
  const r = spawnSync(h.PORTCULLIS, ['authorize', '--policies', pdir, '--entities', path.join(dir, 'entities.json'),
    '--request', path.join(dir, 'requests.json')], { encoding: 'utf8' });
  if (r.status !== 0) return { failure: `exit ${r.status}: ${r.stderr}` };
  return {
    results: r.stdout.trim().split('\n').map((line) => {
      const d = JSON.parse(line);
      return { decision: d.decision, reasons: [...d.reasons].sort(), errored: [...new Set(d.errors.map((e) => e.policy))].sort() };
    }),
  };
}

describe('Cedar engine against cedar-wasm', () => {
  test(`${SCENARIOS} random scenarios x ${REQUESTS} requests agree on decision, reasons and errors (seed ${BASE_SEED})`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cedar-diff-'));
    const mismatches = [];
    let compared = 0, skipped = 0;
    const tally = { allow: 0, deny: 0, errored: 0, forbidReasons: 0 };
    for (let i = 0; i < SCENARIOS; ++i) {
      const seed = BASE_SEED + i;
      const s = scenario(seed, { requests: REQUESTS });
      const mine = ours(s, dir);
      const refs = s.requests.map((req) => reference(s, req));
      const refFailed = refs.find((x) => x.failure);
      if (refFailed || mine.failure) {
        // A generated policy the reference rejects must be rejected by us too.
        skipped++;
        if (!(refFailed && mine.failure)) mismatches.push({ seed, reference: refFailed ?? refs[0], ours: mine.failure ?? 'accepted', policies: s.files });
        continue;
      }
      s.requests.forEach((req, k) => {
        const want = refs[k], got = mine.results[k];
        compared++;
        tally[want.decision]++;
        if (want.errored.length) tally.errored++;
        if (want.decision === 'deny' && want.reasons.length) tally.forbidReasons++;
        if (JSON.stringify(want) !== JSON.stringify(got)) mismatches.push({ seed, request: k, want, got, req, policies: s.files.map((f) => f[1]).join('\n') });
      });
    }
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`compared ${compared} requests: ${JSON.stringify(tally)}, ${skipped} scenarios rejected by both parsers`);
    const report = mismatches.slice(0, 3).map((m) => JSON.stringify(m, null, 1)).join('\n');
    assert.equal(mismatches.length, 0, `${mismatches.length} disagreements (replay with CEDAR_SEED=<seed> CEDAR_SCENARIOS=1):\n${report}`);
    // The generator must actually reach every outcome, or agreement means little.
    assert.ok(compared >= SCENARIOS * REQUESTS * 0.9, `only ${compared} requests compared`);
    for (const [k, v] of Object.entries(tally)) assert.ok(v > compared * 0.02, `too few ${k}: ${JSON.stringify(tally)}`);
  });

  test('mutated policy texts are accepted or rejected exactly as cedar-wasm does', () => {
    const count = Number(process.env.CEDAR_MUTATIONS ?? 300);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cedar-parse-'));
    const pdir = path.join(dir, 'policies');
    fs.mkdirSync(pdir);
    fs.writeFileSync(path.join(dir, 'r.json'), '[]');
    const mismatches = [];
    let rejected = 0;
    for (let i = 0; i < count; ++i) {
      const seed = BASE_SEED + i;
      const text = mutatedPolicyText(seed);
      fs.writeFileSync(path.join(pdir, 'p.cedar'), text);
      const ref = cedar.checkParsePolicySet({ staticPolicies: text });
      const r = spawnSync(h.PORTCULLIS, ['authorize', '--policies', pdir, '--request', path.join(dir, 'r.json')], { encoding: 'utf8' });
      const weAccept = r.status === 0;
      if (ref.type !== 'success') rejected++;
      // Duplicate @id values are a policy-set error in Portcullis; cedar-wasm
      // keys policies by position when given one text, so it never sees them.
      const dupIds = /duplicate policy id/.test(r.stderr);
      if (weAccept !== (ref.type === 'success') && !dupIds) {
        mismatches.push({ seed, reference: ref.type === 'success' ? 'accepts' : ref.errors[0].message, ours: weAccept ? 'accepts' : r.stderr.trim(), text });
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(mismatches.length, 0, `${mismatches.length} disagreements:\n${mismatches.slice(0, 5).map((m) => JSON.stringify(m, null, 1)).join('\n')}`);
    assert.ok(rejected > count * 0.3 && rejected < count * 0.95, `mutations should break some texts, not all: ${rejected}/${count}`);
  });

  test('every policies/*.cedar in the repo is real Cedar (cedar-wasm parses it) and portcullis loads it', () => {
    const dir = path.join(h.ROOT, 'policies');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cedar'));
    assert.ok(files.length > 0, 'no .cedar files in policies/');
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
      assert.equal(parsed.type, 'success', `${f}: ${JSON.stringify(parsed.errors)}`);
    }
    const r = spawnSync(h.PORTCULLIS, ['authorize', '--policies', dir, '--request', '-'], {
      input: JSON.stringify({ principal: { type: 'User', id: 'x' }, action: { type: 'Action', id: 'chat' }, resource: { type: 'Tool', id: 'y' }, context: {} }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });
});
