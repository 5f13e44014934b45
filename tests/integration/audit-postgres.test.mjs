// The PostgreSQL audit sink against a real PostgreSQL server: two gateway
// instances with different instance ids write into one database, each its
// own hash chain; `portcullis audit query` and `audit verify` read the sink;
// an UPDATE made with psql makes verify fail at that record.
//
// The server is started here (initdb into a temp dir, unix socket in that
// dir, a free port). initdb and postgres refuse to run as root, so as root
// they run as the `postgres` user (setpriv). If no server can be started the
// suite fails: it never skips.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

const cli = (args) => h.run(h.PORTCULLIS, args);

// The newest installed server, e.g. /usr/lib/postgresql/15/bin.
function postgresBin() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a) : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(dir, 'postgres')) && fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('no PostgreSQL server found under /usr/lib/postgresql (tools/setup.sh installs the postgresql package)');
}

// Starts a throwaway PostgreSQL server. Returns { dsn, psql(sql), stop() }.
async function startPostgres() {
  const bin = postgresBin();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-pg-'));
  const data = path.join(root, 'data');
  // As root: run the server as `postgres` (it refuses root), in a dir it owns.
  const asRoot = process.getuid() === 0;
  const wrap = (cmd, args) => (asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const r = await h.run('chown', ['postgres:postgres', root]);
    assert.equal(r.code, 0, `chown ${root}: ${r.output}`);
  }
  const init = await h.run(...wrap(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']),
    { timeoutMs: 120000 });
  assert.equal(init.code, 0, `initdb failed: ${init.output}`);
  const port = await h.freePort();
  const proc = h.spawnTracked(...wrap(path.join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=', '-c', 'fsync=off',
  ]), { name: 'postgres', cwd: root });
  const ready = () => h.run(path.join(bin, 'pg_isready'), ['-h', root, '-p', String(port), '-U', 'postgres']);
  await h.waitUntil(async () => {
    if (proc.exitInfo) throw Object.assign(new Error(`postgres exited: ${proc.log}`), { fatal: true });
    return (await ready()).code === 0;
  }, { timeoutMs: 30000, intervalMs: 200, what: 'PostgreSQL to accept connections' });
  const psql = (sql) => h.run(path.join(bin, 'psql'), ['-h', root, '-p', String(port), '-U', 'postgres', '-d', 'postgres',
    '-X', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  return {
    dsn: `host=${root} port=${port} dbname=postgres user=postgres`,
    psql,
    async stop() {
      await h.stopProcess(proc, { signal: 'SIGINT', graceMs: 10000 });  // fast shutdown
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function instanceConfig(dsn, instance, keyFile) {
  return h.makeConfigDir({
    settings: {
      audit: { sink: 'postgres', postgres: { dsn }, instance_id: instance, signing_key: { file: keyFile } },
    },
    servers: {
      main: {
        upstreams: { ev: h.everythingStdio() },
        virtual_servers: { au: { tools: [{ upstream: 'ev', include: ['echo'] }] } },
      },
    },
  });
}

describe('audit trail in PostgreSQL (audit.sink: postgres)', () => {
  let pg;
  let dirA;
  let dirB;
  let gwA;
  let gwB;
  let keyFile;

  // Rows of `sql` as arrays of strings.
  const rows = async (sql) => {
    const r = await pg.psql(sql);
    assert.equal(r.code, 0, r.output);
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
  };
  const echo = async (gw, n, tag) => {
    const client = await h.connect(gw.mcpUrl('au'));
    for (let i = 0; i < n; i++) {
      const res = await client.callTool({ name: 'echo', arguments: { message: `${tag}-${i}` } });
      assert.match(h.text(res), new RegExp(`${tag}-${i}`));
    }
    await h.closeClient(client);
  };
  const waitForRecords = (chain, n) => h.waitUntil(async () => {
    const [[count]] = await rows(`SELECT count(*) FROM audit WHERE chain = '${chain}' AND method = 'tools/call'`);
    return Number(count) >= n;
  }, { timeoutMs: 10000, intervalMs: 100, what: `${n} tools/call records of chain ${chain} in PostgreSQL` });
  const verify = (...extra) => cli(['audit', 'verify', '--config', dirA, ...extra]);

  before(async () => {
    pg = await startPostgres();
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-pgkey-'));
    keyFile = path.join(keyDir, 'audit.key');
    const k = await cli(['audit', 'keygen', keyFile]);
    assert.equal(k.code, 0, k.output);
    dirA = instanceConfig(pg.dsn, 'gw-a', keyFile);
    dirB = instanceConfig(pg.dsn, 'gw-b', keyFile);
    // Both start at once: the schema is created under an advisory lock.
    [gwA, gwB] = await Promise.all([h.startGateway(dirA), h.startGateway(dirB)]);
  });

  after(async () => {
    await h.cleanup();  // the gateways first: they hold connections
    if (pg) await pg.stop();
    if (keyFile) fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
  });

  test('calls through each instance land in PostgreSQL, each instance in its own chain', async () => {
    await Promise.all([echo(gwA, 4, 'alpha'), echo(gwB, 3, 'beta')]);
    await waitForRecords('gw-a', 4);
    await waitForRecords('gw-b', 3);
    const calls = await rows("SELECT chain, arguments, outcome, upstream, virtual_server FROM audit WHERE method = 'tools/call' ORDER BY chain, seq");
    assert.equal(calls.filter(([c]) => c === 'gw-a').length, 4);
    assert.equal(calls.filter(([c]) => c === 'gw-b').length, 3);
    for (const [, args, outcome, upstream, vs] of calls) {
      assert.match(args, /^sha256:[0-9a-f]{64}$/);
      assert.equal(outcome, 'ok');
      assert.equal(upstream, 'ev');
      assert.equal(vs, 'au');
    }
    // Each chain runs seq 1..n, every record linked to its predecessor.
    for (const chain of ['gw-a', 'gw-b']) {
      const links = await rows(`SELECT seq, prev_hash, hash FROM audit WHERE chain = '${chain}' ORDER BY seq`);
      assert.ok(links.length >= (chain === 'gw-a' ? 4 : 3));
      links.forEach(([seq, prev, hash], i) => {
        assert.equal(Number(seq), i + 1, `${chain} seq`);
        assert.equal(prev, i === 0 ? '0'.repeat(64) : links[i - 1][2], `${chain} seq ${seq} prev_hash`);
        assert.match(hash, /^[0-9a-f]{64}$/);
      });
      const [[cps, head]] = await rows(`SELECT count(*), max(seq) FROM audit_checkpoint WHERE chain = '${chain}' AND mac <> ''`);
      assert.ok(Number(cps) >= 1, `${chain} has signed checkpoints`);
      assert.equal(Number(head), links.length, `${chain}: the newest checkpoint signs the head`);
    }
  });

  test('audit query reads the PostgreSQL sink and filters by chain', async () => {
    const r = await cli(['audit', 'query', '--config', dirA, '--json', '--limit', '0', '--chain', 'gw-b', '--method', 'tools/call']);
    assert.equal(r.code, 0, r.output);
    const recs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(recs.length, 3);
    for (const rec of recs) {
      assert.equal(rec.chain, 'gw-b');
      assert.equal(rec.tool, 'echo');
    }
    assert.deepEqual(recs.map((x) => x.seq), [...recs.map((x) => x.seq)].sort((a, b) => b - a), 'newest first');
  });

  test('audit verify passes for both chains while the instances run', async () => {
    const r = await verify();
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0], /^OK chain 'gw-a' intact: \d+ records \(seq 1\.\.\d+\), \d+ checkpoints with valid signatures/);
    assert.match(lines[1], /^OK chain 'gw-b' intact: \d+ records \(seq 1\.\.\d+\), \d+ checkpoints with valid signatures/);
  });

  test('a restarted instance continues its chain from the head stored in PostgreSQL', async () => {
    const [[before]] = await rows("SELECT max(seq) FROM audit WHERE chain = 'gw-a'");
    await gwA.stop({ graceMs: 20000 });
    gwA = await h.startGateway(dirA);
    await echo(gwA, 1, 'again');
    await waitForRecords('gw-a', 5);
    const [[seq, prev]] = await rows("SELECT seq, prev_hash FROM audit WHERE chain = 'gw-a' AND arguments <> '' ORDER BY seq DESC LIMIT 1");
    assert.ok(Number(seq) > Number(before));
    const [[prevHash]] = await rows(`SELECT hash FROM audit WHERE chain = 'gw-a' AND seq = ${Number(seq) - 1}`);
    assert.equal(prev, prevHash);
    const r = await verify('--chain', 'gw-a');
    assert.equal(r.code, 0, r.output);
  });

  test('an UPDATE made with psql makes verify fail at that record, and only in its chain', async () => {
    await Promise.all([gwA.stop({ graceMs: 20000 }), gwB.stop({ graceMs: 20000 })]);
    const [[id]] = await rows("UPDATE audit SET outcome = 'tampered' WHERE chain = 'gw-b' AND seq = 2 RETURNING id");
    const r = await verify();
    assert.equal(r.code, 1, r.output);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^OK chain 'gw-a' intact/);
    assert.equal(lines[1], `FAILED chain 'gw-b': record ${id} (seq 2): altered: its contents do not match its hash`);
    // A record deleted from the other chain is named as a gap.
    await rows("DELETE FROM audit WHERE chain = 'gw-a' AND seq = 3");
    const d = await verify('--chain', 'gw-a');
    assert.equal(d.code, 1, d.output);
    assert.match(d.stdout, /^FAILED chain 'gw-a': deleted: seq 3 missing before record \d+ \(seq 4\)/);
  });
});
