// `payout-sandbox bench`: the price of isolation, measured side by side in one run on one machine
// against the same plugins run in process without isolation. Five scenarios (bench/scenarios/):
// per-call cost, webhook throughput, start-up, density, cron sweeps at scale. Prints a table (or
// one JSON object with --json) and writes the JSON to bench-results/latest.json.
// Reached from the CLI through a dynamic import only: nothing in runtime/ loads this otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { benchCallOverhead } from './scenarios/call-overhead.ts';
import type { CallOverheadResult } from './scenarios/call-overhead.ts';
import { benchWebhook } from './scenarios/webhook.ts';
import type { WebhookResult } from './scenarios/webhook.ts';
import { benchStartup } from './scenarios/startup.ts';
import type { StartupResult } from './scenarios/startup.ts';
import { benchDensity } from './scenarios/density.ts';
import type { DensityResult } from './scenarios/density.ts';
import { benchSweep } from './scenarios/sweep.ts';
import type { SweepResult } from './scenarios/sweep.ts';
import { round } from './lib/stats.ts';
import { DEFAULT_LIMITS } from '../runtime/sandbox/protocol.ts';

export const SCENARIOS = ['call', 'webhook', 'startup', 'density', 'sweep'] as const;
export type ScenarioName = typeof SCENARIOS[number];

export interface BenchOptions {
  quick?: boolean;
  /** Print one JSON object on stdout instead of the table. */
  json?: boolean;
  /** Where the JSON goes (default bench-results/latest.json under the working directory). */
  out?: string;
  /** Run only these scenarios. */
  only?: ScenarioName[];
  /** Progress lines (stderr by default). */
  progress?: (line: string) => void;
}

/** The settings of one run: `full` is what `npm run bench` does, `quick` the smoke-test size. */
export const PROFILES = {
  full: {
    call: { iterations: 3000, warmup: 300 },
    webhook: { duration: 5, warmup: 1, rounds: 2, connections: 10, withProvider: true, memoryStore: true },
    startup: { processStarts: 3, coldLoads: 5, warmLoads: 5 },
    density: { counts: [1, 10, 50], settleMs: 500 },
    sweep: { sizes: [1000, 10_000], latencyMs: 2, cpuMsPerCall: 30 * 60_000 },
  },
  quick: {
    call: { iterations: 200, warmup: 50 },
    webhook: { duration: 1, warmup: 0, rounds: 1, connections: 4, withProvider: false, memoryStore: false },
    startup: { processStarts: 1, coldLoads: 1, warmLoads: 1 },
    density: { counts: [1, 3], settleMs: 100 },
    sweep: { sizes: [20, 60], latencyMs: 2, cpuMsPerCall: 30 * 60_000 },
  },
};

export interface Target {
  target: string;
  value: number | null;
  met: boolean | null;
}

export interface BenchReport {
  // The headline figures (also in `details`).
  webhook_throughput_ratio: number | null;
  webhook_throughput_ratio_with_provider: number | null;
  webhook_throughput_ratio_memory_store: number | null;
  webhook_rps_sandboxed: number | null;
  webhook_rps_in_process: number | null;
  call_overhead_us_p50: number | null;
  call_overhead_us_p99: number | null;
  bridge_overhead_us_p50: number | null;
  host_call_in_sandbox_us_p50: number | null;
  cold_start_ms: number | null;
  warm_start_ms: number | null;
  warm_start_rebundled_ms: number | null;
  sandbox_process_start_ms: number | null;
  rss_per_plugin_mb: number | null;
  sweep_ms_per_tx_1k: number | null;
  sweep_ms_per_tx_10k: number | null;
  sweep_in_process_ms_per_tx_1k: number | null;
  sweep_in_process_ms_per_tx_10k: number | null;
  sweep_host_overhead_pct_of_provider: number | null;
  sweep_overhead_ms_per_tx: number | null;
  sweep_isolate_cpu_ms_per_tx: number | null;
  /** How many txs one cron run can sweep inside the default 1 s CPU budget per call. */
  sweep_max_txs_in_default_cpu_budget: number | null;
  targets: Record<string, Target>;
  meta: {
    date: string;
    profile: 'full' | 'quick';
    scenarios: ScenarioName[];
    durationS: number;
    node: string;
    isolatedVm: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
    /** Set when the machine was busy: figures taken then are noisy. */
    warning: string | null;
    /** Anything that makes a figure suspect (failed requests under load, …). */
    problems: string[];
    /** The sweep sizes behind sweep_ms_per_tx_1k / _10k (smaller in --quick). */
    sweepSizes: number[];
  };
  details: {
    call: CallOverheadResult | null;
    webhook: WebhookResult | null;
    startup: StartupResult | null;
    density: DensityResult | null;
    sweep: SweepResult | null;
  };
}

