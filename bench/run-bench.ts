// `payout-sandbox bench`: the price of isolation, measured side by side in one run on one machine
// against the same plugins run in process without isolation, and what one plugin under load does
// to another. Six scenarios (bench/scenarios/): per-call cost, webhook throughput, start-up,
// density, cron sweeps at scale, noisy neighbour; each run once per engine (isolated-vm, quickjs),
// every figure reported per engine side by side. Prints a table (or
// one JSON object with --json; format-report.ts) and writes the JSON to bench-results/latest.json.
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
import { benchNoisyNeighbour } from './scenarios/noisy-neighbour.ts';
import type { NoisyNeighbourResult } from './scenarios/noisy-neighbour.ts';
import { computeGoals } from './goals.ts';
import type { Goal } from './goals.ts';
import { round } from './lib/stats.ts';
import { DEFAULT_ENGINE, DEFAULT_LIMITS, ENGINES } from '../runtime/sandbox/protocol.ts';
import type { EngineName } from '../runtime/sandbox/protocol.ts';
import { engineUnavailable, oneLine } from './lib/engine-probe.ts';

export const SCENARIOS = ['call', 'webhook', 'startup', 'density', 'sweep', 'noisy'] as const;
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
  /** Run on these engines only (default: every engine, the default one first). */
  engines?: EngineName[];
}

/** The settings of one run: `full` is what `npm run bench` does, `quick` the smoke-test size. */
export const PROFILES = {
  full: {
    call: { iterations: 3000, warmup: 300, traced: 1000 },
    webhook: { duration: 5, warmup: 1, rounds: 3, connections: 10, withProvider: true, memoryStore: true },
    startup: { processStarts: 3, coldLoads: 5, warmLoads: 5 },
    density: { counts: [1, 10, 50], settleMs: 500 },
    sweep: { sizes: [1000, 10_000], latencyMs: 2, cpuMsPerCall: 30 * 60_000, repeats: 3 },
    noisy: { rounds: 3, phaseS: 12, leadInS: 1, quietRatePerS: 8, floodConnections: 50, burnMs: 850, webhookRatePerMinute: 600 },
  },
  quick: {
    call: { iterations: 200, warmup: 50, traced: 50 },
    webhook: { duration: 1, warmup: 0, rounds: 1, connections: 4, withProvider: false, memoryStore: false },
    startup: { processStarts: 1, coldLoads: 1, warmLoads: 1 },
    density: { counts: [1, 3], settleMs: 100 },
    sweep: { sizes: [20, 60], latencyMs: 2, cpuMsPerCall: 30 * 60_000, repeats: 2 },
    noisy: { rounds: 1, phaseS: 2, leadInS: 0.5, quietRatePerS: 5, floodConnections: 16, burnMs: 200, webhookRatePerMinute: 600 },
  },
};

/** The headline figures of one engine (also in its `details`); null when the run did not measure them. */
export interface BenchFigures {
  /** One round trip between two bare Node processes on a pipe: raw bytes, and JSON frames, µs p50. */
  round_trip_floor_raw_us_p50: number | null;
  round_trip_floor_json_us_p50: number | null;
  /** A sandboxed getFields (p50) ÷ the JSON round-trip floor: no host call, one cacheable config.get, one secret read, one tx read. */
  call_ratio_bare: number | null;
  call_ratio_config: number | null;
  /** The same call with local config answers off (every read to the server): the figure before them. */
  call_ratio_config_server: number | null;
  call_ratio_secret: number | null;
  call_ratio_tx_read: number | null;
  call_us_p50_tx_read: number | null;
  /** Server CPU per sandboxed call, µs. */
  call_server_cpu_us_bare: number | null;
  call_server_cpu_us_config: number | null;
  call_server_cpu_us_config_server: number | null;
  call_server_cpu_us_secret: number | null;
  call_server_cpu_us_tx_read: number | null;
  webhook_throughput_ratio: number | null;
  webhook_throughput_ratio_with_provider: number | null;
  webhook_throughput_ratio_memory_store: number | null;
  webhook_rps_sandboxed: number | null;
  webhook_rps_in_process: number | null;
  /** A never-seen plugin's load in a running sandbox process, esbuild's service already up. */
  cold_start_ms: number | null;
  esbuild_service_start_ms: number | null;
  sandbox_process_start_ms: number | null;
  /** A new plugin's first load in a sandbox process of its own (the default): process start included. */
  cold_start_own_process_ms: number | null;
  /** A server's first plugin: esbuild service start + sandbox process start + cold. */
  first_plugin_of_server_ms: number | null;
  warm_start_ms: number | null;
  warm_start_rebundled_ms: number | null;
  /** Process per plugin (the default): MB each idle plugin adds, at the largest count. */
  rss_per_plugin_mb: number | null;
  /** The same with every plugin in one shared group. */
  rss_per_plugin_mb_shared_group: number | null;
  /** As rss_per_plugin_mb in private memory (bench/lib/process-memory.ts); null where the kernel does not report it. */
  private_per_plugin_mb: number | null;
  private_per_plugin_mb_shared_group: number | null;
  sweep_ms_per_tx_1k: number | null;
  sweep_ms_per_tx_10k: number | null;
  sweep_in_process_ms_per_tx_1k: number | null;
  sweep_in_process_ms_per_tx_10k: number | null;
  /** Host overhead (sandboxed − in process) as % of the provider's time, at 1 000 and 10 000 txs. */
  sweep_host_overhead_pct_1k: number | null;
  sweep_host_overhead_pct_10k: number | null;
  /** The isolate's CPU per tx, at the largest sweep. */
  sweep_isolate_cpu_ms_per_tx: number | null;
  /** How many txs one cron run can sweep inside the default 1 s CPU budget per call. */
  sweep_max_txs_in_default_cpu_budget: number | null;
  /** The quiet plugin's webhook p99 (and p50) under the noisy plugin's flood / alone. */
  noisy_neighbour_p99_ratio: number | null;
  noisy_neighbour_p50_ratio: number | null;
  noisy_neighbour_quiet_p99_ms_alone: number | null;
  noisy_neighbour_quiet_p99_ms_flood: number | null;
  /** The quiet plugin's circuit-breaker faults after the run. */
  noisy_neighbour_quiet_faults: number | null;
  /** The quiet plugin's payouts under the flood that did not end done. */
  noisy_neighbour_quiet_payouts_not_done: number | null;
}

