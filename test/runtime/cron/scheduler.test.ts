// The cron scheduler driving a real sandboxed plugin job (test/fixtures/plugins/cron-probe, whose
// config says whether a run finishes, takes a while, throws or hangs), with leases in real
// SQLite stores — two schedulers on one database file stand for two server instances.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import { CronScheduler } from '../../../runtime/cron/scheduler.ts';
import { endedAtOwnDeadline } from '../../helpers/sandbox.ts';
import type { CronEvent, CronInvoke, CronSchedulerDeps } from '../../../runtime/cron/scheduler.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';

const PROBE_DIR = fileURLToPath(new URL('../../fixtures/plugins/cron-probe', import.meta.url));
const KEY = 'cron-probe';
const YEARLY = { schedule: '0 0 1 1 *', callWhenInit: false };
const EVERY_SECOND = { schedule: '* * * * * *', callWhenInit: false };

let local: LocalHost;
let dbDir: string;
let stores: Store[] = [];
let schedulers: CronScheduler[] = [];
let events: (CronEvent & { owner: string })[] = [];
let concurrent = 0;
let maxConcurrent = 0;

// Counts calls in flight across every scheduler: the property the leases and guards protect.
const invoke: CronInvoke = async (key, method, args, opts) => {
  concurrent++;
  maxConcurrent = Math.max(maxConcurrent, concurrent);
  try {
    return await local.sandbox.invoke(key, method, args, opts);
  } finally {
    concurrent--;
  }
};

beforeAll(async () => {
  local = await openLocalHost({ sandbox: { breaker: { threshold: 1000 } } });
  await local.sandbox.start();
  await local.load(PROBE_DIR, { mode: 'ok', delayMs: '0' });
  dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cron-lease-'));
});
afterAll(async () => {
  await local.close();
  fs.rmSync(dbDir, { recursive: true, force: true });
});
beforeEach(async () => {
  events = [];
  concurrent = 0;
  maxConcurrent = 0;
  await probe('ok', 0);
});
afterEach(async () => {
  await Promise.all(schedulers.map((s) => s.stop()));
  await Promise.all(stores.map((s) => s.close()));
  schedulers = [];
  stores = [];
});

async function probe(mode: 'ok' | 'throw' | 'hang', delayMs: number): Promise<void> {
  await local.host.config.set(KEY, 'mode', mode);
  await local.host.config.set(KEY, 'delayMs', String(delayMs));
}

async function scheduler(owner: string, overrides: Partial<CronSchedulerDeps> = {}, store?: Store): Promise<CronScheduler> {
  const s = new CronScheduler({
    store: store ?? local.store, invoke, owner, wallMs: 3000, leaseHoldMs: 200,
    onEvent: (e) => events.push({ ...e, owner }), ...overrides,
  });
  schedulers.push(s);
  return s;
}

