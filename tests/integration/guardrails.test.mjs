// Guardrails in the MCP pipeline, end to end with the official SDK client:
// a pre-tool block of a destructive query to a real SQLite-backed server
// (the database file stays unchanged), post-tool redaction of a secret
// planted in that database, audit-mode passthrough, strict mode failing
// closed when a detector errors (and enforce failing open), a poisoned tool
// hidden from tools/list, per-tool globs, the X-Portcullis-Guardrails header
// (adds, never removes), `portcullis check` on broken guardrails, and a reload
// with a broken guardrails.yaml keeping the last good set serving. Every case
// checks its audit record: decision, findings (guardrail, rule, position) and
// the guard phase, and the audit database never holds the planted secret.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import * as h from './harness.mjs';

// A well-formed AWS access key id (AKIA + 16 of [A-Z2-7]) that is nobody's.
const SECRET = 'AKIA' + 'Q7ZB2M4XK5N3RPLW';
const MARKER = 'TRIP-THE-DETECTOR';

const cli = (args) => h.run(h.PORTCULLIS, args);
const sqlite = (db, sql) => h.run('sqlite3', [db, sql]);
const sha256File = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

const GUARDRAILS = {
  guardrails: [
    { name: 'sql-guard', detector: 'sql', hooks: ['mcp_pre_tool'], mode: 'enforce', action: 'validate' },
    { name: 'redact-secrets', detector: 'secrets', hooks: ['mcp_post_tool'], mode: 'enforce', action: 'mutate' },
    { name: 'watch-secrets', detector: 'secrets', hooks: ['mcp_post_tool'], mode: 'audit' },
    { name: 'no-secrets-in', detector: 'secrets', hooks: ['mcp_pre_tool'], mode: 'enforce', action: 'validate' },
    { name: 'fault-strict', detector: 'test_fault', hooks: ['mcp_pre_tool'], mode: 'strict', options: { error_on: MARKER } },
    { name: 'fault-enforce', detector: 'test_fault', hooks: ['mcp_pre_tool'], mode: 'enforce', options: { error_on: MARKER } },
  ],
  virtual_servers: { db: ['redact-secrets'] },
};

function configDir(dbFile) {
  const sq = h.fixtureStdio('sqlite-server.mjs');
  sq.args.push(dbFile);
  return h.makeConfigDir({
    settings: { audit: { capture: 'redacted' } },
    files: { 'policies/guardrails.yaml': GUARDRAILS },
    servers: {
      main: {
        upstreams: { sq, po: h.fixtureStdio('poisoned-server.mjs') },
        virtual_servers: {
          db: { tools: [{ upstream: 'sq' }], guardrails: { tools: { query: ['sql-guard'] } } },
          audited: { tools: [{ upstream: 'sq' }], guardrails: { global: ['watch-secrets'] } },
          globs: { tools: [{ upstream: 'sq' }], guardrails: { tools: { 'ech*': ['no-secrets-in'] } } },
          plain: { tools: [{ upstream: 'sq' }] },
          strict: { tools: [{ upstream: 'po', include: ['echo'] }], guardrails: { global: ['fault-strict'] } },
          lenient: { tools: [{ upstream: 'po', include: ['echo'] }], guardrails: { global: ['fault-enforce'] } },
          hidden: { tools: [{ upstream: 'po' }], poisoning: 'hide' },
          warned: { tools: [{ upstream: 'po' }], poisoning: 'warn' },
        },
      },
    },
  });
}

async function records(dir) {
  const r = await cli(['audit', 'query', '--config', dir, '--json', '--limit', '0']);
  assert.equal(r.code, 0, r.output);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// The newest record matching `pred`, once the writer has stored it.
const recordOf = (dir, pred, what) =>
  h.waitUntil(async () => (await records(dir)).find(pred), { timeoutMs: 5000, what });

const callRecord = (dir, vs, tool) =>
  recordOf(dir, (r) => r.method === 'tools/call' && r.virtual_server === vs && r.tool === tool, `${vs}/${tool} record`);

async function connectWithHeader(url, value) {
  const client = new Client({ name: 'header-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { 'X-Portcullis-Guardrails': value } },
  }));
  return client;
}

