// Contract: retention and quotas. Pruning by age deletes only rows dated before the cutoff, oldest
// first, at most `limit` per call; IPN history keeps every message still pending or sending; quota
// pruning keeps each plugin's newest rows; and nothing the payout flow reads is ever touched.
import { expect, test } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { NewAuditRecord, NewWebhookDelivery } from '../../../runtime/store/types.ts';
import { webhookBytes, webhookResultBytes } from '../../../runtime/store/records.ts';
import type { Fixture } from './contract-fixtures.ts';
import { T0, iso, ipnFor, sampleOrder } from './contract-fixtures.ts';

const DAY = 24 * 3600_000;

const delivery = (plugin: string, at: number, body = '{"ok":1}'): NewWebhookDelivery => ({
  plugin, callback: 'final', receivedAt: iso(at), method: 'POST', ip: '127.0.0.1',
  headers: { 'content-type': 'application/json' }, query: { a: 'ü' }, body, bodyEncoding: 'utf8',
});
const audit = (plugin: string | null, at: number): NewAuditRecord => ({
  at: iso(at), plugin, actor: plugin ? `plugin:${plugin}` : 'system', callId: null, capability: 'http.request', decision: 'allowed',
  rule: null, summary: `at ${at}`, durationMs: 1,
});
const logLine = (plugin: string, at: number) => ({ plugin, at: iso(at), level: 'info' as const, callId: null, text: `line ${at}` });

export function registerRetentionContract(f: Fixture): void {
  test('retention: webhook inbox, audit and plugin log lose their rows dated before the cutoff, oldest first, limit per call', async () => {
    const store = await f.open();
    for (let d = 0; d < 5; d++) {
      await store.recordWebhook(delivery('alpha', T0 + d * DAY));
      await store.appendAudit([audit('alpha', T0 + d * DAY), audit(null, T0 + d * DAY)]);
      await store.appendPluginLog([logLine('alpha', T0 + d * DAY)]);
    }
    const cutoff = iso(T0 + 3 * DAY);
    expect(await store.pruneOlderThan('webhooks', cutoff, 2)).toBe(2);
    expect((await store.listWebhooks({ plugin: 'alpha' })).map((w) => w.receivedAt)).toEqual([4, 3, 2].map((d) => iso(T0 + d * DAY)));
    expect(await store.pruneOlderThan('webhooks', cutoff, 100)).toBe(1);
    expect(await store.pruneOlderThan('webhooks', cutoff, 100)).toBe(0);
    expect(await store.pruneOlderThan('audit', cutoff, 100)).toBe(6);
    expect((await store.queryAudit({})).map((r) => r.at)).toEqual([4, 4, 3, 3].map((d) => iso(T0 + d * DAY)));
    expect(await store.pruneOlderThan('pluginLog', cutoff, 100)).toBe(3);
    expect(await store.queryPluginLog({ plugin: 'alpha' })).toHaveLength(2);
    await expect(store.pruneOlderThan('orders' as never, cutoff, 1)).rejects.toThrow(/pruneOlderThan: kind must be one of/);
    await expect(store.pruneOlderThan('audit', 'yesterday', 1)).rejects.toThrow(/pruneOlderThan: before/);
  });

  test('retention: IPN history loses only sent and failed messages; pending and sending ones stay however old', async () => {
    const store = await f.open();
    // One order per message, so that all four are due at once (one order's messages go one by one).
    const orders = [];
    for (let i = 0; i < 4; i++) orders.push(await store.createOrder(sampleOrder()));
    const messages = [];
    for (const order of orders) messages.push(await store.enqueueIpn(ipnFor(order, 'new', 1)));
    const [sent, failed, sending, pending] = messages;
    const claimed = await store.claimDueIpns(3, 60_000);
    expect(claimed.map((m) => m._id)).toEqual([sent._id, failed._id, sending._id]);
    await store.completeIpn(sent._id, { state: 'sent', lastError: null, attempt: 1 });
    await store.completeIpn(failed._id, { state: 'failed', lastError: 'HTTP 500', attempt: 1 });
    // `pending` is held back: a due time in the far future, so it stays pending.
    f.clock.advance(400 * DAY);
    expect(await store.pruneOlderThan('ipnHistory', f.clock.at(), 100)).toBe(2);
    const left = (await Promise.all(orders.map((order) => store.listIpns(order._id)))).flat();
    expect(left.map((m) => [m._id, m.state])).toEqual([[sending._id, 'sending'], [pending._id, 'pending']]);
  });

  test('quotas: a plugin keeps its newest rows; other plugins and system records are untouched', async () => {
    const store = await f.open();
    for (let i = 0; i < 6; i++) {
      await store.appendAudit([audit('alpha', T0 + i), audit('beta', T0 + i)]);
      await store.appendPluginLog([logLine('alpha', T0 + i)]);
    }
    await store.appendAudit([audit(null, T0), audit(null, T0 + 1)]);
    expect(await store.pluginsOverQuota('audit', 4)).toEqual(['alpha', 'beta']);
    expect(await store.pluginsOverQuota('audit', 6)).toEqual([]);
    expect(await store.pruneBeyondQuota('audit', 'alpha', 4, 1)).toBe(1);
    expect(await store.pruneBeyondQuota('audit', 'alpha', 4, 100)).toBe(1);
    expect((await store.queryAudit({ plugin: 'alpha' })).map((r) => r.at)).toEqual([5, 4, 3, 2].map((i) => iso(T0 + i)));
    expect(await store.queryAudit({ plugin: 'beta' })).toHaveLength(6);
    expect((await store.queryAudit({ limit: 100 })).filter((r) => r.plugin === null)).toHaveLength(2);
    expect(await store.pruneBeyondQuota('pluginLog', 'alpha', 0, 100)).toBe(6);
    expect(await store.queryPluginLog({ plugin: 'alpha' })).toEqual([]);
  });

  test('webhook usage counts a plugin\'s rows and the UTF-8 bytes of body, headers and query; the count is not part of the record', async () => {
    const store = await f.open();
    expect(await store.webhookUsage('alpha')).toEqual({ rows: 0, bytes: 0 });
    const a = delivery('alpha', T0, 'ä'.repeat(100));
    const b = delivery('alpha', T0 + 1);
    const first = await store.recordWebhook(a);
    await store.recordWebhook(b);
    await store.recordWebhook(delivery('beta', T0));
    expect(await store.webhookUsage('alpha')).toEqual({ rows: 2, bytes: webhookBytes(a) + webhookBytes(b) });
    expect(webhookBytes(a)).toBeGreaterThan(200);
    // The answer and the error kept when the delivery is finished count too.
    const result = { state: 'failed' as const, responseStatus: 500, responseBody: 'é'.repeat(50), error: 'plugin_error: boom' };
    await store.finishWebhook(first._id, result);
    expect(await store.webhookUsage('alpha')).toEqual({ rows: 2, bytes: webhookBytes(a) + webhookBytes(b) + webhookResultBytes(result) });
    expect(webhookResultBytes(result)).toBe(118);
    expect(Object.keys((await store.listWebhooks({ plugin: 'alpha' }))[0]).sort()).toEqual(
      ['_id', 'body', 'bodyEncoding', 'callback', 'error', 'headers', 'ip', 'method', 'plugin', 'query', 'receivedAt', 'responseBody', 'responseStatus', 'state']);
  });

  test('pruning everything that may go leaves orders, history, attempts, txs and undelivered IPNs as they were', async () => {
    const store = await f.open();
    const snapshot = await payoutState(store, await seedPayoutFlow(store));
    f.clock.advance(1000 * DAY);
    const farFuture = f.clock.at();
    for (const kind of ['webhooks', 'audit', 'pluginLog', 'ipnHistory'] as const) await store.pruneOlderThan(kind, farFuture, 100_000);
    await store.pruneBeyondQuota('audit', 'alpha', 0, 100_000);
    await store.pruneBeyondQuota('pluginLog', 'alpha', 0, 100_000);
    expect(await payoutState(store, snapshot.orderId)).toEqual(snapshot);
  });
}

