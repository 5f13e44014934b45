// Cancellation in both directions, seen from the upstream's side and the
// client's: a timed-out call and an aborted call are cancelled upstream with
// notifications/cancelled, and an upstream that withdraws its own request
// (here an elicitation) has that withdrawal reach the client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';

describe('cancellation', () => {
  let gw;
  let client;
  const elicitations = [];

  before(async () => {
    const dir = h.makeConfigDir({
      servers: {
        main: {
          upstreams: { c: h.fixtureStdio('cancel-server.mjs', { timeout: '1s' }) },
          virtual_servers: { cx: { tools: [{ upstream: 'c' }] } },
        },
      },
    });
    gw = await h.startGateway(dir);
    client = await h.connect(gw.mcpUrl('cx'), {
      capabilities: { elicitation: {} },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, (req, extra) => {
          // Never answers; records whether the upstream withdrew the request.
          const seen = { aborted: false };
          elicitations.push(seen);
          return new Promise((resolve) => {
            extra.signal.addEventListener('abort', () => {
              seen.aborted = true;
              resolve({ action: 'cancel' });
            });
          });
        }),
    });
  });

  after(h.cleanup);

  const reasons = async () => h.text(await client.callTool({ name: 'cancellations', arguments: {} })).split('\n').filter(Boolean);

  test('a call that times out is cancelled upstream with the timeout as its reason', async () => {
    const err = await h.rejection(client.callTool({ name: 'wait', arguments: {} }));
    assert.equal(err.code, -32002);
    await h.waitUntil(async () => (await reasons()).length === 1, { timeoutMs: 3000, what: 'the upstream to see the cancellation' });
    assert.match((await reasons())[0], /timeout after 1s/);
  });

  test('a call the client aborts is cancelled upstream', async () => {
    const abort = new AbortController();
    const call = h.rejection(client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: abort.signal }));
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    await call;
    await h.waitUntil(async () => (await reasons()).length === 2, { timeoutMs: 3000, what: 'the upstream to see the abort' });
    assert.match((await reasons())[1], /cancelled by the client/);
  });

  test("an upstream's withdrawn elicitation is withdrawn at the client too", async () => {
    const result = await client.callTool({ name: 'ask-briefly', arguments: {} });
    assert.equal(h.text(result), 'withdrawn');
    assert.equal(elicitations.length, 1, 'the client was asked once');
    await h.waitUntil(() => elicitations[0].aborted, { timeoutMs: 3000, what: 'the client to see notifications/cancelled' });
  });
});
