// `portcullis connect`: the stdio bridge that lets stdio-only MCP clients
// (Claude Desktop) use a running gateway. Driven by the official SDK stdio
// client, and by raw stdin/stdout where the SDK would hide the bytes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';

const LATEST = '2025-11-25';
const config = () =>
  h.makeConfigDir({
    servers: {
      bridge: {
        upstreams: { ev: h.everythingStdio() },
        virtual_servers: { vs: { tools: [{ upstream: 'ev' }] } },
      },
    },
  });

// Bridges and SDK clients started here; killed by stopAll().
const bridges = new Set();
const sdkClients = new Set();

async function stopAll() {
  await Promise.all([...sdkClients].map((c) => Promise.race([c.close().catch(() => {}), sleep(3000)])));
  for (const b of bridges) {
    if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  }
}

// An SDK client speaking MCP over stdio to `portcullis connect vs --url URL`.
async function sdkClient(url, { capabilities = {}, setup } = {}) {
  const transport = new StdioClientTransport({
    command: h.PORTCULLIS,
    args: ['connect', 'vs', '--url', url],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr.on('data', (c) => (stderr += c));
  const client = new Client({ name: 'bridge-it', version: '1.0.0' }, { capabilities });
  if (setup) setup(client);
  await client.connect(transport);
  sdkClients.add(client);
  return { client, transport, stderr: () => stderr };
}

// `portcullis connect` with raw pipes: every stdout line is parsed (and must
// be JSON-RPC), requests can be awaited by id.
function rawBridge(args) {
  const proc = spawn(h.PORTCULLIS, ['connect', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const b = { proc, messages: [], nonJson: [], stderr: '', waiters: [], nextId: 1 };
  bridges.add(b);
  let buf = '';
  proc.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        b.nonJson.push(line);
        continue;
      }
      b.messages.push(msg);
      for (const w of [...b.waiters]) {
        if (w.pred(msg)) {
          b.waiters.splice(b.waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
    }
  });
  proc.stderr.on('data', (c) => (b.stderr += c));
  proc.stdin.on('error', () => {});
  b.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  b.write = (text) => proc.stdin.write(text);
  b.send = (msg) => b.write(`${JSON.stringify(msg)}\n`);
  b.waitFor = (pred, what, timeoutMs = 10000) => {
    const seen = b.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      b.waiters.push(w);
      setTimeout(() => {
        const i = b.waiters.indexOf(w);
        if (i < 0) return;
        b.waiters.splice(i, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms; stdout: ${JSON.stringify(b.messages).slice(0, 1000)}; stderr: ${b.stderr}`));
      }, timeoutMs);
    });
  };
  // Sends a request and resolves with its response.
  b.request = (method, params = {}, timeoutMs) => {
    const id = b.nextId++;
    b.send({ jsonrpc: '2.0', id, method, params });
    return b.waitFor((m) => m.id === id && !('method' in m), `response to ${method} (id ${id})`, timeoutMs);
  };
  b.initialize = async () => {
    const res = await b.request('initialize', {
      protocolVersion: LATEST,
      capabilities: {},
      clientInfo: { name: 'raw-bridge-it', version: '1.0.0' },
    });
    if (res.result) b.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return res;
  };
  return b;
}

async function sessionCount(gw) {
  const res = await fetch(`${gw.base}/healthz`);
  return (await res.json()).sessions;
}

// `portcullis serve` on a chosen port (startGateway picks its own).
async function serveOn(dir, port) {
  const proc = h.spawnTracked(h.PORTCULLIS, ['serve', '--config', dir, '--listen', `127.0.0.1:${port}`], { name: 'portcullis' });
  const base = `http://127.0.0.1:${port}`;
  await h.waitUntil(async () => (await fetch(`${base}/healthz`)).status === 200, {
    timeoutMs: 20000,
    what: `GET ${base}/healthz`,
  });
  return { proc, base, stop: () => h.stopProcess(proc) };
}

describe('portcullis connect (stdio bridge)', () => {
  let gw;

  before(async () => {
    gw = await h.startGateway(config());
  });

  after(async () => {
    await stopAll();
    await h.cleanup();
  });

  describe('through the official SDK stdio client', () => {
    let main; // a client that answers sampling, elicitation and roots
    const asked = { sampling: [], elicitation: [], roots: 0 };

    before(async () => {
      main = await sdkClient(gw.mcpUrl('vs'), {
        capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: false } },
        setup(c) {
          c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
            asked.sampling.push(req.params);
            return { model: 'stub-model', role: 'assistant', content: { type: 'text', text: 'stub answer via stdio' } };
          });
          c.setRequestHandler(ElicitRequestSchema, async (req) => {
            asked.elicitation.push(req.params);
            return { action: 'accept', content: { name: 'Grace Hopper', check: true } };
          });
          c.setRequestHandler(ListRootsRequestSchema, async () => {
            asked.roots++;
            return { roots: [{ uri: 'file:///tmp/bridge-it-root', name: 'bridge root' }] };
          });
        },
      });
    });

    test('initialize through the bridge reaches the virtual server', () => {
      assert.equal(main.client.getServerVersion().name, 'portcullis/vs');
      assert.deepEqual(main.client.getServerCapabilities().tools, { listChanged: true });
    });

    test('tools are listed and called through the bridge', async () => {
      const names = await h.toolNames(main.client);
      for (const n of ['echo', 'trigger-long-running-operation', 'trigger-sampling-request']) {
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      }
      const res = await main.client.callTool({ name: 'echo', arguments: { message: 'over stdio' } });
      assert.equal(h.text(res), 'Echo: over stdio');
    });

    test('a sampling request from the server is answered by the stdio client', async () => {
      const res = await main.client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hello bridge', maxTokens: 17 },
      });
      assert.equal(asked.sampling.length, 1);
      assert.equal(asked.sampling[0].maxTokens, 17);
      assert.match(asked.sampling[0].messages[0].content.text, /hello bridge/);
      assert.match(h.text(res), /stub answer via stdio/);
      assert.match(h.text(res), /stub-model/);
    });

    test('an elicitation request from the server is answered by the stdio client', async () => {
      const res = await main.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      assert.equal(asked.elicitation.length, 1);
      assert.match(h.text(res), /- Name: Grace Hopper/);
    });

    test('roots/list, asked on the GET stream, is answered by the stdio client', async () => {
      const res = await main.client.callTool({ name: 'get-roots-list', arguments: {} });
      assert.equal(asked.roots, 1);
      assert.match(h.text(res), /Current MCP Roots \(1 total\)/);
      assert.match(h.text(res), /file:\/\/\/tmp\/bridge-it-root/);
    });

    test('progress notifications arrive in order before the result', async () => {
      const progress = [];
      const res = await main.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      assert.match(h.text(res), /Long running operation completed. Duration: 1 seconds, Steps: 4\./);
      // The SDK runs notification handlers a microtask late but drops a
      // request's progress handler as soon as its response is read: when the
      // last progress and the result arrive in one stdout chunk (as they do
      // from any stdio server that sends them back to back), the SDK loses
      // that last progress. The raw test below checks all four on the wire.
      assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3, 4].slice(0, progress.length));
      assert.ok(progress.length >= 3, `got ${progress.length} progress notifications`);
      for (const p of progress) assert.equal(p.total, 4);
    });

    test('closing the SDK client ends the bridge with code 0 and its gateway session', async () => {
      const c = await sdkClient(gw.mcpUrl('vs'));
      const before = await sessionCount(gw);
      const proc = c.transport._process;
      const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
      sdkClients.delete(c.client);
      await c.client.close();
      assert.deepEqual(await exited, { code: 0, signal: null });
      assert.equal(await sessionCount(gw), before - 1);
      assert.equal(c.stderr(), '');
    });
  });

  describe('raw stdin/stdout', () => {
    test('a malformed line is answered with -32700 and the bridge keeps serving', async () => {
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      b.write('{"jsonrpc":"2.0","id":1,"method":\n');
      const err = await b.waitFor((m) => m.error, 'parse error');
      assert.deepEqual(err, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: invalid JSON' } });
      const init = await b.initialize();
      assert.equal(init.result.serverInfo.name, 'portcullis/vs');
      const list = await b.request('tools/list');
      assert.ok(list.result.tools.some((t) => t.name === 'echo'));
      assert.deepEqual(b.nonJson, []);
      assert.match(b.stderr, /stdin: not a JSON-RPC message \(invalid JSON\)/);
    });

    test('progress notifications are written in order, each on its own line, before the result', async () => {
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      await b.initialize();
      const res = await b.request('tools/call', {
        name: 'trigger-long-running-operation',
        arguments: { duration: 1, steps: 4 },
        _meta: { progressToken: 'raw-progress' },
      });
      assert.deepEqual(res.result.content, [{ type: 'text', text: 'Long running operation completed. Duration: 1 seconds, Steps: 4.' }]);
      const relevant = b.messages.filter((m) => m.id === res.id || m.params?.progressToken === 'raw-progress');
      assert.deepEqual(
        relevant.map((m) => (m.method ? `${m.method} ${m.params.progress}/${m.params.total}` : 'result')),
        ['notifications/progress 1/4', 'notifications/progress 2/4', 'notifications/progress 3/4', 'notifications/progress 4/4', 'result'],
      );
      assert.deepEqual(b.nonJson, []);
    });

    test('a message that is not JSON-RPC is answered with -32600 and its id', async () => {
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      b.send({ jsonrpc: '1.0', id: 'old', method: 'tools/list' });
      const err = await b.waitFor((m) => m.id === 'old', 'invalid request error');
      assert.deepEqual(err.error, { code: -32600, message: 'Invalid Request: "jsonrpc" must be "2.0"' });
    });

    test('a line over 16 MiB is discarded with -32700 and the next line is served', async () => {
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      b.write(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"${'x'.repeat(17 * 1024 * 1024)}"}}\n`);
      const err = await b.waitFor((m) => m.error, 'size error', 20000);
      assert.deepEqual(err, {
        jsonrpc: '2.0',
        error: { code: -32700, message: 'Parse error: message exceeds the limit of 16777216 bytes; it was discarded' },
      });
      b.nextId = 2;
      const init = await b.initialize();
      assert.equal(init.result.serverInfo.name, 'portcullis/vs');
      assert.equal(b.messages.length, 2);
    });

    test('stdout carries only JSON-RPC, even with debug logging on', async () => {
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs'), '--log-level', 'debug']);
      await b.initialize();
      await b.request('tools/list');
      b.proc.stdin.end();
      assert.deepEqual(await b.exited, { code: 0, signal: null });
      assert.deepEqual(b.nonJson, []);
      assert.equal(b.messages.length, 2);
      assert.match(b.stderr, /relaying stdio to http:\/\/127\.0\.0\.1:\d+\/mcp\/vs/);
    });

    test('stdin EOF deletes the gateway session and exits 0', async () => {
      const base = await sessionCount(gw);
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      await b.initialize();
      assert.equal(await sessionCount(gw), base + 1);
      b.proc.stdin.end();
      assert.deepEqual(await b.exited, { code: 0, signal: null });
      assert.equal(await sessionCount(gw), base);
      assert.match(gw.output(), /session \S+ ended by the client/);
    });

    test('SIGTERM deletes the gateway session and exits 0', async () => {
      const base = await sessionCount(gw);
      const b = rawBridge(['vs', '--url', gw.mcpUrl('vs')]);
      await b.initialize();
      assert.equal(await sessionCount(gw), base + 1);
      b.proc.kill('SIGTERM');
      assert.deepEqual(await b.exited, { code: 0, signal: null });
      assert.equal(await sessionCount(gw), base);
    });

    test('the default URL comes from the listen address in --config DIR', async () => {
      const dir = h.makeConfigDir({ settings: { listen: `127.0.0.1:${gw.port}` } });
      const b = rawBridge(['vs', '--config', dir]);
      const init = await b.initialize();
      assert.equal(init.result.serverInfo.name, 'portcullis/vs');
      b.proc.stdin.end();
      assert.deepEqual(await b.exited, { code: 0, signal: null });
    });
  });

  describe('bad arguments', () => {
    for (const [args, message] of [
      [['connect'], 'portcullis connect: missing the virtual server name'],
      [['connect', 'Not/A/Name'], "portcullis connect: invalid virtual server name 'Not/A/Name' (expected [a-z0-9-]+)"],
      [['connect', 'vs', '--url', 'ftp://x/mcp'], 'portcullis connect: unsupported URL scheme "ftp"'],
      [['connect', 'vs', '--url'], 'portcullis: --url needs a value'],
      [['connect', 'vs', '--config', '/nonexistent-portcullis-dir'], "portcullis connect: config directory '/nonexistent-portcullis-dir' does not exist"],
      [['connect', 'vs', 'extra'], "portcullis: unknown option 'extra' for 'connect'"],
    ]) {
      test(`${args.join(' ')} exits 2 with a message on stderr`, async () => {
        const r = await h.run(h.PORTCULLIS, args);
        assert.equal(r.code, 2);
        assert.equal(r.stdout, '');
        assert.ok(r.stderr.startsWith(message), r.stderr);
      });
    }
  });

  describe('when the gateway is unreachable', () => {
    test('a call after the gateway stopped fails at once with an error naming the URL', async () => {
      const own = await h.startGateway(config());
      const url = own.mcpUrl('vs');
      const c = await sdkClient(url);
      assert.equal(h.text(await c.client.callTool({ name: 'echo', arguments: { message: 'up' } })), 'Echo: up');
      await own.stop();
      const started = Date.now();
      const err = await h.rejection(c.client.callTool({ name: 'echo', arguments: { message: 'down' } }));
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -32001);
      assert.equal(
        err.message,
        `MCP error -32001: Portcullis gateway is unavailable: POST ${url} failed: connection refused or unreachable`,
      );
      assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`);
    });

    test('requests fail with the URL and cause, notifications are dropped with a warning, and a later gateway is used', async () => {
      const port = await h.freePort();
      const url = `http://127.0.0.1:${port}/mcp/vs`;
      const b = rawBridge(['vs', '--url', url]);
      const down = await b.initialize();
      assert.deepEqual(down.error, {
        code: -32001,
        message: `Portcullis gateway is unavailable: POST ${url} failed: connection refused or unreachable`,
      });
      b.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      await h.waitUntil(() => /could not deliver a message/.test(b.stderr), { what: 'a warning for the dropped notification' });
      assert.equal(b.proc.exitCode, null);

      const dir = config();
      const later = await serveOn(dir, port);
      const init = await b.initialize();
      assert.equal(init.result.serverInfo.name, 'portcullis/vs');
      const res = await b.request('tools/call', { name: 'echo', arguments: { message: 'later' } });
      assert.deepEqual(res.result.content, [{ type: 'text', text: 'Echo: later' }]);
      assert.deepEqual(b.nonJson, []);
      await later.stop();
    });

    test('after a gateway restart the lost session is reported, and a new initialize works', async () => {
      const port = await h.freePort();
      const url = `http://127.0.0.1:${port}/mcp/vs`;
      const dir = config();
      const first = await serveOn(dir, port);
      const b = rawBridge(['vs', '--url', url]);
      assert.equal((await b.initialize()).result.serverInfo.name, 'portcullis/vs');
      await first.stop();
      const second = await serveOn(dir, port);

      const lost = await b.request('tools/list');
      assert.equal(lost.error.code, -32001);
      assert.ok(lost.error.message.startsWith(`Portcullis gateway at ${url}: `), lost.error.message);
      assert.match(lost.error.message, /reconnect the client to start a new session/);

      assert.equal((await b.initialize()).result.serverInfo.name, 'portcullis/vs');
      const res = await b.request('tools/call', { name: 'echo', arguments: { message: 'again' } });
      assert.deepEqual(res.result.content, [{ type: 'text', text: 'Echo: again' }]);
      await second.stop();
    });
  });
});
