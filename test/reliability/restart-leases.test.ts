// Findings reproduced with real processes killed by SIGKILL:
//  - IPN order: the server dies right after claiming an order's first IPN; after the restart the
//    administrator moves the order on. The merchant must get the statuses in the order of the
//    order's history: the interrupted IPN first (sent again by the restarted server, which takes
//    its own claim back at once instead of after the 25 s claim), then the later ones.
//  - Cron lease: the server dies inside a cron run; after the restart "run cron now" must run, not
//    be skipped because the dead run's lease is still held.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import { freePort } from '../helpers/test-host.ts';
import { call, startServerProcess, waitForHealth } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

const IPN_SECRET = 'restart-ipn-secret';
let merchant: FakeMerchant;
let root: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-restart-'));
  merchant = await startFakeMerchant({ ipnSecret: IPN_SECRET });
});

afterAll(async () => {
  await merchant?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function kill(proc: ServerProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, maxMs = 60_000): Promise<T> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function lane(name: string, pluginsFrom: string[] = []): { dataDir: string; pluginsDir: string } {
  const dataDir = path.join(root, name);
  const pluginsDir = path.join(dataDir, 'plugins');
  fs.mkdirSync(pluginsDir, { recursive: true });
  for (const p of pluginsFrom) fs.symlinkSync(path.resolve(`plugins/${p}`), path.join(pluginsDir, p));
  return { dataDir, pluginsDir };
}

it('IPNs of one order reach the merchant in history order after a kill right after a claim', async () => {
  const { dataDir, pluginsDir } = lane('ipn-order', ['nimbuspay']);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Default IPN send timeout: an interrupted claim would otherwise be re-sent only after 25 s.
  const options = { ipnLoopbackOrigins: [new URL(merchant.url).origin] };
  let proc = startServerProcess({ port, dataDir, pluginsDir, options });
  await waitForHealth(base, proc);
  const route = await call(base, 'POST', '/api/admin/routes', { fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '100000', payoutPlugin: 'nimbuspay', autoPayout: false, active: true }, true);
  expect(route.status, JSON.stringify(route.json)).toBe(200);
  await kill(proc);

  // The first IPN claim kills the server: the order's first status is claimed, never sent.
  proc = startServerProcess({ port, dataDir, pluginsDir, options, crashAt: 'ipn-after-claim' });
  await waitForHealth(base, proc);
  const created = await call(base, 'POST', '/api/public/exchanger/order/create', {
    routeId: route.json.route._id, amount: '5', agreement: true, lang: 'en',
    toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${merchant.url}/ipn`, ipnSecret: IPN_SECRET,
  });
  expect(created.status, JSON.stringify(created.json)).toBe(200);
  const { orderId, uid } = created.json;
  await call(base, 'POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' }, true).catch(() => null);
  const exit = await proc.exited;
  expect(exit.signal, 'the kill landed at the claim').toBe('SIGKILL');

  proc = startServerProcess({ port, dataDir, pluginsDir, options });
  try {
    await waitForHealth(base, proc);
    let order = (await call(base, 'GET', `/api/admin/orders/${uid}`, undefined, true)).json.order;
    if (order.status === 'new') await call(base, 'POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' }, true);
    for (const status of ['inProgressPayout', 'done']) {
      expect((await call(base, 'POST', `/api/admin/orders/${uid}/status`, { status }, true)).status).toBe(200);
    }
    const details = await waitFor('every IPN of the order finished', async () => {
      const d = (await call(base, 'GET', `/api/admin/orders/${uid}`, undefined, true)).json;
      return d.ipns.every((i: { state: string }) => i.state === 'sent' || i.state === 'failed') ? d : null;
    });
    order = details.order;
    expect(order.status).toBe('done');
    const expected = details.ipns.map((i: { status: string }) => i.status);
    // A re-sent interrupted IPN may arrive twice (at-least-once); consecutive copies are one delivery.
    const got = merchant.received.filter((r) => r.fields.orderId === orderId).map((r) => r.fields.newStatus)
      .filter((s, i, all) => i === 0 || all[i - 1] !== s);
    expect(expected.slice(-3)).toEqual(['inProgress', 'inProgressPayout', 'done']);
    expect(got).toEqual(expected);
  } finally {
    await kill(proc);
  }
}, 120_000);

it('after a kill inside a cron run, the restarted server runs the cron at once', async () => {
  const { dataDir, pluginsDir } = lane('cron-lease', ['nimbuspay']);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const options = { allowLoopbackGrants: true };
  let proc = startServerProcess({ port, dataDir, pluginsDir, options, crashAt: 'cron-after-lease' });
  await waitForHealth(base, proc).catch(() => null);
  // The start-up run (callWhenInit) or this manual run takes the lease and dies holding it.
  await call(base, 'POST', '/api/admin/plugins/nimbuspay/cron/run', {}, true).catch(() => null);
  const exit = await proc.exited;
  expect(exit.signal, 'the kill landed inside the cron run').toBe('SIGKILL');

  proc = startServerProcess({ port, dataDir, pluginsDir, options });
  try {
    await waitForHealth(base, proc);
    const run = await call(base, 'POST', '/api/admin/plugins/nimbuspay/cron/run', {}, true);
    expect(run.status, JSON.stringify(run.json)).toBe(200);
    expect(run.json.result).toMatchObject({ ran: true });
  } finally {
    await kill(proc);
  }
}, 120_000);
