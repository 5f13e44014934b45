// Reload on SIGHUP: a changed servers.d file takes effect for connected
// sessions (with notifications/tools/list_changed), a new file adds a
// virtual server, and a broken file leaves the old config serving.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import * as h from './harness.mjs';

let gw;
let dir;
let client;

const config = (renamed) => ({
  upstreams: { ev: h.everythingStdio() },
  virtual_servers: {
    rl: { tools: [{ upstream: 'ev', include: ['echo', 'get-sum'], rename: { echo: renamed } }] },
  },
});

describe('reload on SIGHUP', () => {
  before(async () => {
    dir = h.makeConfigDir({ servers: { main: config('say') } });
    gw = await h.startGateway(dir);
    client = await h.connect(gw.mcpUrl('rl'));
  });

  after(h.cleanup);

  test('the initial config is served', async () => {
    assert.deepEqual(await h.toolNames(client), ['get-sum', 'say']);
  });

  test('a changed rename takes effect on SIGHUP and the session is told tools/list changed', async () => {
    const baseline = client.events.count('notifications/tools/list_changed');
    h.writeServers(dir, 'main', config('shout'));
    gw.hup();
    await h.waitUntil(() => client.events.count('notifications/tools/list_changed') > baseline, {
      timeoutMs: 10000,
      what: 'notifications/tools/list_changed',
    });
    assert.deepEqual(await h.toolNames(client), ['get-sum', 'shout']);
    assert.equal(h.text(await client.callTool({ name: 'shout', arguments: { message: 'reloaded' } })), 'Echo: reloaded');
    const err = await h.rejection(client.callTool({ name: 'say', arguments: { message: 'old name' } }));
    assert.match(err.message, /say/);
  });

  test('a new servers.d file adds a virtual server on SIGHUP', async () => {
    h.writeServers(dir, 'extra', { virtual_servers: { extra: { tools: [{ upstream: 'ev', include: ['get-sum'], prefix: 'x' }] } } });
    gw.hup();
    const extra = await h.waitUntil(() => h.connect(gw.mcpUrl('extra')), { timeoutMs: 10000, intervalMs: 200, what: '/mcp/extra' });
    assert.deepEqual(await h.toolNames(extra), ['x_get-sum']);
    assert.match(h.text(await extra.callTool({ name: 'x_get-sum', arguments: { a: 2, b: 3 } })), /is 5\./);
    await h.closeClient(extra);
  });

  test('a broken file on SIGHUP keeps the old config serving', async () => {
    const baseline = client.events.count('notifications/tools/list_changed');
    h.writeServers(dir, 'main', 'upstreams:\n  ev: { transport: stdio, command: [unclosed\nvirtual_servers: {}\n');
    gw.hup();
    await sleep(1500);
    assert.equal(await gw.healthy(), true);
    assert.equal(gw.proc.exitInfo, null, 'gateway still running');
    assert.equal(client.events.count('notifications/tools/list_changed'), baseline, 'no list_changed for a rejected reload');
    assert.deepEqual(await h.toolNames(client), ['get-sum', 'shout']);
    assert.equal(h.text(await client.callTool({ name: 'shout', arguments: { message: 'still here' } })), 'Echo: still here');
    // New sessions get the old config too.
    const fresh = await h.connect(gw.mcpUrl('rl'));
    assert.deepEqual(await h.toolNames(fresh), ['get-sum', 'shout']);
    await h.closeClient(fresh);
    // The gateway says why it kept the old config.
    assert.match(gw.output(), /main\.yaml/);
  });
});
