// Per-call cost: server → plugin method → back, sandboxed vs in process, each against the floor
// measured in the same run: one round trip between two bare Node processes on a pipe like the
// sandbox channel (lib/round-trip-floor.ts; raw bytes and JSON frames).
// Variants of getFields (fixtures/benchpay/index.js), each making at most one host call:
//  - bare: none (server → sandbox process → isolate and back);
//  - config: config.get of a shown key, answered in the sandbox process from the values the server
//    pushed (design.md §5);
//  - configServer: the same call on a second host with those local answers switched off
//    (localConfigReads: false): every read crosses to the server, as before they existed;
//  - secret: config.get of a secret: answered by the server every time;
//  - txRead: one payout-tx read (db.OrderPayoutTxs.findOne): answered by the store every time;
//  - dispatch: the config host call alone, in process (policy + implementation + audit, no bridge).
// Then the trace: `traced` more calls of each sandboxed variant, interleaved, invoked with marks in
// both processes (InvokeOptions.trace), split into segments (lib/call-segments.ts): where a
// call's time goes. Traced calls are not among the timed ones.
// Sandboxed: a real SandboxHost and the real host API over an in-memory SQLite store
// (openLocalHost). In process: the same plugin folder loaded with bench/in-process, platform
// modules over the same store (store-platform.ts), called through the stand-in invoke.
import { openLocalHost } from '../../runtime/local/local-session.ts';
import { buildIpn } from '../../runtime/ipn/ipn-message.ts';
import { newCounters } from '../../host-api/capability.ts';
import { loadPlatformPlugin } from '../in-process/load-platform-plugin.ts';
import { storePlatform } from '../lib/store-platform.ts';
import { inProcessInvoke } from '../lib/in-process-invoke.ts';
import { BENCHPAY_DIR, BENCH_SECRETS } from '../lib/fixtures.ts';
import { benchOrder } from '../lib/bench-host.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { startJsonFloor, startRawFloor } from '../lib/round-trip-floor.ts';
import { round, scaled, summarize } from '../lib/stats.ts';
import { cpuMeter } from '../lib/cpu.ts';
import type { Summary } from '../lib/stats.ts';
import { summarizeSegments } from '../lib/call-segments.ts';
import type { SegmentSummary } from '../lib/call-segments.ts';
import type { CallTrace } from '../../runtime/sandbox/sandbox-host-types.ts';