describe('guardrails in the MCP pipeline', () => {
  let dir;
  let dbFile;
  let gw;
  const clients = {};
  const client = async (vs) => (clients[vs] ??= await h.connect(gw.mcpUrl(vs)));

  before(async () => {
    const tmp = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'portcullis-sqlite-'));
    dbFile = path.join(tmp, 'shop.db');
    const made = await sqlite(dbFile, `CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
      INSERT INTO users(name) VALUES ('ada'), ('grace'), ('linus');
      CREATE TABLE config(name TEXT, value TEXT);
      INSERT INTO config VALUES ('deploy_key', '${SECRET}');
      CREATE TABLE scratch(x INTEGER); INSERT INTO scratch VALUES (1);`);
    assert.equal(made.code, 0, made.output);
    dir = configDir(dbFile);
    gw = await h.startGateway(dir, { env: { PORTCULLIS_TEST_DETECTORS: 'test_fault' } });
  });

  after(async () => {
    for (const c of Object.values(clients)) await h.closeClient(c);
    await h.cleanup();
    fs.rmSync(path.dirname(dbFile), { recursive: true, force: true });
  });

  test('a destructive query is blocked before it reaches SQLite, and the database is unchanged', async () => {
    const before = sha256File(dbFile);
    const db = await client('db');
    const res = await db.callTool({ name: 'query', arguments: { sql: 'DROP TABLE users' } });
    assert.equal(res.isError, true);
    assert.match(h.text(res), /^Blocked by guardrail 'sql-guard' \(rule [a-z_]+\)$/);
    const del = await db.callTool({ name: 'query', arguments: { sql: 'DELETE FROM users' } });
    assert.equal(del.isError, true);
    assert.match(h.text(del), /guardrail 'sql-guard'/);

    assert.equal(sha256File(dbFile), before);
    const rows = await sqlite(dbFile, 'SELECT count(*) FROM users');
    assert.equal(rows.stdout.trim(), '3');
    // A harmless query on the same tool goes through to the real database.
    const ok = await db.callTool({ name: 'query', arguments: { sql: 'SELECT name FROM users ORDER BY id' } });
    assert.deepEqual(JSON.parse(h.text(ok)).map((r) => r.name), ['ada', 'grace', 'linus']);

    const rec = await recordOf(dir, (r) => r.virtual_server === 'db' && r.tool === 'query' && r.decision === 'denied', 'blocked query record');
    assert.equal(rec.outcome, 'tool_error');
    assert.equal(rec.upstream, 'sq');  // where it was going; phases_us.upstream shows it never went
    assert.equal(rec.original_tool, 'query');
    assert.ok(rec.phases_us.guard > 0, JSON.stringify(rec.phases_us));
    assert.equal(rec.phases_us.upstream, 0);
    const f = rec.findings[0];
    assert.equal(f.guardrail, 'sql-guard');
    assert.equal(f.hook, 'mcp_pre_tool');
    assert.equal(f.outcome, 'blocked');
    assert.equal(f.action, 'validate');
    assert.equal(f.pointer, '/sql');
    assert.ok(Number.isInteger(f.start) && f.end > f.start);
  });

  test('a secret planted in the database comes back redacted', async () => {
    const db = await client('db');
    const res = await db.callTool({ name: 'query', arguments: { sql: "SELECT value FROM config WHERE name = 'deploy_key'" } });
    assert.notEqual(res.isError, true);
    const rows = JSON.parse(h.text(res));
    assert.equal(rows[0].value, '[REDACTED:aws_access_key]');
    assert.ok(!JSON.stringify(res).includes(SECRET));

    const rec = await recordOf(dir, (r) => r.virtual_server === 'db' && r.tool === 'query' &&
      r.findings.some((f) => f.guardrail === 'redact-secrets'), 'redaction record');
    assert.equal(rec.decision, 'allowed');
    assert.equal(rec.outcome, 'ok');
    assert.ok(rec.phases_us.guard > 0);
    const f = rec.findings.find((x) => x.guardrail === 'redact-secrets');
    assert.deepEqual([f.hook, f.rule, f.action, f.outcome, f.mode], ['mcp_post_tool', 'aws_access_key', 'mutate', 'redacted', 'enforce']);
    assert.equal(f.pointer, '/content/0/text');
    assert.equal(f.end - f.start, SECRET.length);
    // capture: redacted keeps the result as the guardrail left it.
    assert.match(rec.result, /REDACTED:aws_access_key/);
  });

  test('an audit-mode guardrail records the finding and changes nothing', async () => {
    const audited = await client('audited');
    const res = await audited.callTool({ name: 'query', arguments: { sql: "SELECT value FROM config WHERE name = 'deploy_key'" } });
    assert.equal(JSON.parse(h.text(res))[0].value, SECRET);

    const rec = await callRecord(dir, 'audited', 'query');
    assert.equal(rec.decision, 'allowed');
    assert.equal(rec.outcome, 'ok');
    assert.ok(rec.phases_us.guard > 0);
    assert.equal(rec.findings.length, 1);
    const f = rec.findings[0];
    assert.deepEqual([f.guardrail, f.hook, f.rule, f.mode, f.outcome], ['watch-secrets', 'mcp_post_tool', 'aws_access_key', 'audit', 'recorded']);
    // Not redacted, so capture: redacted stores a digest, not the result.
    assert.match(rec.result, /^sha256:[0-9a-f]{64}$/);
  });

  test('strict mode blocks when a detector fails; enforce mode fails open', async () => {
    const strict = await client('strict');
    const res = await strict.callTool({ name: 'echo', arguments: { text: `please ${MARKER} now` } });
    assert.equal(res.isError, true);
    assert.equal(h.text(res), "Blocked: guardrail 'fault-strict' could not check this request (strict mode)");
    const passes = await strict.callTool({ name: 'echo', arguments: { text: 'ordinary' } });
    assert.equal(h.text(passes), 'ordinary');

    const lenient = await client('lenient');
    const open = await lenient.callTool({ name: 'echo', arguments: { text: `please ${MARKER} now` } });
    assert.equal(h.text(open), `please ${MARKER} now`);

    const denied = await recordOf(dir, (r) => r.virtual_server === 'strict' && r.decision === 'denied', 'strict record');
    assert.deepEqual(denied.findings.map((f) => [f.guardrail, f.rule, f.mode, f.outcome]), [['fault-strict', 'error', 'strict', 'blocked']]);
    assert.ok(denied.phases_us.guard > 0);
    const failedOpen = await callRecord(dir, 'lenient', 'echo');
    assert.equal(failedOpen.decision, 'allowed');
    assert.deepEqual(failedOpen.findings.map((f) => [f.guardrail, f.rule, f.outcome]), [['fault-enforce', 'error', 'failed_open']]);
  });

  test('a poisoned tool is hidden from tools/list and refused as unknown where poisoning is hide', async () => {
    const hidden = await client('hidden');
    assert.deepEqual(await h.toolNames(hidden), ['echo', 'weather']);
    const err = await h.rejection(hidden.callTool({ name: 'add_notes', arguments: { a: 'x' } }));
    assert.match(err.message, /Unknown tool: add_notes/);

    const warned = await client('warned');
    assert.deepEqual(await h.toolNames(warned), ['add_notes', 'echo', 'weather']);

    const rec = await recordOf(dir, (r) => r.method === 'poisoning' && r.virtual_server === 'hidden', 'poisoning record');
    assert.equal(rec.tool, 'add_notes');
    assert.equal(rec.upstream, 'po');
    assert.equal(rec.decision, 'denied');
    assert.equal(rec.outcome, 'poisoning_hidden');
    assert.ok(rec.findings.length > 0);
    for (const f of rec.findings) {
      assert.equal(f.guardrail, 'poisoning');
      assert.equal(f.action, 'hide');
      assert.equal(f.pointer, '/description');
      assert.ok(f.end > f.start);
    }
    const note = await recordOf(dir, (r) => r.method === 'poisoning' && r.virtual_server === 'warned', 'warn record');
    assert.equal(note.outcome, 'poisoning_warned');
    assert.equal(note.decision, 'allowed');
    assert.match(gw.output(), /tool 'add_notes' of upstream 'po' carries instructions for the model/);
  });

  test('a per-tool glob attaches a guardrail to the matching tools only', async () => {
    const globs = await client('globs');
    const blocked = await globs.callTool({ name: 'echo', arguments: { text: `key ${SECRET}` } });
    assert.equal(blocked.isError, true);
    assert.equal(h.text(blocked), "Blocked by guardrail 'no-secrets-in' (rule aws_access_key)");
    // `query` does not match ech*: nothing guards it on this server.
    const res = await globs.callTool({ name: 'query', arguments: { sql: "SELECT value FROM config WHERE name = 'deploy_key'" } });
    assert.equal(JSON.parse(h.text(res))[0].value, SECRET);
  });

  test('the X-Portcullis-Guardrails header adds guardrails and can never remove configured ones', async () => {
    // On `plain` nothing is configured: the header alone blocks the drop.
    const added = await connectWithHeader(gw.mcpUrl('plain'), 'sql-guard');
    const res = await added.callTool({ name: 'query', arguments: { sql: 'DROP TABLE scratch' } });
    assert.equal(res.isError, true);
    assert.match(h.text(res), /guardrail 'sql-guard'/);
    assert.equal((await sqlite(dbFile, 'SELECT count(*) FROM scratch')).stdout.trim(), '1');
    await added.close();

    const removing = await connectWithHeader(gw.mcpUrl('db'), '-sql-guard');
    const err = await h.rejection(removing.callTool({ name: 'query', arguments: { sql: 'SELECT 1' } }));
    assert.match(err.message, /can add guardrails but not remove them/);
    await removing.close();

    const unknown = await connectWithHeader(gw.mcpUrl('db'), 'no-such-guardrail');
    const err2 = await h.rejection(unknown.callTool({ name: 'query', arguments: { sql: 'SELECT 1' } }));
    assert.match(err2.message, /unknown guardrail 'no-such-guardrail'/);
    await unknown.close();

    // Naming other guardrails does not displace the configured one.
    const other = await connectWithHeader(gw.mcpUrl('db'), 'watch-secrets');
    const still = await other.callTool({ name: 'query', arguments: { sql: 'DROP TABLE users' } });
    assert.match(h.text(still), /guardrail 'sql-guard'/);
    await other.close();
    assert.equal((await sqlite(dbFile, 'SELECT count(*) FROM users')).stdout.trim(), '3');

    // Without the header the same drop on `plain` reaches SQLite.
    const bare = await client('plain');
    await bare.callTool({ name: 'query', arguments: { sql: 'DROP TABLE scratch' } });
    const gone = await sqlite(dbFile, "SELECT count(*) FROM sqlite_master WHERE name = 'scratch'");
    assert.equal(gone.stdout.trim(), '0');
  });

  test('a broken guardrails.yaml is reported by check and a reload keeps the last good set', async () => {
    const good = fs.readFileSync(path.join(dir, 'policies/guardrails.yaml'), 'utf8');
    h.writeFile(dir, 'policies/guardrails.yaml', 'guardrails:\n  - name: sql-guard\n    detector: sqll\n    mode: enforce\n');
    const checkTest = (d) => h.run(h.PORTCULLIS, ['check', '--offline', '--config', d], { env: { PORTCULLIS_TEST_DETECTORS: 'test_fault' } });
    const checked = await checkTest(dir);
    assert.equal(checked.code, 1);
    assert.match(checked.stderr, /policies\/guardrails\.yaml:2: unknown detector 'sqll'/);

    gw.hup();
    await h.waitUntil(() => /reload rejected: the guardrails have/.test(gw.output()), { timeoutMs: 10000, what: 'rejected reload' });
    const db = await client('db');
    const res = await db.callTool({ name: 'query', arguments: { sql: 'DROP TABLE users' } });
    assert.match(h.text(res), /guardrail 'sql-guard'/);
    assert.equal((await sqlite(dbFile, 'SELECT count(*) FROM users')).stdout.trim(), '3');

    h.writeFile(dir, 'policies/guardrails.yaml', good);
    const fixed = await checkTest(dir);
    assert.equal(fixed.code, 0, fixed.output);
  });

  test('a virtual server guardrails block is checked with file:line', async () => {
    const bad = h.makeConfigDir({
      servers: {
        x: 'upstreams:\n  po: { transport: stdio, command: node }\nvirtual_servers:\n  v:\n    tools: [{ upstream: po }]\n' +
          '    poisoning: hid\n    guardrails:\n      global: [nope]\n',
      },
    });
    const r = await cli(['check', '--offline', '--config', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /servers\.d\/x\.yaml:6: .*unknown poisoning mode .hid./);
    fs.writeFileSync(path.join(bad, 'servers.d/x.yaml'),
      'upstreams:\n  po: { transport: stdio, command: node }\nvirtual_servers:\n  v:\n    tools: [{ upstream: po }]\n' +
      '    poisoning: hide\n    guardrails:\n      global: [nope]\n');
    const r2 = await cli(['check', '--offline', '--config', bad]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /servers\.d\/x\.yaml:8: unknown guardrail 'nope'/);
  });

  test('the audit database never holds the planted secret', async () => {
    await h.waitUntil(async () => (await records(dir)).length >= 10, { what: 'records' });
    for (const f of ['portcullis-audit.db', 'portcullis-audit.db-wal']) {
      const file = path.join(dir, f);
      if (!fs.existsSync(file)) continue;
      assert.ok(!fs.readFileSync(file).includes(SECRET), `${f} holds the secret`);
    }
  });
});
