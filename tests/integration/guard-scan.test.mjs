// `portcullis scan`: the guardrail detectors from the command line, on text
// and JSON files and on stdin. Findings are JSON lines that never contain
// the matched value; --redact prints the input with placeholders.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import * as h from './harness.mjs';

// Well-formed fakes, assembled at run time so no file holds them whole.
const AWS_KEY = 'AKIA' + 'QYLPMN5HHHFPZAM2';
const EMAIL = 'ann.lee' + '@example.com';

const dir = mkdtempSync(path.join(tmpdir(), 'pc-scan-'));
const file = (name, content) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
const scan = (args) => h.run(h.PORTCULLIS, ['scan', ...args]);
const lines = (out) => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('portcullis scan', () => {
  test('reports findings in text as JSON lines with offsets, never the match, and exits 1', async () => {
    const text = `deploy with ${AWS_KEY} and mail ${EMAIL}\n`;
    const r = await scan([file('a.txt', text)]);
    assert.equal(r.code, 1, r.output);
    assert.ok(!r.stdout.includes(AWS_KEY) && !r.stdout.includes(EMAIL), r.stdout);
    const found = lines(r.stdout);
    const aws = found.find((f) => f.rule === 'aws_access_key');
    assert.equal(aws.detector, 'secrets');
    assert.equal(text.slice(aws.start, aws.end), AWS_KEY);
    const email = found.find((f) => f.rule === 'email');
    assert.equal(email.detector, 'pii');
    assert.equal(text.slice(email.start, email.end), EMAIL);
    assert.equal(aws.pointer, undefined);
  });

  test('walks every string of a JSON document and reports JSON pointers', async () => {
    const doc = { tool: 'send', arguments: { to: [EMAIL], note: 'plain words', creds: { key: AWS_KEY } } };
    const r = await scan([file('a.json', JSON.stringify(doc))]);
    assert.equal(r.code, 1, r.output);
    const found = lines(r.stdout);
    assert.deepEqual(found.map((f) => `${f.detector}:${f.rule}:${f.pointer}`).sort(),
      ['pii:email:/arguments/to/0', 'secrets:aws_access_key:/arguments/creds/key']);
  });

  test('--detectors limits the scan, and an unknown detector is a usage error', async () => {
    const p = file('b.txt', `${AWS_KEY} ${EMAIL}`);
    const only = await scan(['--detectors', 'pii', p]);
    assert.deepEqual(lines(only.stdout).map((f) => f.detector), ['pii']);
    const bad = await scan(['--detectors', 'secrets,telepathy', p]);
    assert.equal(bad.code, 2, bad.output);
    assert.match(bad.stderr, /unknown detector 'telepathy'/);
  });

  test('--redact replaces findings with placeholders, the same value the same one', async () => {
    const text = `from ${EMAIL} to bob@example.org, cc ${EMAIL}; key ${AWS_KEY}`;
    const r = await scan(['--redact', file('c.txt', text)]);
    assert.equal(r.stdout, 'from [EMAIL_1] to [EMAIL_2], cc [EMAIL_1]; key [REDACTED:aws_access_key]');
    const j = await scan(['--redact', file('c.json', JSON.stringify({ a: EMAIL, b: [`x ${EMAIL}`] }))]);
    assert.deepEqual(JSON.parse(j.stdout), { a: '[EMAIL_1]', b: ['x [EMAIL_1]'] });
  });

  test('reads stdin with -, and clean input exits 0 with no output', () => {
    const r = spawnSync(h.PORTCULLIS, ['scan', '-'], { input: 'nothing to see: 2.14.3, 2026-03-14, #12345\n' });
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(String(r.stdout), '');
    const s = spawnSync(h.PORTCULLIS, ['scan', '--detectors', 'secrets'], { input: `token=${AWS_KEY}` });
    assert.equal(s.status, 1);
    assert.equal(lines(String(s.stdout))[0].rule, 'aws_access_key');
  });
});