/** An order mid-payout: history, a live attempt, an active tx, an IPN not yet sent. */
async function seedPayoutFlow(store: Store): Promise<string> {
  const order = await store.createOrder(sampleOrder({ status: 'inProgressPayout' }));
  await store.transitionOrder({ orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'inProgressPayout', history: { actor: 'system', comment: 'seed' }, ipn: ipnFor(order, 'inProgressPayout') });
  const attempt = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w', leaseMs: 60_000 }))!;
  // The attempt table (attempt-transitions.ts) goes through DISPATCHING to ACCEPTED.
  await store.updateAttempt(attempt._id, attempt.fence, ['PREPARED'], { state: 'DISPATCHING' });
  await store.updateAttempt(attempt._id, attempt.fence, ['DISPATCHING'], { state: 'ACCEPTED', transaction: 'tx-1' });
  await store.insertPayoutTx({ order: order._id, transaction: 'tx-1', payoutModule: 'alpha', active: true, amount: '99.25', currency: 'UAH', to: null, note: null, attemptId: attempt._id });
  await store.recordWebhook(delivery('alpha', T0));
  await store.appendAudit([audit('alpha', T0)]);
  return order._id;
}

async function payoutState(store: Store, orderId: string) {
  return {
    orderId,
    order: await store.getOrder(orderId),
    history: await store.getOrderHistory(orderId),
    attempts: await store.listAttempts(orderId),
    txs: await store.findPayoutTxs({ plugin: 'alpha', conditions: [] }),
    ipns: await store.listIpns(orderId),
  };
}
