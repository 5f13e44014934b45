// Protocol revision 2026-07-28 downstream: sessionless requests validated
// against their _meta and headers, discovery, listen streams, and the
// translation between a 2026-07-28 client and 2025-11-25 upstreams
// (sampling, elicitation and roots become input_required results).
//
// Clients: the 2.x TypeScript SDK (`@modelcontextprotocol/client`, which
// speaks 2026-07-28 once negotiated) and raw fetch for the wire details.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import * as h from './harness.mjs';

const REV = h.MODERN_REVISION;
let gw;

const modern = h.modernRequest;
const post = (vs, method, params, opts) => h.modernPost(gw.mcpUrl(vs), method, params, opts);

// A 2.x SDK client that negotiates 2026-07-28, answering sampling,
// elicitation and roots, and recording what it was asked.
async function modernClient(vs, { capabilities = { sampling: {}, elicitation: { form: {} }, roots: {} } } = {}) {
  const asked = { sampling: [], elicitation: [], roots: 0 };
  const client = new Client({ name: 'it-2026', version: '1.0.0' }, { capabilities, versionNegotiation: { mode: 'auto' } });
  client.setRequestHandler('sampling/createMessage', async (req) => {
    asked.sampling.push(req.params);
    return { role: 'assistant', content: { type: 'text', text: 'sampled by the 2026 client' }, model: 'it', stopReason: 'endTurn' };
  });
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.elicitation.push(req.params);
    return { action: 'accept', content: { username: 'ada', email: 'ada@example.com', name: 'Ada', check: true } };
  });
  client.setRequestHandler('roots/list', async () => {
    asked.roots++;
    return { roots: [{ uri: 'file:///tmp/it-2026-root', name: 'it root' }] };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.mcpUrl(vs))));
  return { client, asked };
}

