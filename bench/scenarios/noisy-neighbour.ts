// Noisy neighbour: does one plugin flooded with expensive webhooks slow another down?
// A real server (buildApp over a SQLite file store), each plugin in its own sandbox process:
//  - the noisy plugin (bench/fixtures/burnpay) gets a flood on its own webhook at the host's
//    per-plugin webhook rate limit (webhookRatePerMinute / 60 per second, open loop, many
//    sockets), each delivery burning `burnMs` of CPU, just under the per-call budget;
//  - the quiet plugin (plugins/nimbuspay plus a trivial `ping` webhook) serves `ping` at a modest
//    steady rate and makes one real payout per phase (order in inProgressPayout → the
//    orchestrator → transfer() → the fake provider, its own process → order done).
// Phases alternate (alone: the noisy plugin idle; flood), repeated; the quiet plugin's webhook
// latency is pooled per condition. The noisy plugin's answers are counted as its client got them.
import os from 'node:os';
import { startProviderProcess } from '../lib/provider.ts';
import { BURNPAY_DIR, NIMBUS_CREDENTIALS, PING_CALLBACK, copyPlugin, nimbusWithPing } from '../lib/fixtures.ts';
import { benchOrder, grant, startBenchHost } from '../lib/bench-host.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import type { BenchHost } from '../lib/bench-host.ts';
import { runOpenLoop } from '../lib/open-loop.ts';
import type { OpenLoopResult } from '../lib/open-loop.ts';
import { cpuMeter } from '../lib/cpu.ts';
import { median, round, sleep, summarize } from '../lib/stats.ts';

