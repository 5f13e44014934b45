// The Cedar command line: `portcullis authorize` on the example policies
// (policies/example.cedar), and `portcullis check` reporting a broken policy
// file as file:line:col.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import * as h from './harness.mjs';

const REFUND = { type: 'Tool', id: 'demo/billing_refund' };
const CALL = { type: 'Action', id: 'call_tool' };

function authorize(requests, entities) {
  const dir = h.makeConfigDir({ files: { 'requests.json': JSON.stringify(requests), 'entities.json': JSON.stringify(entities) } });
  return h.run(h.PORTCULLIS, ['authorize', '--policies', path.join(h.ROOT, 'policies'),
    '--entities', path.join(dir, 'entities.json'), '--request', path.join(dir, 'requests.json')]);
}

describe('portcullis authorize and check with Cedar policies', () => {
  after(h.cleanup);

  test('the example policy lets only the payments team refund below 500 USD, never from the batch pipeline', async () => {
    const entities = [
      { uid: { type: 'User', id: 'pat' }, attrs: {}, parents: [{ type: 'Group', id: 'payments' }] },
      { uid: { type: 'User', id: 'eng' }, attrs: {}, parents: [{ type: 'Group', id: 'eng' }] },
      { uid: REFUND, attrs: {}, parents: [{ type: 'Server', id: 'demo' }] },
    ];
    const req = (user, amount, surface) => ({
      principal: { type: 'User', id: user }, action: CALL, resource: REFUND,
      context: { arguments: amount === undefined ? {} : { amount_cents: amount }, metadata: surface ? { surface } : {} },
    });
    const r = await authorize([
      req('pat', 49999), req('pat', 50000), req('eng', 100), req('pat', 100, 'batch-pipeline'), req('pat', undefined),
      { principal: { type: 'User', id: 'eng' }, action: CALL, resource: { type: 'Tool', id: 'demo/ev_echo' }, context: {} },
    ], entities);
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((d) => d.decision), ['allow', 'deny', 'deny', 'deny', 'deny', 'allow']);
    assert.deepEqual(lines[0].reasons, ['refund-payments-team-below-500-usd']);
    assert.deepEqual(lines[3].reasons, ['refund-never-from-batch-pipeline']);
    assert.deepEqual(lines[5].reasons, ['allow-everything-else']);
    assert.ok(lines.every((d) => d.errors.length === 0), r.stdout);
  });

  test('authorize reports an erroring policy by id and still decides', async () => {
    const request = '{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"call_tool"},' +
      '"resource":{"type":"Tool","id":"t"},"context":{"n":9223372036854775807}}';
    const dir = h.makeConfigDir({
      files: {
        'policies/a.cedar': 'permit(principal, action, resource) when { context.n + 1 > 0 };\n@id("open") permit(principal, action, resource);\n',
        'r.json': request,
      },
    });
    const r = await h.run(h.PORTCULLIS, ['authorize', '--policies', path.join(dir, 'policies'), '--request', path.join(dir, 'r.json')]);
    assert.equal(r.code, 0, r.output);
    const d = JSON.parse(r.stdout);
    assert.equal(d.decision, 'allow');
    assert.deepEqual(d.reasons, ['open']);
    assert.equal(d.errors.length, 1);
    assert.equal(d.errors[0].policy, 'policy0');
    assert.match(d.errors[0].message, /overflow/);
  });

  test('check reports a broken policy file as file:line:col: message and exits non-zero', async () => {
    const dir = h.makeConfigDir({
      servers: { s: { upstreams: {}, virtual_servers: {} } },
      files: { 'policies/good.cedar': 'permit(principal, action, resource);\n', 'policies/bad.cedar': 'permit(principal, action, resource)\nwhen { 1 < 2 < 3 };\n' },
    });
    const r = await h.run(h.PORTCULLIS, ['check', '--config', dir, '--offline']);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.stderr, /bad\.cedar:2:14: multiple relational operators/);
  });
});
