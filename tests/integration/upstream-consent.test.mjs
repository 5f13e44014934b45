// Upstream `auth: {type: oauth_user}`: each user connects their own account
// at the upstream's authorization server (real oidc-provider), once, in
// their browser; Portcullis keeps the token (encrypted vault) and presents
// it on that user's calls. The consent is asked through a URL-mode
// elicitation (MCP 2025-11-25), or an error -32042 carrying the link for
// clients without it. The token never passes through the MCP client.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import * as h from './harness.mjs';
import { browse, decodeJwt, startAuthEcho, startOidc } from './oidc.mjs';

const ElicitationCompleteSchema = z.object({
  method: z.literal('notifications/elicitation/complete'),
  params: z.object({ elicitationId: z.string() }).passthrough(),
});

describe('oauth_user upstreams: each user connects their own account', () => {
  let oidc;
  let echo;
  let gw;
  let dir;
  let resource;
  const vaultKey = crypto.randomBytes(32).toString('hex');

  before(async () => {
    oidc = await startOidc();
    // A protected upstream: only tokens from the issuer whose audience is itself.
    echo = await startAuthEcho({ issuer: oidc.issuer });
    const port = await h.freePort();
    resource = `http://127.0.0.1:${port}`;
    dir = h.makeConfigDir({
      settings: {
        auth: { mode: 'oauth', resource, oauth: { issuer: oidc.issuer, scopes: ['mcp'] } },
        credentials: { key: '${PORTCULLIS_TEST_VAULT_KEY}' },
      },
      servers: {
        main: {
          upstreams: { echo: { transport: 'streamable-http', url: echo.url, auth: { type: 'oauth_user' } } },
          virtual_servers: { work: { tools: [{ upstream: 'echo' }] } },
        },
      },
    });
    gw = await h.startGateway(dir, { port, env: { PORTCULLIS_TEST_VAULT_KEY: vaultKey } });
  });

  after(h.cleanup);

  const tokenOf = async (user) => (await oidc.tokenFor(user, { resource: `${resource}/mcp/work`, scope: 'mcp' })).access_token;
  // A client of `user`; with `url: true` it declares URL-mode elicitation
  // and answers elicitations with `onElicit`.
  const connectAs = async (user, { url = false, onElicit } = {}) => {
    const downstream = await tokenOf(user);
    const client = new Client({ name: `consent-it-${user}`, version: '1.0.0' },
      { capabilities: url ? { elicitation: { url: {} } } : {} });
    const seen = { complete: [], listChanged: 0 };
    if (onElicit) client.setRequestHandler(ElicitRequestSchema, (req) => onElicit(req.params));
    client.setNotificationHandler(ElicitationCompleteSchema, (n) => seen.complete.push(n.params.elicitationId));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { seen.listChanged += 1; });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.mcpUrl('work')),
      { requestInit: { headers: { Authorization: `Bearer ${downstream}` } } }));
    return { client, seen, downstream };
  };
  const toolNames = async (client) => (await client.listTools()).tools.map((t) => t.name).sort();
  const whoami = async (client) => JSON.parse(h.text(await client.callTool({ name: 'whoami', arguments: {} })));
  const credentials = async (...args) => h.run(h.PORTCULLIS, ['credentials', ...args, '--config', dir],
    { env: { PORTCULLIS_TEST_VAULT_KEY: vaultKey } });

  test('a user who has not connected sees a connect tool instead of the upstream\'s tools', async () => {
    const { client } = await connectAs('alice');
    assert.deepEqual(await toolNames(client), ['connect_echo']);
    await client.close();
  });

  test('declining the URL elicitation fails the call with the reason and stores nothing', async () => {
    const asked = [];
    const { client } = await connectAs('bob', { url: true, onElicit: async (p) => { asked.push(p); return { action: 'decline' }; } });
    const err = await h.rejection(client.callTool({ name: 'connect_echo', arguments: {} }));
    assert.match(err.message, /needs your consent, which was not given: you declined/);
    assert.equal(asked.length, 1);
    assert.equal(asked[0].mode, 'url');
    assert.deepEqual(await toolNames(client), ['connect_echo']);
    await client.close();
  });

  test('URL-mode elicitation: the link, the browser step, then the call goes on and her tools carry her own token', async () => {
    let page;
    const asked = [];
    const { client, seen, downstream } = await connectAs('alice', {
      url: true,
      onElicit: async (p) => {
        asked.push(p);
        // The user opens the link in a browser; the client only says "accept".
        page = browse(p.url, 'alice');
        return { action: 'accept' };
      },
    });
    const result = await client.callTool({ name: 'connect_echo', arguments: {} });
    assert.match(h.text(result), /Connected your account at 'echo'/);
    assert.equal(asked.length, 1);
    const { elicitationId, url, message } = asked[0];
    assert.ok(url.startsWith(`${resource}/oauth/connect/`), url);
    assert.ok(!url.includes(downstream) && !/alice/.test(url), 'the link carries no credential and no identity');
    assert.match(message, /'echo'/);
    const shown = await page;
    assert.equal(shown.status, 200);
    assert.match(shown.body, /Connected/);
    assert.equal(shown.headers.get('cache-control'), 'no-store');
    await h.waitUntil(() => seen.complete.includes(elicitationId), { what: 'notifications/elicitation/complete' });
    await h.waitUntil(() => seen.listChanged > 0, { what: 'tools/list_changed' });
    assert.deepEqual(await toolNames(client), ['echo', 'whoami']);

    const me = await whoami(client);
    assert.match(me.authorization, /^Bearer /);
    const upstreamToken = me.authorization.slice('Bearer '.length);
    assert.notEqual(upstreamToken, downstream, 'the downstream token never reaches the upstream');
    const claims = decodeJwt(upstreamToken);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, echo.url);
    assert.equal(me.claims.sub, 'alice', 'the upstream verified it');

    // The link is single use.
    const again = await fetch(url, { redirect: 'manual' });
    assert.equal(again.status, 410);
    await client.close();
  });

  test('a client without URL elicitation gets -32042 with the link; after the browser step its retry succeeds as bob', async () => {
    const { client, seen } = await connectAs('bob');
    const err = await h.rejection(client.callTool({ name: 'connect_echo', arguments: {} }));
    assert.equal(err.code, -32042);
    const [elicitation] = err.data.elicitations;
    assert.equal(elicitation.mode, 'url');
    assert.ok(elicitation.url.startsWith(`${resource}/oauth/connect/`));
    assert.ok(err.message.includes(elicitation.url), 'the message shows the link too');
    const shown = await browse(elicitation.url, 'bob');
    assert.equal(shown.status, 200, shown.body);
    // The gateway re-lists bob's session by itself and tells the client.
    await h.waitUntil(() => seen.listChanged > 0, { what: 'tools/list_changed' });
    const me = await whoami(client);
    assert.equal(decodeJwt(me.authorization.slice('Bearer '.length)).sub, 'bob');
    await client.close();
  });

  test("alice's and bob's concurrent calls each carry their own upstream token", async () => {
    const a = await connectAs('alice');
    const b = await connectAs('bob');
    const calls = [];
    for (let i = 0; i < 5; i++) calls.push(whoami(a.client).then((r) => ['alice', r]), whoami(b.client).then((r) => ['bob', r]));
    for (const [user, r] of await Promise.all(calls)) {
      assert.equal(decodeJwt(r.authorization.slice('Bearer '.length)).sub, user);
    }
    await a.client.close();
    await b.client.close();
  });

  test('a token about to expire is refreshed with the refresh token before it is used', async () => {
    // Alice reconnects while new tokens live 63 s; the gateway refreshes
    // tokens that expire within 60 s.
    const revoked = await credentials('revoke', '--user', 'alice', '--upstream', 'echo');
    assert.equal(revoked.code, 0, revoked.output);
    await sleep(2500);  // a running gateway re-reads the vault every 2 s
    await oidc.settings({ accessTokenTTL: 63 });
    try {
      const alice = await connectAs('alice', {
        url: true,
        onElicit: async (p) => { await browse(p.url, 'alice'); return { action: 'accept' }; },
      });
      assert.deepEqual(await toolNames(alice.client), ['connect_echo'], 'revoked: asked again');
      await alice.client.callTool({ name: 'connect_echo', arguments: {} });
      const first = decodeJwt((await whoami(alice.client)).authorization.slice(7));
      assert.ok(first.exp - first.iat <= 63, 'a short-lived token was issued');
      await sleep(3500);
      const second = decodeJwt((await whoami(alice.client)).authorization.slice(7));
      assert.equal(second.sub, 'alice');
      assert.notEqual(second.jti, first.jti, 'a fresh token');
      assert.ok(second.iat > first.iat, 'issued later');
      await alice.client.close();
    } finally {
      await oidc.settings({ accessTokenTTL: 3600 });
    }
  });

  test('credentials list shows who holds what without token values; revoke makes the next call ask again', async () => {
    const listed = await credentials('list', '--json');
    assert.equal(listed.code, 0, listed.output);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.user).sort(), ['alice', 'bob']);
    for (const r of rows) {
      assert.equal(r.upstream, 'echo');
      assert.equal(r.issuer, oidc.issuer);
      assert.equal(r.has_refresh_token, true);
    }
    const vault = fs.readFileSync(path.join(dir, 'portcullis-credentials.db'));
    assert.ok(!vault.includes(Buffer.from('eyJ')), 'no JWT is stored in the clear');

    const revoked = await credentials('revoke', '--user', 'bob');
    assert.equal(revoked.code, 0, revoked.output);
    assert.match(revoked.stdout, /revoked bob at echo/);
    await sleep(2500);
    const { client } = await connectAs('bob');
    assert.deepEqual(await toolNames(client), ['connect_echo']);
    await client.close();
  });

  test('unknown consent links and forged callbacks are refused', async () => {
    const unknown = await fetch(`${resource}/oauth/connect/${crypto.randomBytes(16).toString('hex')}`, { redirect: 'manual' });
    assert.equal(unknown.status, 410);
    assert.equal(unknown.headers.get('x-frame-options'), 'DENY');
    const forged = await fetch(`${resource}/oauth/callback?code=abc&state=${crypto.randomBytes(16).toString('hex')}`);
    assert.equal(forged.status, 400);
    assert.match(await forged.text(), /unknown, was already used, or expired/);
  });
});