type Details = {
  call: CallOverheadResult | null;
  webhook: WebhookResult | null;
  startup: StartupResult | null;
  density: DensityResult | null;
  sweep: SweepResult | null;
  noisy: NoisyNeighbourResult | null;
};

/** One engine's column: every figure, or why it has none. */
export interface EngineColumn {
  engine: EngineName;
  /** Set when the engine could not load the benchmark's plugin at all: every figure is missing. */
  unavailable: string | null;
  /** Scenarios run but without figures on this engine, and why (the engine unavailable, or it failed there). */
  missing: Partial<Record<ScenarioName, string>>;
  figures: BenchFigures;
  details: Details;
}

/**
 * The top-level figures and `details` are the primary engine's (the default engine unless
 * --engine leaves it out), as before engines were compared; `engines` holds every engine's column.
 */
export interface BenchReport extends BenchFigures {
  /** Every goal for every engine, computed from this run (goals.ts); each names its engine. */
  goals: Goal[];
  engines: EngineColumn[];
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
    /** The engines run, and the one whose figures are at the top level. */
    engines: EngineName[];
    primaryEngine: EngineName;
  };
  details: Details;
}

function ivmVersion(): string {
  try {
    return (createRequire(import.meta.url)('isolated-vm/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const noDetails = (): Details => ({ call: null, webhook: null, startup: null, density: null, sweep: null, noisy: null });

/** The default engine first: its figures are the headline ones. */
function orderEngines(given: EngineName[] | undefined): EngineName[] {
  const chosen = new Set<EngineName>(given?.length ? given : ENGINES);
  return [DEFAULT_ENGINE, ...ENGINES.filter((e) => e !== DEFAULT_ENGINE)].filter((e) => chosen.has(e));
}

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const profileName = o.quick ? 'quick' : 'full';
  const profile = PROFILES[profileName];
  const only = new Set<ScenarioName>(o.only?.length ? o.only : SCENARIOS);
  const engines = orderEngines(o.engines);
  const primary = engines[0];
  const progress = o.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const loadAvgStart = os.loadavg().map((x) => round(x, 2));
  const columns: EngineColumn[] = [];
  for (const engine of engines) columns.push(await runEngine(engine, engine === primary, profile, only, progress));
  const d = columns[0].details;
  const loadAvgEnd = os.loadavg().map((x) => round(x, 2));
  const cpus = os.cpus();
  const busy = Math.max(loadAvgStart[0], loadAvgEnd[0]) > Math.max(1, cpus.length) * 0.5;
  const problems = columns.flatMap((c) => problemsOf(c.details).map((p) => (c.engine === primary ? p : `${c.engine}: ${p}`)));
  for (const c of columns) {
    for (const [scenario, why] of Object.entries(c.missing)) if (!c.unavailable) problems.push(`${c.engine}: ${scenario} failed, no figures: ${why}`);
  }
  return {
    ...columns[0].figures,
    goals: columns.flatMap((c) => computeGoals(c.details, c.engine, c.missing)),
    engines: columns,
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
      engines,
      primaryEngine: primary,
    },
    details: d,
  };
}

type Profile = typeof PROFILES['full'];

/**
 * Every scenario on one engine. The primary engine's failures end the run (its figures are the
 * headline); another engine's are recorded as missing figures, with the reason, and the run goes on.
 */
async function runEngine(engine: EngineName, primary: boolean, profile: Profile, only: Set<ScenarioName>, progress: (line: string) => void): Promise<EngineColumn> {
  const details = noDetails();
  const missing: EngineColumn['missing'] = {};
  const unavailable = primary ? null : await engineUnavailable(engine);
  if (unavailable) {
    progress(`bench: ${engine}: not available (${unavailable}); its figures are left out`);
    for (const name of SCENARIOS) if (only.has(name)) missing[name] = unavailable;
    return { engine, unavailable, missing, figures: figuresOf(details), details };
  }
  const step = async <T>(name: ScenarioName, what: string, run: () => Promise<T>): Promise<T | null> => {
    if (!only.has(name)) return null;
    const t0 = performance.now();
    progress(`bench: ${engine}: ${what}…`);
    try {
      const r = await run();
      progress(`bench: ${engine}: ${what} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return r;
    } catch (err) {
      if (primary) throw err;
      missing[name] = oneLine(String((err as Error)?.message ?? err));
      progress(`bench: ${engine}: ${what} failed: ${missing[name]}`);
      return null;
    }
  };
  const p = profile;
  details.call = await step('call', 'per-call cost (sandboxed vs in process)', () => benchCallOverhead({ ...p.call, engine }));
  details.startup = await step('startup', 'start-up (sandbox process, cold and warm plugin loads)', () => benchStartup({ ...p.startup, engine }));
  details.density = await step('density', `density (${p.density.counts.join(', ')} plugins)`, () => benchDensity({ ...p.density, engine }));
  details.webhook = await step('webhook', 'webhook throughput (autocannon on loopback)', () => benchWebhook({ ...p.webhook, engine }));
  details.noisy = await step('noisy', `noisy neighbour (a flood of ${p.noisy.burnMs} ms calls at ${p.noisy.webhookRatePerMinute}/min on one plugin, ${p.noisy.rounds} × ${p.noisy.phaseS} s per condition)`, () => benchNoisyNeighbour({ ...p.noisy, engine }));
  details.sweep = await step('sweep', `cron sweeps (${p.sweep.sizes.join(' and ')} txs, provider latency ${p.sweep.latencyMs} ms)`, () => benchSweep({ ...p.sweep, engine }));
  return { engine, unavailable: null, missing, figures: figuresOf(details), details };
}

/** The headline figures of one engine's details. */
export function figuresOf(d: Details): BenchFigures {
  const sweepOf = (txs: number) => d.sweep?.points.find((p) => p.txs === txs) ?? null;
  const lastSweep = d.sweep?.points.at(-1) ?? null;
  const densityOwn = d.density?.processPerPlugin.points.at(-1) ?? null;
  const densityShared = d.density?.sharedGroup.points.at(-1) ?? null;
  const isolateMsPerTx = lastSweep?.sandboxed.isolateCpuMs != null ? round(lastSweep.sandboxed.isolateCpuMs / lastSweep.txs, 3) : null;
  const v = d.call?.variants;
  return {
    round_trip_floor_raw_us_p50: d.call?.floor.raw.p50 ?? null,
    round_trip_floor_json_us_p50: d.call?.floor.json.p50 ?? null,
    call_ratio_bare: v?.bare.ratioToFloor ?? null,
    call_ratio_config: v?.config.ratioToFloor ?? null,
    call_ratio_config_server: v?.configServer.ratioToFloor ?? null,
    call_ratio_secret: v?.secret.ratioToFloor ?? null,
    call_ratio_tx_read: v?.txRead.ratioToFloor ?? null,
    call_us_p50_tx_read: v?.txRead.sandboxed.p50 ?? null,
    call_server_cpu_us_bare: v?.bare.cpuUs.server ?? null,
    call_server_cpu_us_config: v?.config.cpuUs.server ?? null,
    call_server_cpu_us_config_server: v?.configServer.cpuUs.server ?? null,
    call_server_cpu_us_secret: v?.secret.cpuUs.server ?? null,
    call_server_cpu_us_tx_read: v?.txRead.cpuUs.server ?? null,
    webhook_throughput_ratio: d.webhook?.hostCalls.ratio ?? null,
    webhook_throughput_ratio_with_provider: d.webhook?.withProvider?.ratio ?? null,
    webhook_throughput_ratio_memory_store: d.webhook?.memoryStore?.ratio ?? null,
    webhook_rps_sandboxed: d.webhook?.hostCalls.sandboxed.rps ?? null,
    webhook_rps_in_process: d.webhook?.hostCalls.inProcess.rps ?? null,
    cold_start_ms: d.startup?.cold.totalMs ?? null,
    esbuild_service_start_ms: d.startup?.esbuildServiceStartMs ?? null,
    sandbox_process_start_ms: d.startup?.sandboxProcessStartMs ?? null,
    cold_start_own_process_ms: d.startup?.coldOwnProcess.totalMs ?? null,
    first_plugin_of_server_ms: d.startup?.firstPluginOfServerMs ?? null,
    warm_start_ms: d.startup?.warm.totalMs ?? null,
    warm_start_rebundled_ms: d.startup?.warmRebundled.totalMs ?? null,
    rss_per_plugin_mb: densityOwn?.addedPerPluginMb ?? null,
    rss_per_plugin_mb_shared_group: densityShared?.addedPerPluginMb ?? null,
    private_per_plugin_mb: densityOwn?.addedPrivatePerPluginMb ?? null,
    private_per_plugin_mb_shared_group: densityShared?.addedPrivatePerPluginMb ?? null,
    sweep_ms_per_tx_1k: sweepOf(1000)?.sandboxed.msPerTx ?? null,
    sweep_ms_per_tx_10k: sweepOf(10_000)?.sandboxed.msPerTx ?? null,
    sweep_in_process_ms_per_tx_1k: sweepOf(1000)?.inProcess.msPerTx ?? null,
    sweep_in_process_ms_per_tx_10k: sweepOf(10_000)?.inProcess.msPerTx ?? null,
    sweep_host_overhead_pct_1k: sweepOf(1000)?.overheadPctOfProvider ?? null,
    sweep_host_overhead_pct_10k: sweepOf(10_000)?.overheadPctOfProvider ?? null,
    sweep_isolate_cpu_ms_per_tx: isolateMsPerTx,
    sweep_max_txs_in_default_cpu_budget: isolateMsPerTx ? Math.floor(DEFAULT_LIMITS.cpuMsPerCall / isolateMsPerTx) : null,
    noisy_neighbour_p99_ratio: d.noisy?.p99Ratio ?? null,
    noisy_neighbour_p50_ratio: d.noisy?.p50Ratio ?? null,
    noisy_neighbour_quiet_p99_ms_alone: d.noisy?.alone.quiet.p99 ?? null,
    noisy_neighbour_quiet_p99_ms_flood: d.noisy?.flood.quiet.p99 ?? null,
    noisy_neighbour_quiet_faults: d.noisy?.quietFaults ?? null,
    noisy_neighbour_quiet_payouts_not_done: d.noisy ? d.noisy.flood.payouts.attempted - d.noisy.flood.payouts.done : null,
  };
}

/** What makes one engine's figures suspect (failed requests under load, …). */
function problemsOf(d: Details): string[] {
  const problems: string[] = [];
  if (d.noisy) {
    for (const [name, c] of Object.entries({ alone: d.noisy.alone, 'under flood': d.noisy.flood })) {
      const bad = Object.entries(c.quietStatuses).filter(([s]) => s !== '200').reduce((n, [, v]) => n + v, 0) + c.quietErrors;
      if (bad > 0) problems.push(`noisy neighbour (${name}): ${bad} of the quiet plugin's webhook deliveries were not answered 200 (${JSON.stringify(c.quietStatuses)}, ${c.quietErrors} unanswered); its latency counts answered ones only`);
    }
  }
  if (d.webhook) {
    const shapes = { 'host calls': d.webhook.hostCalls, 'provider call': d.webhook.withProvider, 'memory store': d.webhook.memoryStore };
    for (const [name, shape] of Object.entries(shapes)) {
      if (!shape) continue;
      const failed = shape.sandboxed.failures + shape.inProcess.failures;
      if (failed > 0) problems.push(`webhook (${name}): ${failed} requests failed or were refused (sandboxed ${shape.sandboxed.failures}, in process ${shape.inProcess.failures}); its req/s counts answered 2xx only`);
    }
  }
  return problems;
}

/** Writes the report as JSON, creating the folder. */
export function writeReport(report: BenchReport, file: string): string {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, `${JSON.stringify(report, null, 2)}\n`);
  return target;
}

export { formatReport } from './format-report.ts';
