// The identity tests' fixtures on their own: the oidc-provider authorization
// server (tests/fixtures/oidc-server.mjs, through tests/integration/oidc.mjs)
// issues real signed JWT access tokens, and the auth-echo upstream
// (tests/fixtures/auth-echo-server.mjs) reports the credentials it got and
// guards itself like a real OAuth-protected resource. No gateway involved.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { createLocalJWKSet, jwtVerify } from 'jose';

import * as h from './harness.mjs';
import { authorizeAs, decodeJwt, decodeProtectedHeader, memoryAuthProvider, startAuthEcho, startOidc, TEST_CLIENT } from './oidc.mjs';

const RS = 'http://127.0.0.1:9/mcp'; // a resource indicator (nothing listens there)
const UPSTREAM = 'http://127.0.0.1:9/upstream';

const mcpClients = [];
async function mcpClient(transport) {
  const client = new Client({ name: 'oidc-fixture-test', version: '1.0.0' });
  await client.connect(transport);
  mcpClients.push(client);
  return client;
}
async function whoami(client, args = {}) {
  return JSON.parse(h.text(await client.callTool({ name: 'whoami', arguments: args })));
}
const httpClient = (url, headers = {}) => mcpClient(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));

// Verifies against a JWKS fetched now (no cache), as a resource server would.
async function verifyNow(oidc, token, audience) {
  return jwtVerify(token, createLocalJWKSet(await oidc.jwks()), { issuer: oidc.issuer, audience, typ: 'at+jwt' });
}

