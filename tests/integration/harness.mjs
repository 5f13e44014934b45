// Shared harness for the integration tests: temp config dirs, real upstream
// MCP servers, the gateway under test, SDK clients and raw HTTP helpers.
//
// Every process is spawned in its own process group and tracked; cleanup()
// (register it with `after(cleanup)` in each test file) closes clients,
// terminates the groups, kills anything still running inside the temp config
// dirs (stdio upstreams the gateway failed to reap), and removes the dirs.
// If the test process dies, an exit hook SIGKILLs the tracked groups.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// PORTCULLIS_BIN overrides the binary under test (e.g. another build dir).
export const PORTCULLIS = process.env.PORTCULLIS_BIN || path.join(ROOT, 'build', 'portcullis');
export const FIXTURES = path.join(ROOT, 'tests', 'fixtures');
export const NODE = process.execPath;
export const bin = (name) => path.join(ROOT, 'node_modules', '.bin', name);
export const fixture = (name) => path.join(FIXTURES, name);

const VERBOSE = !!process.env.PORTCULLIS_IT_VERBOSE;

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const procs = new Set(); // tracked child processes (group leaders)
const tempDirs = new Set();
const clients = new Set();

process.on('exit', () => {
  for (const p of procs) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch {}
  }
});

// Spawns `cmd` in a new process group, capturing the tail of its output.
export function spawnTracked(cmd, args, { name = path.basename(cmd), env, cwd = ROOT } = {}) {
  const proc = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.label = name;
  proc.log = '';
  const keep = (chunk) => {
    proc.log = (proc.log + chunk.toString()).slice(-64 * 1024);
    if (VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  proc.exitInfo = null;
  proc.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      proc.exitInfo = { code, signal };
      resolve(proc.exitInfo);
    });
    proc.on('error', (err) => {
      proc.log += `\nspawn error: ${err.message}`;
      proc.exitInfo = { code: null, signal: null, error: err };
      resolve(proc.exitInfo);
    });
  });
  procs.add(proc);
  return proc;
}

// Terminates a tracked process group: `signal`, then SIGKILL after `graceMs`.
// Descendants that left the group (setsid) and outlive it are killed too.
export async function stopProcess(proc, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  if (!procs.has(proc)) return proc.exitInfo;
  const family = proc.exitInfo ? [] : descendants(proc.pid);
  try { process.kill(-proc.pid, signal); } catch {}
  const done = await Promise.race([proc.exited, sleep(graceMs).then(() => null)]);
  try { process.kill(-proc.pid, 'SIGKILL'); } catch {}
  for (const pid of alive(family)) {
    try { process.kill(pid, 'SIGKILL'); } catch {}
  }
  procs.delete(proc);
  return done ?? (await proc.exited);
}

function procStat(pid) {
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]) };
}

// PIDs of all live descendants of `pid` (children, grandchildren...). Linux only.
export function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { state, ppid } = procStat(entry);
      if (state === 'Z') continue;
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  const out = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

// The subset of `pids` still running (zombies count as gone).
export function alive(pids) {
  return pids.filter((pid) => {
    try {
      return procStat(pid).state !== 'Z';
    } catch {
      return false;
    }
  });
}

// Runs a command to completion: { code, signal, stdout, stderr, output }.
export function run(cmd, args, { env, cwd = ROOT, timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: stdout + stderr, error });
    };
    proc.on('error', (err) => finish(null, null, err));
    proc.on('close', (code, signal) => finish(code, signal)); // after the pipes drained
  });
}

// PIDs of live processes whose working directory is `dir` or below it (the
// gateway starts stdio upstreams with cwd = config dir). Linux only.
export function processesInside(dir) {
  const real = fs.realpathSync(dir);
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if ((cwd === real || cwd.startsWith(real + '/')) && procStat(entry).state !== 'Z') found.push(Number(entry));
    } catch {}
  }
  return found;
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

export async function waitForPort(port, proc, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.exitInfo) throw new Error(`${proc.label} exited (${JSON.stringify(proc.exitInfo)}) before listening on ${port}:\n${proc.log}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${proc?.label ?? 'process'} did not listen on ${port} within ${timeoutMs} ms:\n${proc?.log ?? ''}`);
}