describe('protocol 2026-07-28 without sessions', () => {
  before(async () => {
    const dir = h.makeConfigDir({
      servers: {
        modern: {
          upstreams: {
            ev: h.everythingStdio(),
            conf: h.fixtureStdio('conformance-server.mjs'),
            // One process for every client, so a change to its tools is the
            // catalogue's change too.
            one: h.fixtureStdio('conformance-server.mjs', { sessions: 'shared' }),
          },
          virtual_servers: {
            one: { tools: [{ upstream: 'one' }], prompts: [{ upstream: 'one' }] },
            ev: { tools: [{ upstream: 'ev' }], resources: [{ upstream: 'ev' }], prompts: [{ upstream: 'ev' }] },
            conf: { tools: [{ upstream: 'conf' }], resources: [{ upstream: 'conf' }], prompts: [{ upstream: 'conf' }] },
          },
        },
      },
    });
    gw = await h.startGateway(dir);
  });

  after(h.cleanup);

  describe('the envelope', () => {
    test('server/discover names the revision, the capabilities and the server', async () => {
      const { status, msg } = await post('ev', 'server/discover');
      assert.equal(status, 200);
      assert.deepEqual(msg.result.supportedVersions, [REV]);
      assert.ok(msg.result.capabilities.tools);
      assert.equal(msg.result.resultType, 'complete');
      assert.equal(msg.result._meta['io.modelcontextprotocol/serverInfo'].name, 'portcullis/ev');
      assert.ok(Number.isInteger(msg.result.ttlMs) && msg.result.ttlMs >= 0);
      assert.equal(msg.result.cacheScope, 'public');
    });

    test('missing _meta fields are 400/-32602, echoing the request id', async () => {
      for (const drop of ['io.modelcontextprotocol/protocolVersion', 'io.modelcontextprotocol/clientCapabilities']) {
        const { body, headers } = modern('tools/list', {}, { id: 41 });
        delete body.params._meta[drop];
        const res = await h.rawPost(gw.mcpUrl('ev'), body, headers);
        assert.equal(res.status, 400, drop);
        const msg = await h.readRpc(res);
        assert.equal(msg.id, 41);
        assert.equal(msg.error.code, -32602);
        assert.match(msg.error.message, new RegExp(drop.replace('/', '\\/')));
      }
    });

    test('a header that disagrees with the body is 400/-32020', async () => {
      for (const headers of [
        { 'mcp-protocol-version': '2025-11-25' },
        { 'mcp-method': 'prompts/list' },
        { 'mcp-method': 'TOOLS/LIST' },
      ]) {
        const { status, msg } = await post('ev', 'tools/list', {}, { id: 42, headers });
        assert.equal(status, 400, JSON.stringify(headers));
        assert.equal(msg.error.code, -32020, JSON.stringify(headers));
        assert.equal(msg.id, 42);
      }
      const wrongName = await post('ev', 'tools/call', { name: 'echo', arguments: { message: 'x' } }, {
        headers: { 'mcp-name': 'get-sum' },
      });
      assert.equal(wrongName.status, 400);
      assert.equal(wrongName.msg.error.code, -32020);
      // Whitespace around a value and base64 are not disagreements.
      const spaced = await post('ev', 'tools/call', { name: 'echo', arguments: { message: 'x' } }, {
        headers: { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` },
      });
      assert.equal(spaced.status, 200, JSON.stringify(spaced.msg));
    });

    test('an unsupported revision is 400/-32022 listing the supported ones', async () => {
      const { status, msg } = await post('ev', 'tools/list', {}, {
        meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
        headers: { 'mcp-protocol-version': '2099-01-01' },
      });
      assert.equal(status, 400);
      assert.equal(msg.error.code, -32022);
      assert.deepEqual(msg.error.data, { supported: [REV], requested: '2099-01-01' });
    });

    test('methods the revision removed are 404/-32601', async () => {
      for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'no/such/method']) {
        const { status, msg } = await post('ev', method, method === 'resources/subscribe' ? { uri: 'x' } : {});
        assert.equal(status, 404, method);
        assert.equal(msg.error.code, -32601, method);
      }
    });

    test('a 2025-11-25 client on the same endpoint still gets a session', async () => {
      const s = await h.rawSession(gw.mcpUrl('ev'));
      const { msg } = await s.request('tools/list', {});
      assert.ok(msg.result.tools.length > 0);
      assert.equal(msg.result.resultType, undefined);
    });

    test('results carry resultType and caching hints', async () => {
      const list = await post('ev', 'tools/list');
      assert.equal(list.msg.result.resultType, 'complete');
      assert.equal(typeof list.msg.result.ttlMs, 'number');
      const call = await post('ev', 'tools/call', { name: 'echo', arguments: { message: 'hi' } });
      assert.equal(call.msg.result.resultType, 'complete');
      assert.equal(h.text(call.msg.result), 'Echo: hi');
      assert.equal(call.msg.result.ttlMs, undefined); // a call's result is not cacheable
    });
  });

  describe('a 2026-07-28 SDK client and 2025-11-25 upstreams', () => {
    test('it negotiates 2026-07-28 and calls tools', async () => {
      const { client } = await modernClient('ev');
      assert.equal(client.getNegotiatedProtocolVersion(), REV);
      const res = await client.callTool({ name: 'echo', arguments: { message: 'from 2026' } });
      assert.equal(h.text(res), 'Echo: from 2026');
      await client.close();
    });

    test("the upstream's sampling and elicitation reach the client as input requests", async () => {
      const { client, asked } = await modernClient('ev');
      const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hello', maxTokens: 20 } });
      assert.match(h.text(sampled), /sampled by the 2026 client/);
      assert.equal(asked.sampling.length, 1);
      assert.match(asked.sampling[0].messages[0].content.text, /hello/);
      const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      assert.match(h.text(elicited), /Ada|ada/);
      assert.equal(asked.elicitation.length, 1);
      await client.close();
    });

    test('roots travel the same way', async () => {
      const { client, asked } = await modernClient('ev');
      // server-everything asks for roots once it is initialized and answers
      // get-roots-list from what it got back: on a loaded machine the first
      // call can come before that answer, so ask until the roots are there.
      const text = await h.waitUntil(async () => {
        const res = await client.callTool({ name: 'get-roots-list', arguments: {} });
        return /it-2026-root/.test(h.text(res)) ? h.text(res) : null;
      }, { what: 'the upstream holding the client roots' });
      assert.match(text, /it-2026-root/);
      assert.ok(asked.roots >= 1);
      await client.close();
    });
  });

  describe('input_required on the wire', () => {
    const ask = { name: 'test_elicitation', arguments: { message: 'Who are you?' } };
    const caps = { elicitation: {} };

    test('round 1 holds the call and asks; the retry answers and completes', async () => {
      const first = await post('conf', 'tools/call', ask, { caps });
      assert.equal(first.status, 200);
      const r = first.msg.result;
      assert.equal(r.resultType, 'input_required');
      const keys = Object.keys(r.inputRequests);
      assert.deepEqual(keys, ['elicitation-1']);
      assert.equal(r.inputRequests['elicitation-1'].method, 'elicitation/create');
      assert.equal(r.inputRequests['elicitation-1'].params.message, 'Who are you?');
      assert.equal(typeof r.requestState, 'string');

      const answer = { action: 'accept', content: { username: 'grace', email: 'g@example.com' } };
      const second = await post('conf', 'tools/call', { ...ask, inputResponses: { 'elicitation-1': answer }, requestState: r.requestState }, { id: 2, caps });
      assert.equal(second.msg.id, 2);
      assert.equal(second.msg.result.resultType, 'complete');
      assert.match(h.text(second.msg.result), /grace/);

      // The state is single-use: the call it continued has ended.
      const again = await post('conf', 'tools/call', { ...ask, inputResponses: { 'elicitation-1': answer }, requestState: r.requestState }, { id: 3, caps });
      assert.equal(again.msg.error.code, -32602);
    });

    test('an altered requestState, or one for another request, is refused', async () => {
      const first = await post('conf', 'tools/call', ask, { caps });
      const state = first.msg.result.requestState;
      const answers = { 'elicitation-1': { action: 'decline' } };
      const tampered = await post('conf', 'tools/call', { ...ask, inputResponses: answers, requestState: state.slice(0, -4) + 'AAAA' }, { id: 5, caps });
      assert.equal(tampered.msg.error.code, -32602);
      assert.match(tampered.msg.error.message, /integrity/);
      const other = await post('conf', 'tools/call', { ...ask, arguments: { message: 'something else' }, inputResponses: answers, requestState: state }, { id: 6, caps });
      assert.equal(other.msg.error.code, -32602);
      assert.match(other.msg.error.message, /another request/);
      // The genuine continuation still works, and declining is an answer.
      const ok = await post('conf', 'tools/call', { ...ask, inputResponses: answers, requestState: state }, { id: 7, caps });
      assert.equal(ok.msg.result.resultType, 'complete', JSON.stringify(ok.msg));
      assert.match(h.text(ok.msg.result), /decline/);
    });

    test('a client without the capability gets 400/-32021 naming it', async () => {
      const { status, msg } = await post('conf', 'tools/call', ask, { caps: {} });
      assert.equal(status, 400);
      assert.equal(msg.error.code, -32021);
      assert.deepEqual(msg.error.data.requiredCapabilities, { elicitation: {} });
    });

    test('a requestState the gateway did not issue is refused for a 2025-11-25 upstream', async () => {
      const { msg } = await post('conf', 'tools/call', { ...ask, requestState: 'made-up' }, { caps });
      assert.equal(msg.error.code, -32602);
    });
  });

  describe('logging and listen streams', () => {
    test('log messages reach only a request that asked for them', async () => {
      async function frames(meta) {
        const { body, headers } = modern('tools/call', { name: 'test_tool_with_logging', arguments: {} }, { meta });
        const res = await h.rawPost(gw.mcpUrl('conf'), body, headers);
        const text = await res.text();
        return text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)))
          .concat(res.headers.get('content-type').includes('json') ? [JSON.parse(text)] : []);
      }
      const quiet = await frames({});
      assert.equal(quiet.filter((m) => m.method === 'notifications/message').length, 0);
      const chatty = await frames({ 'io.modelcontextprotocol/logLevel': 'debug' });
      assert.ok(chatty.some((m) => m.method === 'notifications/message'), JSON.stringify(chatty));
      assert.ok(chatty.some((m) => m.result));
    });

    test('a listen stream is acknowledged, tagged and filtered', async () => {
      const ac = new AbortController();
      const { body, headers } = modern('subscriptions/listen', { notifications: { toolsListChanged: true } }, { id: 'listen-1' });
      const res = await h.rawPost(gw.mcpUrl('one'), body, headers, { signal: ac.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /text\/event-stream/);
      const stream = h.sseMessages(res);
      const next = () => stream.next(5000);
      const ack = await next();
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
      assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
      assert.deepEqual(ack.params.notifications, { toolsListChanged: true, promptsListChanged: false, resourcesListChanged: false });
      // Change the upstream's prompts (not asked for), then its tools: the
      // gateway re-lists and tells the stream about the tools only.
      const prompts = await post('one', 'tools/call', { name: 'test_trigger_prompt_change', arguments: {} });
      assert.ok(prompts.msg.result, JSON.stringify(prompts.msg));
      const trigger = await post('one', 'tools/call', { name: 'test_trigger_tool_change', arguments: {} });
      assert.ok(trigger.msg.result, JSON.stringify(trigger.msg));
      const change = await next();
      assert.equal(change.method, 'notifications/tools/list_changed');
      assert.equal(change.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
      ac.abort();
    });
  });
});