describe('oidc fixture', () => {
  let oidc;
  before(async () => {
    oidc = await startOidc();
  });
  after(async () => {
    await Promise.all(mcpClients.map((c) => c.close().catch(() => {})));
    await h.cleanup();
  });

  test('discovery: RFC 8414 and OIDC metadata, token exchange and registration advertised', async () => {
    const as = await (await fetch(`${oidc.issuer}/.well-known/oauth-authorization-server`)).json();
    assert.equal(as.issuer, oidc.issuer);
    assert.equal(as.jwks_uri, oidc.jwksUri);
    assert.ok(as.registration_endpoint);
    assert.ok(as.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'));
    assert.ok(as.grant_types_supported.includes('client_credentials'));
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    const jwks = await oidc.jwks();
    assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    assert.ok(jwks.keys.every((k) => !k.d), 'the JWKS holds no private parts');
  });

  test('alice and bob get JWT access tokens (code + PKCE) with aud, sub, scope, groups and team', async () => {
    const a = await oidc.tokenFor('alice', { resource: RS, scope: 'mcp' });
    const b = await oidc.tokenFor('bob', { resource: RS, scope: 'mcp mcp:read' });
    assert.equal(a.token_type, 'Bearer');
    assert.ok(a.refresh_token);

    const { payload: pa, protectedHeader: ha } = await verifyNow(oidc, a.access_token, RS);
    assert.equal(ha.alg, 'RS256');
    assert.equal(ha.typ, 'at+jwt');
    assert.equal(pa.sub, 'alice');
    assert.equal(pa.aud, RS);
    assert.equal(pa.iss, oidc.issuer);
    assert.equal(pa.scope, 'mcp');
    assert.deepEqual(pa.groups, ['payments', 'eng']);
    assert.equal(pa.team, 'payments');
    assert.equal(pa.project, 'checkout');
    assert.equal(pa.client_id, TEST_CLIENT.clientId);

    const { payload: pb } = await verifyNow(oidc, b.access_token, RS);
    assert.equal(pb.sub, 'bob');
    assert.equal(pb.aud, RS);
    assert.deepEqual(pb.scope.split(' ').sort(), ['mcp', 'mcp:read']);
    assert.deepEqual(pb.groups, ['support']);
    assert.equal(pb.team, 'support');
    assert.equal(pb.project, undefined);

    // A token for another resource does not pass as one for RS.
    const other = await oidc.tokenFor('alice', { resource: UPSTREAM });
    await assert.rejects(verifyNow(oidc, other.access_token, RS), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    // A tampered token does not verify.
    const [hd, body, sig] = a.access_token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...pa, sub: 'bob' })).toString('base64url');
    await assert.rejects(verifyNow(oidc, `${hd}.${forged}.${sig}`, RS), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    assert.ok(body);
  });

  test('openid scope adds an ID token; the public client works with PKCE alone', async () => {
    const t = await oidc.tokenFor('bob', { resource: RS, scope: 'openid groups mcp' });
    const id = decodeJwt(t.id_token);
    assert.equal(id.sub, 'bob');
    assert.equal(id.aud, TEST_CLIENT.clientId);
    assert.deepEqual(id.groups, ['support']);
    const p = await oidc.tokenFor('alice', { resource: RS, client: { clientId: 'test-public', redirectUri: 'http://127.0.0.1/callback' } });
    assert.equal(decodeJwt(p.access_token).client_id, 'test-public');
  });

  test('unknown users and refused consent end in access_denied', async () => {
    await assert.rejects(oidc.tokenFor('mallory', { resource: RS }), /access_denied/);
    await assert.rejects(oidc.tokenFor('alice', { resource: RS, consent: false }), /access_denied/);
  });

  test('authorizeAs drives any authorization URL and stops at the client redirect', async () => {
    const auth = oidc.authorizationUrl({ resource: RS, redirectUri: 'http://127.0.0.1:45678/callback' });
    const back = await authorizeAs(auth.url, 'alice');
    assert.ok(back.location.startsWith('http://127.0.0.1:45678/callback?'));
    assert.equal(back.state, auth.state);
    assert.equal(back.iss, oidc.issuer);
    assert.ok(back.code);
  });

  test('refresh tokens give new access tokens for the same user', async () => {
    const t = await oidc.tokenFor('alice', { resource: RS });
    const r = await oidc.refresh(t.refresh_token, { resource: RS });
    const { payload } = await verifyNow(oidc, r.access_token, RS);
    assert.equal(payload.sub, 'alice');
    assert.notEqual(payload.jti, decodeJwt(t.access_token).jti);
    assert.deepEqual(payload.groups, ['payments', 'eng']);
  });

  test('client_credentials: a JWT for the resource with the client as sub and no user claims', async () => {
    const t = await oidc.clientCredentials({ resource: RS, scope: 'mcp' });
    const { payload } = await verifyNow(oidc, t.access_token, RS);
    assert.equal(payload.sub, TEST_CLIENT.clientId);
    assert.equal(payload.scope, 'mcp');
    assert.equal(payload.groups, undefined);
  });

  test('token exchange (RFC 8693): same user, new audience, requested scopes', async () => {
    const user = await oidc.tokenFor('alice', { resource: RS, scope: 'mcp' });
    const x = await oidc.exchange(user.access_token, { resource: UPSTREAM, scope: 'mcp:read' });
    assert.equal(x.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(x.token_type, 'Bearer');
    const { payload } = await verifyNow(oidc, x.access_token, UPSTREAM);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.aud, UPSTREAM);
    assert.equal(payload.scope, 'mcp:read');
    assert.deepEqual(payload.groups, ['payments', 'eng']);

    // `audience` works as well; no scope asked: the subject token's.
    const y = await oidc.exchange(user.access_token, { audience: UPSTREAM });
    assert.equal(decodeJwt(y.access_token).scope, 'mcp');

    // A forged subject token, and one with no user behind it, are refused.
    const [hd, , sig] = user.access_token.split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ ...decodeJwt(user.access_token), sub: 'bob' })).toString('base64url')}.${sig}`;
    const bad = await oidc.exchange(forged, { resource: UPSTREAM, raw: true });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_grant');
    const cc = await oidc.clientCredentials({ resource: RS });
    const nobody = await oidc.exchange(cc.access_token, { resource: UPSTREAM, raw: true });
    assert.equal(nobody.body.error, 'invalid_grant');
    const unknownScope = await oidc.exchange(user.access_token, { resource: UPSTREAM, scope: 'root', raw: true });
    assert.equal(unknownScope.body.error, 'invalid_scope');
  });

  test('dynamic client registration: a registered client runs the code flow', async () => {
    const reg = await oidc.register({
      redirect_uris: ['http://127.0.0.1:45679/oauth/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_name: 'dcr-test',
    });
    assert.ok(reg.client_id && reg.client_secret);
    const client = { clientId: reg.client_id, clientSecret: reg.client_secret, redirectUri: reg.redirect_uris[0] };
    const t = await oidc.tokenFor('bob', { resource: RS, client });
    const { payload } = await verifyNow(oidc, t.access_token, RS);
    assert.equal(payload.client_id, reg.client_id);
    assert.equal(payload.sub, 'bob');
    // The registered client may exchange tokens, but not use grants it did not register.
    const x = await oidc.exchange(t.access_token, { resource: UPSTREAM, client });
    assert.equal(decodeJwt(x.access_token).aud, UPSTREAM);
    await assert.rejects(oidc.clientCredentials({ resource: RS, client }), { status: 400 });
  });

  test('ES256 access tokens when asked for', async () => {
    await oidc.settings({ alg: 'ES256' });
    try {
      const t = await oidc.tokenFor('bob', { resource: RS });
      const { protectedHeader, payload } = await verifyNow(oidc, t.access_token, RS);
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.sub, 'bob');
    } finally {
      await oidc.settings({ alg: 'RS256' });
    }
  });

  test('key rotation: new kid signs, old tokens verify until the old key is retired', async () => {
    const before = await oidc.tokenFor('alice', { resource: RS });
    const kid1 = decodeProtectedHeader(before.access_token).kid;
    const rotated = await oidc.rotateKeys();
    assert.notEqual(rotated.current.RS256, kid1);

    const afterRotation = await oidc.tokenFor('alice', { resource: RS });
    const kid2 = decodeProtectedHeader(afterRotation.access_token).kid;
    assert.equal(kid2, rotated.current.RS256);
    assert.notEqual(kid2, kid1);
    const kids = (await oidc.jwks()).keys.map((k) => k.kid);
    assert.ok(kids.includes(kid1) && kids.includes(kid2), `both kids published: ${kids}`);
    await verifyNow(oidc, before.access_token, RS);
    await verifyNow(oidc, afterRotation.access_token, RS);
    // Refresh tokens issued before the rotation still work.
    const r = await oidc.refresh(before.refresh_token, { resource: RS });
    assert.equal(decodeProtectedHeader(r.access_token).kid, kid2);

    await oidc.retireKeys();
    const left = (await oidc.jwks()).keys.map((k) => k.kid);
    assert.ok(!left.includes(kid1) && left.includes(kid2), `old kid retired: ${left}`);
    await assert.rejects(verifyNow(oidc, before.access_token, RS), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await verifyNow(oidc, afterRotation.access_token, RS);
  });

  test('key rotation with a timed retirement', async () => {
    const old = (await oidc.state()).current.RS256;
    const { current } = await oidc.rotateKeys({ retireAfterMs: 300 });
    assert.ok((await oidc.jwks()).keys.some((k) => k.kid === old));
    await h.waitUntil(async () => !(await oidc.jwks()).keys.some((k) => k.kid === old), { what: 'the old key to leave the JWKS' });
    const kids = (await oidc.jwks()).keys.map((k) => k.kid).sort();
    assert.deepEqual(kids, [current.ES256, current.RS256].sort());
  });
});

describe('oidc fixture: short token lifetime', () => {
  after(h.cleanup);

  test('accessTokenTTL makes tokens expire', async () => {
    const oidc = await startOidc({ accessTokenTTL: 3 });
    const t = await oidc.tokenFor('bob', { resource: RS });
    assert.equal(t.expires_in, 3);
    const claims = decodeJwt(t.access_token);
    assert.equal(claims.exp - claims.iat, 3);
    await verifyNow(oidc, t.access_token, RS);
    await sleep(3100);
    await assert.rejects(verifyNow(oidc, t.access_token, RS), { code: 'ERR_JWT_EXPIRED' });
    // A refresh gives a fresh one.
    const r = await oidc.refresh(t.refresh_token, { resource: RS });
    await verifyNow(oidc, r.access_token, RS);
  });
});

describe('auth-echo fixture', () => {
  let oidc;
  before(async () => {
    oidc = await startOidc();
  });
  after(async () => {
    await Promise.all(mcpClients.map((c) => c.close().catch(() => {})));
    await h.cleanup();
  });

  test('HTTP, unprotected: whoami reports the Authorization header of the call and the pid', async () => {
    const echo = await startAuthEcho();
    assert.equal(echo.resource_metadata, null);
    const c1 = await httpClient(echo.url, { authorization: 'Bearer first' });
    const c2 = await httpClient(echo.url, { authorization: 'Bearer second', 'x-extra': 'yes' });
    const c3 = await httpClient(echo.url);
    const w1 = await whoami(c1);
    const w2 = await whoami(c2);
    const w3 = await whoami(c3);
    assert.equal(w1.transport, 'http');
    assert.equal(w1.authorization, 'Bearer first');
    assert.equal(w2.authorization, 'Bearer second');
    assert.equal(w2.headers['x-extra'], 'yes');
    assert.equal(w3.authorization, null);
    assert.equal(w1.pid, echo.pid);
    assert.equal(w1.claims, null);
    const prm = await fetch(`http://127.0.0.1:${echo.port}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(prm.status, 404);
  });

  test('stdio: whoami reports $UPSTREAM_TOKEN and a process id per process', async () => {
    const spawnStdio = (token) => mcpClient(new StdioClientTransport({
      command: h.NODE,
      args: [h.fixture('auth-echo-server.mjs')],
      env: { ...process.env, UPSTREAM_TOKEN: token, TEAM: `team-of-${token}` },
      stderr: 'pipe',
    }));
    const a = await spawnStdio('token-a');
    const b = await spawnStdio('token-b');
    const wa = await whoami(a, { env: ['TEAM'] });
    const wb = await whoami(b);
    assert.equal(wa.transport, 'stdio');
    assert.equal(wa.authorization, 'token-a');
    assert.equal(wb.authorization, 'token-b');
    assert.deepEqual(wa.env, { TEAM: 'team-of-token-a' });
    assert.notEqual(wa.pid, wb.pid);
    assert.equal(h.text(await a.callTool({ name: 'echo', arguments: { message: 'hi' } })), 'Echo: hi');
  });

  test('HTTP, protected: 401 with resource_metadata, PRM points at the issuer, valid tokens pass', async () => {
    const echo = await startAuthEcho({ issuer: oidc.issuer, scope: 'mcp' });
    assert.equal(echo.resource, echo.url);

    // No token: 401 and the challenge that starts an MCP client's OAuth flow.
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    const none = await h.rawPost(echo.url, init);
    assert.equal(none.status, 401);
    const www = none.headers.get('www-authenticate');
    assert.match(www, /^Bearer /);
    assert.ok(www.includes(`resource_metadata="${echo.resource_metadata}"`), www);
    assert.ok(!www.includes('error='), 'no error code without credentials');
    await none.arrayBuffer();

    const prm = await (await fetch(echo.resource_metadata)).json();
    assert.equal(prm.resource, echo.url);
    assert.deepEqual(prm.authorization_servers, [oidc.issuer]);
    assert.deepEqual(prm.scopes_supported, ['mcp']);
    const rootPrm = await (await fetch(`http://127.0.0.1:${echo.port}/.well-known/oauth-protected-resource`)).json();
    assert.deepEqual(rootPrm, prm);

    // A real token, but for another audience: invalid_token.
    const wrongAud = await oidc.tokenFor('alice', { resource: UPSTREAM });
    const r1 = await h.rawPost(echo.url, init, { authorization: `Bearer ${wrongAud.access_token}` });
    assert.equal(r1.status, 401);
    assert.match(r1.headers.get('www-authenticate'), /error="invalid_token"/);
    await r1.arrayBuffer();

    // Right audience, missing the required scope: 403 insufficient_scope.
    const noScope = await oidc.tokenFor('alice', { resource: echo.url, scope: 'mcp:read' });
    const r2 = await h.rawPost(echo.url, init, { authorization: `Bearer ${noScope.access_token}` });
    assert.equal(r2.status, 403);
    assert.match(r2.headers.get('www-authenticate'), /error="insufficient_scope"/);
    await r2.arrayBuffer();

    // Alice's and Bob's tokens: each call reports its own token and user.
    const ta = await oidc.tokenFor('alice', { resource: echo.url, scope: 'mcp' });
    const tb = await oidc.tokenFor('bob', { resource: echo.url, scope: 'mcp' });
    const ca = await httpClient(echo.url, { authorization: `Bearer ${ta.access_token}` });
    const cb = await httpClient(echo.url, { authorization: `Bearer ${tb.access_token}` });
    const wa = await whoami(ca);
    const wb = await whoami(cb);
    assert.equal(wa.authorization, `Bearer ${ta.access_token}`);
    assert.equal(wa.claims.sub, 'alice');
    assert.deepEqual(wa.claims.groups, ['payments', 'eng']);
    assert.equal(wb.authorization, `Bearer ${tb.access_token}`);
    assert.equal(wb.claims.sub, 'bob');

    // The server survives a key rotation: it refetches the JWKS for the new kid.
    await oidc.rotateKeys();
    const tc = await oidc.tokenFor('bob', { resource: echo.url, scope: 'mcp' });
    assert.notEqual(decodeProtectedHeader(tc.access_token).kid, decodeProtectedHeader(tb.access_token).kid);
    const cc = await httpClient(echo.url, { authorization: `Bearer ${tc.access_token}` });
    assert.equal((await whoami(cc)).claims.sub, 'bob');
    // Tokens signed before the rotation still pass while the old key is published.
    assert.equal((await whoami(cb)).claims.sub, 'bob');
  });

  test("HTTP, protected: the SDK client's own OAuth flow (PRM, discovery, DCR, code + PKCE) gets in", async () => {
    const echo = await startAuthEcho({ issuer: oidc.issuer, scope: 'mcp' });
    const redirect = 'http://127.0.0.1:40001/callback'; // never fetched: authorizeAs stops there
    const { provider: authProvider, saved } = memoryAuthProvider(redirect, 'sdk-oauth');
    const first = new StreamableHTTPClientTransport(new URL(echo.url), { authProvider });
    await assert.rejects(new Client({ name: 'sdk-oauth', version: '1.0.0' }).connect(first), UnauthorizedError);
    assert.ok(saved.client?.client_id, 'registered dynamically');
    assert.equal(saved.authUrl.origin, oidc.issuer);
    assert.equal(saved.authUrl.searchParams.get('resource'), echo.url);
    const back = await authorizeAs(saved.authUrl.href, 'bob');
    await first.finishAuth(back.code);
    const claims = decodeJwt(saved.tokens.access_token);
    assert.equal(claims.aud, echo.url);
    assert.equal(claims.sub, 'bob');
    const c = await mcpClient(new StreamableHTTPClientTransport(new URL(echo.url), { authProvider }));
    const w = await whoami(c);
    assert.equal(w.claims.sub, 'bob');
    assert.equal(w.authorization, `Bearer ${saved.tokens.access_token}`);
  });

  test('HTTP, protected: an expired token is refused', async () => {
    const short = await startOidc({ accessTokenTTL: 3 });
    const echo = await startAuthEcho({ issuer: short.issuer });
    const t = await short.tokenFor('alice', { resource: echo.url });
    const c = await httpClient(echo.url, { authorization: `Bearer ${t.access_token}` });
    assert.equal((await whoami(c)).claims.sub, 'alice');
    await sleep(3100);
    const r = await h.rawPost(echo.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, { authorization: `Bearer ${t.access_token}`, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token".*exp/);
    await r.arrayBuffer();
  });
});
