// The finding: a server killed during transfer() sent every such payout to hold, though most had
// not sent a request yet, and a person resolved each by hand. The attempt now records durably
// (requestLeftAt) before its first request reaches a socket; recovery retries a DISPATCHING
// attempt without the mark (it never sent anything) and pays once, and keeps one with the mark
// UNKNOWN (positive control). A worker the sweep took over can no longer mark, so it cannot send.
// Real SQLite store, a stub sandbox, a clock the test moves; the "killed" worker is an
// orchestrator whose transfer() never returns.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { buildIpn } from '../../../runtime/ipn/ipn-message.ts';
import { PayoutOrchestrator } from '../../../runtime/payouts/orchestrator.ts';
import type { OrchestratorDeps } from '../../../runtime/payouts/orchestrator.ts';
import { sweepPayouts } from '../../../runtime/payouts/payout-sweep.ts';
import { NEVER_DISPATCHED } from '../../../runtime/payouts/deferral.ts';
import type { InvokeOptions, InvokeResult } from '../../../runtime/sandbox/sandbox-host.ts';
import type { AuditLog } from '../../../host-api/audit.ts';
import { newOrder } from '../../helpers/orders.ts';
import { StubSandbox, stubPlugin } from './stub-sandbox.ts';

let clock = 0;
let store: Store;
let alive: StubSandbox;
let audits: { capability: string; summary: string }[];

beforeEach(async () => {
  clock = Date.parse('2026-12-01T10:00:00Z');
  store = await openStore('sqlite::memory:', { now: () => clock });
  alive = new StubSandbox();
  audits = [];
});
afterEach(async () => {
  await store.close();
});

function depsFor(owner: string, invoke: OrchestratorDeps['invoke']): OrchestratorDeps {
  return {
    store, owner, now: () => clock,
    audit: { record: (r: { capability: string; summary: string }) => audits.push(r) } as unknown as AuditLog,
    buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1, now: clock }),
    invoke, activePlugin: (key) => stubPlugin(key),
    transferWallMs: 1000, acceptedReviewAfterMs: 3600_000, unknownReviewAfterMs: 300_000, leaseMarginMs: 0,
  };
}

/** A worker killed inside transfer(): it marks the request (or not), then never returns. */
function killedWorker(sendsRequest: boolean) {
  let late: ((callId: string) => Promise<void>) | undefined;
  let reached: (mark: Promise<void>) => void = () => {};
  const inTransfer = new Promise<Promise<void>>((r) => { reached = r; });
  const invoke = (_key: string, _method: string, _args: unknown, options?: InvokeOptions): Promise<InvokeResult> => {
    late = options?.beforeFirstRequest;
    reached(sendsRequest && late ? late('call-dead') : Promise.resolve());
    return new Promise<InvokeResult>(() => {});
  };
  const orchestrator = new PayoutOrchestrator(depsFor('dead', invoke));
  return { orchestrator, marked: async () => { await (await inTransfer); }, markLate: () => late!('call-dead-late') };
}

async function sweep(orchestrator: PayoutOrchestrator) {
  const report = await sweepPayouts({ ...depsFor('alive', (k, m, a) => alive.invoke(k, m, a)), orchestrator, statusPollMs: 60_000, statusWallMs: 1000, autoPayout: async () => true });
  await orchestrator.drain(); // the payout the recovery kicked
  return report;
}

async function killDuringTransfer(sendsRequest: boolean) {
  const order = await store.createOrder(newOrder({ payoutModule: 'alpha' }));
  const dead = killedWorker(sendsRequest);
  dead.orchestrator.kick(order._id);
  await dead.marked();
  const [attempt] = await store.listAttempts(order._id);
  expect(attempt).toMatchObject({ state: 'DISPATCHING', requestLeftAt: sendsRequest ? expect.any(String) : null });
  clock += 10_000; // past the dead worker's lease (2 × transferWallMs)
  return { order, dead };
}

it('a DISPATCHING attempt without the mark never sent anything: it is retried and pays once, no hold, no errorPayout', async () => {
  const { order, dead } = await killDuringTransfer(false);
  const survivor = new PayoutOrchestrator(depsFor('alive', (k, m, a) => alive.invoke(k, m, a)));
  expect((await sweep(survivor)).recovered).toBe(1);

  const attempts = await store.listAttempts(order._id);
  expect(attempts.map((a) => a.state)).toEqual(['FAILED', 'SUCCEEDED']);
  expect(attempts[0].reason).toMatch(new RegExp(`^${NEVER_DISPATCHED}: the server stopped while transfer\\(\\) was running, before any request left`));
  expect((await store.getOrder(order._id))?.status).toBe('done');
  expect((await store.listIpns(order._id)).map((i) => i.status)).toEqual(['done']);
  expect(alive.transfersRun(order._id)).toBe(1);
  // The dead worker, were it to wake, can no longer mark, so its request is refused.
  await expect(dead.markLate()).rejects.toThrow(/no longer dispatched by this worker/);
  clock += 10_000;
  await sweep(survivor);
  expect(alive.transfersRun(order._id)).toBe(1);
  expect(audits.some((a) => a.capability === 'payout.unknown')).toBe(false);
});

it('positive control: with the mark a request may have left: UNKNOWN, never retried, held by its deadline', async () => {
  const { order } = await killDuringTransfer(true);
  const survivor = new PayoutOrchestrator(depsFor('alive', (k, m, a) => alive.invoke(k, m, a)));
  expect((await sweep(survivor)).recovered).toBe(1);
  const [attempt] = await store.listAttempts(order._id);
  expect(attempt).toMatchObject({ state: 'UNKNOWN', callId: 'call-dead', reason: expect.stringMatching(/after a request of it left; the payout may have been sent/) });
  expect(alive.transfersRun(order._id)).toBe(0);
  clock += 300_000;
  await sweep(survivor);
  expect((await store.getOrder(order._id))?.status).toBe('hold');
  expect(alive.transfersRun(order._id)).toBe(0);
});