function ivmVersion(): string {
  try {
    return (createRequire(import.meta.url)('isolated-vm/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function target(text: string, value: number | null, ok: (v: number) => boolean): Target {
  return { target: text, value, met: value === null || !Number.isFinite(value) ? null : ok(value) };
}

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const profileName = o.quick ? 'quick' : 'full';
  const profile = PROFILES[profileName];
  const only = new Set<ScenarioName>(o.only?.length ? o.only : SCENARIOS);
  const progress = o.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const loadAvgStart = os.loadavg().map((x) => round(x, 2));
  const details: BenchReport['details'] = { call: null, webhook: null, startup: null, density: null, sweep: null };
  const step = async <T>(name: ScenarioName, what: string, run: () => Promise<T>): Promise<T | null> => {
    if (!only.has(name)) return null;
    const t0 = performance.now();
    progress(`bench: ${what}…`);
    const r = await run();
    progress(`bench: ${what} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  };

  details.call = await step('call', 'per-call cost (sandboxed vs in process)', () => benchCallOverhead(profile.call));
  details.startup = await step('startup', 'start-up (sandbox process, cold and warm plugin loads)', () => benchStartup(profile.startup));
  details.density = await step('density', `density (${profile.density.counts.join(', ')} plugins)`, () => benchDensity(profile.density));
  details.webhook = await step('webhook', 'webhook throughput (autocannon on loopback)', () => benchWebhook(profile.webhook));
  details.sweep = await step('sweep', `cron sweeps (${profile.sweep.sizes.join(' and ')} txs, provider latency ${profile.sweep.latencyMs} ms)`, () => benchSweep(profile.sweep));

  const d = details;
  const sweepAt = (i: number) => d.sweep?.points[i] ?? null;
  const lastSweep = d.sweep?.points.at(-1) ?? null;
  const density = d.density?.points.at(-1) ?? null;
  const isolateMsPerTx = lastSweep?.sandboxed.isolateCpuMs != null ? round(lastSweep.sandboxed.isolateCpuMs / lastSweep.txs, 3) : null;
  const report: Omit<BenchReport, 'targets' | 'meta' | 'details'> = {
    webhook_throughput_ratio: d.webhook?.hostCalls.ratio ?? null,
    webhook_throughput_ratio_with_provider: d.webhook?.withProvider?.ratio ?? null,
    webhook_throughput_ratio_memory_store: d.webhook?.memoryStore?.ratio ?? null,
    webhook_rps_sandboxed: d.webhook?.hostCalls.sandboxed.rps ?? null,
    webhook_rps_in_process: d.webhook?.hostCalls.inProcess.rps ?? null,
    call_overhead_us_p50: d.call?.overheadUs.p50 ?? null,
    call_overhead_us_p99: d.call?.overheadUs.p99 ?? null,
    bridge_overhead_us_p50: d.call?.bridgeUs.p50 ?? null,
    host_call_in_sandbox_us_p50: d.call?.hostCallInSandboxUs ?? null,
    cold_start_ms: d.startup?.cold.totalMs ?? null,
    warm_start_ms: d.startup?.warm.totalMs ?? null,
    warm_start_rebundled_ms: d.startup?.warmRebundled.totalMs ?? null,
    sandbox_process_start_ms: d.startup?.sandboxProcessStartMs ?? null,
    rss_per_plugin_mb: density?.perPluginMb ?? null,
    sweep_ms_per_tx_1k: sweepAt(0)?.sandboxed.msPerTx ?? null,
    sweep_ms_per_tx_10k: sweepAt(1)?.sandboxed.msPerTx ?? null,
    sweep_in_process_ms_per_tx_1k: sweepAt(0)?.inProcess.msPerTx ?? null,
    sweep_in_process_ms_per_tx_10k: sweepAt(1)?.inProcess.msPerTx ?? null,
    sweep_host_overhead_pct_of_provider: lastSweep?.overheadPctOfProvider ?? null,
    sweep_overhead_ms_per_tx: lastSweep?.overheadMsPerTx ?? null,
    sweep_isolate_cpu_ms_per_tx: isolateMsPerTx,
    sweep_max_txs_in_default_cpu_budget: isolateMsPerTx ? Math.floor(DEFAULT_LIMITS.cpuMsPerCall / isolateMsPerTx) : null,
  };
  const loadAvgEnd = os.loadavg().map((x) => round(x, 2));
  const cpus = os.cpus();
  const busy = Math.max(loadAvgStart[0], loadAvgEnd[0]) > Math.max(1, cpus.length) * 0.5;
  const problems: string[] = [];
  if (d.webhook) {
    const shapes = { 'host calls': d.webhook.hostCalls, 'provider call': d.webhook.withProvider, 'memory store': d.webhook.memoryStore };
    for (const [name, shape] of Object.entries(shapes)) {
      if (!shape) continue;
      const failed = shape.sandboxed.failures + shape.inProcess.failures;
      if (failed > 0) problems.push(`webhook (${name}): ${failed} requests failed or were refused (sandboxed ${shape.sandboxed.failures}, in process ${shape.inProcess.failures}); its req/s counts answered 2xx only`);
    }
  }
  return {
    ...report,
    targets: {
      webhook_throughput_ratio: target('≥ 0.9 × in process', report.webhook_throughput_ratio, (v) => v >= 0.9),
      call_overhead_us_p50: target('≤ 60 µs p50 per call, process hop included', report.call_overhead_us_p50, (v) => v <= 60),
      cold_start_ms: target('≤ 30 ms per plugin (sandbox process warm)', report.cold_start_ms, (v) => v <= 30),
      warm_start_ms: target('≤ 5 ms per plugin (bundle and code cache kept)', report.warm_start_ms, (v) => v <= 5),
      rss_per_plugin_mb: target('≤ 2.5 MB per idle plugin', report.rss_per_plugin_mb, (v) => v <= 2.5),
      sweep_host_overhead_pct_of_provider: target('≤ 10 % of provider time in sweeps', report.sweep_host_overhead_pct_of_provider, (v) => v <= 10),
    },
    meta: {
      date: new Date().toISOString(),
      profile: profileName,
      scenarios: SCENARIOS.filter((s) => only.has(s)),
      durationS: round((performance.now() - started) / 1000, 1),
      node: process.version,
      isolatedVm: ivmVersion(),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      loadAvgStart,
      loadAvgEnd,
      warning: busy
        ? `the machine was busy (load average ${loadAvgStart[0]} at start, ${loadAvgEnd[0]} at end, ${cpus.length} CPUs): figures are noisy; take final figures on an idle machine`
        : null,
      problems,
      sweepSizes: profile.sweep.sizes,
    },
    details,
  };
}

/** Writes the report as JSON, creating the folder. */
export function writeReport(report: BenchReport, file: string): string {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, `${JSON.stringify(report, null, 2)}\n`);
  return target;
}

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

/** The human-readable table. */
export function formatReport(r: BenchReport): string {
  const d = r.details;
  const lines: string[] = [];
  const row = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const table = (title: string, head: string[], rows: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
    lines.push('', title, row(head, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((x) => row(x, widths)));
  };
  lines.push(`payout-sandbox bench (${r.meta.profile}) — ${r.meta.date} — node ${r.meta.node}, isolated-vm ${r.meta.isolatedVm}, ${r.meta.cpus} × ${r.meta.cpuModel}`);
  lines.push(`load average ${r.meta.loadAvgStart.join(' ')} → ${r.meta.loadAvgEnd.join(' ')}; ${r.meta.durationS} s`);
  if (r.meta.warning) lines.push(`WARNING: ${r.meta.warning}`);
  for (const p of r.meta.problems) lines.push(`PROBLEM: ${p}`);

  if (d.call) {
    const c = d.call;
    table(`Per-call cost, µs (${c.iterations} calls each, sequential)`, ['', 'p50', 'p90', 'p99'], [
      ['sandboxed, 1 host call', fmt(c.sandboxed.hostCall.p50), fmt(c.sandboxed.hostCall.p90), fmt(c.sandboxed.hostCall.p99)],
      ['in process, 1 host call', fmt(c.inProcess.hostCall.p50), fmt(c.inProcess.hostCall.p90), fmt(c.inProcess.hostCall.p99)],
      ['sandboxed, no host call', fmt(c.sandboxed.noHostCall.p50), fmt(c.sandboxed.noHostCall.p90), fmt(c.sandboxed.noHostCall.p99)],
      ['in process, no host call', fmt(c.inProcess.noHostCall.p50), fmt(c.inProcess.noHostCall.p90), fmt(c.inProcess.noHostCall.p99)],
      ['host call via dispatcher only', fmt(c.dispatchOnly.p50), fmt(c.dispatchOnly.p90), fmt(c.dispatchOnly.p99)],
      ['=> added per call (1 host call)', fmt(c.overheadUs.p50), '', fmt(c.overheadUs.p99)],
      ['=> bridge alone (no host call)', fmt(c.bridgeUs.p50), '', fmt(c.bridgeUs.p99)],
    ]);
    const cpu = c.cpuUsPerCall;
    lines.push(`CPU per call, µs: sandboxed 1 host call ${fmt(cpu.sandboxed.hostCall.server)} server + ${fmt(cpu.sandboxed.hostCall.sandbox)} sandbox process; ` +
      `no host call ${fmt(cpu.sandboxed.noHostCall.server)} + ${fmt(cpu.sandboxed.noHostCall.sandbox)}; in process ${fmt(cpu.inProcess.hostCall)} / ${fmt(cpu.inProcess.noHostCall)}`);
  }
  if (d.webhook) {
    const w = d.webhook;
    const shapeRows = (label: string, s: NonNullable<WebhookResult['withProvider']>) => [
      [`${label}: sandboxed`, fmt(s.sandboxed.rps, 0), fmt(s.sandboxed.latencyMsP50, 0), fmt(s.sandboxed.latencyMsP99, 0), fmt(s.sandboxed.serverCpuUsPerReq, 0), fmt(s.sandboxed.sandboxCpuUsPerReq, 0), String(s.sandboxed.failures), fmt(s.ratio, 2)],
      [`${label}: in process`, fmt(s.inProcess.rps, 0), fmt(s.inProcess.latencyMsP50, 0), fmt(s.inProcess.latencyMsP99, 0), fmt(s.inProcess.serverCpuUsPerReq, 0), '', String(s.inProcess.failures), ''],
    ];
    table(`Webhook throughput (${w.connections} connections, ${w.duration} s × ${w.rounds} rounds, ${w.store})`,
      ['', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'sandbox CPU µs/req', 'failed', 'ratio'],
      [...shapeRows('5 host calls', w.hostCalls), ...(w.withProvider ? shapeRows('+ provider call', w.withProvider) : []),
        ...(w.memoryStore ? shapeRows('5 host calls, memory store', w.memoryStore) : [])]);
  }
  if (d.startup) {
    const s = d.startup;
    const st = (label: string, x: StartupResult['cold']) => [label, fmt(x.bundleMs), fmt(x.manifestMs), fmt(x.loadMs), fmt(x.initCronMs), fmt(x.firstCallMs), fmt(x.totalMs)];
    table(`Start-up, ms (median; ${s.plugin}, ${Math.round(s.bundleBytes / 1024)} KB bundle; sandbox process already running)`,
      ['', 'bundle', 'configure.js', 'load', 'initCron', '1st getFields', 'total'],
      [st('cold', s.cold), st('warm (bundle + code cache kept)', s.warm), st('warm, rebundled', s.warmRebundled)]);
    lines.push(`sandbox process start (spawn → ready): ${fmt(s.sandboxProcessStartMs)} ms; unloading a plugin (reloads pay it too): ${fmt(s.unloadMs)} ms; code cache accepted: ${s.codeCacheAccepted}`);
  }
  if (d.density) {
    table(`Density (empty sandbox process: ${fmt(d.density.emptyProcessRssMb)} MB RSS)`, ['plugins', 'RSS MB', 'MB per plugin', 'heap per isolate MB'],
      d.density.points.map((p) => [String(p.plugins), fmt(p.rssMb), fmt(p.perPluginMb, 2), fmt(p.heapPerIsolateMb, 2)]));
  }
  if (d.sweep) {
    const s = d.sweep;
    table(`Cron sweep (nimbuspay, provider latency ${s.latencyMs} ms)`,
      ['txs', 'sandboxed ms/tx', 'in process ms/tx', 'overhead ms/tx', '% of provider time', 'server CPU µs/tx sb / ip', 'sandbox CPU µs/tx', 'isolate CPU ms/tx'],
      s.points.map((p) => [String(p.txs), fmt(p.sandboxed.msPerTx, 2), fmt(p.inProcess.msPerTx, 2), fmt(p.overheadMsPerTx, 2), fmt(p.overheadPctOfProvider, 0),
        `${fmt(p.sandboxed.serverCpuUsPerTx, 0)} / ${fmt(p.inProcess.serverCpuUsPerTx, 0)}`, fmt(p.sandboxed.sandboxCpuUsPerTx, 0),
        p.sandboxed.isolateCpuMs === null ? '—' : fmt(p.sandboxed.isolateCpuMs / p.txs, 3)]));
  }
  table('Targets (not asserted)', ['', 'value', 'target', 'met'],
    Object.entries(r.targets).map(([k, t]) => [k, fmt(t.value, 2), t.target, t.met === null ? '—' : t.met ? 'yes' : 'NO']));
  return `${lines.join('\n')}\n`;
}
