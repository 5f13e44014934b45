// Faults: malformed downstream input (raw HTTP), protocol errors, and
// upstreams that are dead, crash mid-call, hang or answer garbage. In every
// case the gateway answers precisely and keeps serving everything else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';

let gw;
let client; // SDK client of virtual server `f`

describe('faults', () => {
  before(async () => {
    const junkHttp = await h.startHttpFixture('garbage-http-server.mjs');
    const dir = h.makeConfigDir({
      settings: { limits: { max_body: '64KiB' } },
      servers: {
        faults: {
          upstreams: {
            ev: h.everythingStdio(),
            hang: h.fixtureStdio('hang-server.mjs', { timeout: '1s' }),
            junk: h.fixtureStdio('garbage-server.mjs', { timeout: '2s' }),
            junkhttp: { transport: 'streamable-http', url: junkHttp.url, timeout: '5s' },
            crashy: h.fixtureStdio('crash-server.mjs'),
            // Exits at once, every time it is started.
            deadbeef: { transport: 'stdio', command: h.NODE, args: ['-e', 'process.exit(2)'] },
          },
          virtual_servers: {
            // Explicit prefixes that differ from the upstream names, so an
            // error that names the upstream is told apart from one that only
            // repeats the tool name.
            f: {
              tools: [
                { upstream: 'ev', include: ['echo', 'trigger-long-running-operation'], prefix: 'ev' },
                { upstream: 'hang', prefix: 'slow' },
                { upstream: 'junk', prefix: 'bad' },
                { upstream: 'junkhttp', prefix: 'badhttp' },
                { upstream: 'crashy', prefix: 'boom' },
                { upstream: 'deadbeef', include: ['echo'], prefix: 'gone' },
              ],
            },
            lite: { tools: [{ upstream: 'ev', include: ['echo', 'trigger-long-running-operation'] }] },
          },
        },
      },
    });
    gw = await h.startGateway(dir);
    client = await h.connect(gw.mcpUrl('f'));
  });

  after(h.cleanup);

  const echoStillWorks = async (message = 'still serving') => {
    const res = await client.callTool({ name: 'ev_echo', arguments: { message } });
    assert.equal(h.text(res), `Echo: ${message}`);
  };

  describe('protocol errors through the SDK client', () => {
    test('an unknown tool is a JSON-RPC error naming the tool', async () => {
      const err = await h.rejection(client.callTool({ name: 'no-such-tool', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.match(err.message, /no-such-tool/);
    });

    test('an unknown method is -32601', async () => {
      const err = await h.rejection(client.request({ method: 'portcullis/no-such-method', params: {} }, ResultSchema));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.equal(err.code, -32601);
    });
  });

  describe('malformed HTTP input', () => {
    let s; // raw session on `lite`
    before(async () => {
      s = await h.rawSession(gw.mcpUrl('lite'));
    });

    test('a raw session works: initialize gave a session id, requests succeed', async () => {
      assert.ok(s.sessionId, 'Mcp-Session-Id header on the initialize response');
      assert.match(s.sessionId, /^[\x21-\x7e]+$/);
      const { status, msg } = await s.request('tools/call', { name: 'echo', arguments: { message: 'raw' } });
      assert.equal(status, 200);
      assert.equal(msg.result.content[0].text, 'Echo: raw');
    });

    test('a notification is accepted with 202', async () => {
      const res = await s.post({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
    });

    test('invalid JSON is HTTP 400 with JSON-RPC -32700 and no id (MCP ids are never null)', async () => {
      const res = await s.post('{"jsonrpc": "2.0", "id": 1, "method": ');
      assert.equal(res.status, 400);
      const body = await h.readRpc(res);
      assert.equal(body.jsonrpc, '2.0');
      assert.equal('id' in body, false);
      assert.equal(body.error.code, -32700);
    });

    test('a JSON value that is not a JSON-RPC message is -32600', async () => {
      for (const bad of [{ jsonrpc: '2.0', id: 3, method: 42 }, { jsonrpc: '1.0', id: 4, method: 'ping' }, [], 'just a string']) {
        const res = await s.post(JSON.stringify(bad));
        assert.equal(res.status, 400, JSON.stringify(bad));
        const body = await h.readRpc(res);
        assert.equal(body.error.code, -32600, JSON.stringify(bad));
      }
    });

    test('a body over limits.max_body (64KiB) is HTTP 413', async () => {
      const big = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(100 * 1024) } } };
      const res = await s.post(big);
      await res.arrayBuffer();
      assert.equal(res.status, 413);
    });

    test('a body under the limit is served', async () => {
      const message = 'y'.repeat(32 * 1024);
      const { status, msg } = await s.request('tools/call', { name: 'echo', arguments: { message } });
      assert.equal(status, 200);
      assert.equal(msg.result.content[0].text, `Echo: ${message}`);
    });

    test('JSON nested 1000 deep is HTTP 400 with an error about nesting', async () => {
      const deep = '['.repeat(1000) + ']'.repeat(1000);
      const res = await s.post(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"message":${deep}}}}`);
      assert.equal(res.status, 400);
      const body = await h.readRpc(res);
      assert.ok(body.error, JSON.stringify(body));
      assert.match(body.error.message, /nest/i);
    });

    test('a request without Mcp-Session-Id is HTTP 400, and the error echoes its id', async () => {
      const { 'mcp-session-id': _, ...noSession } = s.headers;
      const res = await h.rawPost(gw.mcpUrl('lite'), { jsonrpc: '2.0', id: 7, method: 'tools/list' }, noSession);
      assert.equal(res.status, 400);
      const body = await h.readRpc(res);
      assert.equal(body.id, 7);
      assert.match(body.error.message, /Mcp-Session-Id header is required/);
    });

    test('a request with an unknown Mcp-Session-Id is HTTP 404', async () => {
      const res = await h.rawPost(gw.mcpUrl('lite'), { jsonrpc: '2.0', id: 8, method: 'tools/list' }, {
        ...s.headers,
        'mcp-session-id': 'no-such-session-0123456789',
      });
      assert.equal(res.status, 404);
      const body = await h.readRpc(res);
      assert.equal(body.id, 8);
      assert.equal(body.error.message, 'Session not found');
    });

    test('an unsupported MCP-Protocol-Version header is HTTP 400', async () => {
      const res = await s.post({ jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-protocol-version': '1999-01-01' });
      await res.arrayBuffer();
      assert.equal(res.status, 400);
    });

    test('a foreign Origin is HTTP 403; loopback origins are allowed', async () => {
      const init = {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'origin-test', version: '1' } },
      };
      const evil = await h.rawPost(gw.mcpUrl('lite'), init, { origin: 'http://evil.example' });
      await evil.arrayBuffer();
      assert.equal(evil.status, 403);
      for (const origin of [`http://127.0.0.1:${gw.port}`, `http://localhost:${gw.port}`]) {
        const ok = await h.rawPost(gw.mcpUrl('lite'), init, { origin });
        assert.equal(ok.status, 200, origin);
        assert.equal((await h.readRpc(ok, 0)).result.serverInfo !== undefined, true);
      }
    });

    test('an unknown virtual server is HTTP 404', async () => {
      const res = await h.rawPost(`${gw.base}/mcp/no-such-server`, {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 404);
    });

    test('a client that disconnects mid-call does not disturb the gateway or its session', async () => {
      const ac = new AbortController();
      const call = s
        .post({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } } }, {}, { signal: ac.signal })
        .then((res) => h.readRpc(res, 10));
      setTimeout(() => ac.abort(), 300);
      await h.rejection(call);
      assert.equal(await gw.healthy(), true);
      const ping = await s.request('ping', {});
      assert.equal(ping.status, 200);
      assert.deepEqual(ping.msg.result, {});
      const { msg } = await s.request('tools/call', { name: 'echo', arguments: { message: 'after disconnect' } });
      assert.equal(msg.result.content[0].text, 'Echo: after disconnect');
    });

    test('DELETE ends the session; the id is then unknown (404)', async () => {
      const t = await h.rawSession(gw.mcpUrl('lite'));
      const status = await t.close();
      if (status === 405) return; // the spec lets a server refuse DELETE
      assert.ok([200, 202, 204].includes(status), `DELETE answered ${status}`);
      const res = await t.post({ jsonrpc: '2.0', id: 11, method: 'tools/list' });
      await res.arrayBuffer();
      assert.equal(res.status, 404);
    });
  });

  describe('faulty upstreams', () => {
    test('tools of healthy upstreams are listed while one upstream is dead', async () => {
      const names = await h.toolNames(client);
      for (const n of ['ev_echo', 'slow_hang', 'slow_quick', 'bad_fine', 'badhttp_broken', 'boom_alive', 'boom_crash']) {
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      }
    });

    test('calling a tool of a dead upstream errors naming the upstream; others still work', async () => {
      const err = await h.rejection(client.callTool({ name: 'gone_echo', arguments: { message: 'x' } }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.match(err.message, /deadbeef/);
      await echoStillWorks();
    });

    test('an upstream that dies mid-call fails that call naming the upstream', async () => {
      const started = Date.now();
      const err = await h.rejection(client.callTool({ name: 'boom_crash', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.match(err.message, /crashy/);
      assert.ok(Date.now() - started < 5000, 'failed fast, not by timeout');
      await echoStillWorks();
    });

    test('a hanging upstream times out after its 1s timeout, and the gateway still serves', async () => {
      const started = Date.now();
      const err = await h.rejection(client.callTool({ name: 'slow_hang', arguments: {} }));
      const elapsed = Date.now() - started;
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.equal(err.code, -32002);
      assert.match(err.message, /time(d)?[ -]?out|did not answer .*within 1 ?s/i);
      assert.ok(elapsed >= 900 && elapsed < 4000, `took ${elapsed} ms`);
      // The same upstream answers its other tool, and everything else works.
      assert.equal(h.text(await client.callTool({ name: 'slow_quick', arguments: {} })), 'quick answer');
      await echoStillWorks();
      assert.equal(await gw.healthy(), true);
    });

    test('an upstream that writes a non-JSON line fails the call with a precise error', async () => {
      // The call may fail at once or at the upstream's timeout, but either way
      // the error must say what went wrong: the upstream wrote garbage.
      const err = await h.rejection(client.callTool({ name: 'bad_garbage', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.match(err.message, /junk/);
      assert.match(err.message, /json|invalid|malformed|pars|garbage/i);
      await echoStillWorks();
    });

    test('an upstream response with neither result nor error is -32003 naming the upstream', async () => {
      const err = await h.rejection(client.callTool({ name: 'bad_no-result', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.equal(err.code, -32003);
      assert.match(err.message, /junk/);
    });

    test('an HTTP upstream answering a non-JSON body is -32003 naming the upstream', async () => {
      const started = Date.now();
      const err = await h.rejection(client.callTool({ name: 'badhttp_broken', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.equal(err.code, -32003);
      assert.match(err.message, /junkhttp/);
      assert.ok(Date.now() - started < 4500, 'not by the 5s timeout');
    });

    test('after all of this the gateway is healthy and a new session works', async () => {
      assert.equal(await gw.healthy(), true);
      const fresh = await h.connect(gw.mcpUrl('lite'));
      assert.equal(h.text(await fresh.callTool({ name: 'echo', arguments: { message: 'fresh' } })), 'Echo: fresh');
      await h.closeClient(fresh);
    });
  });
});
