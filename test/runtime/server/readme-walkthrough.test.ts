// The README's "A first real host" section, run as written: its values block names the variables
// (this test supplies them: a fake provider and a fake merchant on loopback, a free port, a temp
// data folder), the block with `payout-sandbox start` runs in the background as the real CLI, and
// every other `sh` block runs in one bash, in order, with `set -euo pipefail`. Change the README
// and this test runs the new text; README and behaviour cannot drift apart.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../sdk/harness.ts';
import { startFakeProvider } from '../../../runtime/demo/fake-provider.ts';
import type { FakeProvider } from '../../../runtime/demo/fake-provider.ts';
import { startFakeMerchant } from '../../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../../runtime/demo/fake-merchant.ts';

/** The section's values block (a fence with no language) and its `sh` blocks, in order. */
export function walkthroughBlocks(readme: string): { values: string[]; sh: string[] } {
  const start = readme.indexOf('\n## A first real host');
  if (start < 0) throw new Error('README has no "## A first real host" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const fences = [...section.matchAll(/\n```([a-z]*)\n([\s\S]*?)\n```/g)];
  const valuesBlock = fences.find((f) => f[1] === '');
  if (!valuesBlock) throw new Error('the walkthrough has no values block');
  const values = [...valuesBlock[2].matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
  return { values, sh: fences.filter((f) => f[1] === 'sh').map((f) => f[2]) };
}

let provider: FakeProvider | undefined;
let merchant: FakeMerchant | undefined;
let server: ChildProcess | undefined;
let workDir: string | undefined;

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    process.kill(-server.pid!, 'SIGTERM');
    await exited;
  }
  await provider?.close();
  await merchant?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function runBash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], { env, cwd: process.cwd() });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('README: a first real host', () => {
  it('takes a fresh host from start to a paid-out order with the commands as written', async () => {
    const { values, sh } = walkthroughBlocks(fs.readFileSync('README.md', 'utf8'));
    const startBlocks = sh.filter((b) => b.includes('payout-sandbox start'));
    expect(startBlocks).toHaveLength(1);
    expect(sh.length).toBeGreaterThanOrEqual(6);

    provider = await startFakeProvider({ apiKey: 'walkthrough-key', apiSecret: 'walkthrough-api-secret', webhookSecret: 'walkthrough-webhook-secret', behaviour: { outcome: 'DONE', afterMs: 300, webhook: 'auto' } });
    merchant = await startFakeMerchant({ ipnSecret: 'walkthrough-ipn-secret' });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-walkthrough-'));
    const port = await freePort();
    const supplied: Record<string, string> = {
      PORT: String(port),
      HOST: `http://127.0.0.1:${port}`,
      DATA: path.join(workDir, 'data'),
      PROVIDER_URL: provider.url,
      NIMBUS_API_KEY: provider.credentials.apiKey,
      NIMBUS_API_SECRET: provider.credentials.apiSecret,
      NIMBUS_WEBHOOK_SECRET: provider.credentials.webhookSecret,
      MERCHANT_IPN_URL: merchant.url,
      MERCHANT_IPN_SECRET: 'walkthrough-ipn-secret',
      // The rehearsal options exactly as the README gives them, with this merchant's port.
      PAYOUT_SANDBOX_OPTIONS: JSON.stringify({ allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(merchant.url).origin] }),
    };
    // The README's values block and what this test supplies name the same variables.
    expect(values.sort()).toEqual(Object.keys(supplied).sort());
    const env: NodeJS.ProcessEnv = { ...process.env, ...supplied };
    delete env.PAYOUT_SANDBOX_ADMIN_TOKEN;
    delete env.PAYOUT_SANDBOX_DB;

    let serverOut = '';
    server = spawn('bash', ['-c', `set -euo pipefail\n${startBlocks[0]}`], { env, cwd: process.cwd(), detached: true });
    server.stdout!.on('data', (d) => { serverOut += d; });
    server.stderr!.on('data', (d) => { serverOut += d; });
    for (let i = 0; ; i += 1) {
      if (server.exitCode !== null) throw new Error(`start exited early:\n${serverOut}`);
      const up = await fetch(`${supplied.HOST}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 600) throw new Error(`the host did not come up:\n${serverOut}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(serverOut).toContain('admin token (shown once');

    const steps = sh.filter((b) => b !== startBlocks[0]).join('\n');
    const run = await runBash(steps, env);
    expect(run.out).not.toContain('"error"');
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain('nimbuspay active apiUrl,apiKey,apiSecret,webhookSecret,debug');
    const uid = Number(/order: (\d+)/.exec(run.out)?.[1]);
    expect(uid).toBeGreaterThan(0);

    const token = fs.readFileSync(path.join(supplied.DATA, 'admin-token'), 'utf8').trim();
    let order: { status: string } | null = null;
    for (let i = 0; i < 300; i += 1) {
      const res = await fetch(`${supplied.HOST}/api/admin/orders/${uid}`, { headers: { authorization: `Bearer ${token}` } });
      order = ((await res.json()) as { order: { status: string } }).order;
      if (order.status === 'done') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(order?.status, serverOut.slice(-4000)).toBe('done');
    expect(provider.transfers).toHaveLength(1);
    expect(provider.transfers[0]).toMatchObject({ amount: '4125' });
    // The merchant was told of each step, signed with its secret.
    await expect.poll(() => merchant!.received.map((r) => r.fields.newStatus)).toContain('done');
    expect(merchant.received.every((r) => r.hashValid)).toBe(true);
  });
});
