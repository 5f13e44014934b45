// Helpers for the identity tests: a real OAuth authorization server
// (tests/fixtures/oidc-server.mjs, oidc-provider) and the auth-echo MCP
// upstream (tests/fixtures/auth-echo-server.mjs), started through the
// harness's process tracking, so harness.cleanup() (or stop()) ends them.
//
// Tokens are obtained the honest way: the authorization-code + PKCE flow is
// driven over HTTP (GET /auth, the fixture's login form, its consent form,
// the redirect with the code, POST /token), with a cookie jar per flow.
import crypto from 'node:crypto';

import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

import { NODE, fixture, spawnTracked, stopProcess } from './harness.mjs';

export { decodeJwt, decodeProtectedHeader };

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TT_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

// The fixture's static clients (see oidc-server.mjs).
export const TEST_CLIENT = { clientId: 'test-client', clientSecret: 'test-client-secret', redirectUri: 'http://127.0.0.1/callback' };
export const PUBLIC_CLIENT = { clientId: 'test-public', redirectUri: 'http://127.0.0.1/callback' };

// ---------------------------------------------------------------------------
// Spawning a fixture that prints a JSON ready line on stdout
// ---------------------------------------------------------------------------

// Spawns `node <fixture> ...args` and resolves with { proc, ready } once the
// fixture printed its {"ready":true,...} line.
export async function spawnReady(file, args = [], { env, name = file, timeoutMs = 15000 } = {}) {
  const proc = spawnTracked(NODE, [fixture(file), ...args], { name, env });
  let buf = '';
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${name} printed no ready line within ${timeoutMs} ms:\n${proc.log}`)), timeoutMs);
    function finish(err, value) {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      if (err) reject(err);
      else resolve(value);
    }
    function onData(chunk) {
      buf += chunk.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        try {
          const msg = JSON.parse(line);
          if (msg.ready) return finish(null, msg);
        } catch {}
      }
    }
    proc.stdout.on('data', onData);
    proc.exited.then((info) => finish(new Error(`${name} exited (${JSON.stringify(info)}) before it was ready:\n${proc.log}`)));
  }).catch(async (err) => {
    await stopProcess(proc);
    throw err;
  });
  return { proc, ready };
}

// ---------------------------------------------------------------------------
// HTTP with a cookie jar (enough of RFC 6265 for one flow against one host)
// ---------------------------------------------------------------------------

export class CookieJar {
  #cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expires = attrs.map((a) => a.trim()).find((a) => /^expires=/i.test(a));
      const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
      const gone = !value
        || (maxAge && Number(maxAge.split('=')[1]) <= 0)
        || (expires && Date.parse(expires.slice(8)) <= Date.now());
      if (gone) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function fetchWithJar(jar, url, init = {}) {
  const headers = { ...init.headers };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(res);
  return res;
}

// ---------------------------------------------------------------------------
// Driving an authorization request as a user
// ---------------------------------------------------------------------------

// The authorization server's interaction page in `body` (at `url`), filled
// in as `user`: its login form (login=user) or consent form (consent=yes, or
// no). Resolves with the response to the POST, or null when the page has no
// such form.
async function submitInteraction(jar, url, body, user, consent) {
  const form = body.match(/<form method="post" action="([^"]+)" data-prompt="([^"]+)"/);
  if (!form) return null;
  const [, action, prompt] = form;
  const fields = prompt === 'login' ? { login: user } : { consent: consent ? 'yes' : 'no' };
  const target = new URL(action, url).href;
  const res = await fetchWithJar(jar, target, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { url: target, res };
}

// Follows `authorizationUrl` (any client's: the gateway's too) as `user`:
// the redirects, the login form (login=user) and the consent form
// (consent=yes, or no with { consent: false }). Stops at the first redirect
// that leaves the authorization server, and returns
// { location, code, state, error, error_description, iss } from it.
export async function authorizeAs(authorizationUrl, user, { consent = true, maxSteps = 20 } = {}) {
  const jar = new CookieJar();
  const origin = new URL(authorizationUrl).origin;
  let url = authorizationUrl;
  let res = await fetchWithJar(jar, url);
  for (let step = 0; step < maxSteps; step++) {
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const next = new URL(res.headers.get('location'), url);
      if (next.origin !== origin) {
        const q = next.searchParams;
        return {
          location: next.href,
          code: q.get('code'),
          state: q.get('state'),
          iss: q.get('iss'),
          error: q.get('error'),
          error_description: q.get('error_description'),
        };
      }
      url = next.href;
      res = await fetchWithJar(jar, url);
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) throw new Error(`authorization flow: HTTP ${res.status} at ${url}: ${body.slice(0, 500)}`);
    const posted = await submitInteraction(jar, url, body, user, consent);
    if (!posted) throw new Error(`authorization flow: no interaction form at ${url}: ${body.slice(0, 500)}`);
    ({ url, res } = posted);
  }
  throw new Error(`authorization flow: more than ${maxSteps} steps`);
}

// A user's browser opening `url` (a gateway consent link, say): follows
// every redirect, whatever its origin, and fills the authorization server's
// login and consent forms as authorizeAs does. Resolves with the first page
// that is neither a redirect nor such a form: { status, url, body, headers }.
export async function browse(url, user, { consent = true, maxSteps = 30 } = {}) {
  const jar = new CookieJar();
  let res = await fetchWithJar(jar, url);
  for (let step = 0; step < maxSteps; step++) {
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      url = new URL(res.headers.get('location'), url).href;
      res = await fetchWithJar(jar, url);
      continue;
    }
    const body = await res.text();
    const posted = await submitInteraction(jar, url, body, user, consent);
    if (!posted) return { status: res.status, url, body, headers: res.headers };
    ({ url, res } = posted);
  }
  throw new Error(`browser: more than ${maxSteps} steps`);
}

export function pkcePair() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// ---------------------------------------------------------------------------
// Token endpoint calls
// ---------------------------------------------------------------------------

function clientAuth(client, params, headers) {
  if (client.clientSecret !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
  } else {
    params.client_id = client.clientId;
  }
}

// POSTs `params` to `tokenEndpoint` as `client`. Resolves with the JSON
// answer; rejects with an Error carrying .status and .body on HTTP errors
// (unless { raw: true }: then resolves { status, body }).
export async function tokenRequest(tokenEndpoint, client, params, { raw = false } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const p = { ...params };
  clientAuth(client, p, headers);
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) form.append(k, String(one));
  }
  const res = await fetch(tokenEndpoint, { method: 'POST', headers, body: form.toString() });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (raw) return { status: res.status, body };
  if (res.status !== 200) {
    throw Object.assign(new Error(`token endpoint: HTTP ${res.status}: ${text.slice(0, 500)}`), { status: res.status, body });
  }
  return body;
}

// ---------------------------------------------------------------------------
// The authorization server
// ---------------------------------------------------------------------------

// Starts tests/fixtures/oidc-server.mjs. Options:
//   accessTokenTTL  seconds (default 3600)     alg  'RS256' | 'ES256' (access tokens)
//   scopes          the resource servers' scopes (default 'mcp mcp:read mcp:write mcp:admin')
//   accounts        { name: { groups, team, project, name, email } } (default alice, bob)
//   clients         extra static clients (oidc-provider client metadata)
export async function startOidc({ accessTokenTTL, alg, scopes, accounts, clients, env } = {}) {
  const args = [];
  if (accessTokenTTL !== undefined) args.push('--ttl', String(accessTokenTTL));
  if (alg) args.push('--alg', alg);
  if (scopes) args.push('--scopes', Array.isArray(scopes) ? scopes.join(' ') : scopes);
  if (accounts) args.push('--accounts', JSON.stringify(accounts));
  if (clients) args.push('--clients', JSON.stringify(clients));
  const { proc, ready } = await spawnReady('oidc-server.mjs', args, { env, name: 'oidc-server' });
  const { issuer } = ready;
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwksUri = meta.jwks_uri;
  const tokenEndpoint = meta.token_endpoint;

  const admin = async (what, body) => {
    const res = await fetch(`${issuer}/test/${what}`, body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const out = await res.json();
    if (res.status !== 200) throw new Error(`oidc-server /test/${what}: HTTP ${res.status}: ${JSON.stringify(out)}`);
    return out;
  };

  // An authorization URL for `client` with PKCE; returns { url, verifier, state }.
  const authorizationUrl = ({ client = TEST_CLIENT, resource, scope = 'mcp', redirectUri = client.redirectUri, extra = {} } = {}) => {
    const { verifier, challenge } = pkcePair();
    const state = crypto.randomBytes(8).toString('base64url');
    const u = new URL(meta.authorization_endpoint);
    u.searchParams.set('client_id', client.clientId);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('redirect_uri', redirectUri);
    u.searchParams.set('scope', scope);
    u.searchParams.set('state', state);
    u.searchParams.set('code_challenge', challenge);
    u.searchParams.set('code_challenge_method', 'S256');
    for (const r of resource === undefined ? [] : Array.isArray(resource) ? resource : [resource]) u.searchParams.append('resource', r);
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    return { url: u.href, verifier, state, redirectUri };
  };

  const oidc = {
    issuer,
    jwksUri,
    tokenEndpoint,
    metadata: meta,
    proc,
    port: ready.port,

    authorizationUrl,

    // The full authorization-code + PKCE flow as `user`; resolves with the
    // token response ({ access_token, refresh_token, id_token?, expires_in,
    // scope, token_type }). `resource` is the audience of the access token.
    async tokenFor(user, { resource, scope = 'mcp', client = TEST_CLIENT, consent = true } = {}) {
      const auth = authorizationUrl({ client, resource, scope });
      const back = await authorizeAs(auth.url, user, { consent });
      if (back.error) throw Object.assign(new Error(`authorization failed: ${back.error}: ${back.error_description}`), { authorization: back });
      if (back.state !== auth.state) throw new Error(`state mismatch: ${back.state} != ${auth.state}`);
      return tokenRequest(tokenEndpoint, client, {
        grant_type: 'authorization_code',
        code: back.code,
        redirect_uri: auth.redirectUri,
        code_verifier: auth.verifier,
        resource,
      });
    },

    async clientCredentials({ resource, scope = 'mcp', client = TEST_CLIENT } = {}) {
      return tokenRequest(tokenEndpoint, client, { grant_type: 'client_credentials', resource, scope });
    },

    async refresh(refreshToken, { resource, scope, client = TEST_CLIENT } = {}) {
      return tokenRequest(tokenEndpoint, client, { grant_type: 'refresh_token', refresh_token: refreshToken, resource, scope });
    },

    // RFC 8693: exchanges `subjectToken` (a JWT access token from this
    // issuer) for one whose aud is `resource` (or `audience`).
    async exchange(subjectToken, { resource, audience, scope, client = TEST_CLIENT, raw = false } = {}) {
      return tokenRequest(tokenEndpoint, client, {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: TT_ACCESS_TOKEN,
        requested_token_type: TT_ACCESS_TOKEN,
        resource,
        audience,
        scope,
      }, { raw });
    },

    // Dynamic client registration (RFC 7591); resolves with the registered
    // client's metadata (client_id, client_secret, ...).
    async register(metadata) {
      const res = await fetch(meta.registration_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(metadata),
      });
      const out = await res.json();
      if (res.status !== 201) throw new Error(`registration: HTTP ${res.status}: ${JSON.stringify(out)}`);
      return out;
    },

    async jwks() {
      return (await fetch(jwksUri)).json();
    },

    // Verifies a JWT from this issuer against its JWKS (fetched now);
    // resolves with { payload, protectedHeader }.
    async verify(token, { audience, typ = 'at+jwt' } = {}) {
      return jwtVerify(token, createRemoteJWKSet(new URL(jwksUri)), { issuer, audience, typ });
    },

    state: () => admin('state'),
    // New RS256 + ES256 keys (new kids) sign from now on; the old ones stay
    // in the JWKS until retireKeys() (or `retireAfterMs` from now). Resolves
    // with the fixture's state ({ current: { RS256: kid, ES256: kid }, kids }).
    rotateKeys: ({ retireAfterMs } = {}) => admin('rotate', retireAfterMs === undefined ? {} : { retireAfterMs }),
    retireKeys: () => admin('retire', {}),
    // { accessTokenTTL, alg } for tokens issued from now on.
    settings: (s) => admin('settings', s),

    stop: () => stopProcess(proc),
  };
  return oidc;
}

// ---------------------------------------------------------------------------
// The auth-echo upstream
// ---------------------------------------------------------------------------

// Starts tests/fixtures/auth-echo-server.mjs over Streamable HTTP. With
// `issuer` it is a protected resource: bearer tokens must verify against the
// issuer's JWKS with aud = `audience` (default: its own /mcp URL) and carry
// `scope` (default none required). Resolves with { url, port, proc, resource,
// resourceMetadataUrl, stop }.
export async function startAuthEcho({ issuer, audience, scope, env } = {}) {
  const args = ['--http', '0'];
  if (issuer) args.push('--issuer', issuer);
  if (audience) args.push('--audience', audience);
  if (scope) args.push('--scope', scope);
  const { proc, ready } = await spawnReady('auth-echo-server.mjs', args, { env, name: 'auth-echo-server' });
  return { ...ready, proc, stop: () => stopProcess(proc) };
}

// An OAuthClientProvider for the SDK client that keeps everything in memory
// (the registered client, tokens, PKCE verifier) and records the
// authorization URL instead of opening a browser: follow it with
// authorizeAs(saved.authUrl.href, user), then transport.finishAuth(code).
// `redirect` is never fetched (authorizeAs stops at it).
export function memoryAuthProvider(redirect, clientName = 'sdk-oauth') {
  const saved = {};
  const provider = {
    get redirectUrl() { return redirect; },
    get clientMetadata() {
      return { redirect_uris: [redirect], client_name: clientName, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' };
    },
    clientInformation: () => saved.client,
    saveClientInformation: (c) => { saved.client = c; },
    tokens: () => saved.tokens,
    saveTokens: (t) => { saved.tokens = t; },
    redirectToAuthorization: (u) => { saved.authUrl = u; },
    saveCodeVerifier: (v) => { saved.verifier = v; },
    codeVerifier: () => saved.verifier,
  };
  return { provider, saved };
}
