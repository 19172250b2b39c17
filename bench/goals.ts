// The goals of a bench run ("Cheap crossings"), each computed from what that run measured, per
// engine: {goal, engine, target, value, met}. `met` is null when the run did not measure the figure
// (a scenario left out, a size --quick does not reach, the engine not available here: then
// `unavailable` says why); no value is ever filled in from elsewhere, nor from another engine.
import type { BenchReport, ScenarioName } from './run-bench.ts';
import type { DensityModel } from './scenarios/density.ts';
import { DEFAULT_ENGINE } from '../runtime/sandbox/protocol.ts';
import type { EngineName } from '../runtime/sandbox/protocol.ts';

export interface Goal {
  goal: string;
  /** The engine the figure was measured on. */
  engine: EngineName;
  target: string;
  value: number | null;
  met: boolean | null;
  /** Why this engine has no figure for the goal's scenario (not available here, or it failed there); null otherwise. */
  unavailable: string | null;
}

type Details = BenchReport['details'];

type GoalOf = (scenario: ScenarioName, name: string, target: string, value: number | null | undefined, ok: (v: number) => boolean) => Goal;

function goalFor(engine: EngineName, missing: Partial<Record<ScenarioName, string>>): GoalOf {
  return (scenario, name, target, value, ok) => {
    const v = value === undefined || value === null || !Number.isFinite(value) ? null : value;
    return { goal: name, engine, target, value: v, met: v === null ? null : ok(v), unavailable: v === null ? missing[scenario] ?? null : null };
  };
}

const atMost = (limit: number) => (v: number) => v <= limit;
const atLeast = (limit: number) => (v: number) => v >= limit;

/**
 * Private MB each idle plugin added on the way to `count` plugins (RSS where the kernel does not
 * report private memory), or null when the run did not load that many.
 */
function addedAt(model: DensityModel | undefined, count: number): { mb: number | null; measure: string } {
  const point = model?.points.find((p) => p.plugins === count);
  if (point && point.addedPrivatePerPluginMb === null) return { mb: point.addedPerPluginMb, measure: 'RSS' };
  return { mb: point?.addedPrivatePerPluginMb ?? null, measure: 'private' };
}

/** Host overhead as % of provider time at exactly `txs` pending txs, or null when not swept. */
function sweepAt(d: Details, txs: number): number | null {
  return d.sweep?.points.find((p) => p.txs === txs)?.overheadPctOfProvider ?? null;
}

/** The goals on one engine (`missing`: scenarios without figures on it, and why). */
export function computeGoals(d: Details, engine: EngineName = DEFAULT_ENGINE, missing: Partial<Record<ScenarioName, string>> = {}): Goal[] {
  const goal = goalFor(engine, missing);
  const call = d.call?.variants;
  const floor = d.call ? ` (floor: JSON round trip ${d.call.floor.json.p50} µs p50)` : '';
  const startupApart = d.startup
    ? ` (apart: esbuild service start ${d.startup.esbuildServiceStartMs} ms, sandbox process start ${d.startup.sandboxProcessStartMs} ms)`
    : '';
  const density = (model: DensityModel | undefined, label: string, count: number) => {
    const added = addedAt(model, count);
    return goal('density', `density: ${added.measure} MB per idle plugin at ${count} plugins, ${label}`, '≤ 2.5 MB', added.mb, atMost(2.5));
  };
  return [
    goal('call', `call with one tx read ÷ JSON round-trip floor${floor}`, '≤ 2×', call?.txRead.ratioToFloor, atMost(2)),
    goal('call', `call with one secret read ÷ JSON round-trip floor${floor}`, '≤ 2×', call?.secret.ratioToFloor, atMost(2)),
    goal('call', `call with one cacheable config.get ÷ JSON round-trip floor${floor}`, '≤ 1.5×', call?.config.ratioToFloor, atMost(1.5)),
    goal('webhook', 'webhook throughput, memory store: sandboxed / in process', '≥ 0.9×', d.webhook?.memoryStore?.ratio, atLeast(0.9)),
    goal('webhook', 'webhook throughput, file store: sandboxed / in process', '≥ 1.0×', d.webhook?.hostCalls.ratio, atLeast(1.0)),
    goal('startup', `start-up of a never-seen plugin, ms${startupApart}`, '≤ 30 ms', d.startup?.cold.totalMs, atMost(30)),
    goal('startup', 'start-up of a known plugin (warm), ms', '≤ 5 ms', d.startup?.warm.totalMs, atMost(5)),
    density(d.density?.processPerPlugin, 'process per plugin (default)', 10),
    density(d.density?.processPerPlugin, 'process per plugin (default)', 50),
    density(d.density?.sharedGroup, 'one shared group', 10),
    density(d.density?.sharedGroup, 'one shared group', 50),
    goal('sweep', 'sweep of 1 000 pending txs: host overhead, % of provider time', '≤ 10 %', sweepAt(d, 1000), atMost(10)),
    goal('sweep', 'sweep of 10 000 pending txs: host overhead, % of provider time', '≤ 10 %', sweepAt(d, 10_000), atMost(10)),
    goal('noisy', 'noisy neighbour: quiet plugin\'s webhook p99, flood / alone', '≤ 2×', d.noisy?.p99Ratio, atMost(2)),
    goal('noisy', 'noisy neighbour: quiet plugin\'s breaker faults', '0', d.noisy?.quietFaults, (v) => v === 0),
    goal('noisy', 'noisy neighbour: quiet plugin\'s payouts not done under the flood', '0', d.noisy ? d.noisy.flood.payouts.attempted - d.noisy.flood.payouts.done : null, (v) => v === 0),
  ];
}
