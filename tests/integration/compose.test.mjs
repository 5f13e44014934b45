// Composition: one virtual server built from server-everything three times
// (stdio, legacy SSE, Streamable HTTP), server-memory, server-filesystem and
// a fixture with illegal tool names; exposed names, filters, renames,
// description overrides, fixed arguments, long names and pagination.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { McpError } from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';

const LONG_PREFIX = 'prefix-that-makes-names-too-long-for-mcp'; // 40 characters, the longest prefix allowed
const EVERYTHING_PROMPTS = ['args-prompt', 'completable-prompt', 'resource-prompt', 'simple-prompt'];
const LEGAL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

// The documented shortening (src/compose/naming.h): first 55 characters,
// '_', then 8 hex digits of the SHA-256 of the full desired name.
const shortened = (desired) =>
  desired.length <= 64 ? desired : `${desired.slice(0, 55)}_${crypto.createHash('sha256').update(desired).digest('hex').slice(0, 8)}`;

let gw;
let dir;
let all; // client of virtual server `all`

describe('composition', () => {
  before(async () => {
    const [sse, http] = await Promise.all([h.startEverything('sse'), h.startEverything('streamableHttp')]);
    dir = h.makeConfigDir({ files: { 'sandbox/hello.txt': 'hello from the sandbox\n' } });
    h.writeServers(dir, 'compose', {
      upstreams: {
        'ev-stdio': h.everythingStdio(),
        'ev-sse': { transport: 'sse', url: sse.url },
        'ev-http': { transport: 'streamable-http', url: http.url, headers: { 'X-Team': 'platform' } },
        memory: {
          transport: 'stdio',
          command: h.bin('mcp-server-memory'),
          env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') },
        },
        // A relative path: stdio upstreams run with cwd = the config dir.
        files: { transport: 'stdio', command: h.bin('mcp-server-filesystem'), args: ['sandbox'] },
        odd: h.fixtureStdio('odd-names-server.mjs'),
      },
      virtual_servers: {
        all: {
          tools: [
            {
              upstream: 'ev-stdio',
              include: ['echo', 'get-*'],
              exclude: ['get-env', 'get-resource-*', 'get-roots-list'],
              prefix: 'ev',
              rename: { 'get-sum': 'add' },
              describe: { echo: 'Echo, via stdio' },
              fixed: { 'get-sum': { a: 1 } },
            },
            { upstream: 'ev-sse', include: ['echo', 'get-sum'] },
            { upstream: 'ev-http', include: ['echo'], prefix: '' },
            { upstream: 'memory', exclude: ['delete_*', '*_observations', '*_relations'] },
            { upstream: 'files', include: ['list_*', 'read_text_file'] },
            { upstream: 'odd' },
          ],
          resources: [{ upstream: 'ev-http' }],
          prompts: [{ upstream: 'ev-stdio' }, { upstream: 'ev-http' }],
        },
        long: {
          tools: [{ upstream: 'ev-stdio', include: ['echo', 'get-resource-reference', 'toggle-*', 'trigger-long-running-operation'], prefix: LONG_PREFIX }],
        },
        flat: { tools: [{ upstream: 'ev-stdio' }] },
        paged: { page_size: 3, tools: [{ upstream: 'ev-stdio' }] },
      },
    });
    gw = await h.startGateway(dir);
    all = await h.connect(gw.mcpUrl('all'));
  });

  after(h.cleanup);

  describe('tools/list of a composed virtual server', () => {
    test('shows exactly the selected tools under their exposed names', async () => {
      assert.deepEqual(await h.toolNames(all), [
        // ev-stdio: include/exclude globs, explicit prefix "ev", get-sum renamed
        'add',
        'ev_echo',
        'ev_get-annotated-message',
        'ev_get-structured-content',
        'ev_get-tiny-image',
        // ev-sse: no prefix set and several upstreams, so "<upstream>_"
        'ev-sse_echo',
        'ev-sse_get-sum',
        // ev-http: prefix "" disables prefixing
        'echo',
        // memory: exclude globs only
        'memory_create_entities',
        'memory_open_nodes',
        'memory_read_graph',
        'memory_search_nodes',
        // files
        'files_list_allowed_directories',
        'files_list_directory',
        'files_list_directory_with_sizes',
        'files_read_text_file',
        // odd: illegal characters become '_'
        'odd_ok_tool',
        'odd_say_hello_v1_0',
      ].sort());
    });

    test('every exposed name is a legal MCP tool name', async () => {
      for (const name of await h.toolNames(all)) assert.match(name, LEGAL_NAME);
    });

    test('a describe override replaces the description; other tools keep theirs', async () => {
      const { tools } = await all.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      assert.equal(byName.ev_echo.description, 'Echo, via stdio');
      assert.equal(byName['ev-sse_echo'].description, 'Echoes back the input string');
      assert.equal(byName.echo.description, 'Echoes back the input string');
    });

    test('fixed arguments are removed from inputSchema.properties and required', async () => {
      const { tools } = await all.listTools();
      const add = tools.find((t) => t.name === 'add');
      assert.ok(add, 'tool add is listed');
      assert.deepEqual(Object.keys(add.inputSchema.properties), ['b']);
      assert.deepEqual(add.inputSchema.required, ['b']);
      // The same upstream tool without fixed arguments keeps both.
      const sum = tools.find((t) => t.name === 'ev-sse_get-sum');
      assert.deepEqual(Object.keys(sum.inputSchema.properties).sort(), ['a', 'b']);
      assert.deepEqual([...sum.inputSchema.required].sort(), ['a', 'b']);
    });
  });

  describe('tools/call through a composed virtual server', () => {
    test('a renamed tool with a fixed argument gets the fixed value injected', async () => {
      const res = await all.callTool({ name: 'add', arguments: { b: 2 } });
      assert.equal(res.isError, undefined);
      assert.match(h.text(res), /The sum of 1 and 2 is 3\./);
    });

    test('a fixed argument wins over a value the caller sends', async () => {
      const res = await all.callTool({ name: 'add', arguments: { a: 100, b: 2 } });
      assert.match(h.text(res), /The sum of 1 and 2 is 3\./);
    });

    test('the same server reached over stdio, SSE and Streamable HTTP answers each call', async () => {
      for (const [name, message] of [['ev_echo', 'via stdio'], ['ev-sse_echo', 'via sse'], ['echo', 'via streamable http']]) {
        const res = await all.callTool({ name, arguments: { message } });
        assert.equal(h.text(res), `Echo: ${message}`, name);
      }
      const res = await all.callTool({ name: 'ev-sse_get-sum', arguments: { a: 20, b: 22 } });
      assert.match(h.text(res), /is 42\./);
    });

    test('server-memory stores and reads back an entity', async () => {
      await all.callTool({
        name: 'memory_create_entities',
        arguments: { entities: [{ name: 'Portcullis', entityType: 'project', observations: ['is an MCP gateway'] }] },
      });
      const res = await all.callTool({ name: 'memory_read_graph', arguments: {} });
      assert.match(h.text(res), /Portcullis/);
      assert.match(h.text(res), /is an MCP gateway/);
    });

    test('server-filesystem is rooted at the relative sandbox directory', async () => {
      const sandbox = fs.realpathSync(path.join(dir, 'sandbox'));
      const allowed = await all.callTool({ name: 'files_list_allowed_directories', arguments: {} });
      assert.match(h.text(allowed), new RegExp(sandbox.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      const res = await all.callTool({ name: 'files_read_text_file', arguments: { path: path.join(sandbox, 'hello.txt') } });
      assert.equal(h.text(res).trim(), 'hello from the sandbox');
    });

    test('a tool whose upstream name had illegal characters is callable by its legal name', async () => {
      const res = await all.callTool({ name: 'odd_say_hello_v1_0', arguments: {} });
      assert.equal(h.text(res), 'hello from an odd name');
    });

    test('an excluded tool cannot be called', async () => {
      const err = await h.rejection(all.callTool({ name: 'ev_get-env', arguments: {} }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.match(err.message, /ev_get-env/);
    });

    test('a legacy SSE client sees the same tools and can call them', async () => {
      const client = await h.connect(gw.sseUrl('all'), { transport: 'sse' });
      assert.deepEqual(await h.toolNames(client), await h.toolNames(all));
      assert.match(h.text(await client.callTool({ name: 'add', arguments: { b: 41 } })), /is 42\./);
      await h.closeClient(client);
    });
  });

  describe('prompts and resources of a composed virtual server', () => {
    test('prompts of two upstreams are prefixed with the upstream name', async () => {
      const { items } = await h.listAll((p) => all.listPrompts(p), 'prompts');
      const expected = ['ev-stdio', 'ev-http'].flatMap((u) => EVERYTHING_PROMPTS.map((p) => `${u}_${p}`));
      assert.deepEqual(items.map((p) => p.name).sort(), expected.sort());
    });

    test('prompts/get routes a prefixed prompt with its arguments', async () => {
      const res = await all.getPrompt({ name: 'ev-http_args-prompt', arguments: { city: 'Paris' } });
      assert.equal(res.messages[0].content.text, "What's weather in Paris?");
    });

    test('resources of the selected upstream are listed and readable', async () => {
      const { items } = await h.listAll((p) => all.listResources(p), 'resources');
      const uri = 'demo://resource/static/document/features.md';
      assert.ok(items.some((r) => r.uri === uri), `${uri} listed`);
      const res = await all.readResource({ uri });
      assert.equal(res.contents[0].uri, uri);
      assert.ok(res.contents[0].text.length > 0);
    });
  });

  describe('long names', () => {
    test('names over 64 characters are shortened to legal, distinct, stable names', async () => {
      const client = await h.connect(gw.mcpUrl('long'));
      const names = await h.toolNames(client);
      const expected = ['echo', 'get-resource-reference', 'toggle-simulated-logging', 'toggle-subscriber-updates', 'trigger-long-running-operation']
        .map((t) => shortened(`${LONG_PREFIX}_${t}`))
        .sort();
      assert.deepEqual(names, expected);
      assert.ok(names.includes(`${LONG_PREFIX}_get-resource-reference`), 'a 63-character name is kept as is');
      assert.equal(names.filter((n) => n.length === 64).length, 3, 'three names were shortened to 64 characters');
      for (const n of names) assert.match(n, LEGAL_NAME);
      assert.equal(new Set(names).size, names.length, 'no duplicates');
      // Another session sees the same names.
      const other = await h.connect(gw.mcpUrl('long'));
      assert.deepEqual(await h.toolNames(other), names);
      await h.closeClient(other);
      await h.closeClient(client);
    });

    test('a shortened tool is callable', async () => {
      const client = await h.connect(gw.mcpUrl('long'));
      const name = shortened(`${LONG_PREFIX}_trigger-long-running-operation`);
      assert.ok(name.length <= 64);
      const res = await client.callTool({ name, arguments: { duration: 0.2, steps: 1 } });
      assert.match(h.text(res), /Long running operation completed/);
      await h.closeClient(client);
    });
  });

  describe('pagination', () => {
    test('page_size 3 splits tools/list into pages that add up to the full list', async () => {
      const flat = await h.connect(gw.mcpUrl('flat'));
      const paged = await h.connect(gw.mcpUrl('paged'));
      const full = (await flat.listTools()).tools.map((t) => t.name).sort();
      const { items, pages } = await h.listAll((p) => paged.listTools(p), 'tools');
      const names = items.map((t) => t.name);
      assert.ok(full.length > 6, `flat lists ${full.length} tools`);
      assert.equal(pages.length, Math.ceil(full.length / 3));
      for (const page of pages.slice(0, -1)) assert.equal(page.length, 3);
      assert.ok(pages.at(-1).length >= 1 && pages.at(-1).length <= 3);
      assert.equal(new Set(names).size, names.length, 'no tool appears twice');
      assert.deepEqual(names.sort(), full);
      await h.closeClient(flat);
      await h.closeClient(paged);
    });

    test('an invalid cursor is rejected with -32602', async () => {
      const paged = await h.connect(gw.mcpUrl('paged'));
      const err = await h.rejection(paged.listTools({ cursor: 'not-a-cursor' }));
      assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
      assert.equal(err.code, -32602);
      await h.closeClient(paged);
    });
  });
});
