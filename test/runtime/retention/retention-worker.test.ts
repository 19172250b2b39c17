// The retention worker over a real SQLite file: what it deletes by age and by quota, that a run is
// bounded and the next one goes on, that two servers take turns, and that the payout flow's rows
// (order, history, live attempt, active tx, IPN not yet sent) survive every pass.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { RetentionWorker } from '../../../runtime/retention/retention-worker.ts';
import type { RetentionPolicy } from '../../../runtime/retention/retention-worker.ts';

const DAY = 24 * 3600_000;
const T0 = Date.parse('2031-01-01T00:00:00.000Z');
let now = T0;
let dir: string;
let store: Store;

const policy = (over: Partial<RetentionPolicy['maxAgeMs']> = {}, rows: Partial<RetentionPolicy['maxRowsPerPlugin']> = {}): RetentionPolicy => ({
  maxAgeMs: { webhooks: 7 * DAY, audit: 90 * DAY, pluginLog: 14 * DAY, ipnHistory: 90 * DAY, ...over },
  maxRowsPerPlugin: { audit: 0, pluginLog: 0, ...rows },
});
const worker = (p: RetentionPolicy, extra: Partial<ConstructorParameters<typeof RetentionWorker>[0]> = {}) =>
  new RetentionWorker({ store, policy: p, intervalMs: 60_000, owner: 'server-a', now: () => now, ...extra });

async function day(d: number, plugin = 'alpha'): Promise<void> {
  const at = new Date(T0 + d * DAY).toISOString();
  await store.recordWebhook({ plugin, callback: 'final', receivedAt: at, method: 'POST', ip: '127.0.0.1', headers: {}, query: {}, body: 'x'.repeat(100), bodyEncoding: 'utf8' });
  await store.appendAudit([{ at, plugin, actor: `plugin:${plugin}`, callId: null, capability: 'http.request', decision: 'allowed', rule: null, summary: 's', durationMs: 1 }]);
  await store.appendPluginLog([{ plugin, at, level: 'info', callId: null, text: 'hello' }]);
}

beforeEach(async () => {
  now = T0;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-retention-'));
  store = await openStore(`sqlite:${path.join(dir, 'store.db')}`, { now: () => now });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('retention worker', () => {
  it('deletes by the age of each kind and keeps the payout flow\'s rows however old', async () => {
    const order = await store.createOrder({
      secret: 's', status: 'inProgressPayout', routeId: 'r', inAmount: '1', outAmount: '1', fromXml: 'A', toXml: 'B', outSymbol: 'B',
      fromValues: [], toValues: [], routeValues: [], lang: 'en', agreement: true, hideOutData: false, clientCallbackUrl: null,
      ipnUrl: 'https://merchant.example/ipn', ipnSecret: 'x', partner: null, payoutModule: 'alpha', payoutStatus: null, orderNote: null, holdReason: null,
    });
    await store.transitionOrder({ orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'inProgressPayout', history: { actor: 'system', comment: null },
      ipn: { orderId: order._id, status: 'inProgressPayout', url: 'https://merchant.example/ipn', fields: { a: '1' }, maxAttempts: 1 } });
    const attempt = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w', leaseMs: 1000 }))!;
    await store.updateAttempt(attempt._id, attempt.fence, ['PREPARED'], { state: 'DISPATCHING' });
    await store.updateAttempt(attempt._id, attempt.fence, ['DISPATCHING'], { state: 'ACCEPTED' });
    await store.insertPayoutTx({ order: order._id, transaction: 't', payoutModule: 'alpha', active: true, amount: '1', currency: 'B', to: null, note: null, attemptId: attempt._id });
    const before = { history: await store.getOrderHistory(order._id), attempts: await store.listAttempts(order._id), ipns: await store.listIpns(order._id),
      txs: await store.findPayoutTxs({ plugin: 'alpha', conditions: [] }), order: await store.getOrder(order._id) };

    for (const d of [0, 10, 20, 100]) await day(d);
    now = T0 + 101 * DAY;
    const report = await worker(policy()).runOnce();
    // webhooks: older than day 94 go (0, 10, 20); log: older than day 87 (0, 10, 20); audit: older than day 11 (0, 10).
    expect(report).toEqual({ expired: { webhooks: 3, audit: 2, pluginLog: 3, ipnHistory: 0 }, overQuota: { audit: 0, pluginLog: 0 }, complete: true });
    expect((await store.listWebhooks({})).length).toBe(1);
    expect((await store.queryAudit({ plugin: 'alpha' })).length).toBe(2);

    now = T0 + 10_000 * DAY;
    await worker(policy()).runOnce();
    expect(await store.listWebhooks({})).toEqual([]);
    expect({ history: await store.getOrderHistory(order._id), attempts: await store.listAttempts(order._id), ipns: await store.listIpns(order._id),
      txs: await store.findPayoutTxs({ plugin: 'alpha', conditions: [] }), order: await store.getOrder(order._id) }).toEqual(before);
    expect(before.ipns).toMatchObject([{ state: 'pending' }]);
  });

  it('0 keeps a kind forever; per-plugin quotas keep each plugin\'s newest audit and log rows', async () => {
    for (let d = 0; d < 6; d++) { await day(d, 'alpha'); await day(d, 'beta'); }
    now = T0 + 1000 * DAY;
    const report = await worker(policy({ webhooks: 0, audit: 0, pluginLog: 0, ipnHistory: 0 }, { audit: 4, pluginLog: 2 })).runOnce();
    expect(report).toMatchObject({ expired: { webhooks: 0, audit: 0, pluginLog: 0 }, overQuota: { audit: 4, pluginLog: 8 }, complete: true });
    expect((await store.listWebhooks({ limit: 100 })).length).toBe(12);
    expect((await store.queryAudit({ plugin: 'beta' })).map((r) => r.at.slice(0, 10))).toEqual(['2031-01-06', '2031-01-05', '2031-01-04', '2031-01-03']);
  });

  it('stops a run at its batch bound and the next run goes on', async () => {
    for (let d = 0; d < 10; d++) await day(d);
    now = T0 + 1000 * DAY;
    const bounded = worker(policy({ audit: 0, pluginLog: 0, ipnHistory: 0 }), { batchSize: 3, maxBatchesPerRun: 2 });
    expect(await bounded.runOnce()).toMatchObject({ expired: { webhooks: 6 }, complete: false });
    expect(await bounded.runOnce()).toMatchObject({ expired: { webhooks: 4 }, complete: true });
  });

  it('two servers on one database take turns: the one without the lease does nothing', async () => {
    await day(0);
    now = T0 + 1000 * DAY;
    expect(await store.acquireLease('retention', 'server-b', 60_000)).toBe(true);
    expect(await worker(policy()).runOnce()).toMatchObject({ expired: { webhooks: 0 }, complete: false });
    await store.releaseLease('retention', 'server-b');
    expect(await worker(policy()).runOnce()).toMatchObject({ expired: { webhooks: 1 }, complete: true });
  });

  it('refuses a negative or fractional retention with one line naming it', () => {
    expect(() => worker(policy({ audit: -1 }))).toThrow(/^auditRetentionMs must be a whole number ≥ 0 \(0 keeps everything\), got -1$/);
    expect(() => worker(policy({}, { pluginLog: 1.5 }))).toThrow(/^pluginLogMaxRowsPerPlugin must be/);
  });
});
