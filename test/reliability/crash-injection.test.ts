// Crash injection: a real server process SIGKILLs itself at a named point of the payout path
// (PAYOUT_SANDBOX_CRASH_AT), is restarted on the same SQLite file, and left to finish. A fake
// provider records every transfer it receives and a fake merchant every IPN. Every crash point ×
// scenario pair that passes through the point is run, RELIABILITY_ROUNDS times (default 1; the full
// run, RELIABILITY_ROUNDS=10, lands over 500 kills). Over all runs:
//   - no order is paid twice (at most one transfer per order at the provider);
//   - every order ends done, errorPayout or hold with a reason, and never contradicts the
//     provider (done without a transfer, errorPayout for a transfer the provider paid);
//   - every status change that has an IPN reaches the merchant, in the order of the history;
//   - every pair had at least one kill that landed.
// A kill counts as landed only when the process wrote the crash marker for its point and then died
// of SIGKILL; the kills the suite gives a server afterwards, at an arbitrary moment, are counted apart.
// The suite prints: reliability: <N> crash runs, <D> double payouts, <L> lost payouts, <I> lost IPNs
// (N = landed kills), then the outcome split of the orders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeProvider } from '../../runtime/demo/fake-provider.ts';
import type { FakeProvider, PayoutBehaviour } from '../../runtime/demo/fake-provider.ts';
import { startFakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import { openStore } from '../../runtime/store/open-store.ts';
import { CRASH_MARKER, CRASH_POINTS } from '../../runtime/testing-seams/crash-hook.ts';
import { freePort } from '../helpers/test-host.ts';
import { call, startServerProcess, waitForHealth } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

const ROUNDS = Number(process.env.RELIABILITY_ROUNDS ?? 1);
// Independent servers (own data and port) running seeds side by side; the provider and merchant are shared.
const LANES = Number(process.env.RELIABILITY_LANES ?? 2);
const ORDERS_PER_RUN = 2;
const IPN_SECRET = 'reliability-ipn-secret';

type Scenario = 'webhook-done' | 'cron-done' | 'immediate' | 'webhook-failed' | 'refused' | 'hang';
const BEHAVIOUR: Record<Scenario, PayoutBehaviour> = {
  'webhook-done': { outcome: 'DONE', afterMs: 150, webhook: 'auto' },
  'cron-done': { outcome: 'DONE', afterPolls: 0, webhook: 'manual' },
  immediate: { outcome: 'DONE', immediate: true, webhook: 'manual' },
  'webhook-failed': { outcome: 'FAILED', afterMs: 150, webhook: 'auto' },
  refused: { response: 'reject', rejectStatus: 422 },
  hang: { response: 'hang', outcome: 'DONE', webhook: 'manual' },
};
// Which scenarios pass through each point, so that every point is really hit.
const THROUGH: Record<string, Scenario[]> = {
  'after-tx-recorded': ['webhook-done', 'cron-done', 'webhook-failed'],
  'after-attempt-accepted': ['webhook-done', 'cron-done', 'webhook-failed'],
  'after-order-settled': ['immediate'],
  'after-attempt-settled': ['immediate'],
  'after-unknown-written': ['refused', 'hang'],
  'after-review-hold': ['refused', 'hang'],
  'sweep-after-lease-taken': ['webhook-done', 'cron-done', 'immediate'],
  'history-after-transition': ['webhook-done', 'cron-done', 'webhook-failed'],
  'webhook-after-inbox': ['webhook-done', 'webhook-failed'],
  'cron-after-lease': ['cron-done'],
};
const ALL: Scenario[] = ['webhook-done', 'cron-done', 'immediate', 'webhook-failed', 'refused', 'hang'];

/** Every crash point with every scenario that passes through it. */
const PAIRS: { point: string; scenario: Scenario }[] = CRASH_POINTS.flatMap((point) => (THROUGH[point] ?? ALL).map((scenario) => ({ point, scenario })));
const SEEDS = PAIRS.length * ROUNDS;
const pairName = (p: { point: string; scenario: Scenario }) => `${p.point} × ${p.scenario}`;

/** The cron's first pass is its start-up run, before the orders exist: the kill lands on the second. */
const crashSpec = (point: string) => (point === 'cron-after-lease' ? `${point}:2` : point);

function plan(seed: number): { scenario: Scenario; crashes: string[] } {
  const { point, scenario } = PAIRS[seed % PAIRS.length];
  // The sweep takes over a lease only after a crash left one behind: crash mid-transfer first.
  const crashes = point === 'sweep-after-lease-taken' ? ['after-dispatching-written', point] : [point];
  return { scenario, crashes };
}

let provider: FakeProvider;
let merchant: FakeMerchant;
let root: string;

interface Lane { dataDir: string; pluginsDir: string; port: number; base: string; options: Record<string, unknown>; routeId: string }
const lanes: Lane[] = [];
interface Run {
  seed: number; scenario: Scenario; crashes: string[];
  /** Points where a kill landed (marker written, then SIGKILL). */
  hit: string[];
  /** SIGKILLs the suite sent a server that had not died at its point (an arbitrary moment). */
  laterKills: number;
  /** Exits that were neither a landed kill nor ours: a server dying by itself is a bug. */
  strayExits: string[];
  orders: { id: string; uid: number }[];
}
const runs: Run[] = [];

/** True when our signal ended a live process. */
async function stop(proc: ServerProcess, signal: NodeJS.Signals): Promise<boolean> {
  const alive = proc.child.exitCode === null && proc.child.signalCode === null;
  if (alive) proc.child.kill(signal);
  const exit = await proc.exited;
  return alive && exit.signal === signal;
}

async function prepareLane(i: number): Promise<Lane> {
  const dataDir = path.join(root, `lane-${i}`);
  const pluginsDir = path.join(dataDir, 'plugins');
  fs.mkdirSync(pluginsDir, { recursive: true });
  fs.symlinkSync(path.resolve('plugins/nimbuspay'), path.join(pluginsDir, 'nimbuspay'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const options: Record<string, unknown> = {
    allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(merchant.url).origin], sweepIntervalMs: 100, ipnSendTimeoutMs: 1000,
    transferWallMs: 2000, callbackWallMs: 2000, unknownReviewAfterMs: 800, acceptedReviewAfterMs: 6000, payoutLeaseMarginMs: 300,
  };
  const first = startServerProcess({ port, dataDir, pluginsDir, options });
  await waitForHealth(base, first);
  for (const [key, value] of Object.entries({ apiUrl: provider.url, apiKey: 'rel-key', apiSecret: 'rel-api-secret-0123456789', webhookSecret: 'rel-webhook-secret' })) {
    expect((await call(base, 'POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'nimbuspay', key, value }, true)).status).toBe(200);
  }
  expect((await call(base, 'POST', '/api/admin/plugins/nimbuspay/grants', { origin: provider.url }, true)).status).toBe(200);
  const route = await call(base, 'POST', '/api/admin/routes', { fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '100000', payoutPlugin: 'nimbuspay', autoPayout: true, active: true }, true);
  expect(route.status).toBe(200);
  await stop(first, 'SIGTERM');
  // Not in options: those go to PAYOUT_SANDBOX_OPTIONS, which refuses keys that are no server option.
  return { dataDir, pluginsDir, port, base, options, routeId: route.json.route._id };
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-reliability-'));
  provider = await startFakeProvider({ apiKey: 'rel-key', apiSecret: 'rel-api-secret-0123456789', webhookSecret: 'rel-webhook-secret', webhookRetryDelaysMs: [300, 800, 1500, 3000] });
  merchant = await startFakeMerchant({ ipnSecret: IPN_SECRET });
  lanes.push(...(await Promise.all(Array.from({ length: LANES }, (_, i) => prepareLane(i)))));
}, 120_000);

afterAll(async () => {
  await provider?.close();
  await merchant?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const FINAL = new Set(['done', 'errorPayout', 'hold']);

async function allSettled(base: string, orders: { uid: number }[]): Promise<boolean> {
  for (const o of orders) {
    const d = await call(base, 'GET', `/api/admin/orders/${o.uid}`, undefined, true).catch(() => null);
    if (!d || d.status !== 200) return false;
    if (!FINAL.has(d.json.order.status)) return false;
    if (d.json.attempts.some((a: { live: boolean }) => a.live)) return false;
    if (d.json.ipns.some((i: { state: string }) => i.state !== 'sent' && i.state !== 'failed')) return false;
  }
  return true;
}

async function drive(base: string, scenario: Scenario, orders: { uid: number }[], proc: ServerProcess, maxMs: number): Promise<'crashed' | 'settled' | 'timeout'> {
  let crashed = false;
  void proc.exited.then(() => { crashed = true; });
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    if (crashed) return 'crashed';
    if (scenario === 'cron-done') await call(base, 'POST', '/api/admin/plugins/nimbuspay/cron/run', {}, true).catch(() => null);
    if (!crashed && (await allSettled(base, orders).catch(() => false))) return 'settled';
    await new Promise((r) => setTimeout(r, 120));
  }
  return crashed ? 'crashed' : 'timeout';
}

async function runSeed(lane: Lane, seed: number): Promise<void> {
  const { scenario, crashes } = plan(seed);
  const run: Run = { seed, scenario, crashes, hit: [], laterKills: 0, strayExits: [], orders: [] };
  runs.push(run);
  let proc = startServerProcess({ port: lane.port, dataDir: lane.dataDir, pluginsDir: lane.pluginsDir, options: lane.options, crashAt: crashSpec(crashes[0]) });
  try {
    await waitForHealth(lane.base, proc);
  } catch (err) {
    // The point can be reached while the server starts: its first sweep finishes a payout an
    // earlier seed of this lane left in progress (a busy machine leaves more of those). That kill
    // landed at this point; the seed goes on with a server started without it.
    const exit = await proc.exited;
    if (!(exit.signal === 'SIGKILL' && proc.output().includes(`${CRASH_MARKER}${crashes[0]}\n`))) throw err;
    run.hit.push(crashes[0]);
    proc = startServerProcess({ port: lane.port, dataDir: lane.dataDir, pluginsDir: lane.pluginsDir, options: lane.options });
    await waitForHealth(lane.base, proc);
  }
  for (let i = 0; i < ORDERS_PER_RUN; i++) {
    const created = await call(lane.base, 'POST', '/api/public/exchanger/order/create', {
      routeId: lane.routeId, amount: String(5 + i), agreement: true, lang: 'en',
      toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${merchant.url}/ipn`, ipnSecret: IPN_SECRET,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    provider.setBehaviour(BEHAVIOUR[scenario], { reference: created.json.orderId });
    run.orders.push({ id: created.json.orderId, uid: created.json.uid });
  }
  for (const o of run.orders) {
    await call(lane.base, 'POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgress' }, true).catch(() => null);
    await call(lane.base, 'POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' }, true).catch(() => null);
  }
  for (let c = 0; c < crashes.length; c++) {
    if (c > 0) {
      proc = startServerProcess({ port: lane.port, dataDir: lane.dataDir, pluginsDir: lane.pluginsDir, options: lane.options, crashAt: crashSpec(crashes[c]) });
      await waitForHealth(lane.base, proc).catch(() => null);
    }
    const outcome = await drive(lane.base, scenario, run.orders, proc, 6000);
    if (outcome === 'crashed') {
      const exit = await proc.exited;
      if (exit.signal === 'SIGKILL' && proc.output().includes(`${CRASH_MARKER}${crashes[c]}\n`)) run.hit.push(crashes[c]);
      else run.strayExits.push(`exit ${exit.code ?? exit.signal} without the crash marker of ${crashes[c]}:\n${proc.output().slice(-2000)}`);
    } else if (await stop(proc, 'SIGKILL')) {
      run.laterKills++; // not hit (or settled first): killed anyway, at whatever moment this is
    }
  }
  // Recovery: a clean start on the same data must finish every payout. Orders the crash kept
  // from being marked paid are marked now, as the administrator would.
  const t0 = Date.now();
  proc = startServerProcess({ port: lane.port, dataDir: lane.dataDir, pluginsDir: lane.pluginsDir, options: lane.options });
  await waitForHealth(lane.base, proc);
  const t1 = Date.now();
  for (const o of run.orders) {
    const d = await call(lane.base, 'GET', `/api/admin/orders/${o.uid}`, undefined, true);
    if (d.json.order.status === 'new') await call(lane.base, 'POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgress' }, true);
    if (['new', 'inProgress'].includes(d.json.order.status)) await call(lane.base, 'POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' }, true);
  }
  const settled = await drive(lane.base, scenario, run.orders, proc, 20_000);
  if (process.env.RELIABILITY_VERBOSE) {
    console.log(`seed ${seed} ${scenario}: restart ${t1 - t0} ms, settle ${Date.now() - t1} ms (${settled})`);
    for (const o of run.orders) {
      const d = (await call(lane.base, 'GET', `/api/admin/orders/${o.uid}`, undefined, true)).json;
      console.log([`order ${o.uid} ${d.order.status} created ${d.order.createdAt}`,
        ...d.history.map((h: any) => `  H ${h.at} ${h.toStatus} ${String(h.comment ?? '').slice(0, 80)}`),
        ...d.attempts.map((a: any) => `  A ${a.createdAt} ${a.updatedAt} ${a.state} ${String(a.reason ?? '').slice(0, 80)}`),
        ...d.ipns.map((i: any) => `  I ${i.createdAt} ${i.updatedAt} ${i.status} ${i.state} ${i.attempts}`)].join('\n'));
    }
  }
  await stop(proc, 'SIGKILL');
}

/** Each status once: a repeated IPN (an interrupted send sent again) is one delivery. */
const collapse = (statuses: string[]) => statuses.filter((st, i) => i === 0 || statuses[i - 1] !== st);

it(`crash injection: ${PAIRS.length} crash point × scenario pairs × ${ROUNDS} round(s), never a double or lost payout or IPN`, async () => {
  await Promise.all(lanes.map(async (lane, i) => {
    for (let seed = i; seed < SEEDS; seed += lanes.length) await runSeed(lane, seed);
  }));


  const problems: string[] = [];
  let doubles = 0;
  let lost = 0;
  let lostIpns = 0;
  let unordered = 0;
  const split = { done: 0, errorPayout: 0, heldPaid: 0, heldNotPaid: 0 };
  // Held and not paid, by scenario: 'refused' is held by design (a legacy plugin's rejection after
  // its request left is UNKNOWN); the others are payouts a kill left for a person to resolve.
  const heldNotPaidBy = new Map<Scenario, number>();
  const heldNotPaidAt = new Map<string, number>();
  for (const run of runs) {
    for (const stray of run.strayExits) problems.push(`seed ${run.seed} (${run.scenario}): the server ended by itself, ${stray}`);
    const store = await openStore(`sqlite:${path.join(lanes[run.seed % lanes.length].dataDir, 'payout-sandbox.db')}`);
    for (const o of run.orders) {
      const order = await store.getOrder(o.id);
      const transfers = provider.transfersFor(o.id);
      const label = `seed ${run.seed} (${run.scenario}, crash at ${run.crashes.join(' then ')}), order ${o.uid}`;
      if (transfers.length > 1) {
        doubles++;
        problems.push(`${label}: paid ${transfers.length} times`);
      }
      const paidByProvider = transfers.some((t) => t.status === 'DONE');
      if (!order || !FINAL.has(order.status) || (order.status === 'hold' && !order.holdReason)
        || (order.status === 'done' && transfers.length === 0) || (order.status === 'errorPayout' && paidByProvider)) {
        lost++;
        problems.push(`${label}: ended ${order?.status ?? 'missing'}${order?.holdReason ? ` (${order.holdReason})` : ''} with ${transfers.length} transfer(s) at the provider`);
      } else if (order.status === 'done') split.done++;
      else if (order.status === 'errorPayout') split.errorPayout++;
      else if (paidByProvider) split.heldPaid++;
      else {
        split.heldNotPaid++;
        heldNotPaidBy.set(run.scenario, (heldNotPaidBy.get(run.scenario) ?? 0) + 1);
        if (run.scenario !== 'refused') heldNotPaidAt.set(run.crashes.join('+'), (heldNotPaidAt.get(run.crashes.join('+')) ?? 0) + 1);
      }
      const history = order ? await store.getOrderHistory(o.id) : [];
      const received = merchant.received.filter((r) => r.fields.orderId === o.id).map((r) => r.fields.newStatus);
      for (const h of history) {
        if (!received.includes(h.toStatus)) {
          lostIpns++;
          problems.push(`${label}: no IPN for ${h.toStatus}`);
        }
      }
      const expected = collapse(history.map((h) => h.toStatus));
      if (JSON.stringify(collapse(received)) !== JSON.stringify(expected)) {
        unordered++;
        problems.push(`${label}: IPNs arrived as ${received.join(', ')}; the history is ${expected.join(', ')}`);
      }
    }
    await store.close();
  }
  const landed = runs.reduce((n, r) => n + r.hit.length, 0);
  const later = runs.reduce((n, r) => n + r.laterKills, 0);
  // Every pair must have had a landed kill, or the suite proves less than it says.
  const landedPairs = new Set(runs.flatMap((r) => r.hit.filter((p) => p !== 'after-dispatching-written' || r.crashes.length === 1)
    .map((point) => pairName({ point, scenario: r.scenario }))));
  const missed = PAIRS.filter((p) => !landedPairs.has(pairName(p)));
  for (const p of missed) problems.push(`no kill landed at ${pairName(p)}`);
  for (const p of problems) console.log(`reliability problem: ${p}`);
  const orders = runs.reduce((n, r) => n + r.orders.length, 0);
  console.log(`reliability: ${PAIRS.length - missed.length} of ${PAIRS.length} crash point × scenario pairs had a landed kill; ` +
    `${runs.length} runs; ${later} more SIGKILLs at an arbitrary moment, not counted as crash runs`);
  console.log(`reliability: ${landed} crash runs, ${doubles} double payouts, ${lost} lost payouts, ${lostIpns} lost IPNs, ${unordered} orders with IPNs out of order`);
  console.log(`reliability: ${orders} orders: ${split.done} done, ${split.errorPayout} errorPayout, ${split.heldPaid} held-and-paid, ${split.heldNotPaid} held-not-paid` +
    ` (${[...heldNotPaidBy].map(([scenario, n]) => `${scenario} ${n}`).join(', ') || 'none'})`);
  console.log(`reliability: held-not-paid outside 'refused', by crash point: ${[...heldNotPaidAt].map(([point, n]) => `${point} ${n}`).join(', ') || 'none'}`);
  expect(problems).toEqual([]);
}, 40 * 60_000);