export interface NoisyNeighbourOptions {
  /** Alone/flood pairs (the order alternates from round to round). */
  rounds: number;
  /** Seconds the quiet plugin's webhook latency is measured per phase. */
  phaseS: number;
  /** Seconds the flood runs before the measurement starts (it also runs throughout). */
  leadInS: number;
  /** The quiet plugin's webhook deliveries per second. */
  quietRatePerS: number;
  /** Sockets the flood may use; enough that slow answers never slow the flood down. */
  floodConnections: number;
  /** CPU each flood delivery burns, ms (the default per-call budget is 1 000 ms). */
  burnMs: number;
  /** The host's per-plugin webhook rate limit; the flood is sent at exactly this rate. */
  webhookRatePerMinute: number;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export interface LatencyFigures { n: number; p50: number; p90: number; p99: number; max: number }

export interface ConditionResult {
  quiet: LatencyFigures;
  /** The quiet plugin's answers by status (all should be 200). */
  quietStatuses: Record<string, number>;
  quietErrors: number;
  /** p99 of each phase of this condition, in order. */
  quietP99PerPhase: number[];
  payouts: { attempted: number; done: number; outcomes: string[]; medianMs: number | null };
  /** CPU the noisy plugin's sandbox process used, as a share of one core, per phase. */
  noisyCpuCores: number[];
  quietCpuCores: number[];
}

export interface NoisyNeighbourResult {
  rounds: number;
  phaseS: number;
  quietRatePerS: number;
  floodRatePerS: number;
  floodConnections: number;
  burnMs: number;
  /** The host's limits the scenario runs against. */
  limits: { webhookRatePerMinute: number; cpuMsPerCall: number; pluginCpuMsPerWindow: number; pluginCpuWindowMs: number; pluginMaxConcurrentCalls: number; pluginMaxQueuedCalls: number; callbackWallMs: number };
  alone: ConditionResult;
  flood: ConditionResult;
  /** p99 (and p50) of the quiet plugin's webhook under the flood / alone. */
  p99Ratio: number;
  p50Ratio: number;
  /**
   * The quiet plugin's breaker faults (the most `recentFaults` seen after any phase), the last
   * fault its breaker ever recorded, its process restarts, its breaker state at the end.
   */
  quietFaults: number;
  quietLastFault: string | null;
  quietRestarts: number;
  quietBreaker: string;
  /** What the noisy plugin's flood got back, summed over every flood phase. */
  noisy: {
    sent: number;
    statuses: Record<string, number>;
    /** 429s that came from the per-plugin webhook rate limit, not from the plugin's budget. */
    rateLimited: number;
    errors: number;
    timeouts: number;
    retryAfterS: Record<string, number>;
    faults: number;
    lastFault: string | null;
    restarts: number;
    breaker: string;
    /**
     * The server's own record (webhook inbox) of the deliveries that passed the rate limit, by
     * the status it answered; for 504s, what the plugin's call did after (`completed`: it ran to
     * the end although its caller had been told 504; else the failure kind).
     */
    inbox: { rows: number; capped: boolean; statuses: Record<string, number>; after504: Record<string, number> };
  };
  loadAvgBefore: number[];
  loadAvgAfter: number[];
}

const NOISY = 'noisy';
const QUIET = 'quiet';
const CREDENTIALS = NIMBUS_CREDENTIALS;
const RATE_LIMIT_TEXT = 'too many deliveries';

type Condition = 'alone' | 'flood';

interface Phase {
  quiet: OpenLoopResult;
  flood: OpenLoopResult | null;
  payout: { outcome: string; done: boolean; ms: number };
  noisyCores: number;
  quietCores: number;
}

export async function benchNoisyNeighbour(o: NoisyNeighbourOptions): Promise<NoisyNeighbourResult> {
  const loadAvgBefore = os.loadavg().map((x) => round(x, 2));
  // Settles every payout at once (ok:1 from transfer); no webhook back (the bench host's public
  // URL is not where it listens).
  const provider = await startProviderProcess({ ...CREDENTIALS, autoWebhook: false, behaviour: { immediate: true } });
  let bench: BenchHost | null = null;
  try {
    bench = await startBenchHost({
      populate: (dir) => { copyPlugin(BURNPAY_DIR, dir, NOISY); nimbusWithPing(dir, QUIET); },
      engine: o.engine,
      options: { webhookRatePerMinute: o.webhookRatePerMinute },
    });
    const { host } = bench;
    for (const [k, v] of Object.entries({ ...CREDENTIALS, apiUrl: provider.url })) await host.hostApi.config.set(QUIET, k, v);
    await grant(host, QUIET, provider.url);
    if (!host.sandbox.description(QUIET)?.callbacks.includes(PING_CALLBACK)) throw new Error(`bench noisy-neighbour: the quiet plugin has no '${PING_CALLBACK}' callback`);
    const { url } = await bench.listen();
    const noisyUrl = `${url}/payout_call/${NOISY}/burn/?ms=${o.burnMs}`;
    const quietUrl = `${url}/payout_call/${QUIET}/${PING_CALLBACK}/`;
    const floodRatePerS = o.webhookRatePerMinute / 60;

    // Both webhooks answer before anything is measured.
    for (const [name, target, expect] of [['noisy', `${url}/payout_call/${NOISY}/burn/?ms=1`, 'burned'], ['quiet', quietUrl, 'pong']] as const) {
      const res = await fetch(target, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      const text = await res.text();
      if (res.status !== 200 || !text.startsWith(expect)) throw new Error(`bench noisy-neighbour: the ${name} webhook answered ${res.status} ${text.slice(0, 200)}`);
    }

    const payout = async (): Promise<Phase['payout']> => {
      const order = await host.store.createOrder(benchOrder(QUIET, '100.00'));
      const t0 = performance.now();
      const outcome = await host.payouts.start(order._id);
      const ms = performance.now() - t0;
      const after = await host.store.getOrder(order._id);
      return { outcome: outcome.kind, done: after?.status === 'done', ms };
    };

    const pidOf = (key: string) => host.sandbox.processOf(key)?.pid ?? null;
    const runPhase = async (condition: Condition): Promise<Phase> => {
      await quiesce(bench as BenchHost, NOISY);
      const noisyCpu = cpuMeter(pidOf(NOISY));
      const quietCpu = cpuMeter(pidOf(QUIET));
      const flood = condition === 'flood'
        ? runOpenLoop({ url: noisyUrl, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, ratePerS: floodRatePerS, durationS: o.leadInS + o.phaseS, connections: o.floodConnections, mark: RATE_LIMIT_TEXT })
        : null;
      if (flood) await sleep(o.leadInS * 1000);
      const payoutDone = sleep((o.phaseS * 1000) / 3).then(payout);
      const quiet = await runOpenLoop({ url: quietUrl, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, ratePerS: o.quietRatePerS, durationS: o.phaseS, connections: 8 });
      const p = await payoutDone;
      const n = noisyCpu();
      const q = quietCpu();
      return {
        quiet, flood: flood ? await flood : null, payout: p,
        noisyCores: n.otherUs === null ? Number.NaN : n.otherUs / 1000 / n.wallMs,
        quietCores: q.otherUs === null ? Number.NaN : q.otherUs / 1000 / q.wallMs,
      };
    };

    // The breaker forgets faults older than its window (a minute): read it after every phase and
    // keep the most seen, and the last fault it ever recorded.
    const faults: Record<string, { most: number; last: string | null }> = { [NOISY]: { most: 0, last: null }, [QUIET]: { most: 0, last: null } };
    const readFaults = () => {
      const plugins = host.sandbox.health().plugins;
      for (const key of [NOISY, QUIET]) {
        const p = plugins[key];
        if (!p) continue;
        faults[key].most = Math.max(faults[key].most, p.recentFaults);
        if (p.lastFault) faults[key].last = `${p.lastFault.kind}: ${p.lastFault.message}`.slice(0, 300);
      }
    };
    const phases: Record<Condition, Phase[]> = { alone: [], flood: [] };
    for (let r = 0; r < o.rounds; r++) {
      const order: Condition[] = r % 2 === 0 ? ['alone', 'flood'] : ['flood', 'alone'];
      for (const condition of order) {
        phases[condition].push(await runPhase(condition));
        readFaults();
      }
    }
    await quiesce(bench, NOISY);
    readFaults();
    const inbox = await inboxOf(bench, NOISY, o.burnMs);

    const health = host.sandbox.health();
    const restartsOf = (key: string) => health.processes.find((p) => p.plugins.includes(key))?.restarts ?? 0;
    const alone = condition(phases.alone);
    const flood = condition(phases.flood);
    const floods = phases.flood.map((p) => p.flood as OpenLoopResult);
    const sum = (pick: (r: OpenLoopResult) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const r of floods) for (const [k, v] of Object.entries(pick(r))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    const limits = host.options;
    return {
      rounds: o.rounds, phaseS: o.phaseS, quietRatePerS: o.quietRatePerS, floodRatePerS, floodConnections: o.floodConnections, burnMs: o.burnMs,
      limits: {
        webhookRatePerMinute: limits.webhookRatePerMinute, cpuMsPerCall: host.sandbox.limits.cpuMsPerCall,
        pluginCpuMsPerWindow: limits.pluginCpuMsPerWindow, pluginCpuWindowMs: limits.pluginCpuWindowMs,
        pluginMaxConcurrentCalls: limits.pluginMaxConcurrentCalls, pluginMaxQueuedCalls: limits.pluginMaxQueuedCalls, callbackWallMs: limits.callbackWallMs,
      },
      alone, flood,
      p99Ratio: round(flood.quiet.p99 / alone.quiet.p99, 2),
      p50Ratio: round(flood.quiet.p50 / alone.quiet.p50, 2),
      quietFaults: faults[QUIET].most,
      quietLastFault: faults[QUIET].last,
      quietRestarts: restartsOf(QUIET),
      quietBreaker: health.plugins[QUIET]?.state ?? 'unknown',
      noisy: {
        sent: floods.reduce((n, r) => n + r.sent, 0),
        statuses: sum((r) => r.statuses),
        rateLimited: floods.reduce((n, r) => n + r.marked, 0),
        errors: floods.reduce((n, r) => n + r.errors, 0),
        timeouts: floods.reduce((n, r) => n + r.timeouts, 0),
        retryAfterS: sum((r) => r.retryAfterS),
        faults: faults[NOISY].most,
        lastFault: faults[NOISY].last,
        restarts: restartsOf(NOISY),
        breaker: health.plugins[NOISY]?.state ?? 'unknown',
        inbox,
      },
      loadAvgBefore,
      loadAvgAfter: os.loadavg().map((x) => round(x, 2)),
    };
  } finally {
    await bench?.close();
    await provider.close();
  }
}

/** Waits until no call of `key` runs or waits (the flood's last deliveries have been answered). */
async function quiesce(bench: BenchHost, key: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const p = bench.host.sandbox.health().plugins[key];
    if (!p || (p.runningCalls === 0 && p.queuedCalls === 0)) return;
    if (Date.now() > until) throw new Error(`bench noisy-neighbour: plugin '${key}' still has ${p.runningCalls} calls running and ${p.queuedCalls} waiting after 60 s`);
    await sleep(50);
  }
}

const INBOX_MAX = 1000;

/** The flood's rows of `key`'s webhook inbox once all are finished: answers by status, and what 504s hid. */
async function inboxOf(bench: BenchHost, key: string, burnMs: number): Promise<NoisyNeighbourResult['noisy']['inbox']> {
  const until = Date.now() + 15_000;
  let rows = await bench.host.store.listWebhooks({ plugin: key, limit: INBOX_MAX });
  while (rows.some((r) => r.state === 'received') && Date.now() < until) {
    await sleep(100);
    rows = await bench.host.store.listWebhooks({ plugin: key, limit: INBOX_MAX });
  }
  const statuses: Record<string, number> = {};
  const after504: Record<string, number> = {};
  const capped = rows.length >= INBOX_MAX;
  // Only the flood's deliveries (not the check made before measuring, which asks for 1 ms).
  rows = rows.filter((r) => r.query.ms === String(burnMs));
  for (const r of rows) {
    const status = r.state === 'received' ? 'unfinished' : String(r.responseStatus);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (r.responseStatus !== 504) continue;
    // A failed call is recorded as "<kind>: <message>"; anything else means the call itself ended well.
    const kind = /^([a-z_]+): /.exec(r.error ?? '')?.[1] ?? 'completed';
    after504[kind] = (after504[kind] ?? 0) + 1;
  }
  return { rows: rows.length, capped, statuses, after504 };
}

function condition(phases: Phase[]): ConditionResult {
  const all = phases.flatMap((p) => p.quiet.latenciesMs);
  const s = summarize(all);
  const statuses: Record<string, number> = {};
  for (const p of phases) for (const [k, v] of Object.entries(p.quiet.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const payoutMs = phases.map((p) => p.payout.ms);
  return {
    quiet: { n: s.n, p50: round(s.p50, 2), p90: round(s.p90, 2), p99: round(s.p99, 2), max: round(s.max, 2) },
    quietStatuses: statuses,
    quietErrors: phases.reduce((n, p) => n + p.quiet.errors + p.quiet.timeouts, 0),
    quietP99PerPhase: phases.map((p) => round(summarize(p.quiet.latenciesMs).p99, 2)),
    payouts: {
      attempted: phases.length, done: phases.filter((p) => p.payout.done).length,
      outcomes: phases.map((p) => p.payout.outcome), medianMs: payoutMs.length ? round(median(payoutMs), 1) : null,
    },
    noisyCpuCores: phases.map((p) => round(p.noisyCores, 2)),
    quietCpuCores: phases.map((p) => round(p.quietCores, 3)),
  };
}
