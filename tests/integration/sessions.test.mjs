// Sealed sessions: the Mcp-Session-Id carries the session's own state,
// sealed with AES-256-GCM under the configured key, so a second instance with
// the same key serves the same session with no shared store and no sticky
// routing. Altered ids, ids sealed under another key and expired ids are
// refused with a clear 404.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import * as h from './harness.mjs';

const servers = {
  main: {
    upstreams: { ev: h.everythingStdio() },
    virtual_servers: { sv: { tools: [{ upstream: 'ev', include: ['echo', 'get-sum', 'trigger-long-running-operation'] }] } },
  },
};
const instance = (key, ttl = '1h') => h.makeConfigDir({ settings: { sessions: { key, ttl } }, servers });

describe('sealed sessions', () => {
  const key = crypto.randomBytes(32).toString('hex');
  let a;
  let b;
  let other;

  before(async () => {
    [a, b, other] = await Promise.all([
      h.startGateway(instance(key)),
      h.startGateway(instance(key)),
      h.startGateway(instance(crypto.randomBytes(32).toString('hex'))),
    ]);
  });

  after(h.cleanup);

  test('a client whose requests alternate between two instances keeps one session', async () => {
    const urlA = new URL(a.mcpUrl('sv'));
    const urlB = new URL(b.mcpUrl('sv'));
    const served = { a: 0, b: 0 };
    let turn = 0;
    // Every request goes to the other instance than the one before.
    const alternate = (input, init) => {
      const toB = turn++ % 2 === 1;
      served[toB ? 'b' : 'a']++;
      const url = new URL(String(input instanceof Request ? input.url : input));
      url.port = (toB ? urlB : urlA).port;
      return fetch(url, init);
    };
    const client = new Client({ name: 'roaming', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(urlA, { fetch: alternate }));
    try {
      for (let i = 0; i < 4; i++) {
        assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: `hop ${i}` } })), `Echo: hop ${i}`);
      }
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['echo', 'get-sum', 'trigger-long-running-operation']);
      let progress = 0;
      const r = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, {
        onprogress: () => progress++,
      });
      assert.match(h.text(r), /Long running operation completed/);
      assert.equal(progress, 2);
      assert.ok(served.a >= 3 && served.b >= 3, JSON.stringify(served));
      const health = async (gw) => (await (await fetch(new URL('/healthz', gw.mcpUrl('sv')))).json()).sessions;
      assert.equal(await health(a), 1);
      assert.equal(await health(b), 1);
    } finally {
      await client.close();
    }
  });

  test('the session id is sealed: it shows none of the state it carries', async () => {
    const s = await h.rawSession(a.mcpUrl('sv'));
    assert.match(s.sessionId, /^v1\.[A-Za-z0-9_-]{40,}$/);
    // Neither the id nor its decoded bytes carry the state in the clear (the
    // id's random base64 may well contain a short word like "sv" by chance,
    // so only the longer strings are looked for).
    const sealed = Buffer.from(s.sessionId.slice(3), 'base64url').toString('latin1');
    for (const clear of ['raw-it-client', '2025-11-25', '"vs"']) {
      assert.ok(!s.sessionId.includes(clear) && !sealed.includes(clear), `the id shows ${clear}`);
    }
    // Visible ASCII only, as the spec requires of session ids.
    assert.match(s.sessionId, /^[\x21-\x7e]+$/);
  });

  test('an altered id is refused with 404 and a reason', async () => {
    const s = await h.rawSession(a.mcpUrl('sv'));
    const id = s.sessionId;
    const flipped = id.slice(0, 20) + (id[20] === 'A' ? 'B' : 'A') + id.slice(21);
    const r = await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': flipped });
    assert.equal(r.status, 404);
    const body = await h.readRpc(r);
    assert.equal(body.id, 1);
    assert.match(body.error.message, /not issued under this gateway's session key/);
  });

  test('an instance with another key refuses the id', async () => {
    const s = await h.rawSession(a.mcpUrl('sv'));
    const r = await h.rawPost(other.mcpUrl('sv'), { jsonrpc: '2.0', id: 2, method: 'tools/list' }, s.headers);
    assert.equal(r.status, 404);
    assert.match((await h.readRpc(r)).error.message, /not issued under this gateway's session key/);
  });

  test('a session ended with DELETE is gone on that instance', async () => {
    const s = await h.rawSession(a.mcpUrl('sv'));
    const onB = await h.rawPost(b.mcpUrl('sv'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }, s.headers);
    assert.equal(onB.status, 200);
    await onB.arrayBuffer();
    const del = await fetch(b.mcpUrl('sv'), { method: 'DELETE', headers: s.headers });
    assert.equal(del.status, 200);
    const again = await h.rawPost(b.mcpUrl('sv'), { jsonrpc: '2.0', id: 4, method: 'tools/list' }, s.headers);
    assert.equal(again.status, 404);
    assert.equal((await h.readRpc(again)).error.message, 'Session not found');
  });

  test('an expired id is refused with 404 "Session expired" by every instance', async () => {
    const shortKey = crypto.randomBytes(32).toString('hex');
    const [c, d] = await Promise.all([h.startGateway(instance(shortKey, '1s')), h.startGateway(instance(shortKey, '1s'))]);
    const s = await h.rawSession(c.mcpUrl('sv'));
    const fresh = await h.rawPost(d.mcpUrl('sv'), { jsonrpc: '2.0', id: 5, method: 'tools/list' }, s.headers);
    assert.equal(fresh.status, 200);
    await fresh.arrayBuffer();
    await new Promise((r) => setTimeout(r, 1300));
    for (const gw of [c, d]) {
      const r = await h.rawPost(gw.mcpUrl('sv'), { jsonrpc: '2.0', id: 6, method: 'tools/list' }, s.headers);
      assert.equal(r.status, 404);
      assert.equal((await h.readRpc(r)).error.message, 'Session expired');
    }
  });
});

