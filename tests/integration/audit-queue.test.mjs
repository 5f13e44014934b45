// audit.queue_full through the running gateway. The queue is filled for
// real: audit.queue_capacity is 1, and another process (the sqlite3 CLI)
// holds the audit database's write lock inside a transaction, as a backup
// or a long maintenance job would. The gateway's writer then cannot commit
// and retries (that is the backpressure), so the queue stays full until the
// lock is released.
//   block: the request path waits for room, so calls stop being answered
//          while the lock is held; once it is released every call is
//          answered and every call has its record.
//   drop:  calls keep being answered; the records that did not fit are
//          dropped, counted, and the count is carried into the chain
//          (dropped_before of the next record, dropped_total of verify).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';

import * as h from './harness.mjs';

const cli = (args) => h.run(h.PORTCULLIS, args);

function configDir(queueFull) {
  return h.makeConfigDir({
    settings: { audit: { queue_full: queueFull, queue_capacity: 1 } },
    servers: {
      main: {
        upstreams: { ev: h.everythingStdio() },
        virtual_servers: { au: { tools: [{ upstream: 'ev', include: ['echo'] }] } },
      },
    },
  });
}

// Another process holding the database's write lock (BEGIN IMMEDIATE) until
// release() commits.
async function holdWriteLock(db) {
  const proc = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  const exited = new Promise((resolve) => proc.on('close', resolve));
  proc.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
  await h.waitUntil(() => out.includes('locked'), { timeoutMs: 5000, what: `the write lock on ${db}: ${out}` });
  return {
    async release() {
      proc.stdin.end('COMMIT;\n');
      assert.equal(await exited, 0, out);
    },
  };
}

// tools/call records, or with `filters` = [] all records.
async function records(dir, filters = ['--method', 'tools/call']) {
  const r = await cli(['audit', 'query', '--config', dir, '--json', '--limit', '0', ...filters]);
  assert.equal(r.code, 0, r.output);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function verify(dir) {
  const r = await cli(['audit', 'verify', '--config', dir, '--json']);
  assert.equal(r.code, 0, r.output);
  const [v] = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(v.ok, true, v.message);
  return v;
}

// A clean shutdown (the gateway takes ~3 s to stop its stdio upstream): the
// audit log drains its queue and writes pending drop counts on the way out.
async function stop(gw) {
  const exit = await gw.stop({ graceMs: 20000 });
  assert.deepEqual(exit, { code: 0, signal: null }, gw.output());
}

// Starts `n` echo calls at once; `answered` counts those answered so far.
function burst(client, n, tag) {
  const state = { answered: 0 };
  state.done = Promise.all(Array.from({ length: n }, (_, i) =>
    client.callTool({ name: 'echo', arguments: { message: `${tag}-${i}` } }).then((res) => {
      state.answered++;
      return res;
    })));
  return state;
}

describe('audit queue full', () => {
  after(h.cleanup);
  const CALLS = 8;

  test('block: calls wait while the writer cannot commit, then all are answered and recorded', async () => {
    const dir = configDir('block');
    const gw = await h.startGateway(dir);
    const client = await h.connect(gw.mcpUrl('au'));
    const db = path.join(dir, 'portcullis-audit.db');
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    await h.waitUntil(async () => (await records(dir)).length === 1, { what: 'the warm-up record' });

    const lock = await holdWriteLock(db);
    const calls = burst(client, CALLS, 'block');
    await sleep(1500);
    // One record is with the writer, one fits in the queue, the next caller
    // waits for room (its response already went out); the rest wait behind it.
    const whileLocked = calls.answered;
    assert.ok(whileLocked < CALLS, `all ${CALLS} calls were answered while the audit queue was full`);
    assert.ok(whileLocked <= 3, `${whileLocked} calls answered with a queue of 1`);
    assert.match(gw.output(), /audit log .*: queue full \(1 records\); blocking request thread/);

    await lock.release();
    await calls.done;
    assert.equal(calls.answered, CALLS);
    const recs = await h.waitUntil(async () => {
      const r = await records(dir);
      return r.length === CALLS + 1 && r;
    }, { timeoutMs: 10000, what: `${CALLS + 1} records` });
    assert.deepEqual(recs.map((r) => r.dropped_before), Array(CALLS + 1).fill(0));
    await h.closeClient(client);
    await stop(gw);
    const v = await verify(dir);
    assert.equal(v.dropped_total, 0);
    assert.equal(v.records, CALLS + 1);
  });

  test('drop: calls are answered at once while the writer cannot commit; drops are counted in the chain', async () => {
    const dir = configDir('drop');
    const gw = await h.startGateway(dir);
    const client = await h.connect(gw.mcpUrl('au'));
    const db = path.join(dir, 'portcullis-audit.db');
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    await h.waitUntil(async () => (await records(dir)).length === 1, { what: 'the warm-up record' });

    const lock = await holdWriteLock(db);
    const started = Date.now();
    const calls = burst(client, CALLS, 'drop');
    await calls.done;  // nothing waits for the locked store
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 4000, `the burst took ${tookMs} ms while the store was locked`);
    assert.match(gw.output(), /audit log .*: queue full \(1 records\); dropping records/);
    await lock.release();

    // The next record written carries the drops since the last one that fit
    // (a later call, or, if that was dropped too, a marker record written
    // at shutdown).
    await client.callTool({ name: 'echo', arguments: { message: 'after' } });
    await h.closeClient(client);
    await stop(gw);
    const all = await records(dir, []);
    const recorded = all.filter((r) => r.method === 'tools/call');
    const carriers = all.filter((r) => r.dropped_before > 0);
    assert.ok(carriers.length >= 1, JSON.stringify(all.map((r) => [r.seq, r.method, r.dropped_before])));
    const v = await verify(dir);
    assert.equal(v.dropped_total, all.reduce((n, r) => n + r.dropped_before, 0));
    // Every call is accounted for: recorded or counted as dropped.
    assert.equal(recorded.length + v.dropped_total, 1 + CALLS + 1, `${recorded.length} records, ${v.dropped_total} dropped`);
    assert.ok(v.dropped_total >= CALLS - 2, `only ${v.dropped_total} of ${CALLS} dropped with a queue of 1`);
    const carrier = carriers[0];

    // Hiding the drops breaks the chain.
    const edit = await h.run('sqlite3', [db, `UPDATE audit SET dropped_before = 0 WHERE seq = ${carrier.seq}`]);
    assert.equal(edit.code, 0, edit.output);
    const broken = await cli(['audit', 'verify', '--config', dir]);
    assert.equal(broken.code, 1, broken.output);
    assert.match(broken.stdout, new RegExp(`record \\d+ \\(seq ${carrier.seq}\\): altered`));
  });
});