async function sharedFileStore(): Promise<Store> {
  const store = await openStore(`sqlite:${path.join(dbDir, 'shared.db')}`);
  stores.push(store);
  return store;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const of = <K extends CronEvent['kind']>(kind: K) => events.filter((e): e is Extract<CronEvent, { kind: K }> & { owner: string } => e.kind === kind);

describe('scheduling', () => {
  it('callWhenInit runs the job once right after scheduling', async () => {
    const s = await scheduler('a');
    s.schedule(KEY, { schedule: '0 0 1 1 *', callWhenInit: true });
    await until('the init run', () => of('run').length === 1);
    expect(of('run')[0]).toMatchObject({ key: KEY, trigger: 'init', ok: true, error: null });
    const status = s.get(KEY)!;
    expect(status).toMatchObject({ runs: 1, lastOk: true, running: false, lastError: null, schedule: '0 0 1 1 *' });
    const next = new Date(status.nextRun!);
    expect([next.getMonth(), next.getDate(), next.getHours(), next.getMinutes()]).toEqual([0, 1, 0, 0]);

    const quiet = await scheduler('b');
    quiet.schedule('other-key', YEARLY);
    await new Promise((r) => setTimeout(r, 200));
    expect(quiet.get('other-key')).toMatchObject({ runs: 0, lastRun: null });
  });

  it('runs a 6-field schedule every second and never overlaps a slow run', async () => {
    await probe('ok', 1050);
    const s = await scheduler('a');
    s.schedule(KEY, EVERY_SECOND);
    await until('two scheduled runs and an overlap skip', () => of('start').length >= 2 && of('skip').some((e) => e.reason === 'overlap'), 6000);
    const starts = of('start').map((e) => Date.parse(e.at));
    // The tick that fell inside the first run was skipped (above); the next run began only after
    // the first had ended. Order, not a time gap: on a loaded machine the first start can be late.
    expect(of('run').length).toBeGreaterThanOrEqual(1);
    expect(starts[1]).toBeGreaterThanOrEqual(Date.parse(of('run')[0].at));
    expect(of('start').every((e) => e.trigger === 'schedule')).toBe(true);
    expect(maxConcurrent).toBe(1);
    // A manual run while one is going is refused the same way.
    await until('a run in progress', () => s.get(KEY)!.running);
    expect(await s.runNow(KEY)).toEqual({ ran: false, reason: 'overlap', message: 'the previous run is still going' });
    expect(s.get(KEY)!.lastSkip).toMatchObject({ reason: 'overlap' });
  });

  it('accepts 5-field schedules, honours the timezone, and records an invalid schedule without throwing', async () => {
    const s = await scheduler('a', { timezone: 'Asia/Tokyo' });
    const five = s.schedule('five', { schedule: '*/5 * * * *', callWhenInit: false });
    expect(new Date(five.nextRun!).getUTCSeconds()).toBe(0);
    expect(new Date(five.nextRun!).getUTCMinutes() % 5).toBe(0);
    expect(s.schedule('tokyo', { schedule: '0 0 9 * * *', callWhenInit: false }).nextRun).toMatch(/T00:00:00\.000Z$/);

    const bad = s.schedule('bad', { schedule: '0 0 0 1 1 * 2030', callWhenInit: true });
    expect(bad.nextRun).toBeNull();
    expect(bad.lastError).toMatch(/^cron schedule '0 0 0 1 1 \* 2030' is invalid: .*5 or 6/);
    expect(of('invalid')).toHaveLength(1);
    expect(s.status().map((j) => j.key)).toEqual(['bad', 'five', 'tokyo']);
  });
});

describe('failures', () => {
  it('passes the deadline to the sandbox: a hanging job ends as a deadline failure', async () => {
    await probe('hang', 0);
    const s = await scheduler('a', { wallMs: 400 });
    s.schedule(KEY, YEARLY);
    const pid = local.sandbox.processOf(KEY)?.pid ?? null;
    const outcome = await s.runNow(KEY);
    expect(outcome).toMatchObject({ ran: true, ok: false, errorKind: 'deadline' });
    if (!outcome.ran) throw new Error('unreachable');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(380); // not before its deadline (load only makes it later)
    expect(s.get(KEY)).toMatchObject({ running: false, lastOk: false, failures: 1 });
    // The job's own 400 ms deadline ended it, inside its sandbox process (not a clock's bound,
    // nor the watchdog's kill, which is a crash and replaces the process).
    expect(endedAtOwnDeadline(s.get(KEY)!.lastError, 400), s.get(KEY)!.lastError ?? 'no error').toBe(true);
    expect(local.sandbox.processOf(KEY)?.pid).toBe(pid);
  });

  it('keeps the error in status after later successes, and goes on running', async () => {
    await probe('throw', 0);
    const s = await scheduler('a');
    s.schedule(KEY, YEARLY);
    const failed = await s.runNow(KEY);
    expect(failed).toMatchObject({ ran: true, ok: false, errorKind: 'plugin_error' });
    expect(s.get(KEY)!.lastError).toContain('provider status API is down');
    const errorAt = s.get(KEY)!.lastErrorAt;

    await probe('ok', 0);
    expect(await s.runNow(KEY)).toMatchObject({ ran: true, ok: true, error: null });
    expect(s.get(KEY)).toMatchObject({ runs: 2, failures: 1, lastOk: true, lastErrorAt: errorAt });
    expect(s.get(KEY)!.lastError).toContain('provider status API is down');
  });

  it('survives a failing lease store, a rejecting invoke and a throwing listener', async () => {
    const broken = new CronScheduler({
      store: { acquireLease: async () => { throw new Error('disk I/O error'); }, releaseLease: async () => {} },
      invoke, owner: 'a', wallMs: 1000, onEvent: () => { throw new Error('listener bug'); },
    });
    schedulers.push(broken);
    broken.schedule(KEY, YEARLY);
    expect(await broken.runNow(KEY)).toEqual({ ran: false, reason: 'lease_error', message: 'could not take the lease cron:cron-probe: disk I/O error' });
    expect(broken.get(KEY)!.lastError).toBe('could not take the lease cron:cron-probe: disk I/O error');

    const rejecting = await scheduler('b', { invoke: async () => { throw new Error('sandbox gone'); } });
    rejecting.schedule(KEY, YEARLY);
    expect(await rejecting.runNow(KEY)).toMatchObject({ ran: true, ok: false, errorKind: 'invoke_failed', error: 'sandbox gone' });
    expect(await rejecting.runNow('nope')).toMatchObject({ ran: false, reason: 'not_scheduled' });

    // An invoke that never settles (a broken sandbox) still ends the run, after wallMs + margin/2.
    const stuck = await scheduler('c', { wallMs: 100, leaseMarginMs: 200, invoke: () => new Promise(() => {}) });
    stuck.schedule('stuck', YEARLY);
    expect(await stuck.runNow('stuck')).toMatchObject({ ran: true, ok: false, errorKind: 'overrun' });
    expect(stuck.get('stuck')).toMatchObject({ running: false, failures: 1 });
  });
});

describe('several server instances on one database', () => {
  it('a run holds the lease: the other instance skips and says so, then runs once it is free', async () => {
    await probe('ok', 300);
    const a = await scheduler('server-a', {}, await sharedFileStore());
    const b = await scheduler('server-b', {}, await sharedFileStore());
    a.schedule(KEY, YEARLY);
    b.schedule(KEY, YEARLY);

    const first = a.runNow(KEY);
    await until('server-a started', () => of('start').length === 1);
    expect(await b.runNow(KEY)).toMatchObject({ ran: false, reason: 'lease_held' });
    expect(of('skip')).toEqual([expect.objectContaining({ owner: 'server-b', reason: 'lease_held', message: expect.stringContaining('cron:cron-probe') })]);
    expect(await first).toMatchObject({ ran: true, ok: true });

    // Held for leaseHoldMs after the run, then free.
    expect(await b.runNow(KEY)).toMatchObject({ ran: false, reason: 'lease_held' });
    await new Promise((r) => setTimeout(r, 250));
    expect(await b.runNow(KEY)).toMatchObject({ ran: true, ok: true });
    expect(maxConcurrent).toBe(1);
  });

  it('on every tick exactly one instance runs the job', async () => {
    const a = await scheduler('server-a', { leaseHoldMs: 1000 }, await sharedFileStore());
    const b = await scheduler('server-b', { leaseHoldMs: 1000 }, await sharedFileStore());
    a.schedule(KEY, EVERY_SECOND);
    b.schedule(KEY, EVERY_SECOND);
    await until('two ticks', () => of('run').length >= 2 && of('skip').length >= 2, 6000);
    await Promise.all([a.stop(), b.stop()]);

    const runsPerTick = new Map<number, number>();
    for (const e of of('start')) runsPerTick.set(Math.floor(Date.parse(e.at) / 1000), (runsPerTick.get(Math.floor(Date.parse(e.at) / 1000)) ?? 0) + 1);
    expect([...runsPerTick.values()].every((n) => n === 1)).toBe(true);
    expect(of('skip').every((e) => e.reason === 'lease_held')).toBe(true);
    expect(maxConcurrent).toBe(1);
  });

  it('a running job keeps its short lease alive: a peer cannot take it mid-run, however long the run', async () => {
    await probe('ok', 700);
    const store = await sharedFileStore();
    const a = await scheduler('server-a', { leaseTtlMs: 150 }, store);
    a.schedule(KEY, YEARLY);
    const run = a.runNow(KEY);
    await until('the run started', () => of('start').length === 1);
    // Several lease lifetimes into the run: renewed, so still held.
    await new Promise((r) => setTimeout(r, 450));
    expect(await store.acquireLease('cron:cron-probe', 'server-b', 1000)).toBe(false);
    expect(await run).toMatchObject({ ran: true, ok: true });
    // A holder that stopped renewing (a killed server) frees the job once its short lease ran out.
    expect(await store.acquireLease('cron:gone', 'dead-server', 150)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.acquireLease('cron:gone', 'server-b', 1000)).toBe(true);
  });

  it('stop() waits for the run in progress and releases the lease', async () => {
    await probe('ok', 300);
    const store = await sharedFileStore();
    const a = await scheduler('server-a', { leaseHoldMs: 60_000 }, store);
    a.schedule(KEY, YEARLY);
    const run = a.runNow(KEY);
    await until('the run started', () => of('start').length === 1);
    await a.stop();
    expect(a.get(KEY)).toMatchObject({ runs: 1, running: false, nextRun: null });
    expect(await run).toMatchObject({ ran: true, ok: true });
    expect(await store.acquireLease('cron:cron-probe', 'server-b', 1000)).toBe(true);
    expect(await a.runNow(KEY)).toMatchObject({ ran: false, reason: 'stopped' });
  });
});
