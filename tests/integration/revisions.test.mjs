// Cross-revision traffic through the gateway: clients and upstreams of the
// two protocol revisions in every combination.
//
//   2026-07-28 client -> 2025-11-25 upstream   the upstream's server->client
//       requests (sampling, elicitation) reach the client as input_required
//       results; the client's retry resumes the held upstream call.
//   2025-11-25 client -> 2026-07-28 upstream   the upstream's input_required
//       results reach the client as ordinary server->client requests; the
//       gateway retries upstream with inputResponses + requestState.
//   2026-07-28 client -> 2026-07-28 upstream   input_required passes through
//       (the upstream's own keys, several rounds).
//
// Upstreams: tests/fixtures/conformance-server.mjs (SDK 1.x, 2025-11-25) and
// tests/fixtures/conformance-modern-server.mjs (SDK 2.4.0, 2026-07-28; the
// gateway finds its era itself: upstream `revision` defaults to auto).
// Clients: @modelcontextprotocol/sdk 1.32.2 (2025-11-25),
// @modelcontextprotocol/client 2.4.0 (2026-07-28) and raw fetch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

const REV = h.MODERN_REVISION;
let gw;

const post = (vs, method, params, opts) => h.modernPost(gw.mcpUrl(vs), method, params, opts);
const ALL_CAPS = { sampling: {}, elicitation: {}, roots: {} };

// Client-side answers, recording what was asked.
function answering() {
  const asked = { sampling: [], elicitation: [], roots: 0 };
  const handlers = {
    'sampling/createMessage': async (req) => {
      asked.sampling.push(req.params);
      return { role: 'assistant', content: { type: 'text', text: 'Paris, said the client LLM' }, model: 'it-model', stopReason: 'endTurn' };
    },
    'elicitation/create': async (req) => {
      asked.elicitation.push(req.params);
      return {
        action: 'accept',
        content: { name: 'Ada', color: 'blue', username: 'ada', email: 'ada@example.com', ok: true, context: 'it-context' },
      };
    },
    'roots/list': async () => {
      asked.roots++;
      return { roots: [{ uri: 'file:///tmp/it-revisions-root', name: 'it root' }] };
    },
  };
  return { asked, handlers };
}

