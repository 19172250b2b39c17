// One settle step for every path that ends a payout. The inconsistency it removes: the plugin's
// updateHistory settled the attempt without a payout audit record or waking the IPN dispatcher,
// the administrator's resolution wrote the attempt straight into the store with neither audit
// nor event. Each path here must leave the same record: order status + history + IPN (enqueued
// and dispatcher woken) + attempt state + one payout.* audit record + one event.
// Real SQLite store, a stub sandbox and a clock the test moves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { Order, PayoutAttempt } from '../../../runtime/store/types.ts';
import { buildIpn } from '../../../runtime/ipn/ipn-message.ts';
import type { OrchestratorDeps, PayoutOrchestrator } from '../../../runtime/payouts/orchestrator.ts';
import type { PayoutEvent } from '../../../runtime/payouts/payout-steps.ts';
import { sweepPayouts } from '../../../runtime/payouts/payout-sweep.ts';
import { applyReport } from '../../../runtime/payouts/sdk-reconcile.ts';
import { followOrder, settlePayout } from '../../../runtime/payouts/settle.ts';
import { newOrder } from '../../helpers/orders.ts';
import { openPayoutFixture } from './payout-fixture.ts';
import type { StubSandbox } from './stub-sandbox.ts';

let clock = Date.parse('2026-12-01T10:00:00Z');
let store: Store;
let sandbox: StubSandbox;
let audits: { capability: string; summary: string }[];
let events: PayoutEvent[];
let kicks: number;
let deps: OrchestratorDeps;
let orchestrator: PayoutOrchestrator;

beforeEach(async () => {
  clock = Date.parse('2026-12-01T10:00:00Z');
  events = [];
  kicks = 0;
  ({ store, sandbox, audits, deps, orchestrator } = await openPayoutFixture(() => clock, {
    onIpnEnqueued: () => { kicks++; },
    onEvent: (e) => events.push(e),
  }));
});
afterEach(async () => {
  await store.close();
});

/** An order in inProgressPayout with an attempt walked to `state` (leased, fence 1). */
async function payoutIn(state: 'DISPATCHING' | 'ACCEPTED' | 'UNKNOWN' | 'NEEDS_REVIEW'): Promise<{ order: Order; attempt: PayoutAttempt }> {
  const order = await store.createOrder(newOrder({ payoutModule: 'alpha' }));
  let attempt = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'test', leaseMs: 60_000 }))!;
  const path = { DISPATCHING: ['DISPATCHING'], ACCEPTED: ['DISPATCHING', 'ACCEPTED'], UNKNOWN: ['DISPATCHING', 'UNKNOWN'], NEEDS_REVIEW: ['DISPATCHING', 'UNKNOWN', 'NEEDS_REVIEW'] }[state];
  for (const s of path) {
    attempt = (await store.updateAttempt(attempt._id, attempt.fence, [attempt.state], { state: s as PayoutAttempt['state'], transaction: 'tx-9', reviewDeadline: new Date(clock + 60_000).toISOString() }))!;
  }
  return { order, attempt };
}

/** What one settlement left behind, as the same record for every path. */
async function record(orderId: string): Promise<Record<string, unknown>> {
  const order = (await store.getOrder(orderId))!;
  return {
    status: order.status,
    history: (await store.getOrderHistory(orderId)).map((h) => h.toStatus),
    ipns: (await store.listIpns(orderId)).map((i) => i.status),
    woken: kicks > 0,
    attempts: (await store.listAttempts(orderId)).map((a) => a.state),
    audits: audits.filter((a) => a.capability.startsWith('payout.') && a.summary.startsWith(`order ${orderId}:`)).map((a) => a.capability),
    events: events.filter((e) => e.orderId === orderId && e.kind !== 'started').map((e) => e.kind),
  };
}

const PAID = { status: 'done', history: ['done'], ipns: ['done'], woken: true, attempts: ['SUCCEEDED'], audits: ['payout.succeeded'], events: ['succeeded'] };

