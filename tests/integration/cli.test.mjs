// The command line: --help, check, serve's loopback rule, audit, and a clean
// shutdown that leaves no upstream process behind.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import * as h from './harness.mjs';

describe('command line', () => {
  after(h.cleanup);

  const portcullis = (args, opts) => h.run(h.PORTCULLIS, args, opts);

  const validServers = () => ({
    upstreams: {
      ev: h.everythingStdio(),
      hang: h.fixtureStdio('hang-server.mjs', { timeout: '1s' }),
    },
    virtual_servers: {
      au: {
        tools: [
          { upstream: 'ev', include: ['echo', 'get-sum'] },
          { upstream: 'hang', include: ['hang'] },
        ],
      },
    },
  });

  describe('portcullis --help and check', () => {
    test('--help exits 0 and lists serve, check and audit', async () => {
      const r = await portcullis(['--help']);
      assert.equal(r.code, 0, r.output);
      for (const cmd of ['serve', 'check', 'audit']) assert.match(r.output, new RegExp(`\\b${cmd}\\b`), cmd);
    });

    test('check exits 0 on a valid config dir', async () => {
      const dir = h.makeConfigDir({ servers: { ok: validServers() } });
      const r = await portcullis(['check', '--config', dir]);
      assert.equal(r.code, 0, r.output);
    });

    test('check reports file:line: message for each problem and exits non-zero', async () => {
      // Line numbers matter here, so the YAML is written by hand.
      const broken = [
        'upstreams:', //                          1
        '  good:', //                             2
        '    transport: stdio', //                3
        '    command: node', //                   4
        '  bad:', //                              5
        '    transport: carrier-pigeon', //       6
        '    command: node', //                   7
        'virtual_servers:', //                    8
        '  v:', //                                9
        '    tools:', //                          10
        '      - upstream: nowhere', //           11
        '',
      ].join('\n');
      const dir = h.makeConfigDir({ servers: { broken } });
      const r = await portcullis(['check', '--config', dir]);
      assert.notEqual(r.code, 0, r.output);
      const diagnostics = r.output.split('\n').filter((l) => /broken\.yaml:\d+: \S/.test(l));
      assert.ok(diagnostics.length >= 1, `file:line: message lines in:\n${r.output}`);
      assert.ok(diagnostics.some((l) => /broken\.yaml:6: .*carrier-pigeon/.test(l)), `line 6 names the bad transport:\n${r.output}`);
    });

    test('check reports a YAML syntax error with file and line', async () => {
      // Line 4 is indented less than the mapping it belongs to.
      const dir = h.makeConfigDir({ servers: { syntax: 'upstreams:\n  ev:\n    transport: stdio\n   command: node\n' } });
      const r = await portcullis(['check', '--config', dir]);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, /syntax\.yaml:4: \S/);
    });
  });

  describe('portcullis serve', () => {
    test('refuses a non-loopback --listen without auth, explaining why', async () => {
      const dir = h.makeConfigDir({ servers: { ok: validServers() } });
      const port = await h.freePort();
      const r = await portcullis(['serve', '--config', dir, '--listen', `0.0.0.0:${port}`], { timeoutMs: 10000 });
      assert.equal(r.signal, null, `exited by itself (output: ${r.output})`);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, /loopback/i);
    });
  });

  describe('audit and shutdown', () => {
    test('audit --json prints one JSON line per tools/call with tool, upstream and outcome', async () => {
      const dir = h.makeConfigDir({ servers: { ok: validServers() } });
      const gw = await h.startGateway(dir);
      const client = await h.connect(gw.mcpUrl('au'));
      // Each tools/call below is one audit record (tools/list has its own).
      await h.toolNames(client);
      await client.callTool({ name: 'ev_echo', arguments: { message: 'audited' } }); // ok
      await client.callTool({ name: 'ev_get-sum', arguments: { a: 'not a number', b: 1 } }); // tool_error
      await h.rejection(client.callTool({ name: 'hang_hang', arguments: {} })); // timeout
      await h.closeClient(client);

      const records = await h.waitUntil(async () => {
        const r = await portcullis(['audit', '--config', dir, '--since', '1h', '--method', 'tools/call', '--json']);
        assert.equal(r.code, 0, r.output);
        const lines = r.stdout.split('\n').filter((l) => l.trim());
        return lines.length >= 3 && lines.map((l) => JSON.parse(l));
      }, { timeoutMs: 5000, intervalMs: 250, what: 'three audit records' });

      assert.equal(records.length, 3, JSON.stringify(records));
      const byTool = Object.fromEntries(records.map((r) => [r.tool, r]));
      assert.deepEqual(Object.keys(byTool).sort(), ['ev_echo', 'ev_get-sum', 'hang_hang']);
      assert.equal(byTool.ev_echo.upstream, 'ev');
      assert.equal(byTool.ev_echo.outcome, 'ok');
      assert.equal(byTool.ev_echo.original_tool, 'echo');
      assert.equal(byTool.ev_echo.virtual_server, 'au');
      assert.equal(byTool['ev_get-sum'].upstream, 'ev');
      assert.equal(byTool['ev_get-sum'].outcome, 'tool_error');
      assert.equal(byTool.hang_hang.upstream, 'hang');
      assert.equal(byTool.hang_hang.outcome, 'timeout');
      for (const r of records) assert.equal(r.method, 'tools/call');

      // SIGTERM to the gateway alone (not its process group): it must stop its
      // stdio upstreams itself.
      const upstreams = h.descendants(gw.proc.pid);
      assert.ok(upstreams.length >= 1, 'the gateway runs its stdio upstreams as child processes');
      process.kill(gw.proc.pid, 'SIGTERM');
      const exit = await Promise.race([gw.proc.exited, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
      assert.notEqual(exit, 'still running', 'gateway exits within 8 s of SIGTERM');
      assert.equal(exit.code, 0, `clean exit, got ${JSON.stringify(exit)}`);
      await h.waitUntil(() => h.alive(upstreams).length === 0, {
        timeoutMs: 3000,
        what: 'the stdio upstream processes to exit after the gateway did',
      });
    });
  });
});