describe('oauth_user configuration', () => {
  after(h.cleanup);

  test('portcullis check refuses oauth_user without a vault key, and on a stdio upstream', async () => {
    const dir = h.makeConfigDir({
      servers: {
        main: {
          upstreams: {
            web: { transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp', auth: { type: 'oauth_user' } },
            local: h.fixtureStdio('auth-echo-server.mjs', { auth: { type: 'oauth_user' } }),
          },
          virtual_servers: { v: { tools: [{ upstream: 'web' }, { upstream: 'local' }] } },
        },
      },
    });
    const r = await h.run(h.PORTCULLIS, ['check', '--offline', '--config', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /main\.yaml:\d+: .*oauth_user keeps each user's tokens in the credential vault, which needs 'credentials: \{key: \.\.\.\}'/);
    assert.match(r.output, /main\.yaml:\d+: .*type oauth_user needs an HTTP upstream/);
  });
});

describe('oauth_user with credentials.confirm_user: a consent link only works for the user it was made for', () => {
  let oidc;
  let echo;
  let gw;
  let resource;

  before(async () => {
    const port = await h.freePort();
    resource = `http://127.0.0.1:${port}`;
    // The gateway's own client at the issuer, for the sign-in at /oauth/confirm.
    oidc = await startOidc({
      clients: [{
        client_id: 'portcullis-gw',
        client_secret: 'portcullis-gw-secret',
        application_type: 'native',
        redirect_uris: [`${resource}/oauth/confirm`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      }],
    });
    echo = await startAuthEcho({ issuer: oidc.issuer });
    const dir = h.makeConfigDir({
      settings: {
        auth: { mode: 'oauth', resource, oauth: { issuer: oidc.issuer, scopes: ['mcp'] } },
        credentials: {
          key: crypto.randomBytes(32).toString('hex'),
          confirm_user: { client_id: 'portcullis-gw', client_secret: 'portcullis-gw-secret' },
        },
      },
      servers: {
        main: {
          upstreams: { echo: { transport: 'streamable-http', url: echo.url, auth: { type: 'oauth_user' } } },
          virtual_servers: { work: { tools: [{ upstream: 'echo' }] } },
        },
      },
    });
    gw = await h.startGateway(dir, { port });
  });

  after(h.cleanup);

  test("bob's link opened by alice is refused after her sign-in; bob himself then connects with it", async () => {
    const token = (await oidc.tokenFor('bob', { resource: `${resource}/mcp/work`, scope: 'mcp' })).access_token;
    const client = new Client({ name: 'confirm-it', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.mcpUrl('work')),
      { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const err = await h.rejection(client.callTool({ name: 'connect_echo', arguments: {} }));
    assert.equal(err.code, -32042);
    const link = err.data.elicitations[0].url;

    const stolen = await browse(link, 'alice');
    assert.equal(stolen.status, 403, stolen.body);
    assert.match(stolen.body, /made for another user/);
    assert.ok(stolen.url.startsWith(`${resource}/oauth/confirm?`), 'refused at the sign-in, before the upstream');
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['connect_echo'], 'nothing was connected');

    const own = await browse(link, 'bob');
    assert.equal(own.status, 200, own.body);
    assert.match(own.body, /Connected/);
    const me = JSON.parse(h.text(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(decodeJwt(me.authorization.slice(7)).sub, 'bob');
    await client.close();
  });
});
