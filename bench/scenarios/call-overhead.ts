// Per-call cost: host → plugin method → host-API round trip, sandboxed vs in process.
//  - getFields('en', 'HOSTCALL') makes one host call (config.get): bridge + one host call;
//  - getFields('en', 'NOHOST') makes none: the bridge alone (server → sandbox process → isolate);
//  - dispatch: the host call alone, in process (policy + implementation + audit, no bridge).
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
import { round, scaled, summarize } from '../lib/stats.ts';
import { cpuMeter } from '../lib/cpu.ts';
import type { Summary } from '../lib/stats.ts';

export interface CallOverheadOptions {
  iterations: number;
  warmup: number;
}

export interface CallOverheadResult {
  iterations: number;
  /** Latency per call in µs. */
  sandboxed: { hostCall: Summary; noHostCall: Summary };
  inProcess: { hostCall: Summary; noHostCall: Summary };
  /** One host call through the dispatcher (policy, implementation, audit), in process, no bridge. */
  dispatchOnly: Summary;
  /** Added by the sandbox per call that makes one host call (sandboxed − in process), µs. */
  overheadUs: { p50: number; p99: number };
  /** Bridge alone: sandboxed − in process for the method without a host call, µs. */
  bridgeUs: { p50: number; p99: number };
  /** What one host call adds inside the sandbox (HOSTCALL − NOHOST, sandboxed), µs p50. */
  hostCallInSandboxUs: number;
  /**
   * CPU per call (µs), from a separate block of calls per variant: the server process and the
   * sandbox process. Less sensitive to a busy machine than latency (but not immune to it).
   */
  cpuUsPerCall: {
    sandboxed: { hostCall: { server: number; sandbox: number | null }; noHostCall: { server: number; sandbox: number | null } };
    inProcess: { hostCall: number; noHostCall: number };
  };
}

export async function benchCallOverhead(o: CallOverheadOptions): Promise<CallOverheadResult> {
  // The bench makes far more host calls a minute than one plugin may (hostCallsPerMinute): it
  // measures their cost, not the caps.
  const local = await openLocalHost({ storeUrl: 'sqlite::memory:', hostCallLimits: { hostCallsPerMinute: 100_000_000, hostCallBytesPerMinute: 100_000_000_000 } });
  try {
    await local.load(BENCHPAY_DIR, { ...BENCH_SECRETS });
    const platform = storePlatform({ store: local.store, config: local.host.config, buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1 }) }, 'benchpay');
    const loaded = loadPlatformPlugin({ pluginDir: BENCHPAY_DIR, platform: platform.modules, env: { API_URL: 'http://127.0.0.1:3000/' } });
    const inProcess = inProcessInvoke(new Map([['benchpay', { loaded, host: platform.host }]]));
    const sandboxed = local.sandbox.invoke.bind(local.sandbox);
    // A fresh call context each time, as each plugin call has: one shared context would reach the
    // per-call host-call cap (hostCallsPerCall) after 200 calls.
    const dispatch = () => local.host.api.handle({ plugin: 'benchpay', callId: 'bench-dispatch', method: 'getFields', deadline: Date.now() + 3_600_000, counters: newCounters() }, 'config.get', { key: 'apiKey' });

    const variants = {
      sbHost: () => sandboxed('benchpay', 'getFields', ['en', 'HOSTCALL']),
      sbNone: () => sandboxed('benchpay', 'getFields', ['en', 'NOHOST']),
      ipHost: () => inProcess('benchpay', 'getFields', ['en', 'HOSTCALL']),
      ipNone: () => inProcess('benchpay', 'getFields', ['en', 'NOHOST']),
      dispatch,
    };
    // Sanity: every variant answers as expected before anything is timed.
    for (const [name, run] of Object.entries(variants)) {
      const r = await run() as { ok: boolean; value?: unknown; error?: unknown };
      if (!r.ok || (name !== 'dispatch' && !Array.isArray(r.value)) || (Array.isArray(r.value) && r.value.length !== 1)) {
        throw new Error(`bench call-overhead: ${name} did not answer as expected: ${JSON.stringify(r).slice(0, 300)}`);
      }
    }
    const samples: Record<keyof typeof variants, number[]> = { sbHost: [], sbNone: [], ipHost: [], ipNone: [], dispatch: [] };
    const names = Object.keys(variants) as (keyof typeof variants)[];
    // Interleaved, in a rotating order, so drift on a shared machine hits every variant alike.
    for (let i = 0; i < o.warmup + o.iterations; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length];
        const started = performance.now();
        await variants[name]();
        const took = performance.now() - started;
        if (i >= o.warmup) samples[name].push(took);
      }
    }
    // CPU per call, one block per variant (CPU cannot be split between interleaved calls).
    const sandboxPid = local.sandbox.processOf('benchpay')?.pid ?? null;
    const cpuOf = async (run: () => Promise<unknown>, other: number | null) => {
      const stop = cpuMeter(other);
      for (let i = 0; i < o.iterations; i++) await run();
      const c = stop();
      return { server: round(c.selfUs / o.iterations, 1), sandbox: c.otherUs === null ? null : round(c.otherUs / o.iterations, 1) };
    };
    const cpuUsPerCall = {
      sandboxed: { hostCall: await cpuOf(variants.sbHost, sandboxPid), noHostCall: await cpuOf(variants.sbNone, sandboxPid) },
      inProcess: { hostCall: (await cpuOf(variants.ipHost, null)).server, noHostCall: (await cpuOf(variants.ipNone, null)).server },
    };
    const us = (s: number[]) => scaled(summarize(s), 1000);
    const r = { sbHost: us(samples.sbHost), sbNone: us(samples.sbNone), ipHost: us(samples.ipHost), ipNone: us(samples.ipNone), dispatch: us(samples.dispatch) };
    const d = (a: number, b: number) => Math.round((a - b) * 10) / 10;
    return {
      iterations: o.iterations,
      sandboxed: { hostCall: r.sbHost, noHostCall: r.sbNone },
      inProcess: { hostCall: r.ipHost, noHostCall: r.ipNone },
      dispatchOnly: r.dispatch,
      overheadUs: { p50: d(r.sbHost.p50, r.ipHost.p50), p99: d(r.sbHost.p99, r.ipHost.p99) },
      bridgeUs: { p50: d(r.sbNone.p50, r.ipNone.p50), p99: d(r.sbNone.p99, r.ipNone.p99) },
      hostCallInSandboxUs: d(r.sbHost.p50, r.sbNone.p50),
      cpuUsPerCall,
    };
  } finally {
    await local.close();
  }
}
