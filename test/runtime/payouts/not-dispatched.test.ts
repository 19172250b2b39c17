// The attack: another plugin crashes the sandbox, an innocent plugin's breaker opens, and its
// payouts in flight went straight to errorPayout with an IPN, though no transfer was attempted.
// A payout the sandbox refused before the plugin's code ran must stay inProgressPayout, send no
// IPN, leave no live attempt blocking, and pay out exactly once when the plugin is back — while a
// transfer that did run and failed is still FAILED/errorPayout or UNKNOWN (positive controls).
// Real SQLite store, a stub sandbox (invoke) and a clock the test moves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { Order } from '../../../runtime/store/types.ts';
import { PayoutOrchestrator } from '../../../runtime/payouts/orchestrator.ts';
import type { OrchestratorDeps } from '../../../runtime/payouts/orchestrator.ts';
import { sweepPayouts } from '../../../runtime/payouts/payout-sweep.ts';
import type { SweepDeps } from '../../../runtime/payouts/payout-sweep.ts';
import { NEVER_DISPATCHED } from '../../../runtime/payouts/deferral.ts';
import type { PluginAvailability } from '../../../runtime/payouts/deferral.ts';
import { NOT_DISPATCHED } from '../../../runtime/sandbox/protocol.ts';
import { newOrder } from '../../helpers/orders.ts';
import { openPayoutFixture } from './payout-fixture.ts';
import { stubPlugin as plugin } from './stub-sandbox.ts';
import type { StubSandbox } from './stub-sandbox.ts';

let clock = Date.parse('2026-12-01T10:00:00Z');
let store: Store;
let sandbox: StubSandbox;
let audits: { capability: string; summary: string }[];
let availability: Map<string, PluginAvailability>;
let orchestrator: PayoutOrchestrator;
let deps: OrchestratorDeps;

beforeEach(async () => {
  clock = Date.parse('2026-12-01T10:00:00Z');
  availability = new Map();
  ({ store, sandbox, audits, deps, orchestrator } = await openPayoutFixture(() => clock, {
    pluginAvailability: (key) => availability.get(key) ?? { available: true },
  }));
});
afterEach(async () => {
  await store.close();
});

function sweep(): ReturnType<typeof sweepPayouts> {
  const sweepDeps: SweepDeps = {
    ...deps, orchestrator, statusPollMs: 60_000, statusWallMs: 1000,
    autoPayout: async () => true,
  };
  return sweepPayouts(sweepDeps);
}

async function payoutOrder(key = 'alpha'): Promise<Order> {
  return store.createOrder(newOrder({ payoutModule: key }));
}

async function settledStatus(orderId: string): Promise<{ status: string; ipns: string[]; live: boolean; states: string[] }> {
  const order = await store.getOrder(orderId);
  const attempts = await store.listAttempts(orderId);
  return {
    status: order?.status ?? 'missing',
    ipns: (await store.listIpns(orderId)).map((i) => i.status),
    live: (await store.getLiveAttempt(orderId)) !== null,
    states: attempts.map((a) => a.state),
  };
}

