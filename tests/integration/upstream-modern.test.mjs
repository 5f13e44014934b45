// Upstreams of both eras behind one gateway: era detection (revision: auto)
// against the 2.x SDK fixture (2026-07-28, stdio and Streamable HTTP) and
// against 2025-era servers, pinned revisions, and the modern call path as a
// 2025-11-25 SDK client sees it through the relay: tools, progress, logging,
// resources, prompts and tools/list_changed fed by subscriptions/listen.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

// The modern fixture over Streamable HTTP (`--http PORT`).
async function startModernHttp(extra = []) {
  const port = await h.freePort();
  const proc = h.spawnTracked(h.NODE, [h.fixture('modern-server.mjs'), '--http', String(port), ...extra], {
    name: 'modern-http',
  });
  await h.waitForPort(port, proc);
  return { port, url: `http://127.0.0.1:${port}/mcp`, proc, stop: () => h.stopProcess(proc) };
}

const modernStdio = (extra = {}) => h.fixtureStdio('modern-server.mjs', extra);
// What the fixture's whoami tool saw in the request envelope (null: none,
// i.e. the request came over the 2025 era).
const envelopeSeen = async (client, tool) =>
  JSON.parse(h.text(await client.callTool({ name: tool, arguments: {} })));

let gw;

describe('upstreams of the 2026-07-28 revision', () => {
  let modernHttp;
  before(async () => {
    modernHttp = await startModernHttp();
    const dir = h.makeConfigDir();
    h.writeServers(dir, 'modern', {
      upstreams: {
        'm-stdio': modernStdio({ sessions: 'shared' }),
        // per_client (the default): the relay passes a client's log level only to its own links
        'm-own': modernStdio(),
        'm-http': { transport: 'streamable-http', url: modernHttp.url, sessions: 'shared' },
        'm-pinned-legacy': modernStdio({ revision: '2025-11-25', sessions: 'shared' }),
        everything: h.everythingStdio({ sessions: 'shared' }),
        'ev-pinned': h.everythingStdio({ revision: '2025-11-25', sessions: 'shared' }),
        'ev-modern': h.everythingStdio({ revision: '2026-07-28', sessions: 'shared', connect_timeout: '5s' }),
        conformance: h.fixtureStdio('conformance-server.mjs', { sessions: 'shared' }),
      },
      virtual_servers: {
        modern: {
          tools: [{ upstream: 'm-stdio' }],
          resources: [{ upstream: 'm-stdio' }],
          prompts: [{ upstream: 'm-stdio' }],
        },
        own: { tools: [{ upstream: 'm-own' }] },
        'modern-http': { tools: [{ upstream: 'm-http' }], resources: [{ upstream: 'm-http' }] },
        pinned: { tools: [{ upstream: 'm-pinned-legacy', prefix: 'pl' }, { upstream: 'ev-pinned', include: ['echo'], prefix: 'ev' }] },
        legacy: { tools: [{ upstream: 'everything', include: ['echo'], prefix: 'ev' }, { upstream: 'conformance', prefix: 'cf' }] },
        broken: { tools: [{ upstream: 'ev-modern' }] },
      },
    });
    gw = await h.startGateway(dir, { args: ['--log-level', 'debug'] });
  });
  after(async () => {
    await h.cleanup();
  });

  test('auto detects 2026-07-28 over stdio and over Streamable HTTP, and 2025 servers stay on initialize', async () => {
    await h.waitUntil(() => /upstream 'm-http' ready \(.*protocol 2026-07-28\)/.test(gw.output()), { what: 'm-http ready' });
    assert.match(gw.output(), /upstream 'm-stdio' ready \(.*protocol 2026-07-28\)/);
    assert.match(gw.output(), /upstream 'everything' ready \(.*protocol 2025-/);
    assert.match(gw.output(), /upstream 'conformance' ready \(.*protocol 2025-/);
    assert.match(gw.output(), /upstream 'm-pinned-legacy' ready \(.*protocol 2025-11-25\)/);
    const modern = await h.connect(gw.mcpUrl('modern'));
    const env = await envelopeSeen(modern, 'whoami');
    assert.equal(env.protocolVersion, '2026-07-28');
    assert.equal(env.clientInfo.name, 'portcullis');
    const overHttp = await h.connect(gw.mcpUrl('modern-http'));
    assert.equal((await envelopeSeen(overHttp, 'whoami')).protocolVersion, '2026-07-28');
    await h.closeClient(modern);
    await h.closeClient(overHttp);
  });

  for (const [vs, label] of [['modern', 'stdio'], ['modern-http', 'Streamable HTTP']]) {
    test(`tools/list and tools/call with progress through a modern ${label} upstream`, async () => {
      const client = await h.connect(gw.mcpUrl(vs));
      const names = await h.toolNames(client);
      for (const t of ['echo', 'progress', 'log', 'ask', 'add_tool']) assert.ok(names.includes(t), `${t} in ${names}`);
      assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: 'héllo' } })), 'Echo: héllo');
      const seen = [];
      const result = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      assert.equal(h.text(result), 'did 3 steps');
      assert.deepEqual(seen, [1, 2, 3]);
      const res = await client.readResource({ uri: 'demo://greeting' });
      assert.equal(res.contents[0].text, 'Hello from a 2026-07-28 server');
      await h.closeClient(client);
    });
  }

  test('logging/setLevel reaches a modern upstream as _meta logLevel, and its log messages reach the client', async () => {
    const client = await h.connect(gw.mcpUrl('own'));
    assert.deepEqual(await client.setLoggingLevel('info'), {});
    assert.equal((await envelopeSeen(client, 'whoami')).logLevel, 'info');
    await client.callTool({ name: 'log', arguments: { message: 'from upstream' } });
    const note = await client.events.waitFor('notifications/message', (n) => n.params.data === 'from upstream');
    assert.equal(note.params.level, 'info');
    assert.deepEqual(await client.ping(), {});
    await h.closeClient(client);
  });

  test('prompts/get through a modern upstream', async () => {
    const client = await h.connect(gw.mcpUrl('modern'));
    const p = await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    assert.equal(p.messages[0].content.text, 'Say hello to Ada');
    await h.closeClient(client);
  });

  for (const [vs, label] of [['modern', 'stdio'], ['modern-http', 'Streamable HTTP']]) {
    test(`add_tool on a modern ${label} upstream reaches a 2025 client as tools/list_changed`, async () => {
      const client = await h.connect(gw.mcpUrl(vs));
      const name = `added-${vs}`;
      await client.callTool({ name: 'add_tool', arguments: { name } });
      await client.events.waitFor('notifications/tools/list_changed', () => true, 10000);
      await h.waitUntil(async () => (await h.toolNames(client)).includes(name), { what: `${name} listed` });
      assert.equal(h.text(await client.callTool({ name, arguments: {} })), `I am ${name}`);
      await h.closeClient(client);
    });
  }

  test('revision 2025-11-25 pins the initialize handshake, on a dual-era server too', async () => {
    const client = await h.connect(gw.mcpUrl('pinned'));
    // The 2.x fixture served it the 2025 way: no envelope on the request.
    assert.equal(await envelopeSeen(client, 'pl_whoami'), null);
    assert.equal(h.text(await client.callTool({ name: 'ev_echo', arguments: { message: 'x' } })), 'Echo: x');
    await h.closeClient(client);
  });

  test('auto falls back to initialize for 2025-era servers', async () => {
    const client = await h.connect(gw.mcpUrl('legacy'));
    assert.equal(h.text(await client.callTool({ name: 'ev_echo', arguments: { message: 'y' } })), 'Echo: y');
    const names = await h.toolNames(client);
    assert.ok(names.some((n) => n.startsWith('cf_')), names.join(','));
    await h.closeClient(client);
  });

  test('revision 2026-07-28 against a 2025-only server fails with a clear error', async () => {
    await h.waitUntil(() => /upstream 'ev-modern' failed to start: revision 2026-07-28 is configured, but the server does not speak it/.test(gw.output()), {
      what: 'the ev-modern start error',
    });
    const client = await h.connect(gw.mcpUrl('broken'));
    assert.deepEqual(await h.toolNames(client), []);
    await h.closeClient(client);
    assert.ok(await gw.healthy());
  });
});
