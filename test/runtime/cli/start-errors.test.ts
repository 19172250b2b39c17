// `payout-sandbox start` given bad input: each mistake is one line on stderr naming what is wrong
// and how to fix it, exit code 1, no stack trace (unless --debug), and nothing started.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli as runCli } from './cli-fixture.ts';

const dirs: string[] = [];

afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-start-errors-'));
  dirs.push(d);
  return d;
}

/** The CLI without the server options this machine's environment may hold, plus `env`. */
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env, unset: ['PAYOUT_SANDBOX_OPTIONS', 'PAYOUT_SANDBOX_ADMIN_TOKEN'] });

/** One line, prefixed with the command, and no stack frame anywhere. */
function expectOneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^payout-sandbox start: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('payout-sandbox start: bad input', () => {
  it('--port abc', async () => {
    const data = dataDir();
    expectOneLine(await cli(['start', '--port', 'abc', '--data', data]), /--port abc: give a port number from 0 to 65535/);
    expect(fs.existsSync(path.join(data, 'payout-sandbox.db'))).toBe(false);
  });

  it('--port 70000, and --ipn-retries x', async () => {
    expectOneLine(await cli(['start', '--port', '70000', '--data', dataDir()]), /--port 70000/);
    expectOneLine(await cli(['start', '--ipn-retries', 'x', '--data', dataDir()]), /--ipn-retries x: give a whole number of retries from 0 to 100/);
  });

  it('a short admin token (the token itself is never echoed)', async () => {
    const r = await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_ADMIN_TOKEN: 'short-secret' });
    expectOneLine(r, /PAYOUT_SANDBOX_ADMIN_TOKEN is shorter than 16 characters/);
    expect(r.stderr).not.toContain('short-secret');
  });

  it('PAYOUT_SANDBOX_OPTIONS: a typo names the closest option; a wrong type, a flag-owned key and bad JSON say how to fix them', async () => {
    expectOneLine(await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_OPTIONS: '{"alowLoopbackGrants":true}' }), /unknown option 'alowLoopbackGrants'; did you mean 'allowLoopbackGrants'\?/);
    expectOneLine(await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_OPTIONS: '{"ipnLoopbackOrigins":"http://127.0.0.1:8081"}' }), /'ipnLoopbackOrigins' must be a list of strings/);
    expectOneLine(await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_OPTIONS: '{"adminToken":"x"}' }), /'adminToken' is set by PAYOUT_SANDBOX_ADMIN_TOKEN, not here/);
    expectOneLine(await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_OPTIONS: '{"transferWallMs":' }), /PAYOUT_SANDBOX_OPTIONS is not valid JSON/);
    expectOneLine(await cli(['start', '--data', dataDir()], { PAYOUT_SANDBOX_OPTIONS: '[1]' }), /must be a JSON object of server options/);
  });

  it('--debug adds the stack trace to the same line', async () => {
    const r = await cli(['start', '--port', 'abc', '--data', dataDir(), '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('payout-sandbox start: --port abc: give a port number from 0 to 65535');
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('a busy port fails before any plugin is loaded or the store opened', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const data = dataDir();
    try {
      const r = await cli(['start', '--port', String(port), '--data', data]);
      expectOneLine(r, new RegExp(`port ${port} on 127.0.0.1 is already in use .*--port`));
      expect(r.stdout).toBe(''); // no log line: no plugin loaded, no cron run
      expect(fs.existsSync(path.join(data, 'payout-sandbox.db'))).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('payout-sandbox: the other commands', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  });

  it('a mistyped option names the right one, with a short hint instead of the whole help', async () => {
    const r = await cli(['start', '--prot', '3000']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(["error: unknown option '--prot'", '(Did you mean --port?)', '(add --help for usage)']);
  });

  it('an unknown command or option is one line and the help hint', async () => {
    const r = await cli(['strat']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown command 'strat'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
