// MCP features relayed through a virtual server: resources (list, read,
// templates, subscribe), prompts, completion, logging, progress, sampling,
// elicitation, roots, ping and cancellation; and isolation between two
// clients of the same virtual server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';

let gw;
let main; // the capable client most tests share

describe('features relayed through a virtual server', () => {
  before(async () => {
    const dir = h.makeConfigDir({
      servers: {
        features: {
          upstreams: { ev: h.everythingStdio() },
          virtual_servers: {
            feat: {
              tools: [{ upstream: 'ev' }],
              resources: [{ upstream: 'ev' }],
              prompts: [{ upstream: 'ev' }],
            },
          },
        },
      },
    });
    gw = await h.startGateway(dir);
    main = await capableClient();
  });

  after(h.cleanup);

  // A client that can answer sampling, elicitation and roots requests, and
  // records every request it was asked.
  async function capableClient({ transport = 'http', name = 'capable', withRoots = true } = {}) {
    const roots = [{ uri: 'file:///tmp/portcullis-it-root', name: 'IT root' }];
    const asked = { sampling: [], elicitation: [], roots: 0 };
    const state = { roots };
    const client = await h.connect(transport === 'sse' ? gw.sseUrl('feat') : gw.mcpUrl('feat'), {
      transport,
      name,
      capabilities: { sampling: {}, elicitation: { form: {} }, ...(withRoots ? { roots: { listChanged: true } } : {}) },
      setup(c) {
        c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
          asked.sampling.push(req.params);
          return { model: 'stub-model', role: 'assistant', content: { type: 'text', text: `stub answer from ${name}` } };
        });
        c.setRequestHandler(ElicitRequestSchema, async (req) => {
          asked.elicitation.push(req.params);
          return { action: 'accept', content: { name: 'Ada Lovelace', check: true } };
        });
        if (withRoots) {
          c.setRequestHandler(ListRootsRequestSchema, async () => {
            asked.roots++;
            return { roots: state.roots };
          });
        }
      },
    });
    return { client, asked, state };
  }


  describe('tools', () => {
    test('tools that depend on client capabilities are offered to a capable client', async () => {
      const names = await h.toolNames(main.client);
      for (const n of ['echo', 'get-roots-list', 'trigger-elicitation-request', 'trigger-long-running-operation', 'trigger-sampling-request']) {
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      }
    });

    test('ping is answered', async () => {
      assert.deepEqual(await main.client.ping(), {});
    });
  });

  describe('resources', () => {
    test('resources/list and resources/read of a static resource', async () => {
      const { items } = await h.listAll((p) => main.client.listResources(p), 'resources');
      const uri = 'demo://resource/static/document/features.md';
      const listed = items.find((r) => r.uri === uri);
      assert.ok(listed, `${uri} listed`);
      assert.equal(listed.mimeType, 'text/markdown');
      const res = await main.client.readResource({ uri });
      assert.equal(res.contents.length, 1);
      assert.equal(res.contents[0].uri, uri);
      assert.equal(res.contents[0].mimeType, 'text/markdown');
      assert.ok(res.contents[0].text.length > 100);
    });

    test('resources/templates/list and reading a URI that only a template matches', async () => {
      const { items } = await h.listAll((p) => main.client.listResourceTemplates(p), 'resourceTemplates');
      const templates = items.map((t) => t.uriTemplate).sort();
      assert.deepEqual(templates, ['demo://resource/dynamic/blob/{resourceId}', 'demo://resource/dynamic/text/{resourceId}']);
      const res = await main.client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      assert.equal(res.contents[0].uri, 'demo://resource/dynamic/text/7');
      assert.match(res.contents[0].text, /^Resource 7: This is a plaintext resource/);
    });

    test('resources/subscribe delivers notifications/resources/updated', async () => {
      const uri = 'demo://resource/dynamic/text/1';
      assert.deepEqual(await main.client.subscribeResource({ uri }), {});
      // server-everything sends updates for subscribed URIs once this is on.
      await main.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      try {
        const note = await main.client.events.waitFor('notifications/resources/updated', (n) => n.params.uri === uri, 8000);
        assert.equal(note.params.uri, uri);
      } finally {
        await main.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
        await main.client.unsubscribeResource({ uri });
      }
    });
  });

  describe('prompts and completion', () => {
    test('prompts/list shows the upstream prompts unprefixed (single upstream)', async () => {
      const { items } = await h.listAll((p) => main.client.listPrompts(p), 'prompts');
      assert.deepEqual(items.map((p) => p.name).sort(), ['args-prompt', 'completable-prompt', 'resource-prompt', 'simple-prompt']);
      const args = items.find((p) => p.name === 'args-prompt');
      assert.deepEqual(args.arguments.map((a) => [a.name, !!a.required]), [['city', true], ['state', false]]);
    });

    test('prompts/get passes arguments through', async () => {
      const res = await main.client.getPrompt({ name: 'args-prompt', arguments: { city: 'Paris', state: 'Texas' } });
      assert.equal(res.messages.length, 1);
      assert.equal(res.messages[0].content.text, "What's weather in Paris, Texas?");
      const embedded = await main.client.getPrompt({ name: 'resource-prompt', arguments: { resourceType: 'Text', resourceId: '3' } });
      assert.equal(embedded.messages[1].content.type, 'resource');
      assert.equal(embedded.messages[1].content.resource.uri, 'demo://resource/dynamic/text/3');
    });

    test('completion/complete for a prompt argument, with and without context', async () => {
      const dept = await main.client.complete({
        ref: { type: 'ref/prompt', name: 'completable-prompt' },
        argument: { name: 'department', value: 'S' },
      });
      assert.deepEqual(dept.completion.values, ['Sales', 'Support']);
      const people = await main.client.complete({
        ref: { type: 'ref/prompt', name: 'completable-prompt' },
        argument: { name: 'name', value: '' },
        context: { arguments: { department: 'Engineering' } },
      });
      assert.deepEqual(people.completion.values, ['Alice', 'Bob', 'Charlie']);
    });

    test('completion/complete for a resource template variable', async () => {
      const res = await main.client.complete({
        ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
        argument: { name: 'resourceId', value: '5' },
      });
      assert.deepEqual(res.completion.values, ['5']);
    });
  });

  describe('logging and progress', () => {
    test('logging/setLevel is accepted and notifications/message arrive', async () => {
      assert.deepEqual(await main.client.setLoggingLevel('debug'), {});
      const baseline = main.client.events.notes.length;
      await main.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      try {
        const isSimulated = (n) => main.client.events.notes.indexOf(n) >= baseline && /level[- ]message/i.test(String(n.params.data));
        const note = await main.client.events.waitFor('notifications/message', isSimulated, 8000);
        assert.ok(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'].includes(note.params.level));
      } finally {
        await main.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      }
    });

    test('progress notifications reach onprogress, in order, before the result', async () => {
      const progress = [];
      const res = await main.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      assert.match(h.text(res), /Long running operation completed. Duration: 1 seconds, Steps: 4\./);
      assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3, 4]);
      for (const p of progress) assert.equal(p.total, 4);
    });
  });

  describe('server-to-client requests', () => {
    test('sampling/createMessage is relayed to the client and its answer back', async () => {
      const res = await main.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hello gateway', maxTokens: 20 } });
      assert.equal(main.asked.sampling.length, 1);
      const req = main.asked.sampling[0];
      assert.equal(req.maxTokens, 20);
      assert.match(req.messages[0].content.text, /hello gateway/);
      assert.match(h.text(res), /stub answer from capable/);
      assert.match(h.text(res), /stub-model/);
    });

    test('elicitation/create is relayed to the client and its answer back', async () => {
      const res = await main.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      assert.equal(main.asked.elicitation.length, 1);
      assert.equal(main.asked.elicitation[0].message, 'Please provide inputs for the following fields:');
      assert.deepEqual(main.asked.elicitation[0].requestedSchema.required, ['name']);
      assert.match(h.text(res), /User provided the requested information/);
      assert.match(h.text(res), /- Name: Ada Lovelace/);
    });

    test('roots/list is answered by the client, including after roots/list_changed', async () => {
      const first = await main.client.callTool({ name: 'get-roots-list', arguments: {} });
      assert.match(h.text(first), /Current MCP Roots \(1 total\)/);
      assert.match(h.text(first), /file:\/\/\/tmp\/portcullis-it-root/);
      main.state.roots = [
        { uri: 'file:///tmp/portcullis-it-root', name: 'IT root' },
        { uri: 'file:///tmp/portcullis-it-second', name: 'Second' },
      ];
      const asked = main.asked.roots;
      await main.client.sendRootsListChanged();
      await h.waitUntil(() => main.asked.roots > asked, { what: 'a roots/list request after list_changed' });
      const second = await h.waitUntil(async () => {
        const r = await main.client.callTool({ name: 'get-roots-list', arguments: {} });
        return /\(2 total\)/.test(h.text(r)) && r;
      }, { what: 'get-roots-list to show 2 roots' });
      assert.match(h.text(second), /file:\/\/\/tmp\/portcullis-it-second/);
    });
  });

  describe('cancellation', () => {
    test('aborting a long call rejects it promptly and the session keeps working', async () => {
      const ac = new AbortController();
      const started = Date.now();
      const call = main.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } },
        undefined,
        { signal: ac.signal },
      );
      setTimeout(() => ac.abort('test cancels'), 500);
      await h.rejection(call);
      assert.ok(Date.now() - started < 3000, 'rejected within 3 s');
      const res = await main.client.callTool({ name: 'echo', arguments: { message: 'after cancel' } });
      assert.equal(h.text(res), 'Echo: after cancel');
    });
  });

  describe('isolation between two clients of one virtual server', () => {
    test("client B never receives client A's sampling requests, log messages or progress", async () => {
      const a = await capableClient({ name: 'client-a' });
      // B declares no roots, so its own upstream session has no reason to log.
      const b = await capableClient({ name: 'client-b', transport: 'sse', withRoots: false });
      const bBaseline = b.client.events.notes.length;

      await a.client.setLoggingLevel('debug');
      await a.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      const progress = [];
      await Promise.all([
        a.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'for A only' } }),
        a.client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
          undefined,
          { onprogress: (p) => progress.push(p) },
        ),
      ]);
      await a.client.events.waitFor('notifications/message', (n) => /level[- ]message/i.test(String(n.params.data)), 8000);
      await a.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      await sleep(500);

      assert.equal(a.asked.sampling.length, 1);
      assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
      assert.equal(b.asked.sampling.length, 0, 'B was never asked to sample');
      assert.equal(b.asked.elicitation.length, 0);
      const leaked = b.client.events.notes.slice(bBaseline).filter((n) => ['notifications/message', 'notifications/progress'].includes(n.method));
      assert.deepEqual(leaked, [], 'B got no log messages or progress');
      assert.deepEqual(b.client.events.errors.map(String), [], 'B saw no stray protocol traffic');

      // B still works on its own.
      const res = await b.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'for B' } });
      assert.match(h.text(res), /stub answer from client-b/);
      assert.equal(a.asked.sampling.length, 1, 'A was not asked for B');
      await h.closeClient(a.client);
      await h.closeClient(b.client);
    });
  });
});
