// An SDK plugin's `status` poll the sandbox refused before it ran (the plugin is paused) is not a
// poll: it is not audited as a failed check, not counted, does not use up the poll interval, and
// the paused plugin is not asked again before its backoff ends. Positive control: a poll that ran
// and failed is audited and waits for the next interval, as before.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { OrchestratorDeps, PayoutOrchestrator } from '../../../runtime/payouts/orchestrator.ts';
import { sweepPayouts } from '../../../runtime/payouts/payout-sweep.ts';
import { newOrder } from '../../helpers/orders.ts';
import { openPayoutFixture } from './payout-fixture.ts';
import { stubPlugin } from './stub-sandbox.ts';
import type { StubSandbox } from './stub-sandbox.ts';

const POLL_MS = 60_000;
let clock = 0;
let store: Store;
let sandbox: StubSandbox;
let audits: { capability: string; summary: string }[];
let deps: OrchestratorDeps;
let orchestrator: PayoutOrchestrator;

beforeEach(async () => {
  clock = Date.parse('2026-12-01T10:00:00Z');
  ({ store, sandbox, audits, deps, orchestrator } = await openPayoutFixture(() => clock, {
    activePlugin: (key) => stubPlugin(key, { format: 'sdk', status: true }),
    acceptedReviewAfterMs: 24 * 3600_000,
  }));
});
afterEach(async () => {
  await store.close();
});

const sweep = () => sweepPayouts({ ...deps, orchestrator, statusPollMs: POLL_MS, statusWallMs: 1000, autoPayout: async () => true });
const statusCalls = () => sandbox.calls.filter((c) => c.method === 'status').length;

async function acceptedPayout() {
  const order = await store.createOrder(newOrder({ payoutModule: 'sdkpay' }));
  sandbox.answer('sdkpay.transfer', { kind: 'ok', value: { ok: 2, transaction: 'ref-1' } });
  expect(await orchestrator.start(order._id)).toMatchObject({ kind: 'accepted' });
  return order;
}

describe('a status poll refused because the plugin is paused', () => {
  it('counts towards nothing, is asked again once the plugin is back, and then settles the payout', async () => {
    const order = await acceptedPayout();
    sandbox.answer('sdkpay.status', { kind: 'circuit_open' }, { kind: 'ok', value: { status: 'paid' } });
    clock += 1000;
    const first = await sweep();
    expect(statusCalls()).toBe(1);
    expect(first.polled).toBe(0);
    expect(audits.filter((a) => a.capability === 'payout.status')).toHaveLength(0);

    // Within the plugin's backoff: not asked again (no hammering a paused plugin).
    clock += 1000;
    await sweep();
    expect(statusCalls()).toBe(1);

    // After the backoff, well before the poll interval: asked again, because the refusal was no poll.
    clock += 10_000;
    const again = await sweep();
    expect(statusCalls()).toBe(2);
    expect(again).toMatchObject({ polled: 1, reconciled: 1 });
    expect((await store.getOrder(order._id))?.status).toBe('done');
    expect((await store.listAttempts(order._id)).map((a) => a.state)).toEqual(['SUCCEEDED']);
  });

  it('positive control: a poll that ran and failed is audited, counted, and waits for the next interval', async () => {
    await acceptedPayout();
    sandbox.answer('sdkpay.status', { kind: 'plugin_error' });
    clock += 1000;
    expect((await sweep()).polled).toBe(1);
    expect(audits.filter((a) => a.capability === 'payout.status')).toHaveLength(1);
    clock += 12_000;
    await sweep();
    expect(statusCalls()).toBe(1);
    clock += POLL_MS;
    await sweep();
    expect(statusCalls()).toBe(2);
  });
});
