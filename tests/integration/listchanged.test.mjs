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
          upstreams: {
            dyn: h.fixtureStdio('dynamic-server.mjs', { sessions: 'shared' }),
            // per_client: every session has its own process.
            own: h.fixtureStdio('dynamic-server.mjs'),
          },
          virtual_servers: {
            live: { tools: [{ upstream: 'dyn', prefix: 'd' }] },
            mine: { tools: [{ upstream: 'own', prefix: 'o' }] },
          },
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

  test("a per_client session's own process changing its tools is seen by that session alone", async () => {
    const alice = await h.connect(gw.mcpUrl('mine'));
    const bob = await h.connect(gw.mcpUrl('mine'));
    assert.deepEqual(await h.toolNames(alice), ['o_add-tool', 'o_remove-tool']);
    const baseline = alice.events.count('notifications/tools/list_changed');
    await alice.callTool({ name: 'o_add-tool', arguments: { name: 'private' } });
    await h.waitUntil(() => alice.events.count('notifications/tools/list_changed') > baseline, {
      timeoutMs: 5000,
      what: "notifications/tools/list_changed on the changing session",
    });
    assert.deepEqual(await h.toolNames(alice), ['o_add-tool', 'o_private', 'o_remove-tool']);
    assert.equal(h.text(await alice.callTool({ name: 'o_private', arguments: {} })), 'I am private');
    // Bob's process never changed: he neither hears of nor sees the tool.
    assert.deepEqual(await h.toolNames(bob), ['o_add-tool', 'o_remove-tool']);
    assert.equal(bob.events.count('notifications/tools/list_changed'), 0);
    const err = await h.rejection(bob.callTool({ name: 'o_private', arguments: {} }));
    assert.match(err.message, /Unknown tool: o_private/);
    // Removing it again restores the shared view for Alice too.
    const again = alice.events.count('notifications/tools/list_changed');
    await alice.callTool({ name: 'o_remove-tool', arguments: { name: 'private' } });
    await h.waitUntil(() => alice.events.count('notifications/tools/list_changed') > again, {
      timeoutMs: 5000,
      what: 'the second notifications/tools/list_changed',
    });
    assert.deepEqual(await h.toolNames(alice), ['o_add-tool', 'o_remove-tool']);
    await alice.close();
    await bob.close();
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
