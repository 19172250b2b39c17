// Contract: IPN outbox (claim / lease / complete / retry), named leases, plugin config, network grants,
// audit log, webhook inbox, routes and plugin log.
import { expect, test } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { NewAuditRecord } from '../../../runtime/store/types.ts';
import type { Fixture } from './contract-fixtures.ts';
import { ID, T0, iso, ipnFor, sampleOrder } from './contract-fixtures.ts';

/** One order per message: messages of one order are claimed one after the other (see the order test). */
async function ordersWithIpns(store: Store, count: number, maxAttempts: number) {
  const orders = [];
  const ipns = [];
  for (let i = 0; i < count; i++) {
    const order = await store.createOrder(sampleOrder());
    orders.push(order);
    ipns.push(await store.enqueueIpn(ipnFor(order, 'new', maxAttempts)));
  }
  return { orders, ipns };
}

export function registerRecordsContract(f: Fixture): void {
  test('IPN outbox: claim leases due messages, completion is fenced by the attempt, retries end in failed', async () => {
    const store = await f.open();
    const { orders: [o1, o2], ipns: [m1, m2] } = await ordersWithIpns(store, 2, 3);
    const listBoth = async () => [...await store.listIpns(o1._id), ...await store.listIpns(o2._id)];
    expect(m1).toMatchObject({ state: 'pending', attempts: 0, nextAttemptAt: iso(T0), leaseUntil: null });
    const claimed = await store.claimDueIpns(10, 30_000);
    expect(claimed).toEqual([m1, m2].map((m) => ({ ...m, state: 'sending', attempts: 1, leaseUntil: iso(T0 + 30_000) })));
    expect(await store.claimDueIpns(10, 30_000)).toEqual([]);

    expect(await store.completeIpn(m1._id, { state: 'sent', lastError: null, attempt: 1 })).toBe(true);
    expect(await store.completeIpn(m1._id, { state: 'sent', lastError: null, attempt: 1 })).toBe(false);
    expect(await store.completeIpn(m2._id, { state: 'pending', lastError: 'HTTP 500', nextAttemptAt: iso(T0 + 60_000), attempt: 1 })).toBe(true);
    expect(await listBoth()).toEqual([
      { ...m1, state: 'sent', attempts: 1, leaseUntil: null },
      { ...m2, state: 'pending', attempts: 1, leaseUntil: null, lastError: 'HTTP 500', nextAttemptAt: iso(T0 + 60_000) },
    ]);

    f.clock.advance(59_999);
    expect(await store.claimDueIpns(10, 30_000)).toEqual([]);
    f.clock.advance(1);
    expect(await store.claimDueIpns(10, 30_000)).toMatchObject([{ _id: m2._id, state: 'sending', attempts: 2 }]);
    // The worker vanishes; once its lease ran out the message is claimed again and the old claim is stale.
    f.clock.advance(30_000);
    expect(await store.claimDueIpns(10, 30_000)).toMatchObject([{ _id: m2._id, attempts: 3, leaseUntil: iso(T0 + 120_000) }]);
    expect(await store.completeIpn(m2._id, { state: 'sent', lastError: null, attempt: 2 })).toBe(false);
    expect(await store.completeIpn(m2._id, { state: 'pending', lastError: 'HTTP 502', nextAttemptAt: iso(T0 + 200_000), attempt: 3 })).toBe(true);
    expect((await store.listIpns(o2._id))[0]).toMatchObject({ state: 'failed', attempts: 3, lastError: 'HTTP 502', leaseUntil: null });
    f.clock.advance(500_000);
    expect(await store.claimDueIpns(10, 30_000)).toEqual([]);
    await expect(store.completeIpn(m2._id, { state: 'pending', lastError: null })).rejects.toThrow(/nextAttemptAt \(required when state is pending\)/);
    await expect(store.enqueueIpn(ipnFor({ ...o1, _id: 'e'.repeat(24) }, 'new'))).rejects.toThrow(/enqueueIpn: order e{24} does not exist/);
  });

  test('a message whose worker vanished is claimed again even on its last attempt (a crash is not a merchant failure), up to a bound', async () => {
    const store = await f.open();
    const { orders: [order] } = await ordersWithIpns(store, 1, 1);
    expect(await store.claimDueIpns(5, 1000)).toMatchObject([{ attempts: 1 }]);
    f.clock.advance(1000);
    expect(await store.claimDueIpns(5, 1000)).toMatchObject([{ attempts: 2, state: 'sending' }]);
    for (let attempts = 3; attempts <= 6; attempts++) {
      f.clock.advance(1000);
      expect(await store.claimDueIpns(5, 1000)).toMatchObject([{ attempts }]);
    }
    f.clock.advance(1000);
    expect(await store.claimDueIpns(5, 1000)).toEqual([]);
    expect((await store.listIpns(order._id))[0]).toMatchObject({
      state: 'failed', attempts: 6, leaseUntil: null, lastError: 'the delivery was interrupted (its worker stopped before reporting back) too many times',
    });
  });

  test('two stores claiming at once never claim one message twice', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const { ipns } = await ordersWithIpns(one, 12, 5);
    const rounds = await Promise.all([one, two, one, two, one, two].map((s) => s.claimDueIpns(3, 60_000)));
    const claimedIds = rounds.flat().map((m) => m._id);
    expect(claimedIds).toHaveLength(12);
    expect(new Set(claimedIds)).toEqual(new Set(ipns.map((m) => m._id)));
  });

  test('named leases: one holder at a time across two store instances, renewal, expiry and release', async () => {
    const [one, two] = [await f.open(), await f.open()];
    expect(await one.acquireLease('cron:sweep', 'A', 5000)).toBe(true);
    expect(await two.acquireLease('cron:sweep', 'B', 5000)).toBe(false);
    expect(await two.acquireLease('cron:other', 'B', 5000)).toBe(true);
    f.clock.advance(3000);
    expect(await one.acquireLease('cron:sweep', 'A', 5000)).toBe(true);
    f.clock.advance(3000);
    expect(await two.acquireLease('cron:sweep', 'B', 5000)).toBe(false);
    f.clock.advance(2000);
    expect(await two.acquireLease('cron:sweep', 'B', 5000)).toBe(true);
    expect(await one.acquireLease('cron:sweep', 'A', 5000)).toBe(false);
    await one.releaseLease('cron:sweep', 'A');
    expect(await one.acquireLease('cron:sweep', 'A', 5000)).toBe(false);
    await two.releaseLease('cron:sweep', 'B');
    expect(await one.acquireLease('cron:sweep', 'A', 5000)).toBe(true);
    const results = await Promise.all(['C', 'D', 'E', 'F'].map((who, i) => (i % 2 ? one : two).acquireLease('cron:race', who, 5000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('plugin config round-trips, upserts, and stays per plugin', async () => {
    const store = await f.open();
    const shown = await store.setConfig({ plugin: 'alpha', key: 'apiUrl', value: 'https://api.alpha', secret: false });
    expect(shown).toEqual({ plugin: 'alpha', key: 'apiUrl', value: 'https://api.alpha', secret: false, updatedAt: iso(T0) });
    await store.setConfig({ plugin: 'alpha', key: 'apiKey', value: 'v1.enc.abc', secret: true });
    await store.setConfig({ plugin: 'beta', key: 'apiUrl', value: 'https://api.beta', secret: false });
    f.clock.advance(10);
    await store.setConfig({ plugin: 'alpha', key: 'apiUrl', value: 'https://api2.alpha', secret: false });
    expect(await store.getConfig('alpha', 'apiUrl')).toEqual({ ...shown, value: 'https://api2.alpha', updatedAt: iso(T0 + 10) });
    expect(await store.getConfig('alpha', 'missing')).toBeNull();
    expect((await store.listConfig('alpha')).map((e) => [e.key, e.value, e.secret])).toEqual([['apiKey', 'v1.enc.abc', true], ['apiUrl', 'https://api2.alpha', false]]);
    expect((await store.listConfig('beta')).map((e) => e.value)).toEqual(['https://api.beta']);
  });

  test('network grants upsert by plugin and origin, list sorted, and delete', async () => {
    const store = await f.open();
    const requested = { plugin: 'alpha', origin: 'https://api.alpha:443', pathPrefix: '/v1/', methods: ['POST'], requested: true, approved: false, approvedBy: null, approvedAt: null };
    await store.upsertGrant(requested);
    await store.upsertGrant({ ...requested, plugin: 'beta', origin: 'https://api.beta:443', methods: null, pathPrefix: null });
    await store.upsertGrant({ ...requested, origin: 'http://127.0.0.1:8080' });
    f.clock.advance(5);
    const approved = await store.upsertGrant({ ...requested, approved: true, approvedBy: 'admin', approvedAt: iso(T0 + 5) });
    expect(approved).toEqual({ ...requested, approved: true, approvedBy: 'admin', approvedAt: iso(T0 + 5), updatedAt: iso(T0 + 5) });
    expect((await store.listGrants('alpha')).map((g) => g.origin)).toEqual(['http://127.0.0.1:8080', 'https://api.alpha:443']);
    expect((await store.listGrants('alpha'))[1]).toEqual(approved);
    expect((await store.listGrants()).map((g) => [g.plugin, g.methods])).toEqual([['alpha', ['POST']], ['alpha', ['POST']], ['beta', null]]);
    await store.deleteGrant('alpha', 'https://api.alpha:443');
    expect((await store.listGrants('alpha')).map((g) => g.origin)).toEqual(['http://127.0.0.1:8080']);
  });

  test('audit log appends a batch and queries it newest first with every filter', async () => {
    const store = await f.open();
    const record = (i: number, over: Partial<NewAuditRecord>): NewAuditRecord => ({
      at: iso(T0 + i * 1000), plugin: 'alpha', actor: 'plugin:alpha', callId: `call-${i}`, capability: 'http.request',
      decision: 'allowed', rule: null, summary: `request ${i}`, durationMs: 1.25, ...over,
    });
    await store.appendAudit([
      record(1, {}), record(2, { decision: 'denied', rule: 'egress.private-address' }), record(3, { plugin: 'beta', actor: 'plugin:beta' }),
      record(4, { plugin: null, actor: 'admin', capability: 'admin.order.status' }),
    ]);
    await store.appendAudit([]);
    const all = await store.queryAudit({});
    expect(all.map((r) => r.summary)).toEqual(['request 4', 'request 3', 'request 2', 'request 1']);
    expect(all[2]).toEqual({ _id: ID, ...record(2, { decision: 'denied', rule: 'egress.private-address' }) });
    const summaries = async (q: object) => (await store.queryAudit(q)).map((r) => r.summary);
    expect(await summaries({ plugin: 'alpha' })).toEqual(['request 2', 'request 1']);
    expect(await summaries({ decision: 'denied' })).toEqual(['request 2']);
    expect(await summaries({ capability: 'admin.order.status' })).toEqual(['request 4']);
    expect(await summaries({ callId: 'call-3' })).toEqual(['request 3']);
    expect(await summaries({ since: iso(T0 + 2000), until: iso(T0 + 3000) })).toEqual(['request 3', 'request 2']);
    expect(await summaries({ limit: 1 })).toEqual(['request 4']);
    await expect(store.appendAudit([record(5, { decision: 'maybe' as never })])).rejects.toThrow(/records\[0\]\.decision must be one of/);
    expect(await store.queryAudit({})).toHaveLength(4);
  });

  test('a large audit batch (not a multiple of any insert size) keeps every record, each field and its own id', async () => {
    const store = await f.open();
    const n = 101;
    const batch: NewAuditRecord[] = Array.from({ length: n }, (_, i) => ({
      at: iso(T0 + i), plugin: i % 2 ? 'alpha' : null, actor: i % 2 ? 'plugin:alpha' : 'admin', callId: i % 3 ? `call-${i}` : null,
      capability: `cap-${i}`, decision: i % 5 ? 'allowed' : 'denied', rule: i % 5 ? null : `rule-${i}`, summary: `record ${i}`, durationMs: i / 4,
    }));
    await store.appendAudit(batch);
    const back = (await store.queryAudit({ limit: 1000 })).reverse();
    expect(back.map(({ _id, ...r }) => r)).toEqual(batch);
    expect(new Set(back.map((r) => r._id)).size).toBe(n);
  });

  test('webhook inbox records a delivery as received, finishes it, and lists newest first', async () => {
    const store = await f.open();
    const base = {
      plugin: 'alpha', callback: 'final', receivedAt: iso(T0), method: 'POST', ip: '127.0.0.1',
      headers: { 'content-type': 'application/json', 'x.dotted': 'a', $dollar: 'b' }, query: { 'a.b': '1' },
      body: '{"ok":1}', bodyEncoding: 'utf8' as const,
    };
    const first = await store.recordWebhook(base);
    expect(first).toEqual({ ...base, _id: ID, state: 'received', responseStatus: null, responseBody: null, error: null });
    const second = await store.recordWebhook({ ...base, plugin: 'beta', receivedAt: iso(T0 + 1), body: 'AAE=', bodyEncoding: 'base64' });
    await store.finishWebhook(first._id, { state: 'processed', responseStatus: 200, responseBody: 'OK', error: null });
    const finished = { ...first, state: 'processed', responseStatus: 200, responseBody: 'OK' };
    expect(await store.listWebhooks({})).toEqual([second, finished]);
    expect(await store.listWebhooks({ plugin: 'alpha' })).toEqual([finished]);
    expect(await store.listWebhooks({ limit: 1 })).toEqual([second]);
    await expect(store.finishWebhook('9'.repeat(24), { state: 'failed', responseStatus: null, responseBody: null, error: 'x' }))
      .rejects.toThrow(/no webhook delivery 9{24}/);
  });

  test('routes are created, listed oldest first, and patched', async () => {
    const store = await f.open();
    const input = { fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: '₴', rate: '41.5', minAmount: '10', maxAmount: '5000', payoutPlugin: 'alpha', autoPayout: true, active: true };
    const route = await store.createRoute(input);
    expect(route).toEqual({ ...input, _id: ID, createdAt: iso(T0), updatedAt: iso(T0) });
    f.clock.advance(1);
    const second = await store.createRoute({ ...input, toXml: 'CARDEUR', payoutPlugin: null });
    f.clock.advance(1);
    const patched = await store.updateRoute(route._id, { rate: '42', active: false });
    expect(patched).toEqual({ ...route, rate: '42', active: false, updatedAt: iso(T0 + 2) });
    expect(await store.getRoute(route._id)).toEqual(patched);
    expect(await store.listRoutes()).toEqual([patched, second]);
    expect(await store.updateRoute('8'.repeat(24), { rate: '1' })).toBeNull();
    await expect(store.updateRoute(route._id, { rate: 42 } as never)).rejects.toThrow(/rate must be a string/);
    await expect(store.updateRoute(route._id, { bogus: 1 } as never)).rejects.toThrow(/unknown field "bogus"/);
  });

  test('plugin log appends lines and reads one plugin newest first, since a time, with a limit', async () => {
    const store = await f.open();
    await store.appendPluginLog([
      { plugin: 'alpha', at: iso(T0), level: 'info', callId: 'c1', text: 'one' },
      { plugin: 'beta', at: iso(T0 + 1), level: 'warn', callId: null, text: 'other plugin' },
      { plugin: 'alpha', at: iso(T0 + 2), level: 'error', callId: 'c2', text: 'two' },
    ]);
    const lines = await store.queryPluginLog({ plugin: 'alpha' });
    expect(lines).toEqual([
      { _id: ID, plugin: 'alpha', at: iso(T0 + 2), level: 'error', callId: 'c2', text: 'two' },
      { _id: ID, plugin: 'alpha', at: iso(T0), level: 'info', callId: 'c1', text: 'one' },
    ]);
    expect((await store.queryPluginLog({ plugin: 'alpha', since: iso(T0 + 1) })).map((l) => l.text)).toEqual(['two']);
    expect((await store.queryPluginLog({ plugin: 'alpha', limit: 1 })).map((l) => l.text)).toEqual(['two']);
    expect((await store.queryPluginLog({ plugin: 'beta' })).map((l) => l.text)).toEqual(['other plugin']);
  });
}
