// The identity envelope, downstream: Portcullis is an OAuth 2.1 protected
// resource (RFC 9728 metadata, RFC 6750 challenges, JWT validation against
// the issuer's JWKS) and also takes hashed API keys. Every request gets a
// Principal with the metadata contract, which the audit trail records. A
// real authorization server (oidc-provider, tests/fixtures/oidc-server.mjs)
// issues the tokens.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import * as h from './harness.mjs';
import { authorizeAs, decodeJwt, decodeProtectedHeader, memoryAuthProvider, startOidc } from './oidc.mjs';

// An API key as `portcullis` expects it, and its api_keys.yaml entry.
function apiKey(id, subject, extra = {}) {
  const key = `pk_${crypto.randomBytes(32).toString('base64url')}`;
  const hash = crypto.createHash('sha256').update(key).digest('hex');
  return { key, entry: { id, hash: `sha256:${hash}`, subject, ...extra } };
}

const servers = {
  main: {
    upstreams: { ev: h.everythingStdio() },
    virtual_servers: { main: { tools: [{ upstream: 'ev', include: ['echo', 'get-sum'] }] } },
  },
};

describe('identity: OAuth protected resource and API keys', () => {
  let oidc;
  let gw;
  let resource;
  let dir;
  const ci = apiKey('ci-bot', 'ci@example.com', { groups: ['ci'], metadata: { team: 'platform', project_id: 'build' } });

  before(async () => {
    oidc = await startOidc();
    const port = await h.freePort();
    resource = `http://127.0.0.1:${port}`;
    dir = h.makeConfigDir({
      settings: {
        auth: {
          mode: 'oauth+api_key',
          resource,
          oauth: { issuer: oidc.issuer, groups_claim: 'groups', scopes: ['mcp'], leeway: '1s', metadata_claims: { team: 'team', project_id: 'project' } },
          api_keys_file: 'api_keys.yaml',
        },
        metadata: { required: ['team', 'project_id'], untagged: 'tag' },
      },
      servers,
      files: { 'api_keys.yaml': [ci.entry] },
    });
    gw = await h.startGateway(dir, { port });
  });

  after(h.cleanup);

  const mcpUrl = () => gw.mcpUrl('main');
  const token = async (user, opts = {}) => (await oidc.tokenFor(user, { resource: `${resource}/mcp/main`, scope: 'mcp', ...opts })).access_token;
  const connectWith = async (headers) => {
    const client = new Client({ name: 'identity-it', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { requestInit: { headers } }));
    return client;
  };
  const initialize = (headers) => h.rawPost(mcpUrl(), {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  }, headers);
  const audit = (...args) => h.run(h.PORTCULLIS, ['audit', '--config', dir, '--json', ...args]);
  const auditRows = async (...args) => {
    const r = await audit(...args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };

  test('the protected resource metadata names the issuer, for the gateway and for each virtual server', async () => {
    const root = await (await fetch(`${resource}/.well-known/oauth-protected-resource`)).json();
    assert.equal(root.resource, resource);
    assert.deepEqual(root.authorization_servers, [oidc.issuer]);
    assert.deepEqual(root.scopes_supported, ['mcp']);
    const vs = await (await fetch(`${resource}/.well-known/oauth-protected-resource/mcp/main`)).json();
    assert.equal(vs.resource, `${resource}/mcp/main`);
    assert.deepEqual(vs.authorization_servers, [oidc.issuer]);
    const missing = await fetch(`${resource}/.well-known/oauth-protected-resource/mcp/nope`);
    assert.equal(missing.status, 404);
  });

  test('a request without credentials gets 401 and a challenge pointing at the metadata', async () => {
    const res = await initialize({});
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate');
    assert.match(challenge, /^Bearer /);
    assert.ok(challenge.includes(`resource_metadata="${resource}/.well-known/oauth-protected-resource/mcp/main"`), challenge);
    assert.ok(challenge.includes('scope="mcp"'), challenge);
    // Unauthenticated callers learn nothing about what runs behind the gateway.
    const health = await (await fetch(`${resource}/healthz`)).json();
    assert.deepEqual(health, { status: 'ok' });
  });

  test("the SDK client's own OAuth flow discovers the issuer through the metadata and gets in", async () => {
    const redirect = 'http://127.0.0.1:40002/callback'; // never fetched: authorizeAs stops there
    const { provider: authProvider, saved } = memoryAuthProvider(redirect, 'identity-it');
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider });
    await assert.rejects(new Client({ name: 'identity-it', version: '1.0.0' }).connect(first), UnauthorizedError);
    assert.equal(saved.authUrl.origin, oidc.issuer);
    assert.equal(saved.authUrl.searchParams.get('resource'), `${resource}/mcp/main`);
    const back = await authorizeAs(saved.authUrl.href, 'alice');
    await first.finishAuth(back.code);
    assert.equal(decodeJwt(saved.tokens.access_token).sub, 'alice');
    const client = new Client({ name: 'identity-it', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider }));
    assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: 'hi' } })), 'Echo: hi');
    await client.close();
  });

  test('a valid token is admitted, and the audit trail says who called, with their metadata', async () => {
    const client = await connectWith({ Authorization: `Bearer ${await token('alice')}`, 'X-Portcullis-Metadata': JSON.stringify({ ticket_id: 'OPS-7', team: 'forged' }) });
    assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: 'as alice' } })), 'Echo: as alice');
    await client.close();
    const rows = await h.waitUntil(async () => {
      const r = (await auditRows('--subject', 'alice')).filter((x) => x.metadata.ticket_id === 'OPS-7');
      return r.length ? r : null;
    }, { what: "alice's audit record" });
    assert.equal(rows[0].auth_method, 'oauth');
    // Identity fields come from the token's claims, not from the header.
    assert.deepEqual(rows[0].metadata, { team: 'payments', project_id: 'checkout', ticket_id: 'OPS-7' });
  });

  test('a token for another audience, an expired one and a forged one are refused with invalid_token', async () => {
    const elsewhere = await token('alice', { resource: 'http://127.0.0.1:1/mcp' });
    const forged = (() => {
      const t = decodeJwt(elsewhere);
      const [head, , sig] = elsewhere.split('.');
      const body = Buffer.from(JSON.stringify({ ...t, aud: `${resource}/mcp/main` })).toString('base64url');
      return `${head}.${body}.${sig}`;
    })();
    const foreign = await startOidc();  // a real issuer, but not the configured one
    await oidc.settings({ accessTokenTTL: 2 });
    const expiring = await token('alice');
    await oidc.settings({ accessTokenTTL: 3600 });
    const { exp } = decodeJwt(expiring);
    assert.ok(exp - Date.now() / 1000 <= 2.5, `the token lives 2 s (exp in ${exp - Date.now() / 1000} s)`);
    // Past its expiry plus the configured 1 s leeway (claims are whole seconds).
    await new Promise((r) => setTimeout(r, (exp + 2.2) * 1000 - Date.now()));
    for (const [what, t, why] of [
      ['another audience', elsewhere, /audience/i],
      ['forged', forged, /signature/i],
      ['expired', expiring, /expired/i],
      ['another issuer', await foreign.tokenFor('alice', { resource: `${resource}/mcp/main` }).then((x) => x.access_token), /issuer/i],
    ]) {
      const res = await initialize({ Authorization: `Bearer ${t}` });
      assert.equal(res.status, 401, what);
      const challenge = res.headers.get('www-authenticate');
      assert.match(challenge, /error="invalid_token"/, `${what}: ${challenge}`);
      const body = await res.json();
      assert.match(body.error_description, why, `${what}: ${body.error_description}`);
    }
  });

  test('a token without the required scope gets 403 with a step-up challenge', async () => {
    const t = await token('alice', { scope: 'mcp:read' });
    const res = await initialize({ Authorization: `Bearer ${t}` });
    assert.equal(res.status, 403);
    const challenge = res.headers.get('www-authenticate');
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp"/);
  });

  test('the issuer rotating its signing key is survived without a restart', async () => {
    const before = await token('bob');
    await oidc.rotateKeys();
    const after = await token('bob');
    assert.notEqual(decodeProtectedHeader(after).kid, decodeProtectedHeader(before).kid);
    const client = await connectWith({ Authorization: `Bearer ${after}` });
    assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: 'rotated' } })), 'Echo: rotated');
    await client.close();
  });

  test("a session belongs to its principal: bob cannot use alice's session id", async () => {
    const alice = { Authorization: `Bearer ${await token('alice')}` };
    const res = await initialize(alice);
    assert.equal(res.status, 200);
    const sid = res.headers.get('mcp-session-id');
    await res.arrayBuffer();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const asBob = await h.rawPost(mcpUrl(), list, { Authorization: `Bearer ${await token('bob')}`, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' });
    assert.equal(asBob.status, 404);
    assert.equal((await h.readRpc(asBob)).error.message, 'Session not found');
    const asAlice = await h.rawPost(mcpUrl(), list, { ...alice, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' });
    assert.equal(asAlice.status, 200);
    assert.ok((await h.readRpc(asAlice)).result.tools.length > 0);
  });

  test('an API key authenticates a service account with its own groups and metadata', async () => {
    const client = await connectWith({ 'X-API-Key': ci.key });
    assert.equal(h.text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), 'The sum of 2 and 3 is 5.');
    await client.close();
    const rows = await h.waitUntil(async () => {
      const r = await auditRows('--subject', 'ci@example.com');
      return r.length ? r : null;
    }, { what: "the service account's audit record" });
    assert.equal(rows[0].auth_method, 'api_key');
    assert.deepEqual(rows[0].metadata, { team: 'platform', project_id: 'build' });
    const wrong = await initialize({ 'X-API-Key': `${ci.key.slice(0, -2)}xx` });
    assert.equal(wrong.status, 401);
  });

  test('a request missing required metadata is tagged UNTAGGED', async () => {
    // bob's token carries a team but no project.
    const client = await connectWith({ Authorization: `Bearer ${await token('bob')}` });
    await client.callTool({ name: 'echo', arguments: { message: 'untagged' } });
    await client.close();
    const rows = await h.waitUntil(async () => {
      const r = await auditRows('--subject', 'bob');
      return r.length ? r : null;
    }, { what: "bob's audit record" });
    assert.deepEqual(rows[0].metadata, { team: 'support', project_id: 'UNTAGGED' });
  });
});

describe('identity: untagged traffic refused, keys from the CLI, the stdio bridge', () => {
  let gw;
  let dir;
  const key = apiKey('anon-bot', 'bot@example.com');

  before(async () => {
    dir = h.makeConfigDir({
      settings: {
        auth: { mode: 'api_key', api_keys_file: 'api_keys.yaml' },
        metadata: { required: ['team', 'project_id'], untagged: 'reject' },
      },
      servers,
      files: { 'api_keys.yaml': [key.entry] },
    });
    gw = await h.startGateway(dir);
  });

  after(h.cleanup);

  test('a request missing required metadata is refused with a message naming the keys', async () => {
    const res = await h.rawPost(gw.mcpUrl('main'), {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }, { Authorization: `Bearer ${key.key}`, 'X-Portcullis-Metadata': JSON.stringify({ team: 'platform' }) });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(body.error_description, /project_id/);
    const ok = await h.rawPost(gw.mcpUrl('main'), {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }, { Authorization: `Bearer ${key.key}`, 'X-Portcullis-Metadata': JSON.stringify({ team: 'platform', project_id: 'p1' }) });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  test('`portcullis keys new` prints a key once and the entry that admits it, holding only its hash', async () => {
    const made = await h.run(h.PORTCULLIS, ['keys', 'new', '--id', 'deploy-bot', '--subject', 'deploy@example.com', '--group', 'ci', '--meta', 'team=platform', '--meta', 'project_id=deploy']);
    assert.equal(made.code, 0, made.stderr);
    const [keyLine, ...entry] = made.stdout.split('\n');
    assert.match(keyLine, /^pk_[A-Za-z0-9_-]{43}$/);
    assert.ok(!entry.join('\n').includes(keyLine), 'the entry does not contain the key');
    const sha = crypto.createHash('sha256').update(keyLine).digest('hex');
    assert.ok(entry.join('\n').includes(`sha256:${sha}`));
    // Added to the running gateway's file (reloaded on change), it admits the key.
    const existing = `- id: ${key.entry.id}\n  hash: ${key.entry.hash}\n  subject: ${key.entry.subject}\n`;
    h.writeFile(dir, 'api_keys.yaml', `${existing}${entry.join('\n')}`);
    const check = await h.run(h.PORTCULLIS, ['check', '--offline', '--config', dir]);
    assert.equal(check.code, 0, check.output);
    await h.waitUntil(async () => {
      const r = await h.rawPost(gw.mcpUrl('main'), { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }, { 'X-API-Key': keyLine });
      await r.arrayBuffer();
      return r.status === 200;
    }, { timeoutMs: 10000, what: 'the new key to be admitted after the reload' });
  });

  test('`portcullis check` reports a broken api_keys.yaml with file:line', async () => {
    const broken = h.makeConfigDir({
      settings: { auth: { mode: 'api_key', api_keys_file: 'api_keys.yaml' } },
      servers,
      files: { 'api_keys.yaml': '- id: x\n  hash: sha256:nothex\n  subject: s\n' },
    });
    const r = await h.run(h.PORTCULLIS, ['check', '--offline', '--config', broken]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /api_keys\.yaml:\d+:.*hash/);
  });

  test('`portcullis connect` sends the credentials and metadata of its environment', async () => {
    const transport = new StdioClientTransport({
      command: h.PORTCULLIS,
      args: ['connect', 'main', '--url', gw.mcpUrl('main')],
      env: { ...process.env, PORTCULLIS_API_KEY: key.key, PORTCULLIS_METADATA: JSON.stringify({ team: 'platform', project_id: 'bridge' }) },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'bridge-it', version: '1.0.0' });
    await client.connect(transport);
    assert.equal(h.text(await client.callTool({ name: 'echo', arguments: { message: 'via bridge' } })), 'Echo: via bridge');
    await client.close();
    const bare = new StdioClientTransport({ command: h.PORTCULLIS, args: ['connect', 'main', '--url', gw.mcpUrl('main')], env: { PATH: process.env.PATH }, stderr: 'pipe' });
    const refused = new Client({ name: 'bridge-it', version: '1.0.0' });
    await assert.rejects(refused.connect(bare), /401|unauthorized|credentials/i);
    await refused.close().catch(() => {});
  });
});
