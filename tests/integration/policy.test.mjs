// Cedar policies as the gateway's authorize stage, end to end: real tokens
// from oidc-provider (alice: groups payments, eng; bob: group support), the
// official SDK client through the gateway, server-everything behind it.
// Each user sees only the tools they may call, an argument-based forbid
// blocks one call and lets another through, an @approval permit asks the
// human with elicitation/create, a broken policy file on reload leaves the
// last good set serving, and the audit trail keeps the decision and the
// policies that made it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import * as h from './harness.mjs';
import { startOidc } from './oidc.mjs';

const POLICIES = `
// The payments group may use every tool of "main".
@id("payments-use-main")
permit (principal in Group::"payments", action, resource in Server::"main");

// Support may only echo.
@id("support-echo")
permit (principal in Group::"support", action == Action::"call_tool", resource == Tool::"main/echo");

// Nobody adds numbers above 100 (an argument-based forbid).
@id("no-big-sums")
forbid (principal, action == Action::"call_tool", resource == Tool::"main/get-sum")
when { context.arguments has a && context.arguments.a > 100 };

// The environment is shown only after a human says yes.
@id("env-needs-approval")
@approval("ops-on-call")
permit (principal in Group::"eng", action == Action::"call_tool", resource == Tool::"main/get-env");

// Outside the payments team, get-env does not even show up.
@id("env-payments-only")
forbid (principal, action, resource == Tool::"main/get-env")
unless { context.metadata has team && context.metadata.team == "payments" };
`;

// get-env with the payments-use-main permit alone would run without asking:
// the approval comes from env-needs-approval, which also decides.