// A 2025-11-25 SDK client with sampling, elicitation and roots handlers.
async function legacyClient(vs, capabilities = ALL_CAPS) {
  const { asked, handlers } = answering();
  const { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const client = await h.connect(gw.mcpUrl(vs), {
    name: 'it-2025',
    capabilities,
    setup: (c) => {
      c.setRequestHandler(CreateMessageRequestSchema, handlers['sampling/createMessage']);
      c.setRequestHandler(ElicitRequestSchema, handlers['elicitation/create']);
      c.setRequestHandler(ListRootsRequestSchema, handlers['roots/list']);
    },
  });
  return { client, asked };
}

async function modernClient(vs, capabilities = ALL_CAPS) {
  const { asked, handlers } = answering();
  const client = await h.connectModern(gw.mcpUrl(vs), { capabilities, handlers });
  assert.equal(client.getNegotiatedProtocolVersion(), REV, 'the 2.x client should negotiate 2026-07-28 with the gateway');
  return { client, asked };
}

const elicitAnswer = (content) => ({ action: 'accept', content });

describe('protocol revisions across the gateway', () => {
  before(async () => {
    const dir = h.makeConfigDir({
      servers: {
        revisions: {
          upstreams: {
            legacy: h.fixtureStdio('conformance-server.mjs'),
            modern: h.fixtureStdio('conformance-modern-server.mjs'),
            // One process for every client, so a change to its tools is the
            // catalogue's change too.
            'legacy-shared': h.fixtureStdio('conformance-server.mjs', { sessions: 'shared' }),
            'modern-shared': h.fixtureStdio('conformance-modern-server.mjs', { sessions: 'shared' }),
          },
          virtual_servers: {
            legacy: { tools: [{ upstream: 'legacy' }], resources: [{ upstream: 'legacy' }], prompts: [{ upstream: 'legacy' }] },
            modern: { tools: [{ upstream: 'modern' }], resources: [{ upstream: 'modern' }], prompts: [{ upstream: 'modern' }] },
            'legacy-shared': { tools: [{ upstream: 'legacy-shared' }], prompts: [{ upstream: 'legacy-shared' }] },
            'modern-shared': { tools: [{ upstream: 'modern-shared' }], prompts: [{ upstream: 'modern-shared' }] },
          },
        },
      },
    });
    gw = await h.startGateway(dir);
  });

  after(h.cleanup);

  describe('a 2026-07-28 client and a 2025-11-25 upstream', () => {
    test("the upstream's sampling request is answered by the client's handler (MRTR)", async () => {
      const { client, asked } = await modernClient('legacy');
      const res = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'Capital of France?' } });
      assert.equal(asked.sampling.length, 1, 'the sampling handler runs once');
      assert.equal(asked.sampling[0].messages[0].content.text, 'Capital of France?');
      assert.equal(h.text(res), 'LLM response: Paris, said the client LLM');
    });

    test("the upstream's elicitation is answered by the client's handler (MRTR)", async () => {
      const { client, asked } = await modernClient('legacy');
      const res = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } });
      assert.equal(asked.elicitation.length, 1);
      assert.equal(asked.elicitation[0].message, 'Who are you?');
      assert.deepEqual(asked.elicitation[0].requestedSchema.required, ['username', 'email']);
      const m = /^User response: action=accept, content=(\{.*\})$/.exec(h.text(res));
      assert.ok(m, h.text(res));
      assert.equal(JSON.parse(m[1]).username, 'ada');
      assert.equal(JSON.parse(m[1]).email, 'ada@example.com');
    });

    test('on the wire: input_required, then the retry completes the held call', async () => {
      const ask = { name: 'test_sampling', arguments: { prompt: 'wire' } };
      const first = await post('legacy', 'tools/call', ask, { id: 'r1', caps: { sampling: {} } });
      assert.equal(first.status, 200);
      const r = first.msg.result;
      assert.equal(r?.resultType, 'input_required', JSON.stringify(first.msg));
      const [key, req] = Object.entries(r.inputRequests)[0];
      assert.equal(req.method, 'sampling/createMessage');
      assert.equal(req.params.messages[0].content.text, 'wire');
      assert.equal(typeof r.requestState, 'string');
      const answer = { role: 'assistant', content: { type: 'text', text: 'over the wire' }, model: 'm', stopReason: 'endTurn' };
      const second = await post('legacy', 'tools/call', { ...ask, inputResponses: { [key]: answer }, requestState: r.requestState }, { id: 'r2', caps: { sampling: {} } });
      assert.equal(second.msg.id, 'r2');
      assert.equal(second.msg.result?.resultType, 'complete', JSON.stringify(second.msg));
      assert.equal(h.text(second.msg.result), 'LLM response: over the wire');
    });

    test('a tampered requestState is an error, not a result', async () => {
      const ask = { name: 'test_elicitation', arguments: { message: 'tamper' } };
      const first = await post('legacy', 'tools/call', ask, { caps: { elicitation: {} } });
      const r = first.msg.result;
      assert.equal(r?.resultType, 'input_required', JSON.stringify(first.msg));
      const key = Object.keys(r.inputRequests)[0];
      const flipped = r.requestState.slice(0, 10) + (r.requestState[10] === 'A' ? 'B' : 'A') + r.requestState.slice(11);
      const retry = await post('legacy', 'tools/call', {
        ...ask, inputResponses: { [key]: elicitAnswer({ username: 'x', email: 'y' }) }, requestState: flipped,
      }, { id: 77, caps: { elicitation: {} } });
      assert.equal(retry.msg.id, 77);
      assert.equal(retry.msg.result, undefined, `a tampered requestState produced a result: ${JSON.stringify(retry.msg)}`);
      assert.equal(retry.msg.error?.code, -32602, JSON.stringify(retry.msg));
    });

    test('no elicitation capability: 400/-32021 naming elicitation', async () => {
      const { status, msg } = await post('legacy', 'tools/call', { name: 'test_elicitation', arguments: { message: 'hi' } }, { id: 21, caps: { sampling: {} } });
      assert.equal(status, 400, JSON.stringify(msg));
      assert.equal(msg.id, 21);
      assert.equal(msg.error?.code, -32021, JSON.stringify(msg));
      assert.ok(msg.error.data?.requiredCapabilities?.elicitation, JSON.stringify(msg.error));
      assert.equal(msg.error.data.requiredCapabilities.sampling, undefined);
    });
  });

  describe('a 2025-11-25 client and a 2026-07-28 upstream', () => {
    test('sampling: the input_required result becomes a sampling/createMessage request', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_sampling', arguments: {} });
      assert.equal(asked.sampling.length, 1, `the client was not asked to sample: ${JSON.stringify(res)}`);
      assert.equal(asked.sampling[0].messages[0].content.text, 'What is the capital of France?');
      assert.equal(res.resultType, undefined, 'a 2025-11-25 client never sees resultType');
      assert.equal(h.text(res), 'LLM said: Paris, said the client LLM');
    });

    test('elicitation: the input_required result becomes an elicitation/create request', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
      assert.equal(asked.elicitation.length, 1, `the client was not asked: ${JSON.stringify(res)}`);
      assert.equal(asked.elicitation[0].message, 'What is your name?');
      assert.equal(h.text(res), 'Hello, Ada!');
    });

    test('roots: the input_required result becomes a roots/list request', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_list_roots', arguments: {} });
      assert.equal(asked.roots, 1, `the client was not asked for roots: ${JSON.stringify(res)}`);
      assert.equal(h.text(res), 'Roots: it root <file:///tmp/it-revisions-root>');
    });

    test('three input requests at once, and the sealed requestState goes back upstream', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_multiple_inputs', arguments: {} });
      assert.deepEqual([asked.elicitation.length, asked.sampling.length, asked.roots], [1, 1, 1], JSON.stringify(res));
      assert.equal(h.text(res), 'name: Ada; greeting: Paris, said the client LLM; roots: file:///tmp/it-revisions-root');
    });

    test('several rounds: two elicitations in order, then the result', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
      assert.deepEqual(asked.elicitation.map((p) => p.message), ['Step 1: What is your name?', 'Step 2: What is your favorite color?'], JSON.stringify(res));
      assert.equal(h.text(res), 'Ada likes blue');
    });

    test('prompts/get asks too', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.getPrompt({ name: 'test_input_required_result_prompt', arguments: {} });
      assert.equal(asked.elicitation.length, 1);
      assert.equal(res.messages[0].content.text, 'Use this context: it-context');
    });

    test('the 2025 scenario tools of the modern fixture work as before', async () => {
      const { client, asked } = await legacyClient('modern');
      const res = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Legacy ask' } });
      assert.equal(asked.elicitation[0]?.message, 'Legacy ask', JSON.stringify(res));
      assert.match(h.text(res), /^User response: action=accept, content=\{.*"username":"ada"/);
      assert.equal(h.text(await client.callTool({ name: 'test_simple_text', arguments: {} })), 'This is a simple text response for testing.');
    });
  });

  describe('a 2026-07-28 client and a 2026-07-28 upstream', () => {
    test("input_required passes through: the upstream's keys, three rounds, a fresh requestState each time", async () => {
      const call = { name: 'test_input_required_result_multi_round', arguments: {} };
      const r1 = await post('modern', 'tools/call', call, { id: 1, caps: ALL_CAPS });
      assert.equal(r1.msg.result?.resultType, 'input_required', JSON.stringify(r1.msg));
      assert.deepEqual(Object.keys(r1.msg.result.inputRequests), ['step1'], 'the upstream\'s own key, not a gateway-made one');
      assert.equal(r1.msg.result.inputRequests.step1.params.message, 'Step 1: What is your name?');
      assert.equal(typeof r1.msg.result.requestState, 'string');

      const r2 = await post('modern', 'tools/call', {
        ...call, inputResponses: { step1: elicitAnswer({ name: 'Grace' }) }, requestState: r1.msg.result.requestState,
      }, { id: 2, caps: ALL_CAPS });
      assert.equal(r2.msg.result?.resultType, 'input_required', JSON.stringify(r2.msg));
      assert.deepEqual(Object.keys(r2.msg.result.inputRequests), ['step2']);
      assert.notEqual(r2.msg.result.requestState, r1.msg.result.requestState);

      const r3 = await post('modern', 'tools/call', {
        ...call, inputResponses: { step2: elicitAnswer({ color: 'green' }) }, requestState: r2.msg.result.requestState,
      }, { id: 3, caps: ALL_CAPS });
      assert.equal(r3.msg.id, 3);
      assert.equal(r3.msg.result?.resultType, 'complete', JSON.stringify(r3.msg));
      assert.equal(h.text(r3.msg.result), 'Grace likes green');
    });

    test('the 2.x client drives the rounds itself', async () => {
      const { client, asked } = await modernClient('modern');
      const res = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
      assert.equal(asked.elicitation.length, 2, JSON.stringify(res));
      assert.equal(h.text(res), 'Ada likes blue');
      const many = await client.callTool({ name: 'test_input_required_result_multiple_inputs', arguments: {} });
      assert.equal(h.text(many), 'name: Ada; greeting: Paris, said the client LLM; roots: file:///tmp/it-revisions-root');
    });

    test("a tampered upstream requestState is refused (the upstream's HMAC, or the gateway's)", async () => {
      const call = { name: 'test_input_required_result_tampered_state', arguments: {} };
      const first = await post('modern', 'tools/call', call, { caps: ALL_CAPS });
      assert.equal(first.msg.result?.resultType, 'input_required', JSON.stringify(first.msg));
      const retry = await post('modern', 'tools/call', {
        ...call, inputResponses: { confirm: elicitAnswer({ ok: true }) }, requestState: `${first.msg.result.requestState}-TAMPERED`,
      }, { id: 9, caps: ALL_CAPS });
      assert.equal(retry.msg.result, undefined, `tampered state produced a result: ${JSON.stringify(retry.msg)}`);
      assert.equal(retry.msg.error?.code, -32602, JSON.stringify(retry.msg));
      assert.equal(retry.msg.id, 9);
    });

    test('the upstream sees the client capabilities the client declared', async () => {
      const { msg } = await post('modern', 'tools/call', { name: 'test_input_required_result_capabilities', arguments: {} }, { caps: { sampling: {} } });
      assert.equal(msg.result?.resultType, 'input_required', JSON.stringify(msg));
      assert.deepEqual(Object.values(msg.result.inputRequests).map((r) => r.method), ['sampling/createMessage']);
    });

    test("the upstream's -32021 reaches the client as 400/-32021", async () => {
      const { status, msg } = await post('modern', 'tools/call', { name: 'test_missing_capability', arguments: {} }, { id: 31, caps: {} });
      assert.equal(status, 400, JSON.stringify(msg));
      assert.equal(msg.error?.code, -32021, JSON.stringify(msg));
      assert.deepEqual(msg.error.data?.requiredCapabilities, { sampling: {} });
      assert.equal(msg.id, 31);
    });
  });

  describe('2026-07-28 envelope errors in front of a 2026-07-28 upstream', () => {
    test('no _meta at all: 400/-32602 with the request id', async () => {
      const res = await h.rawPost(gw.mcpUrl('modern'), { jsonrpc: '2.0', id: 'no-meta', method: 'tools/list', params: {} }, {
        'mcp-protocol-version': REV, 'mcp-method': 'tools/list',
      });
      assert.equal(res.status, 400);
      const msg = await h.readRpc(res);
      assert.equal(msg.id, 'no-meta');
      assert.equal(msg.error?.code, -32602, JSON.stringify(msg));
    });

    test('Mcp-Method disagreeing with the body: 400/-32020', async () => {
      const { status, msg } = await post('modern', 'tools/list', {}, { id: 12, headers: { 'mcp-method': 'prompts/list' } });
      assert.equal(status, 400);
      assert.equal(msg.id, 12);
      assert.equal(msg.error?.code, -32020, JSON.stringify(msg));
    });

    test('Mcp-Name disagreeing with params.name: 400/-32020', async () => {
      const { status, msg } = await post('modern', 'tools/call', { name: 'test_simple_text', arguments: {} }, { id: 13, headers: { 'mcp-name': 'test_image_content' } });
      assert.equal(status, 400);
      assert.equal(msg.error?.code, -32020, JSON.stringify(msg));
    });

    test('an unsupported version: 400/-32022 with data.supported and data.requested', async () => {
      const { status, msg } = await post('modern', 'server/discover', {}, {
        id: 14,
        meta: { 'io.modelcontextprotocol/protocolVersion': '2031-01-01' },
        headers: { 'mcp-protocol-version': '2031-01-01' },
      });
      assert.equal(status, 400);
      assert.equal(msg.id, 14);
      assert.equal(msg.error?.code, -32022, JSON.stringify(msg));
      assert.ok(msg.error.data.supported.includes(REV), JSON.stringify(msg.error.data));
      assert.equal(msg.error.data.requested, '2031-01-01');
    });

    test('a removed method (ping): 404/-32601', async () => {
      const { status, msg } = await post('modern', 'ping', {}, { id: 15 });
      assert.equal(status, 404);
      assert.equal(msg.id, 15);
      assert.equal(msg.error?.code, -32601, JSON.stringify(msg));
    });

    test("server/discover describes the gateway's virtual server", async () => {
      const { status, msg } = await post('modern', 'server/discover', {});
      assert.equal(status, 200);
      assert.ok(msg.result.supportedVersions.includes(REV));
      assert.equal(msg.result.resultType, 'complete');
      assert.ok(msg.result.capabilities.tools && msg.result.capabilities.prompts && msg.result.capabilities.resources);
    });
  });

  describe('list changes on subscriptions/listen', () => {
    for (const [vs, era, sessions] of [
      ['legacy-shared', '2025-11-25', 'shared'],
      ['modern-shared', '2026-07-28', 'shared'],
      // Stateless requests to per_client upstreams share one upstream link,
      // so the change made by one sessionless call is the listen stream's too.
      ['legacy', '2025-11-25', 'per_client'],
      ['modern', '2026-07-28', 'per_client'],
    ]) {
      test(`a ${era} upstream's (sessions: ${sessions}) tool change reaches an open listen stream, tagged`, async () => {
        const ac = new AbortController();
        const { body, headers } = h.modernRequest('subscriptions/listen', { notifications: { toolsListChanged: true } }, { id: `listen-${vs}` });
        const res = await h.rawPost(gw.mcpUrl(vs), body, headers, { signal: ac.signal });
        try {
          assert.equal(res.status, 200);
          assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
          const stream = h.sseMessages(res);
          const ack = await stream.next();
          assert.equal(ack?.method, 'notifications/subscriptions/acknowledged', JSON.stringify(ack));
          const trigger = await post(vs, 'tools/call', { name: 'test_trigger_tool_change', arguments: {} });
          assert.equal(trigger.msg.result?.resultType, 'complete', JSON.stringify(trigger.msg));
          const change = await stream.next(8000);
          assert.equal(change?.method, 'notifications/tools/list_changed', `expected tools/list_changed, got ${JSON.stringify(change)}`);
          assert.equal(change.params?._meta?.['io.modelcontextprotocol/subscriptionId'], `listen-${vs}`);
          // And the list the client re-reads has changed.
          const list = await post(vs, 'tools/list', {});
          assert.ok(list.msg.result.tools.some((t) => t.name === 'test_dynamic_tool'), 'test_dynamic_tool appears after the change');
          await post(vs, 'tools/call', { name: 'test_trigger_tool_change', arguments: {} }); // back to how it was
          stream.close();
        } finally {
          ac.abort();
        }
      });
    }
  });
});