// Polls `fn` until it returns a truthy value; returns that value.
export async function waitUntil(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// Upstream servers started by the tests themselves
// ---------------------------------------------------------------------------

// server-everything over legacy SSE (mode 'sse', url = GET /sse endpoint) or
// Streamable HTTP (mode 'streamableHttp', url = /mcp endpoint).
export async function startEverything(mode) {
  const port = await freePort();
  const proc = spawnTracked(bin('mcp-server-everything'), [mode], {
    name: `everything-${mode}`,
    env: { PORT: String(port) },
  });
  await waitForPort(port, proc);
  const url = mode === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
  return { port, url, proc, stop: () => stopProcess(proc) };
}

// A fixture that serves HTTP on $PORT.
export async function startHttpFixture(file) {
  const port = await freePort();
  const proc = spawnTracked(NODE, [fixture(file)], { name: file, env: { PORT: String(port) } });
  await waitForPort(port, proc);
  return { port, url: `http://127.0.0.1:${port}/mcp`, proc, stop: () => stopProcess(proc) };
}

// ---------------------------------------------------------------------------
// Config dirs
// ---------------------------------------------------------------------------

// JSON is YAML, so config files are written as indented JSON.
export function toYaml(obj) {
  return `# written by tests/integration/harness.mjs\n${JSON.stringify(obj, null, 2)}\n`;
}

// Creates DIR with servers.d/ and policies/. `settings` becomes
// portcullis.yaml; `servers` maps a file stem to an object (or raw YAML text)
// written as servers.d/<stem>.yaml; `files` maps relative paths to contents.
export function makeConfigDir({ settings, servers = {}, files = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-it-'));
  tempDirs.add(dir);
  fs.mkdirSync(path.join(dir, 'servers.d'));
  fs.mkdirSync(path.join(dir, 'policies'));
  if (settings) writeFile(dir, 'portcullis.yaml', settings);
  for (const [stem, content] of Object.entries(servers)) writeServers(dir, stem, content);
  for (const [rel, content] of Object.entries(files)) writeFile(dir, rel, content);
  return dir;
}

export function writeServers(dir, stem, content) {
  writeFile(dir, path.join('servers.d', `${stem}.yaml`), content);
}

export function writeFile(dir, rel, content) {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Write then rename, so a reload never sees a half-written file.
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, typeof content === 'string' ? content : toYaml(content));
  fs.renameSync(tmp, file);
}

// A stdio upstream running server-everything.
export const everythingStdio = (extra = {}) => ({
  transport: 'stdio',
  command: bin('mcp-server-everything'),
  args: ['stdio'],
  ...extra,
});

// A stdio upstream running one of tests/fixtures/*.mjs.
export const fixtureStdio = (file, extra = {}) => ({
  transport: 'stdio',
  command: NODE,
  args: [fixture(file)],
  ...extra,
});

// ---------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------

// Starts `portcullis serve --config DIR --listen 127.0.0.1:<free port>` and
// waits until GET /healthz answers 200.
// `port`: listen there (e.g. when the config must name the gateway's own
// URL, as auth.resource does); default: a free port.
export async function startGateway(dir, { env, args = [], timeoutMs = 20000, port: wanted } = {}) {
  if (!fs.existsSync(PORTCULLIS)) throw new Error(`${PORTCULLIS} is missing: run tools/setup.sh`);
  const port = wanted ?? await freePort();
  const proc = spawnTracked(PORTCULLIS, ['serve', '--config', dir, '--listen', `127.0.0.1:${port}`, ...args], {
    name: 'portcullis',
    env,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (proc.exitInfo) {
        throw Object.assign(new Error(`portcullis exited (${JSON.stringify(proc.exitInfo)}) before /healthz was up:\n${proc.log}`), { fatal: true });
      }
      const res = await fetch(`${base}/healthz`);
      await res.arrayBuffer();
      return res.status === 200;
    },
    { timeoutMs, intervalMs: 100, what: `GET ${base}/healthz` },
  ).catch((err) => {
    throw new Error(`${err.message}\n--- portcullis output ---\n${proc.log}`);
  });
  return {
    port,
    base,
    dir,
    proc,
    mcpUrl: (vs) => `${base}/mcp/${vs}`,
    sseUrl: (vs) => `${base}/sse/${vs}`,
    output: () => proc.log,
    hup: () => process.kill(proc.pid, 'SIGHUP'),
    stop: (opts) => stopProcess(proc, opts),
    healthy: async () => {
      try {
        const res = await fetch(`${base}/healthz`);
        await res.arrayBuffer();
        return res.status === 200;
      } catch {
        return false;
      }
    },
  };
}

// ---------------------------------------------------------------------------
// SDK clients
// ---------------------------------------------------------------------------

// Connects an official SDK client to `url` (/mcp/<vs> for Streamable HTTP,
// /sse/<vs> with transport 'sse'). `setup(client)` runs before connecting,
// to register request handlers for sampling, elicitation and roots.
export async function connect(url, { transport = 'http', name = 'it-client', capabilities = {}, setup } = {}) {
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  const events = observe(client);
  if (setup) setup(client);
  const t = transport === 'sse' ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  await client.connect(t);
  clients.add(client);
  client.events = events;
  return client;
}

export async function closeClient(client) {
  clients.delete(client);
  await Promise.race([client.close().catch(() => {}), sleep(2000)]);
}

// Records every notification that has no dedicated handler, and every
// protocol error the client reports, with a way to wait for one.
export function observe(client) {
  const notes = [];
  const errors = [];
  const waiters = [];
  client.fallbackNotificationHandler = async (n) => {
    notes.push(n);
    for (const w of [...waiters]) {
      if (w.match(n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(n);
      }
    }
  };
  client.onerror = (err) => errors.push(err);
  return {
    notes,
    errors,
    // Resolves with the first notification (already received or future) of
    // `method` for which `pred` holds.
    waitFor(method, pred = () => true, timeoutMs = 5000) {
      const match = (n) => n.method === method && pred(n);
      const seen = notes.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { match, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`no ${method} notification within ${timeoutMs} ms (got: ${notes.map((x) => x.method).join(', ') || 'none'})`));
          }
        }, timeoutMs);
      });
    },
    count: (method) => notes.filter((n) => n.method === method).length,
  };
}