describe('every path settles a payout with the same side effects', () => {
  it('the orchestrator (transfer() answered ok:1)', async () => {
    const order = await store.createOrder(newOrder({ payoutModule: 'alpha' }));
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'succeeded' });
    expect(await record(order._id)).toEqual(PAID);
  });

  it('the SDK status report', async () => {
    const { order, attempt } = await payoutIn('ACCEPTED');
    expect(await applyReport(deps, attempt, order, { status: 'paid' }, 'status check')).toBe(true);
    expect(await record(order._id)).toEqual(PAID);
  });

  it('the plugin\'s updateHistory (the order moved by the plugin, the attempt by the settle hook)', async () => {
    const { order, attempt } = await payoutIn('ACCEPTED');
    // What history.update does: the order, its history and IPN in one store step, as the plugin.
    const moved = await store.transitionOrder({
      orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'done', history: { actor: 'plugin:alpha', comment: null },
      ipn: deps.buildIpn({ ...order, status: 'done' }, 'done'),
    });
    await store.updateAttempt(attempt._id, attempt.fence, ['ACCEPTED'], { leaseUntil: null }); // the flow released it
    await orchestrator.settleFromPlugin(moved.ok ? moved.order : order, 'alpha');
    expect(await record(order._id)).toEqual(PAID);
  });

  it('the sweep\'s review deadline', async () => {
    const { order, attempt } = await payoutIn('UNKNOWN');
    await store.updateAttempt(attempt._id, attempt.fence, ['UNKNOWN'], { leaseUntil: null });
    clock += 120_000;
    const report = await sweepPayouts({ ...deps, orchestrator, statusPollMs: 60_000, statusWallMs: 1000, autoPayout: async () => false });
    expect(report.toReview).toBe(1);
    expect(await record(order._id)).toEqual({
      status: 'hold', history: ['hold'], ipns: ['hold'], woken: true, attempts: ['NEEDS_REVIEW'], audits: ['payout.needs_review'], events: ['needs_review'],
    });
    expect((await store.getOrder(order._id))!.holdReason).toMatch(/not reconciled by/);
  });

  it('the administrator\'s resolution: the attempt first (a retry must find it FAILED), audited and announced', async () => {
    const { order, attempt } = await payoutIn('NEEDS_REVIEW');
    expect(await orchestrator.settleByAdmin(attempt, order, 'resolved by an administrator as not paid: bank says no')).toBe(true);
    const after = await record(order._id);
    // The order is the caller's to move (the order service, actor admin): not moved here.
    expect(after).toMatchObject({ status: 'inProgressPayout', history: [], attempts: ['FAILED'], audits: ['payout.failed'], events: ['failed'] });
    // Only a payout held for review is the administrator's to settle this way.
    const live = await payoutIn('UNKNOWN');
    expect(await orchestrator.settleByAdmin(live.attempt, live.order, 'not paid')).toBe(false);
    expect((await store.getAttempt(live.attempt._id))!.state).toBe('UNKNOWN');
  });
});

describe('the differences that remain are parameters', () => {
  it('closeTxs: an SDK payout\'s tx is closed when it settles; one held for review keeps it for the resolution', async () => {
    const paid = await payoutIn('ACCEPTED');
    const held = await payoutIn('ACCEPTED');
    for (const p of [paid, held]) {
      await store.insertPayoutTx({ order: p.order._id, transaction: 'tx-9', payoutModule: 'alpha', active: true, amount: '4000', currency: 'UAH', to: null, note: null, attemptId: p.attempt._id });
    }
    await applyReport(deps, paid.attempt, paid.order, { status: 'paid', amount: '4000' }, 'provider webhook');
    await applyReport(deps, held.attempt, held.order, { status: 'paid', amount: '3999' }, 'provider webhook');
    const active = async (orderId: string) => (await store.findPayoutTxs({ plugin: 'alpha', conditions: [{ field: 'order', op: 'eq', value: orderId }] })).map((t) => t.active);
    expect(await active(paid.order._id)).toEqual([false]);
    expect(await active(held.order._id)).toEqual([true]);
    expect((await store.getAttempt(held.attempt._id))!).toMatchObject({ state: 'NEEDS_REVIEW', reason: expect.stringMatching(/reported 3999/) });
  });

  it('an order settled elsewhere meanwhile wins: the attempt follows it, and the order is not moved twice', async () => {
    const { order, attempt } = await payoutIn('DISPATCHING');
    await store.transitionOrder({ orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'errorPayout', history: { actor: 'plugin:alpha', comment: null }, ipn: deps.buildIpn({ ...order, status: 'errorPayout' }, 'errorPayout') });
    const result = await settlePayout(deps, { attempt, order, state: 'SUCCEEDED', reason: 'transfer() answered ok:1', orderMove: { by: 'payout-flow' } });
    expect(result).toMatchObject({ followed: true, state: 'FAILED', attemptMoved: true });
    expect(await record(order._id)).toMatchObject({ status: 'errorPayout', history: ['errorPayout'], ipns: ['errorPayout'], attempts: ['FAILED'], audits: ['payout.failed'] });
  });

  it('an attempt that moved on is not written, but the order\'s move is still audited once', async () => {
    const { order, attempt } = await payoutIn('DISPATCHING');
    expect(await store.acquireAttemptLease(attempt._id, 'other-worker', 60_000)).toBeNull(); // held until it expires
    clock += 120_000;
    expect(await store.acquireAttemptLease(attempt._id, 'other-worker', 60_000)).toMatchObject({ fence: attempt.fence + 1 });
    const result = await settlePayout(deps, { attempt, order, state: 'FAILED', reason: 'transfer failed before any request left the sandbox', orderMove: { by: 'payout-flow' } });
    expect(result).toMatchObject({ followed: false, attemptMoved: false });
    expect(await record(order._id)).toMatchObject({ status: 'errorPayout', attempts: ['DISPATCHING'], audits: ['payout.failed'], events: ['failed'] });
  });

  it('an order that no longer exists sends the attempt to review', async () => {
    const { attempt } = await payoutIn('ACCEPTED');
    expect(await followOrder(deps, attempt, null)).toMatchObject({ state: 'NEEDS_REVIEW', attemptMoved: true });
    expect((await store.getAttempt(attempt._id))!).toMatchObject({ state: 'NEEDS_REVIEW', reason: 'the order no longer exists' });
  });
});
