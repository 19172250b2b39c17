// `start --demo` restarted on the same data folder: the fake provider and merchant come back on
// the same ports with the same credentials and the provider's payouts, so a payout accepted
// before the restart still completes (instead of waiting ten minutes for a hold), and the demo's
// grants stay one current origin.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../sdk/harness.ts';

const BIN = new URL('../../../runtime/cli/bin.js', import.meta.url).pathname;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-demo-restart-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startDemo(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PAYOUT_SANDBOX_LOG_LEVEL: 'warn' };
  delete env.PAYOUT_SANDBOX_OPTIONS;
  delete env.PAYOUT_SANDBOX_ADMIN_TOKEN;
  const child = spawn(process.execPath, [BIN, 'start', '--demo', '--port', String(port), '--data', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`demo exited:\n${out}`);
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 600) throw new Error(`demo did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL'); // a crash, not a tidy shutdown: nothing may rely on one
  await exited;
}

describe('demo restart', () => {
  it('a payout accepted before the restart completes after it, on the same provider', async () => {
    const port = await freePort();
    const first = await startDemo(port);
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    const admin = (p: string) => fetch(`http://127.0.0.1:${port}${p}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>);
    const peers = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'peers.json'), 'utf8'));
    expect((fs.statSync(path.join(dataDir, 'demo', 'peers.json')).mode & 0o777).toString(8)).toBe('600');
    const routeId = (await admin('/api/admin/routes')).routes[0]._id;
    const created = await fetch(`http://127.0.0.1:${port}/api/public/exchanger/order/create`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ routeId, amount: '100', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }] }),
    }).then((r) => r.json() as Promise<{ uid: number }>);
    // The demo customer pays; the provider accepts the payout and settles it three seconds later.
    for (let i = 0; ; i += 1) {
      const d = await admin(`/api/admin/orders/${created.uid}`);
      if (d.attempts.some((a: { state: string }) => a.state === 'ACCEPTED')) break;
      if (i > 300) throw new Error(`no accepted payout:\n${first.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop(first.child);

    const second = await startDemo(port);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'peers.json'), 'utf8'))).toEqual(peers);
    let status = '';
    for (let i = 0; i < 400 && status !== 'done'; i += 1) {
      status = (await admin(`/api/admin/orders/${created.uid}`)).order.status;
      if (status !== 'done') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status, second.output().slice(-3000)).toBe('done');
    const granted = (await admin('/api/admin/plugins/nimbuspay')).network.granted.map((g: { origin: string }) => g.origin);
    expect(granted).toEqual([`http://127.0.0.1:${peers.providerPort}`]);
    await stop(second.child);
  });

  it('a provider port taken meanwhile moves the provider, says so, and drops the stale grant', async () => {
    const peers = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'peers.json'), 'utf8'));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(peers.providerPort, '127.0.0.1', resolve));
    try {
      const port = await freePort();
      const third = await startDemo(port);
      const moved = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'peers.json'), 'utf8'));
      expect(moved.providerPort).not.toBe(peers.providerPort);
      expect(moved.apiSecret).toBe(peers.apiSecret);
      expect(third.output()).toContain(`the fake provider's port ${peers.providerPort} was taken; it now listens on ${moved.providerPort}`);
      const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
      const plugin = await fetch(`http://127.0.0.1:${port}/api/admin/plugins/nimbuspay`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>);
      expect(plugin.network.granted.map((g: { origin: string }) => g.origin)).toEqual([`http://127.0.0.1:${moved.providerPort}`]);
      await stop(third.child);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('a demo data folder started without --demo', () => {
  it('warns at start about the demo\'s loopback grant, and the API marks it refused by this host', async () => {
    const port = await freePort();
    const plain = spawn(process.execPath, [BIN, 'start', '--port', String(port), '--data', dataDir], {
      env: (() => { const e: NodeJS.ProcessEnv = { ...process.env, PAYOUT_SANDBOX_LOG_LEVEL: 'warn' }; delete e.PAYOUT_SANDBOX_OPTIONS; delete e.PAYOUT_SANDBOX_ADMIN_TOKEN; return e; })(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(plain);
    let out = '';
    plain.stdout!.on('data', (d) => { out += d; });
    plain.stderr!.on('data', (d) => { out += d; });
    for (let i = 0; !out.includes('admin token: from'); i += 1) {
      if (plain.exitCode !== null || i > 600) throw new Error(`start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200));
    const peers = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'peers.json'), 'utf8'));
    expect(out).toContain(`warning: nimbuspay is granted http://127.0.0.1:${peers.providerPort}, a loopback origin this host refuses (allowLoopbackGrants is off)`);
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    const plugin = await fetch(`http://127.0.0.1:${port}/api/admin/plugins/nimbuspay`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>);
    expect(plugin.network.granted).toEqual([expect.objectContaining({ origin: `http://127.0.0.1:${peers.providerPort}`, refusedByHost: 'loopback grants are off (allowLoopbackGrants)' })]);
    await stop(plain);
  });
});
