// Upstream credentials: an upstream with `auth: {type: oauth_token_exchange}`
// sees each user as themselves. The caller's token is exchanged (RFC 8693)
// at the real issuer (oidc-provider) for one whose audience is the upstream;
// the caller's own token never reaches an upstream. HTTP upstreams get the
// user's token on every request; stdio upstreams run one process per user
// with the token in its environment. Catalogues are listed per user.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import * as h from './harness.mjs';
import { decodeJwt, startAuthEcho, startOidc, TEST_CLIENT } from './oidc.mjs';

const STDIO_AUDIENCE = 'http://echo-stdio.test/mcp';

describe('upstream credentials: each user acts as themselves', () => {
  let oidc;
  let echo;
  let gw;
  let resource;
  const key = `pk_${crypto.randomBytes(32).toString('base64url')}`;

  before(async () => {
    oidc = await startOidc();
    // A protected HTTP upstream: it accepts only tokens whose audience is itself.
    echo = await startAuthEcho({ issuer: oidc.issuer });
    const port = await h.freePort();
    resource = `http://127.0.0.1:${port}`;
    const exchange = (extra = {}) => ({
      type: 'oauth_token_exchange',
      token_endpoint: oidc.metadata.token_endpoint,
      client_id: TEST_CLIENT.clientId,
      client_secret: TEST_CLIENT.clientSecret,
      scopes: ['mcp'],
      ...extra,
    });
    const dir = h.makeConfigDir({
      settings: {
        auth: { mode: 'oauth+api_key', resource, oauth: { issuer: oidc.issuer, scopes: ['mcp'] }, api_keys_file: 'api_keys.yaml' },
      },
      servers: {
        main: {
          upstreams: {
            'echo-http': { transport: 'streamable-http', url: echo.url, auth: exchange() },
            'echo-stdio': h.fixtureStdio('auth-echo-server.mjs', { auth: exchange({ resource: STDIO_AUDIENCE }) }),
          },
          virtual_servers: {
            work: { tools: [{ upstream: 'echo-http', prefix: 'h' }, { upstream: 'echo-stdio', prefix: 's' }] },
          },
        },
      },
      files: {
        'api_keys.yaml': [{ id: 'bot', hash: `sha256:${crypto.createHash('sha256').update(key).digest('hex')}`, subject: 'bot@example.com' }],
      },
    });
    gw = await h.startGateway(dir, { port });
  });

  after(h.cleanup);

  const tokenOf = async (user) => (await oidc.tokenFor(user, { resource: `${resource}/mcp/work`, scope: 'mcp' })).access_token;
  const connectAs = async (headers) => {
    const client = new Client({ name: 'creds-it', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.mcpUrl('work')), { requestInit: { headers } }));
    return client;
  };
  const whoami = async (client, tool) =>
    JSON.parse(h.text(await client.callTool({ name: tool, arguments: { env: ['UPSTREAM_TOKEN'] } })));

  test("each user's catalogue is listed with their own credential", async () => {
    const alice = await connectAs({ Authorization: `Bearer ${await tokenOf('alice')}` });
    const names = (await alice.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['h_echo', 'h_whoami', 's_echo', 's_whoami']);
    await alice.close();
  });

  test("concurrently, alice's calls carry alice's upstream token and bob's carry bob's; neither carries their own", async () => {
    const downstream = { alice: await tokenOf('alice'), bob: await tokenOf('bob') };
    const clients = {
      alice: await connectAs({ Authorization: `Bearer ${downstream.alice}` }),
      bob: await connectAs({ Authorization: `Bearer ${downstream.bob}` }),
    };
    const rounds = await Promise.all(
      ['alice', 'bob', 'alice', 'bob', 'alice', 'bob'].map(async (user) => ({ user, w: await whoami(clients[user], 'h_whoami') })),
    );
    for (const { user, w } of rounds) {
      assert.match(w.authorization ?? '', /^Bearer /, `${user}: ${JSON.stringify(w)}`);
      const upstreamToken = w.authorization.slice('Bearer '.length);
      assert.equal(w.claims.sub, user, `the upstream saw ${w.claims.sub} for ${user}`);
      assert.equal(w.claims.aud, echo.url, 'the exchanged token names the upstream');
      assert.notEqual(upstreamToken, downstream.alice);
      assert.notEqual(upstreamToken, downstream.bob);
      // No header anywhere carries a downstream token.
      const seen = JSON.stringify(w.headers);
      assert.ok(!seen.includes(downstream.alice) && !seen.includes(downstream.bob), 'a downstream token reached the upstream');
    }
    for (const c of Object.values(clients)) await c.close();
  });

  test('stdio upstreams run one process per user, with that user\'s token in its environment', async () => {
    const alice = await connectAs({ Authorization: `Bearer ${await tokenOf('alice')}` });
    const bob = await connectAs({ Authorization: `Bearer ${await tokenOf('bob')}` });
    const [a, b] = await Promise.all([whoami(alice, 's_whoami'), whoami(bob, 's_whoami')]);
    assert.notEqual(a.pid, b.pid, 'each user has their own process');
    const claimsA = decodeJwt(a.env.UPSTREAM_TOKEN);
    const claimsB = decodeJwt(b.env.UPSTREAM_TOKEN);
    assert.equal(claimsA.sub, 'alice');
    assert.equal(claimsB.sub, 'bob');
    assert.equal(claimsA.aud, STDIO_AUDIENCE);
    // The same user's next call reaches the same process.
    assert.equal((await whoami(alice, 's_whoami')).pid, a.pid);
    await alice.close();
    await bob.close();
  });

  test('a caller with no token to exchange gets an error that says so', async () => {
    const bot = await connectAs({ 'X-API-Key': key });
    const r = await h.rejection(bot.callTool({ name: 'h_whoami', arguments: {} }));
    assert.match(r.message, /no OAuth token to exchange.*API key/);
    await bot.close();
  });
});