// Upstream session handles travel in the sealed id: a per_client Streamable
// HTTP upstream's session is started at initialize and continued by whichever
// instance the client reaches, so state the upstream keeps per session
// follows the client.
describe('sealed sessions carry their upstream sessions', () => {
  const key = crypto.randomBytes(32).toString('hex');
  let counter;
  let a;
  let b;

  const roamingServers = () => ({
    main: {
      upstreams: { counter: { transport: 'streamable-http', url: counter.url, sessions: 'per_client' } },
      virtual_servers: { cv: { tools: [{ upstream: 'counter' }] } },
    },
  });
  const upstreamSessions = async () => (await fetch(`http://127.0.0.1:${counter.port}/admin/sessions`)).json();

  // A client whose every request goes to the other instance than the one before.
  function roamingClient(first, second) {
    let turn = 0;
    const urls = [new URL(first.mcpUrl('cv')), new URL(second.mcpUrl('cv'))];
    const served = [0, 0];
    const alternate = (input, init) => {
      const i = turn++ % 2;
      served[i]++;
      const url = new URL(String(input instanceof Request ? input.url : input));
      url.port = urls[i].port;
      return fetch(url, init);
    };
    const client = new Client({ name: 'roaming-upstream', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(urls[0], { fetch: alternate });
    return { client, transport, served };
  }
  const count = async (client) => JSON.parse(h.text(await client.callTool({ name: 'count', arguments: {} })));

  before(async () => {
    counter = await h.startHttpFixture('session-counter-server.mjs');
    const dir = () => h.makeConfigDir({ settings: { sessions: { key, ttl: '1h' } }, servers: roamingServers() });
    [a, b] = await Promise.all([h.startGateway(dir()), h.startGateway(dir())]);
  });

  after(h.cleanup);

  test('both instances speak in the one upstream session the client started', async () => {
    const before = await upstreamSessions();
    const { client, transport, served } = roamingClient(a, b);
    await client.connect(transport);
    try {
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await count(client));
      assert.deepEqual(seen.map((r) => r.count), [1, 2, 3, 4], 'the counter lives in one upstream session');
      assert.equal(new Set(seen.map((r) => r.session)).size, 1);
      assert.ok(served[0] >= 2 && served[1] >= 2, JSON.stringify(served));
      const after = await upstreamSessions();
      assert.equal(after.created - before.created, 1, 'one upstream session for one client session');
    } finally {
      await client.close();
    }
  });

  test('ending the session with DELETE ends its upstream session too', async () => {
    const s = await h.rawSession(a.mcpUrl('cv'));
    const live = (await upstreamSessions()).live;
    const call = await h.rawPost(b.mcpUrl('cv'), { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'count', arguments: {} } }, s.headers);
    const sid = JSON.parse((await h.readRpc(call)).result.content[0].text).session;
    assert.ok(live.includes(sid), 'the upstream session started at initialize');
    const del = await fetch(b.mcpUrl('cv'), { method: 'DELETE', headers: s.headers });
    assert.equal(del.status, 200);
    await h.waitUntil(async () => !(await upstreamSessions()).live.includes(sid), { what: 'the upstream session to end' });
  });

  test('an upstream session the server forgot is replaced, and the call succeeds', async () => {
    const s = await h.rawSession(a.mcpUrl('cv'));
    const callOn = async (gw, id) => {
      const r = await h.rawPost(gw.mcpUrl('cv'), { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count', arguments: {} } }, s.headers);
      const msg = await h.readRpc(r);
      assert.ok(msg.result, JSON.stringify(msg));
      return JSON.parse(msg.result.content[0].text);
    };
    const first = await callOn(a, 3);
    await fetch(`http://127.0.0.1:${counter.port}/admin/forget`, { method: 'POST' });
    // b has never seen this session: it tries the sealed upstream session,
    // finds it gone, and starts one of its own.
    const second = await callOn(b, 4);
    assert.notEqual(second.session, first.session);
    assert.equal(second.count, 1);
    await fetch(b.mcpUrl('cv'), { method: 'DELETE', headers: s.headers });
  });

  test('an instance that shuts down leaves the upstream session to the others', async () => {
    const c = await h.startGateway(h.makeConfigDir({ settings: { sessions: { key, ttl: '1h' } }, servers: roamingServers() }));
    const s = await h.rawSession(c.mcpUrl('cv'));
    const callOn = async (gw, id) => {
      const msg = await h.readRpc(await h.rawPost(gw.mcpUrl('cv'), { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count', arguments: {} } }, s.headers));
      assert.ok(msg.result, JSON.stringify(msg));
      return JSON.parse(msg.result.content[0].text);
    };
    const first = await callOn(c, 5);
    await c.stop();
    const next = await callOn(b, 6);
    assert.equal(next.session, first.session);
    assert.equal(next.count, first.count + 1);
    await fetch(b.mcpUrl('cv'), { method: 'DELETE', headers: s.headers });
  });
});
