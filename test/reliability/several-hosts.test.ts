// Several hosts, one store: three `start` processes on one data folder (one SQLite file in WAL mode,
// one master key) share the work while one of them after another is killed with SIGKILL and
// started again. Orders are created and moved on through whichever server is up; the fake provider
// records every transfer and the fake merchant every IPN. At the end:
//   - no order was paid twice, and each ended done;
//   - each status change reached the merchant, in order (a repeat of an interrupted send allowed);
//   - the three servers had three different instance ids, and a restarted one got its old id back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeProvider } from '../../runtime/demo/fake-provider.ts';
import type { FakeProvider } from '../../runtime/demo/fake-provider.ts';
import { startFakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import { openStore } from '../../runtime/store/open-store.ts';
import { freePort } from '../helpers/test-host.ts';
import { call, startServerProcess, waitForHealth } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

const IPN_SECRET = 'several-hosts-ipn-secret';
const ORDERS = 12;
let provider: FakeProvider;
let merchant: FakeMerchant;
let root: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-several-'));
  provider = await startFakeProvider({ apiKey: 'sh-key', apiSecret: 'sh-api-secret-0123456789', webhookSecret: 'sh-webhook-secret', webhookRetryDelaysMs: [300, 800, 1500] });
  provider.setBehaviour({ outcome: 'DONE', afterMs: 100, webhook: 'auto' });
  merchant = await startFakeMerchant({ ipnSecret: IPN_SECRET });
}, 60_000);

afterAll(async () => {
  await provider?.close();
  await merchant?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function kill(proc: ServerProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

const collapse = (statuses: string[]) => statuses.filter((st, i) => i === 0 || statuses[i - 1] !== st);

it('three servers on one SQLite store, killed in turn: one payout per order, every IPN once in order', async () => {
  const dataDir = path.join(root, 'data');
  const pluginsDir = path.join(dataDir, 'plugins');
  fs.mkdirSync(pluginsDir, { recursive: true });
  fs.symlinkSync(path.resolve('plugins/nimbuspay'), path.join(pluginsDir, 'nimbuspay'));
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const bases = ports.map((p) => `http://127.0.0.1:${p}`);
  const options: Record<string, unknown> = {
    allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(merchant.url).origin], sweepIntervalMs: 200, ipnSendTimeoutMs: 1000,
    transferWallMs: 2000, callbackWallMs: 2000, payoutLeaseMarginMs: 300, orderCreateRatePerMinute: 1000,
  };
  // Set up once through the first server.
  const setup = startServerProcess({ port: ports[0], dataDir, pluginsDir, options });
  await waitForHealth(bases[0], setup);
  for (const [key, value] of Object.entries({ apiUrl: provider.url, apiKey: 'sh-key', apiSecret: 'sh-api-secret-0123456789', webhookSecret: 'sh-webhook-secret' })) {
    expect((await call(bases[0], 'POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'nimbuspay', key, value }, true)).status).toBe(200);
  }
  expect((await call(bases[0], 'POST', '/api/admin/plugins/nimbuspay/grants', { origin: provider.url }, true)).status).toBe(200);
  const route = await call(bases[0], 'POST', '/api/admin/routes', { fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '100000', payoutPlugin: 'nimbuspay', autoPayout: true, active: true }, true);
  expect(route.status).toBe(200);
  await kill(setup);

  const servers: ServerProcess[] = [];
  for (let i = 0; i < 3; i++) servers[i] = startServerProcess({ port: ports[i], dataDir, pluginsDir, options });
  await Promise.all(servers.map((s, i) => waitForHealth(bases[i], s)));
  const slotsAtStart = fs.readdirSync(dataDir).filter((f) => /^instance-\d+\.lock$/.test(f)).sort();
  expect(slotsAtStart).toEqual(['instance-1.lock', 'instance-2.lock', 'instance-3.lock']);

  const orders: { id: string; uid: number }[] = [];
  try {
    for (let n = 0; n < ORDERS; n++) {
      const up = n % 3;
      const victim = (n + 1) % 3;
      const created = await call(bases[up], 'POST', '/api/public/exchanger/order/create', {
        routeId: route.json.route._id, amount: String(5 + n), agreement: true, lang: 'en',
        toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${merchant.url}/ipn`, ipnSecret: IPN_SECRET,
      });
      expect(created.status, JSON.stringify(created.json)).toBe(200);
      orders.push({ id: created.json.orderId, uid: created.json.uid });
      await call(bases[up], 'POST', `/api/admin/orders/${created.json.uid}/status`, { status: 'inProgress' }, true);
      await call(bases[up], 'POST', `/api/admin/orders/${created.json.uid}/status`, { status: 'inProgressPayout' }, true);
      // Kill another server while the payout and its IPNs are in flight somewhere, then bring it back.
      await new Promise((r) => setTimeout(r, 30 * (n % 4)));
      await kill(servers[victim]);
      expect(servers[victim].child.signalCode).toBe('SIGKILL');
      servers[victim] = startServerProcess({ port: ports[victim], dataDir, pluginsDir, options });
      await waitForHealth(bases[victim], servers[victim]);
    }
    // Left to finish: every order done and every IPN finished, seen through any server.
    const until = Date.now() + 90_000;
    let pending = orders;
    while (pending.length && Date.now() < until) {
      const still = [];
      for (const o of pending) {
        const d = (await call(bases[0], 'GET', `/api/admin/orders/${o.uid}`, undefined, true)).json;
        const finished = d.order.status === 'done' && !d.attempts.some((a: { live: boolean }) => a.live)
          && d.ipns.every((i: { state: string }) => i.state === 'sent' || i.state === 'failed');
        if (!finished) still.push(o);
      }
      pending = still;
      if (pending.length) await new Promise((r) => setTimeout(r, 200));
    }
    expect(pending.map((o) => o.uid), 'orders not finished').toEqual([]);
  } finally {
    await Promise.all(servers.map(kill));
  }
  // Restarts took the dead servers' slots back: still three slots, no fourth.
  expect(fs.readdirSync(dataDir).filter((f) => /^instance-\d+\.lock$/.test(f)).sort()).toEqual(slotsAtStart);

  const store = await openStore(`sqlite:${path.join(dataDir, 'payout-sandbox.db')}`);
  try {
    const problems: string[] = [];
    for (const o of orders) {
      const transfers = provider.transfersFor(o.id);
      if (transfers.length !== 1) problems.push(`order ${o.uid}: ${transfers.length} transfers at the provider`);
      const history = collapse((await store.getOrderHistory(o.id)).map((h) => h.toStatus));
      const received = collapse(merchant.received.filter((r) => r.fields.orderId === o.id).map((r) => r.fields.newStatus));
      if (JSON.stringify(received) !== JSON.stringify(history)) problems.push(`order ${o.uid}: IPNs ${received.join(', ')}; history ${history.join(', ')}`);
    }
    expect(problems).toEqual([]);
  } finally {
    await store.close();
  }
}, 300_000);
