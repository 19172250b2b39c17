// `payout-sandbox install | approve | rollback`: the real binary once end to end (fake registry, token
// from an environment variable, --json --yes), and the commands in-process for confirmation handling
// and the text report.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApprove, runInstall, runRollback } from '../../../runtime/cli/commands/install.ts';
import type { CliIo } from '../../../runtime/cli/commands/install.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import { packTgz, pluginPackage, startFakeRegistry, tmpDir } from './install-helpers.ts';
import type { FakeRegistry } from './install-helpers.ts';

const run = promisify(execFile);
const BIN = new URL('../../../runtime/cli/bin.js', import.meta.url).pathname;
const TOKEN = 'npm_cli_token_5e6f7a8b9c';
let work: string;
let npm: FakeRegistry;

beforeAll(async () => {
  work = tmpDir('cli-install');
  npm = await startFakeRegistry({ token: TOKEN });
});
afterAll(async () => {
  await npm.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function io(answer: boolean | null = null): CliIo & { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  return Object.assign(out, {
    out: (t: string) => { out.stdout += t; },
    err: (t: string) => { out.stderr += t; },
    ask: () => (answer === null ? null : Promise.resolve(answer)),
  });
}

describe('payout-sandbox install (CLI)', () => {
  it('installs from a registry with the token from --registry-token-env, prints JSON, never prints the token', async () => {
    const marker = path.join(work, 'CLI-SCRIPT-RAN');
    npm.publish('payout-clidemo', '1.2.0', packTgz(pluginPackage({ name: 'payout-clidemo', version: '1.2.0', marker })));
    const args = ['install', 'payout-clidemo@latest', '--registry', npm.url, '--allow-loopback-registry', '--registry-token-env', 'DEPLOY_TOKEN',
      '--plugins', path.join(work, 'p1'), '--data', path.join(work, 'd1'), '--json', '--yes'];
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000, env: { ...process.env, DEPLOY_TOKEN: TOKEN } });
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({
      ok: true, status: 'installed', key: 'payout-clidemo', version: { version: '1.2.0', approvedBy: expect.stringMatching(/^cli(:|$)/) },
      stage: { scripts: [{ name: 'preinstall' }, { name: 'postinstall' }], report: { key: 'payout-clidemo' } },
    });
    expect(stdout + stderr).not.toContain(TOKEN);
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(path.join(work, 'p1', 'payout-clidemo', 'index.js'))).toBe(true);
    const store = await openStore(`sqlite:${path.join(work, 'd1', 'payout-sandbox.db')}`);
    try {
      expect((await store.getPluginRecord('payout-clidemo'))?.current.integrity).toMatch(/^sha512-/);
    } finally {
      await store.close();
    }
  });

  it('changes nothing unless confirmed: --yes, or y on a terminal', async () => {
    const file = path.join(work, 'cardpay.tgz');
    fs.writeFileSync(file, packTgz(pluginPackage({ name: 'cardpay', marker: path.join(work, 'RAN') })));
    const flags = { plugins: path.join(work, 'p2'), data: path.join(work, 'd2') };
    const noTerminal = io(null);
    expect(await runInstall(file, flags, noTerminal)).toBe(1);
    expect(noTerminal.stderr).toMatch(/not confirmed: nothing was installed\. Answer y on a terminal, or pass --yes/);
    const declined = io(false);
    expect(await runInstall(file, flags, declined)).toBe(1);
    expect(fs.existsSync(path.join(work, 'p2', 'cardpay'))).toBe(false);
    expect(fs.readdirSync(path.join(work, 'p2', '.staging'))).toEqual([]);

    const yes = io(true);
    expect(await runInstall(file, flags, yes)).toBe(0);
    expect(yes.stdout).toMatch(/Staged plugin cardpay: cardpay@1\.0\.0 from tarball/);
    expect(yes.stdout).toMatch(/Lifecycle scripts \(NOT run: payout-sandbox never runs npm or package scripts\)\n {2}preinstall: node scripts\/install-hook\.js preinstall\n {2}postinstall: node scripts\/install-hook\.js postinstall/);
    expect(yes.stdout).toMatch(/Config keys\n {2}apiKey\n {2}apiSecret \[secret\]/);
    expect(yes.stdout).toMatch(/✔ installed cardpay: cardpay@1\.0\.0, sha256:[0-9a-f]{64}\nA running server loads it at its next start, or now with POST \/api\/admin\/plugins\/cardpay\/reload/);
    expect(fs.existsSync(path.join(work, 'RAN'))).toBe(false);
  });

  it('approve shows what changed and re-records it; rollback restores the previous version', async () => {
    const flags = { plugins: path.join(work, 'p2'), data: path.join(work, 'd2'), yes: true };
    fs.appendFileSync(path.join(work, 'p2', 'cardpay', 'index.js'), '\n// hotfix made on the server\n');
    const approve = io();
    expect(await runApprove('cardpay', flags, approve)).toBe(0);
    expect(approve.stdout).toMatch(/^Approve cardpay: files that changed since they were approved\n {2}content sha256:[0-9a-f]{64}/);
    expect(approve.stdout).toMatch(/✔ approved cardpay: sha256:/);
    const again = io();
    expect(await runApprove('cardpay', flags, again)).toBe(0);
    expect(again.stdout).toMatch(/cardpay is approved as it is .* nothing to approve/);

    const v2 = path.join(work, 'cardpay-2.tgz');
    fs.writeFileSync(v2, packTgz(pluginPackage({ name: 'cardpay', version: '2.0.0' })));
    expect(await runInstall(v2, flags, io())).toBe(0);
    const back = io();
    expect(await runRollback('cardpay', { ...flags, json: true }, back)).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ ok: true, status: 'rolled_back', restored: { version: '1.0.0', source: { kind: 'approved-folder' } }, replaced: { version: '2.0.0' } });
    expect(fs.readFileSync(path.join(work, 'p2', 'cardpay', 'index.js'), 'utf8')).toContain('hotfix made on the server');
  });

  it('says precisely what is wrong', async () => {
    const flags = { plugins: path.join(work, 'p3'), data: path.join(work, 'd3'), json: true, yes: true };
    const unset = io();
    expect(await runInstall('payout-x', { ...flags, registryTokenEnv: 'NO_SUCH_TOKEN_VAR' }, unset)).toBe(1);
    expect(JSON.parse(unset.stdout).error.message).toBe('--registry-token-env NO_SUCH_TOKEN_VAR: that environment variable is not set or empty');
    const missing = io();
    expect(await runRollback('ghost', flags, missing)).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, key: 'ghost', error: { code: 'nothing_to_do', message: expect.stringMatching(/plugin ghost has no previous version kept/) } });
    const nothing = io();
    expect(await runApprove('ghost', flags, nothing)).toBe(1);
    expect(JSON.parse(nothing.stdout).error.message).toMatch(/no plugin folder .*ghost and no pending update for ghost; nothing to approve/);
  });
});