export interface CallOverheadOptions {
  iterations: number;
  warmup: number;
  /** Traced calls per sandboxed variant, for the per-segment breakdown (0: none). */
  traced: number;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export const CALL_VARIANTS = ['bare', 'config', 'configServer', 'secret', 'txRead'] as const;
export type CallVariant = typeof CALL_VARIANTS[number];
const XML: Record<CallVariant, string> = { bare: 'NOHOST', config: 'HOSTCALL', configServer: 'HOSTCALL', secret: 'SECRET', txRead: 'TXREAD' };

export interface CallVariantResult {
  /** Latency per call, µs. */
  sandboxed: Summary;
  inProcess: Summary;
  /** Sandboxed p50 / the JSON-frame floor's p50 (and the raw-byte floor's). */
  ratioToFloor: number;
  ratioToRawFloor: number;
  /** Sandboxed − in process, p50, µs. */
  addedUs: number;
  /** CPU per call (µs), from a block of calls of this variant alone: server process, sandbox process, in process. */
  cpuUs: { server: number; sandbox: number | null; inProcess: number };
}

export interface CallOverheadResult {
  iterations: number;
  /** One round trip between two bare Node processes over a pipe, µs. */
  floor: { raw: Summary; json: Summary; cpuUs: { json: { server: number; echo: number | null } } };
  variants: Record<CallVariant, CallVariantResult>;
  /** One host call through the dispatcher (policy, implementation, audit), in process, no bridge. */
  dispatchOnly: Summary;
  /** Where a sandboxed call's time goes, per variant (null: not traced, or no call had the shape). */
  segments: Record<CallVariant, SegmentSummary | null> | null;
}

const TX = 'bench-call-tx';

export async function benchCallOverhead(o: CallOverheadOptions): Promise<CallOverheadResult> {
  // The bench makes far more host calls a minute than one plugin may (hostCallsPerMinute): it
  // measures their cost, not the caps.
  const hostCallLimits = { hostCallsPerMinute: 100_000_000, hostCallBytesPerMinute: 100_000_000_000 };
  const local = await openLocalHost({ storeUrl: 'sqlite::memory:', hostCallLimits, sandbox: { engine: o.engine } });
  const serverOnly = await openLocalHost({ storeUrl: 'sqlite::memory:', hostCallLimits, sandbox: { engine: o.engine, localConfigReads: false } });
  const rawFloor = await startRawFloor();
  const jsonFloor = await startJsonFloor();
  try {
    await local.load(BENCHPAY_DIR, { ...BENCH_SECRETS });
    await serverOnly.load(BENCHPAY_DIR, { ...BENCH_SECRETS });
    const order = await local.store.createOrder(benchOrder('benchpay', '100.00'));
    await local.store.insertPayoutTx({ order: order._id, transaction: TX, payoutModule: 'benchpay', active: true, amount: '100.00', currency: 'UAH', to: '411111******1111', note: null, attemptId: null });
    const platform = storePlatform({ store: local.store, config: local.host.config, buildIpn: (ord, status) => buildIpn(ord, status, { maxAttempts: 1 }) }, 'benchpay');
    const loaded = loadPlatformPlugin({ pluginDir: BENCHPAY_DIR, platform: platform.modules, env: { API_URL: 'http://127.0.0.1:3000/' } });
    const inProcess = inProcessInvoke(new Map([['benchpay', { loaded, host: platform.host }]]));
    const sandboxed = local.sandbox.invoke.bind(local.sandbox);
    const sandboxedServerOnly = serverOnly.sandbox.invoke.bind(serverOnly.sandbox);
    // A fresh call context each time, as each plugin call has: one shared context would reach the
    // per-call host-call cap (hostCallsPerCall) after 200 calls.
    const dispatch = () => local.host.api.handle({ plugin: 'benchpay', callId: 'bench-dispatch', method: 'getFields', deadline: Date.now() + 3_600_000, counters: newCounters() }, 'config.get', { key: 'apiKey' });

    const runs: Record<string, () => Promise<unknown>> = { floorRaw: rawFloor.roundTrip, floorJson: jsonFloor.roundTrip, dispatch };
    for (const v of CALL_VARIANTS) {
      runs[`sb.${v}`] = () => (v === 'configServer' ? sandboxedServerOnly : sandboxed)('benchpay', 'getFields', ['en', XML[v]]);
      runs[`ip.${v}`] = () => inProcess('benchpay', 'getFields', ['en', XML[v]]);
    }
    // Sanity: every plugin variant answers its one field before anything is timed (a variant whose
    // host call failed would answer [] and measure nothing).
    for (const [name, run] of Object.entries(runs)) {
      const r = await run() as { ok?: boolean; value?: unknown } | undefined;
      if (name.startsWith('floor')) continue;
      if (!r?.ok || (name !== 'dispatch' && !(Array.isArray(r.value) && r.value.length === 1))) {
        throw new Error(`bench call-overhead: ${name} did not answer as expected: ${JSON.stringify(r).slice(0, 300)}`);
      }
    }
    const names = Object.keys(runs);
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    // Interleaved, in a rotating order, so drift on a shared machine hits every variant alike.
    for (let i = 0; i < o.warmup + o.iterations; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length];
        const started = performance.now();
        await runs[name]();
        const took = performance.now() - started;
        if (i >= o.warmup) samples[name].push(took);
      }
    }
    // CPU per call, one block per variant (CPU cannot be split between interleaved calls).
    const cpuOf = async (run: () => Promise<unknown>, other: number | null) => {
      const stop = cpuMeter(other);
      for (let i = 0; i < o.iterations; i++) await run();
      const c = stop();
      return { server: round(c.selfUs / o.iterations, 1), other: c.otherUs === null ? null : round(c.otherUs / o.iterations, 1) };
    };
    const sandboxPid = (v: CallVariant) => (v === 'configServer' ? serverOnly : local).sandbox.processOf('benchpay')?.pid ?? null;
    const us = (name: string) => scaled(summarize(samples[name]), 1000);
    const floor = { raw: us('floorRaw'), json: us('floorJson') };
    const floorCpu = await cpuOf(jsonFloor.roundTrip, jsonFloor.pid);
    const variants = {} as Record<CallVariant, CallVariantResult>;
    for (const v of CALL_VARIANTS) {
      const sb = us(`sb.${v}`);
      const ip = us(`ip.${v}`);
      const cpuSb = await cpuOf(runs[`sb.${v}`], sandboxPid(v));
      const cpuIp = await cpuOf(runs[`ip.${v}`], null);
      variants[v] = {
        sandboxed: sb, inProcess: ip,
        ratioToFloor: round(sb.p50 / floor.json.p50, 2), ratioToRawFloor: round(sb.p50 / floor.raw.p50, 2),
        addedUs: round(sb.p50 - ip.p50, 1),
        cpuUs: { server: cpuSb.server, sandbox: cpuSb.other, inProcess: cpuIp.server },
      };
    }
    const segments = o.traced > 0 ? await traceVariants(o.traced, (v) => (v === 'configServer' ? serverOnly : local).sandbox) : null;
    return { iterations: o.iterations, floor: { ...floor, cpuUs: { json: { server: floorCpu.server, echo: floorCpu.other } } }, variants, dispatchOnly: us('dispatch'), segments };
  } finally {
    await rawFloor.close();
    await jsonFloor.close();
    await local.close();
    await serverOnly.close();
  }
}

/** `n` traced calls of each sandboxed variant, interleaved in a rotating order, summarized per variant. */
async function traceVariants(n: number, hostOf: (v: CallVariant) => { invoke: LocalSandbox['invoke'] }): Promise<Record<CallVariant, SegmentSummary | null>> {
  const traces = Object.fromEntries(CALL_VARIANTS.map((v) => [v, [] as CallTrace[]])) as Record<CallVariant, CallTrace[]>;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < CALL_VARIANTS.length; j++) {
      const v = CALL_VARIANTS[(i + j) % CALL_VARIANTS.length];
      const r = await hostOf(v).invoke('benchpay', 'getFields', ['en', XML[v]], { trace: true });
      if (r.ok && r.trace) traces[v].push(r.trace);
    }
  }
  return Object.fromEntries(CALL_VARIANTS.map((v) => [v, summarizeSegments(traces[v])])) as Record<CallVariant, SegmentSummary | null>;
}

type LocalSandbox = Awaited<ReturnType<typeof openLocalHost>>['sandbox'];