describe('a transfer the sandbox refused before it ran', () => {
  it('covers every NOT_DISPATCHED kind', () => {
    expect([...NOT_DISPATCHED].sort()).toEqual(['bad_request', 'circuit_open', 'load_failed', 'not_loaded', 'sandbox_unavailable', 'throttled']);
  });

  for (const kind of NOT_DISPATCHED) {
    it(`${kind}: stays inProgressPayout, no IPN, no live attempt, then pays out exactly once`, async () => {
      const order = await payoutOrder();
      sandbox.answer('alpha', { kind }, { kind: 'ok', value: { ok: 1, transaction: 'tx-9' } });

      const first = await orchestrator.start(order._id);
      expect(first).toMatchObject({ kind: 'deferred' });
      let now = await settledStatus(order._id);
      expect(now).toEqual({ status: 'inProgressPayout', ipns: [], live: false, states: ['FAILED'] });
      const [attempt] = await store.listAttempts(order._id);
      expect(attempt.reason).toMatch(new RegExp(`^${NEVER_DISPATCHED}: .*\\(${kind}: `));
      expect(attempt.requestsSent).toBe(0);

      // Sweeps during the backoff neither call the plugin nor write attempts nor repeat the notice.
      for (let i = 0; i < 3; i++) {
        clock += 1000;
        expect((await sweep()).deferred).toBe(1);
      }
      expect(sandbox.transfersRun(order._id)).toBe(1);
      expect((await store.listAttempts(order._id))).toHaveLength(1);
      expect(audits.filter((a) => a.capability === 'payout.deferred')).toHaveLength(1);
      expect(audits.find((a) => a.capability === 'payout.deferred')?.summary).toMatch(/transfer\(\) was not run/);

      // The plugin is available again: the next sweep after the backoff pays, once.
      clock += 60_000;
      expect((await sweep()).started).toBe(1);
      now = await settledStatus(order._id);
      expect(now).toEqual({ status: 'done', ipns: ['done'], live: false, states: ['FAILED', 'SUCCEEDED'] });
      clock += 60_000;
      await sweep();
      expect(sandbox.transfersRun(order._id)).toBe(2); // the refused call and the one that paid
      expect((await store.listAttempts(order._id)).filter((a) => a.state === 'SUCCEEDED')).toHaveLength(1);
      expect((await store.listIpns(order._id)).map((i) => i.status)).toEqual(['done']);
    });
  }

  it('a known pause (breaker open) writes no attempt and makes no call; the order pays when it closes', async () => {
    const order = await payoutOrder();
    availability.set('alpha', { available: false, reason: 'the plugin is paused after repeated faults' });
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'deferred', reason: /paused/ });
    clock += 5000;
    await sweep();
    expect(sandbox.calls).toHaveLength(0);
    expect(await settledStatus(order._id)).toEqual({ status: 'inProgressPayout', ipns: [], live: false, states: [] });
    expect(audits.filter((a) => a.capability === 'payout.deferred')).toHaveLength(1);

    availability.delete('alpha');
    clock += 1000;
    expect((await sweep()).started).toBe(1);
    expect(await settledStatus(order._id)).toMatchObject({ status: 'done', states: ['SUCCEEDED'] });
  });

  it('after one refusal the other orders of the plugin wait too: one probe per backoff, not one call per order', async () => {
    const orders = [await payoutOrder(), await payoutOrder(), await payoutOrder()];
    sandbox.answer('alpha', { kind: 'throttled' }, { kind: 'throttled' }, { kind: 'ok', value: { ok: 1, transaction: 'tx' } });
    await sweep();
    expect(sandbox.calls).toHaveLength(1);
    clock += 1000;
    await sweep();
    expect(sandbox.calls).toHaveLength(1);
    // The backoff grows while the sandbox keeps refusing, and a different order is the next probe.
    clock += 5000;
    await sweep();
    expect(sandbox.calls).toHaveLength(2);
    expect(new Set(sandbox.calls.map((c) => c.orderId)).size).toBe(2);
    for (let i = 0; i < 20; i++) {
      clock += 30_000;
      await sweep();
    }
    for (const o of orders) {
      expect(await settledStatus(o._id)).toMatchObject({ status: 'done', ipns: ['done'], live: false });
      expect((await store.listAttempts(o._id)).filter((a) => a.state === 'SUCCEEDED')).toHaveLength(1);
    }
    expect(sandbox.calls.length).toBeLessThanOrEqual(5);
  });

  it('an order the sandbox always refuses cannot keep the other orders of its plugin waiting', async () => {
    const healthy = await payoutOrder();
    const poisoned = await payoutOrder(); // newer: the sweep meets it first
    sandbox.answer(`alpha:${poisoned._id}`, { kind: 'bad_request' });
    await sweep();
    for (let i = 0; i < 3 && (await store.getOrder(healthy._id))?.status !== 'done'; i++) {
      clock += 5000;
      await sweep();
    }
    expect(await settledStatus(healthy._id)).toMatchObject({ status: 'done', ipns: ['done'] });
    expect(await settledStatus(poisoned._id)).toMatchObject({ status: 'inProgressPayout', ipns: [], live: false });
  });

  it('a route without autoPayout: a payout the administrator started and the sandbox refused starts again by itself', async () => {
    const order = await payoutOrder();
    sandbox.answer('alpha', { kind: 'sandbox_unavailable' }, { kind: 'ok', value: { ok: 1, transaction: 'tx' } });
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'deferred' });
    const manual: SweepDeps = { ...deps, orchestrator, statusPollMs: 60_000, statusWallMs: 1000, autoPayout: async () => false };
    clock += 60_000;
    expect((await sweepPayouts(manual)).started).toBe(1);
    expect(await settledStatus(order._id)).toMatchObject({ status: 'done', states: ['FAILED', 'SUCCEEDED'] });
    // Positive control: an order nobody asked to pay out is left alone on such a route.
    const untouched = await payoutOrder();
    clock += 60_000;
    await sweepPayouts(manual);
    expect(await settledStatus(untouched._id)).toMatchObject({ status: 'inProgressPayout', states: [] });
  });

  it('the order put on hold while the refused call was in flight stays on hold; the attempt is FAILED, not under review', async () => {
    const order = await payoutOrder();
    const d = { ...deps, invoke: async (key: string, method: string, args: unknown) => {
      await store.transitionOrder({ orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'hold', history: { actor: 'admin', comment: 'pause' } });
      return sandbox.invoke(key, method, args);
    } };
    sandbox.answer('alpha', { kind: 'circuit_open' });
    expect(await new PayoutOrchestrator(d).start(order._id)).toMatchObject({ kind: 'deferred' });
    expect(await settledStatus(order._id)).toEqual({ status: 'hold', ipns: [], live: false, states: ['FAILED'] });
  });
});

describe('positive controls: a transfer that ran is judged as before', () => {
  it('rejected before any request: FAILED and errorPayout with its IPN', async () => {
    const order = await payoutOrder();
    sandbox.answer('alpha', { kind: 'plugin_error' });
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'failed' });
    expect(await settledStatus(order._id)).toEqual({ status: 'errorPayout', ipns: ['errorPayout'], live: false, states: ['FAILED'] });
    expect((await store.listAttempts(order._id))[0].reason).not.toMatch(NEVER_DISPATCHED);
    clock += 600_000;
    await sweep();
    expect(sandbox.transfersRun(order._id)).toBe(1);
  });

  it('crashed after a request went out: UNKNOWN, no IPN, never retried', async () => {
    const order = await payoutOrder();
    sandbox.answer('alpha', { kind: 'sandbox_crashed', requests: 1 });
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'unknown' });
    expect(await settledStatus(order._id)).toEqual({ status: 'inProgressPayout', ipns: [], live: true, states: ['UNKNOWN'] });
    clock += 60_000;
    await sweep();
    expect(sandbox.transfersRun(order._id)).toBe(1);
  });

  it('a NOT_DISPATCHED kind reported with a request started is not believed: UNKNOWN, never retried', async () => {
    const order = await payoutOrder();
    sandbox.answer('alpha', { kind: 'circuit_open', requests: 1 });
    expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'unknown' });
    expect(await settledStatus(order._id)).toMatchObject({ status: 'inProgressPayout', ipns: [], live: true, states: ['UNKNOWN'] });
  });
});