describe('policies: Cedar in the MCP pipeline', () => {
  let oidc;
  let gw;
  let dir;
  let resource;

  before(async () => {
    oidc = await startOidc();
    const port = await h.freePort();
    resource = `http://127.0.0.1:${port}`;
    dir = h.makeConfigDir({
      settings: {
        auth: {
          mode: 'oauth',
          resource,
          oauth: { issuer: oidc.issuer, groups_claim: 'groups', scopes: ['mcp'], metadata_claims: { team: 'team', project_id: 'project' } },
        },
      },
      servers: {
        main: {
          upstreams: { ev: h.everythingStdio() },
          virtual_servers: {
            main: {
              tools: [{ upstream: 'ev', include: ['echo', 'get-sum', 'get-env', 'get-tiny-image'] }],
              resources: [{ upstream: 'ev' }],
              prompts: [{ upstream: 'ev' }],
            },
          },
        },
      },
      files: { 'policies/main.cedar': POLICIES },
    });
    gw = await h.startGateway(dir, { port });
  });

  after(h.cleanup);

  const token = async (user) =>
    (await oidc.tokenFor(user, { resource: `${resource}/mcp/main`, scope: 'mcp' })).access_token;
  // An SDK client as `user`; `elicit` answers elicitation/create requests.
  async function connectAs(user, { elicit } = {}) {
    const capabilities = elicit ? { elicitation: {} } : {};
    const client = new Client({ name: `policy-it-${user}`, version: '1.0.0' }, { capabilities });
    const asked = [];
    client.events = h.observe(client);
    if (elicit) {
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        asked.push(req.params);
        return elicit(req.params);
      });
    }
    const transport = new StreamableHTTPClientTransport(new URL(gw.mcpUrl('main')), {
      requestInit: { headers: { Authorization: `Bearer ${await token(user)}` } },
    });
    await client.connect(transport);
    client.asked = asked;
    return client;
  }
  const auditRows = async () => {
    const r = await h.run(h.PORTCULLIS, ['audit', 'query', '--config', dir, '--json', '--limit', '0']);
    assert.equal(r.code, 0, r.output);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };

  test('two users see different tools/list results: each only what they may call', async () => {
    const alice = await connectAs('alice');
    const bob = await connectAs('bob');
    assert.deepEqual(await h.toolNames(alice), ['echo', 'get-env', 'get-sum', 'get-tiny-image']);
    assert.deepEqual(await h.toolNames(bob), ['echo']);
    assert.equal(h.text(await bob.callTool({ name: 'echo', arguments: { message: 'from bob' } })), 'Echo: from bob');
    await h.closeClient(alice);
    await h.closeClient(bob);
  });

  test('resources and prompts follow read_resource and get_prompt: hidden from lists, "not found" when denied', async () => {
    const alice = await connectAs('alice');
    const bob = await connectAs('bob');
    const aliceResources = (await alice.listResources()).resources;
    const alicePrompts = (await alice.listPrompts()).prompts;
    assert.ok(aliceResources.length > 0 && alicePrompts.length > 0);
    assert.deepEqual((await bob.listResources()).resources, []);
    assert.deepEqual((await bob.listPrompts()).prompts, []);
    const uri = aliceResources[0].uri;
    assert.ok((await alice.readResource({ uri })).contents.length > 0);
    const denied = await h.rejection(bob.readResource({ uri }));
    const missing = await h.rejection(bob.readResource({ uri: `${uri}-missing` }));
    assert.equal(denied.code, missing.code);
    assert.equal(denied.message, missing.message.replace(`${uri}-missing`, uri));
    const prompt = alicePrompts.find((p) => !(p.arguments ?? []).some((a) => a.required));
    assert.ok(prompt, JSON.stringify(alicePrompts));
    assert.ok((await alice.getPrompt({ name: prompt.name })).messages.length > 0);
    assert.match((await h.rejection(bob.getPrompt({ name: prompt.name }))).message, new RegExp(`Unknown prompt: ${prompt.name}`));
    await h.closeClient(alice);
    await h.closeClient(bob);
  });

  test('a denied call gets the same "unknown tool" error as a tool that does not exist', async () => {
    const bob = await connectAs('bob');
    const denied = await h.rejection(bob.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }));
    const missing = await h.rejection(bob.callTool({ name: 'no-such-tool', arguments: {} }));
    assert.equal(denied.code, missing.code);
    assert.equal(denied.message, missing.message.replace('no-such-tool', 'get-sum'));
    assert.match(denied.message, /Unknown tool: get-sum/);
    await h.closeClient(bob);
  });

  test('an argument-based forbid blocks one call and allows another', async () => {
    const alice = await connectAs('alice');
    assert.match(h.text(await alice.callTool({ name: 'get-sum', arguments: { a: 7, b: 5 } })), /is 12\./);
    const err = await h.rejection(alice.callTool({ name: 'get-sum', arguments: { a: 1000, b: 1 } }));
    assert.match(err.message, /Unknown tool: get-sum/);
    // The forbid depends on the arguments, so the tool stays listed.
    assert.ok((await h.toolNames(alice)).includes('get-sum'));
    await h.closeClient(alice);
  });

  test('an @approval permit asks the human: accepted runs the call, declined does not', async () => {
    const answers = [
      { action: 'accept', content: { confirm: true } },
      { action: 'decline' },
      { action: 'accept', content: { confirm: false } },
    ];
    const alice = await connectAs('alice', { elicit: async () => answers.shift() });
    const ran = await alice.callTool({ name: 'get-env', arguments: {} });
    assert.notEqual(ran.isError, true);
    assert.match(h.text(ran), /PATH/);
    assert.equal(alice.asked.length, 1);
    assert.equal(alice.asked[0].mode, 'form');
    assert.match(alice.asked[0].message, /get-env/);
    assert.match(alice.asked[0].message, /ops-on-call/);
    assert.equal(alice.asked[0].requestedSchema.properties.confirm.type, 'boolean');

    const declined = await alice.callTool({ name: 'get-env', arguments: {} });
    assert.equal(declined.isError, true);
    assert.match(h.text(declined), /approval.*declined/);
    const unconfirmed = await alice.callTool({ name: 'get-env', arguments: {} });
    assert.equal(unconfirmed.isError, true);
    assert.equal(alice.asked.length, 3);
    // Calls without @approval never ask.
    await alice.callTool({ name: 'echo', arguments: { message: 'no question' } });
    assert.equal(alice.asked.length, 3);
    await h.closeClient(alice);
  });

  test('a client without elicitation gets a clear error for a call that needs approval', async () => {
    const alice = await connectAs('alice');
    const err = await h.rejection(alice.callTool({ name: 'get-env', arguments: {} }));
    assert.equal(err.code, -32021);
    assert.match(err.message, /approval \(ops-on-call\).*elicitation/);
    await h.closeClient(alice);
  });

  test('stateless 2026-07-28 requests are authorized the same way, and cannot be asked for approval', async () => {
    const as = async (user) => ({ headers: { authorization: `Bearer ${await token(user)}` } });
    const bobList = await h.modernPost(gw.mcpUrl('main'), 'tools/list', {}, await as('bob'));
    assert.deepEqual(bobList.msg.result.tools.map((t) => t.name), ['echo']);
    const bobSum = await h.modernPost(gw.mcpUrl('main'), 'tools/call', { name: 'get-sum', arguments: { a: 1, b: 2 } }, await as('bob'));
    assert.match(bobSum.msg.error.message, /^Unknown tool: get-sum$/);
    const env = await h.modernPost(gw.mcpUrl('main'), 'tools/call', { name: 'get-env', arguments: {} },
      { ...(await as('alice')), caps: { elicitation: {} } });
    assert.equal(env.msg.error.code, -32021);
    assert.match(env.msg.error.message, /2025-11-25 session/);
  });

  test('audit records carry the decision, the determining policy ids and the approval outcome', async () => {
    const rows = await h.waitUntil(async () => {
      const all = (await auditRows()).filter((r) => r.method === 'tools/call');
      return all.length >= 12 ? all : null;
    }, { what: 'the tools/call audit records' });
    const bigSum = rows.find((r) => r.subject === 'alice' && r.tool === 'get-sum' && r.decision === 'denied');
    assert.ok(bigSum, JSON.stringify(rows));
    assert.deepEqual(bigSum.policy_ids, ['no-big-sums']);
    assert.match(bigSum.error_message, /forbidden by policy no-big-sums/);
    const smallSum = rows.find((r) => r.subject === 'alice' && r.tool === 'get-sum' && r.decision === 'allowed');
    assert.deepEqual(smallSum.policy_ids, ['payments-use-main']);
    assert.equal(smallSum.outcome, 'ok');
    const bobSum = rows.find((r) => r.subject === 'bob' && r.tool === 'get-sum');
    assert.equal(bobSum.decision, 'denied');
    assert.deepEqual(bobSum.policy_ids, []);
    assert.match(bobSum.error_message, /no policy permits it \(default deny\)/);
    // Refused before it was sent, the record still says where it was going.
    assert.equal(bobSum.upstream, 'ev');
    assert.equal(bobSum.original_tool, 'get-sum');
    // A list records what policy hid from it, and which forbids did.
    const lists = (await auditRows()).filter((r) => r.method === 'tools/list');
    const bobList = lists.find((r) => r.subject === 'bob');
    assert.equal(bobList.decision, 'filtered');
    assert.deepEqual(bobList.policy_ids, ['env-payments-only']);
    assert.match(bobList.error_message, /^3 hidden by policy: /);
    for (const t of ['get-sum', 'get-env', 'get-tiny-image']) assert.ok(bobList.error_message.includes(t), bobList.error_message);
    const aliceList = lists.find((r) => r.subject === 'alice');
    assert.equal(aliceList.decision, 'allowed');
    assert.equal(aliceList.error_message, '');
    const env = rows.filter((r) => r.tool === 'get-env').map((r) => [r.decision, r.approval, r.outcome]);
    assert.deepEqual(env.sort(), [
      ['allowed', 'accepted', 'ok'],
      ['allowed', 'declined', 'tool_error'],
      ['allowed', 'declined', 'tool_error'],
      ['allowed', 'unsupported', 'error'],
      ['allowed', 'unsupported', 'error'],
    ]);
    const envAccepted = rows.find((r) => r.tool === 'get-env' && r.approval === 'accepted');
    assert.deepEqual(envAccepted.policy_ids.sort(), ['env-needs-approval', 'payments-use-main']);
  });

  test('a broken policy on reload leaves the last good set serving, and check reports file:line:col', async () => {
    const bob = await connectAs('bob');
    h.writeFile(dir, 'policies/main.cedar', `${POLICIES}\npermit (principal, action, resource) when { context.arguments. };\n`);
    gw.hup();
    await h.waitUntil(() => /config reload rejected: the policies do not load/.test(gw.output()), { timeoutMs: 10000, what: 'the rejected reload' });
    assert.match(gw.output(), /main\.cedar:\d+:\d+: /);
    assert.deepEqual(await h.toolNames(bob), ['echo']);
    await h.rejection(bob.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }));
    const check = await h.run(h.PORTCULLIS, ['check', '--config', dir, '--offline']);
    assert.notEqual(check.code, 0);
    const line = POLICIES.split('\n').length + 1;  // the line the broken policy is on
    assert.match(check.stderr, new RegExp(`policies/main\\.cedar:${line}:\\d+: `));

    // A good file on reload takes effect, and sessions hear that lists changed.
    assert.equal(bob.events.count('notifications/tools/list_changed'), 0, 'a rejected reload changes nothing');
    h.writeFile(dir, 'policies/main.cedar', `${POLICIES}\n@id("support-sums")\npermit (principal in Group::"support", action == Action::"call_tool", resource == Tool::"main/get-sum");\n`);
    gw.hup();
    await h.waitUntil(async () => (await h.toolNames(bob)).includes('get-sum'), { timeoutMs: 10000, what: 'bob seeing get-sum' });
    assert.match(h.text(await bob.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), /is 5\./);
    await h.waitUntil(() => bob.events.count('notifications/tools/list_changed') >= 1, { what: 'tools/list_changed' });
    await h.closeClient(bob);
  });
});