// All items of a paginated list, following nextCursor. `list` is e.g.
// (params) => client.listTools(params); `key` the result field.
export async function listAll(list, key, { maxPages = 100 } = {}) {
  const items = [];
  const pages = [];
  let cursor;
  do {
    const res = await list(cursor === undefined ? {} : { cursor });
    pages.push(res[key]);
    items.push(...res[key]);
    cursor = res.nextCursor;
    if (pages.length > maxPages) throw new Error(`more than ${maxPages} pages`);
  } while (cursor !== undefined && cursor !== null);
  return { items, pages };
}

export const toolNames = async (client) => (await listAll((p) => client.listTools(p), 'tools')).items.map((t) => t.name).sort();

// The concatenated text content of a tool result.
export const text = (result) => (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// Resolves with the error `promise` rejects with; fails if it resolves.
export async function rejection(promise) {
  try {
    const value = await promise;
    throw Object.assign(new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 500)}`), { unexpected: true });
  } catch (err) {
    if (err.unexpected) throw err;
    return err;
  }
}

// ---------------------------------------------------------------------------
// Raw HTTP, for malformed input
// ---------------------------------------------------------------------------

export const MCP_ACCEPT = 'application/json, text/event-stream';

export function rawPost(url, body, headers = {}, { signal } = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal,
  });
}

// Reads a JSON-RPC message from a response that is either application/json
// or an SSE stream; with `id`, returns the response carrying that id. Returns
// null for an empty body; throws on a body that is not JSON.
export async function readRpc(res, id) {
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('text/event-stream')) {
    const body = await res.text();
    if (!body.trim()) return null;
    try {
      return JSON.parse(body);
    } catch {
      throw new Error(`HTTP ${res.status} body is not JSON: ${body.slice(0, 300)}`);
    }
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let sep;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (!data) continue;
        const msg = JSON.parse(data);
        if (id === undefined ? 'id' in msg && !('method' in msg) : msg.id === id && !('method' in msg)) return msg;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

// Opens a session by hand: initialize + notifications/initialized. Returns
// helpers that send further requests with the session headers.
export async function rawSession(url, { protocolVersion = '2025-11-25', headers: extra = {} } = {}) {
  const res = await rawPost(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-it-client', version: '1.0.0' } },
  }, extra);
  if (res.status !== 200) throw new Error(`initialize: HTTP ${res.status}: ${await res.text()}`);
  const sessionId = res.headers.get('mcp-session-id');
  const init = await readRpc(res, 0);
  if (!init?.result) throw new Error(`initialize failed: ${JSON.stringify(init)}`);
  const headers = { ...extra, 'mcp-protocol-version': init.result.protocolVersion };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  const ack = await rawPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  await ack.arrayBuffer();
  let nextId = 1;
  return {
    sessionId,
    protocolVersion: init.result.protocolVersion,
    headers,
    post: (body, more = {}, opts) => rawPost(url, body, { ...headers, ...more }, opts),
    // Sends one request and returns { status, msg }.
    request: async (method, params, opts) => {
      const id = nextId++;
      const r = await rawPost(url, { jsonrpc: '2.0', id, method, params }, headers, opts);
      return { status: r.status, msg: await readRpc(r, id) };
    },
    close: async () => {
      const r = await fetch(url, { method: 'DELETE', headers });
      await r.arrayBuffer();
      return r.status;
    },
  };
}

// ---------------------------------------------------------------------------
// Protocol revision 2026-07-28 (sessionless) helpers
// ---------------------------------------------------------------------------

export const MODERN_REVISION = '2026-07-28';

// A 2026-07-28 request: the body (params._meta carries the envelope) and the
// standard headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name). `caps` are
// the client capabilities, `meta` extra/overriding _meta keys, `headers`
// extra/overriding headers.
export function modernRequest(method, params = {}, { id = 1, caps = {}, meta = {}, headers = {} } = {}) {
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN_REVISION,
        'io.modelcontextprotocol/clientCapabilities': caps,
        'io.modelcontextprotocol/clientInfo': { name: 'it-raw-2026', version: '1.0.0' },
        ...meta,
      },
    },
  };
  const name = params.name ?? params.uri;
  return {
    body,
    headers: {
      'mcp-protocol-version': MODERN_REVISION,
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...headers,
    },
  };
}

// Sends one 2026-07-28 request to `url`; returns { status, msg, res }.
export async function modernPost(url, method, params, opts = {}) {
  const { body, headers } = modernRequest(method, params, opts);
  const res = await rawPost(url, body, headers, { signal: opts.signal });
  return { status: res.status, msg: await readRpc(res, body.id), res };
}

// Reads the JSON-RPC messages of an SSE response one at a time:
// next(timeoutMs) resolves with the next message, or null when the stream
// ended or nothing came within timeoutMs. close() cancels the stream.
export function sseMessages(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let pending = null;
  const readOne = async () => {
    for (;;) {
      buf = buf.replace(/\r\n/g, '\n');
      const i = buf.indexOf('\n\n');
      if (i >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data) return JSON.parse(data);
        continue;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buf += decoder.decode(value, { stream: true });
    }
  };
  return {
    async next(timeoutMs = 5000) {
      pending ??= readOne();
      const timer = new Promise((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref());
      const got = await Promise.race([pending, timer]);
      if (got === undefined) return null; // the read stays pending for the next call
      pending = null;
      return got;
    },
    close: () => reader.cancel().catch(() => {}),
  };
}

// Connects a 2.x SDK client (@modelcontextprotocol/client, which negotiates
// 2026-07-28 when the server offers it) to `url`. `handlers` maps request
// methods (sampling/createMessage, elicitation/create, roots/list) to
// handlers; with the 2026-07-28 revision the client runs them to fulfil
// input_required results. Closed by cleanup().
export async function connectModern(url, { name = 'it-client-2026', capabilities = {}, handlers = {}, negotiation = 'auto' } = {}) {
  const { Client: ModernClient, StreamableHTTPClientTransport: ModernTransport } = await import('@modelcontextprotocol/client');
  const client = new ModernClient({ name, version: '1.0.0' }, { capabilities, versionNegotiation: { mode: negotiation } });
  for (const [method, fn] of Object.entries(handlers)) client.setRequestHandler(method, fn);
  await client.connect(new ModernTransport(new URL(url)));
  clients.add(client);
  return client;
}

// ---------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------

export async function cleanup() {
  await Promise.all([...clients].map((c) => closeClient(c)));
  await Promise.all([...procs].map((p) => stopProcess(p)));
  for (const dir of tempDirs) {
    // Upstreams the gateway left behind run with cwd inside the config dir.
    try {
      for (const pid of processesInside(dir)) {
        try { process.kill(pid, 'SIGKILL'); } catch {}
      }
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  }
  tempDirs.clear();
}
