// An upstream's own list changes reach connected clients: the gateway
// re-lists the upstream when it says notifications/tools/list_changed, and
// tells each affected session. And a config edit alone (no SIGHUP) reloads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

describe('list changes', () => {
  let gw;
  let dir;
  let client;

  before(async () => {
    dir = h.makeConfigDir({
      servers: {
        main: {
          // shared: the call that changes the list reaches the same upstream
          // process that the gateway lists its catalogue from.
          upstreams: { dyn: h.fixtureStdio('dynamic-server.mjs', { sessions: 'shared' }) },
          virtual_servers: { live: { tools: [{ upstream: 'dyn', prefix: 'd' }] } },
        },
      },
    });
    gw = await h.startGateway(dir);
    client = await h.connect(gw.mcpUrl('live'));
  });

  after(h.cleanup);

  test("an upstream's tools/list_changed is forwarded and the new tool is listed and callable", async () => {
    assert.deepEqual(await h.toolNames(client), ['d_add-tool', 'd_remove-tool']);
    const baseline = client.events.count('notifications/tools/list_changed');
    assert.equal(h.text(await client.callTool({ name: 'd_add-tool', arguments: { name: 'fresh' } })), 'added fresh');
    await h.waitUntil(() => client.events.count('notifications/tools/list_changed') > baseline, {
      timeoutMs: 5000,
      what: 'notifications/tools/list_changed',
    });
    assert.deepEqual(await h.toolNames(client), ['d_add-tool', 'd_fresh', 'd_remove-tool']);
    assert.equal(h.text(await client.callTool({ name: 'd_fresh', arguments: {} })), 'I am fresh');
  });

  test('a removed upstream tool disappears and calling it is an unknown tool', async () => {
    const baseline = client.events.count('notifications/tools/list_changed');
    await client.callTool({ name: 'd_remove-tool', arguments: { name: 'fresh' } });
    await h.waitUntil(() => client.events.count('notifications/tools/list_changed') > baseline, {
      timeoutMs: 5000,
      what: 'notifications/tools/list_changed',
    });
    assert.deepEqual(await h.toolNames(client), ['d_add-tool', 'd_remove-tool']);
    const err = await h.rejection(client.callTool({ name: 'd_fresh', arguments: {} }));
    assert.match(err.message, /Unknown tool: d_fresh/);
  });

  test('editing a servers.d file reloads without a signal', async () => {
    const baseline = client.events.count('notifications/tools/list_changed');
    h.writeServers(dir, 'main', {
      upstreams: { dyn: h.fixtureStdio('dynamic-server.mjs', { sessions: 'shared' }) },
      virtual_servers: { live: { tools: [{ upstream: 'dyn', prefix: 'e' }] } },
    });
    await h.waitUntil(() => client.events.count('notifications/tools/list_changed') > baseline, {
      timeoutMs: 10000,
      what: 'notifications/tools/list_changed after a file edit',
    });
    assert.deepEqual(await h.toolNames(client), ['e_add-tool', 'e_remove-tool']);
  });
});
