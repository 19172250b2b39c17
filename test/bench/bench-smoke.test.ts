// Smoke test of `payout-sandbox bench --quick --json`: the command runs end to end and prints one
// JSON object whose headline figures are all finite numbers, whose goals are computed from what
// the run measured (null where --quick does not reach), and whose scenarios account for what
// they did (every request of the noisy-neighbour flood answered or counted unanswered; each model
// of the density scenario placed as it says). It asserts no performance target: figures from a
// test run (a busy machine, a short run) mean nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve('runtime/cli/bin.js');

const REQUIRED = [
  'round_trip_floor_raw_us_p50', 'round_trip_floor_json_us_p50', 'call_ratio_bare', 'call_ratio_config', 'call_ratio_config_server', 'call_ratio_secret', 'call_ratio_tx_read',
  'call_server_cpu_us_bare', 'call_server_cpu_us_config', 'call_server_cpu_us_config_server', 'call_server_cpu_us_secret', 'call_server_cpu_us_tx_read',
  'webhook_throughput_ratio', 'cold_start_ms', 'esbuild_service_start_ms', 'sandbox_process_start_ms', 'first_plugin_of_server_ms', 'warm_start_ms',
  'rss_per_plugin_mb', 'rss_per_plugin_mb_shared_group', 'private_per_plugin_mb', 'private_per_plugin_mb_shared_group', 'cold_start_own_process_ms',
  'noisy_neighbour_p99_ratio', 'noisy_neighbour_quiet_faults', 'noisy_neighbour_quiet_payouts_not_done',
];

// What --quick does not reach (no memory-store webhook shape, fewer than 10 plugins, sweeps of 20
// and 60 txs): these goals must say "not measured" (null), not borrow a figure from elsewhere.
const NOT_MEASURED_IN_QUICK = [/memory store/, /density: .* at 10 plugins/, /density: .* at 50 plugins/, /sweep of 1 000/, /sweep of 10 000/];

interface Goal { goal: string; engine: string; target: string; value: number | null; met: boolean | null; unavailable: string | null }
interface EngineColumn { engine: string; unavailable: string | null; missing: Record<string, string>; figures: Record<string, number | null> }

interface Details {
  call: { segments: Record<string, { calls: number; roundTrips: number; sumOfMediansUs: number; medianTotalUs: number } | null> };
  startup: { cold: { loadMs: number; loadPhases: Record<string, number> }; warm: { loadPhases: Record<string, number> } };
  sweep: { repeats: number; points: { txs: number; runs: { sandboxed: number[]; inProcess: number[] }; overheadPctOfProvider: number | null }[] };
  density: { processPerPlugin: { points: { plugins: number; processes: number }[] }; sharedGroup: { points: { plugins: number; processes: number }[] } };
  noisy: {
    alone: { quiet: { n: number }; payouts: { attempted: number } };
    flood: { quiet: { n: number }; payouts: { attempted: number } };
    noisy: { sent: number; statuses: Record<string, number>; errors: number; timeouts: number; rateLimited: number; inbox: { rows: number; statuses: Record<string, number> } };
  };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('payout-sandbox bench --quick --json', () => {
  it('prints one JSON object with every headline figure a finite number, and writes it to --out', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-bench-smoke-'));
    const out = path.join(dir, 'result.json');
    try {
      const r = await run(['bench', '--quick', '--json', '--out', out]);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      // Nothing but the one object on stdout (progress goes to stderr).
      const report = JSON.parse(r.stdout) as Record<string, unknown>;
      for (const key of REQUIRED) {
        expect(typeof report[key], `${key} = ${String(report[key])}`).toBe('number');
        expect(Number.isFinite(report[key]), `${key} = ${String(report[key])}`).toBe(true);
      }
      // Every other headline figure is a finite number too, or null where --quick skips it.
      for (const [key, value] of Object.entries(report)) {
        if (key === 'goals' || key === 'meta' || key === 'details' || key === 'engines') continue;
        expect(value === null || (typeof value === 'number' && Number.isFinite(value)), `${key} = ${String(value)}`).toBe(true);
      }
      expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(report);
      expect((report.meta as { profile: string }).profile).toBe('quick');

      // One column per engine, the default first; its figures are the headline ones. An engine
      // that cannot run here has every figure missing with the reason, never a borrowed figure.
      const columns = report.engines as EngineColumn[];
      expect(columns.map((c) => c.engine)).toEqual(['isolated-vm', 'quickjs']);
      expect(columns[0]).toMatchObject({ unavailable: null, missing: {} });
      for (const key of REQUIRED) expect(columns[0].figures[key]).toBe(report[key]);
      // QuickJS runs every scenario here: its headline figures are measured, not left out (the
      // branch below is for an engine that cannot run, which format-engines.test.ts covers).
      expect(columns[1].unavailable, columns[1].unavailable ?? '').toBeNull();
      for (const key of REQUIRED) expect(Number.isFinite(columns[1].figures[key]), `quickjs ${key} = ${String(columns[1].figures[key])}`).toBe(true);
      for (const c of columns.filter((x) => x.unavailable)) {
        expect(Object.keys(c.missing).sort()).toEqual(['call', 'density', 'noisy', 'startup', 'sweep', 'webhook']);
        expect(Object.values(c.figures).every((v) => v === null)).toBe(true);
      }

      // Goals: every one listed per engine with a target; a value exactly where this run measured
      // it, and `met` null exactly where the value is.
      const allGoals = report.goals as Goal[];
      const goals = allGoals.filter((g) => g.engine === 'isolated-vm');
      expect(goals.length).toBeGreaterThanOrEqual(16);
      expect(allGoals.filter((g) => g.engine === 'quickjs').map((g) => g.target)).toEqual(goals.map((g) => g.target));
      for (const g of allGoals.filter((x) => x.engine === 'quickjs' && columns[1].unavailable)) {
        expect([g.value, g.met, g.unavailable]).toEqual([null, null, columns[1].unavailable]);
      }
      for (const g of goals) {
        expect(typeof g.goal).toBe('string');
        expect(g.target).toMatch(/^[≤≥0]/);
        const skipped = NOT_MEASURED_IN_QUICK.some((re) => re.test(g.goal));
        expect(g.value === null, `${g.goal}: ${g.value}`).toBe(skipped);
        expect(g.met === null, `${g.goal}: met ${g.met}`).toBe(skipped);
        if (!skipped) expect(typeof g.met).toBe('boolean');
      }
      // The table shows the same goals.
      const table = await run(['bench', '--quick', '--only', 'call']);
      expect(table.code, table.stderr.slice(-2000)).toBe(0);
      expect(table.stdout).toMatch(/Goals \(computed from this run/);
      expect(table.stdout).toMatch(/call with one tx read ÷ JSON round-trip floor.*isolated-vm +≤ 2×/);
      // Every figure side by side, one column per engine; a missing one says why, per figure.
      expect(table.stdout).toMatch(/Every figure per engine[^\n]*\nfigure +isolated-vm +quickjs/);
      if (columns[1].unavailable) expect(table.stdout).toContain(`call, 1 tx read ÷ JSON floor`);
      if (columns[1].unavailable) expect(table.stdout.split('\n').filter((l) => l.includes(`quickjs: not available (${columns[1].unavailable})`)).length).toBeGreaterThanOrEqual(11);

      const details = report.details as Details;
      // Per call: each sandboxed variant traced and split (one round trip, two with a host call to the server).
      expect(Object.fromEntries(Object.entries(details.call.segments).map(([v, s]) => [v, s && s.calls > 0 ? s.roundTrips : null])))
        .toEqual({ bare: 1, config: 1, configServer: 2, secret: 2, txRead: 2 });
      expect(table.stdout).toMatch(/Where a sandboxed call's time goes/);
      // Start-up: the load stage split into its parts inside the sandbox process (the trace).
      for (const stage of [details.startup.cold, details.startup.warm]) {
        expect(Object.keys(stage.loadPhases)).toEqual(['context', 'prelude', 'library', 'compile', 'run', 'construct']);
        for (const ms of Object.values(stage.loadPhases)) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }
      // Sweeps: both sizes, each variant run `repeats` times on a fresh store.
      expect(details.sweep.points.map((p) => p.txs)).toEqual([20, 60]);
      for (const p of details.sweep.points) {
        expect(p.runs.sandboxed).toHaveLength(details.sweep.repeats);
        expect(p.runs.inProcess).toHaveLength(details.sweep.repeats);
        expect(Number.isFinite(p.overheadPctOfProvider)).toBe(true);
      }
      // Density: one process per plugin by default, one process for the whole shared group.
      expect(details.density.processPerPlugin.points.map((p) => p.processes)).toEqual(details.density.processPerPlugin.points.map((p) => p.plugins));
      expect(details.density.sharedGroup.points.every((p) => p.processes === 1)).toBe(true);
      // Noisy neighbour: every flood request is accounted for, and both conditions were measured.
      const flood = details.noisy.noisy;
      const answered = Object.values(flood.statuses).reduce((a, b) => a + b, 0);
      expect(flood.sent).toBeGreaterThan(0);
      expect(answered + flood.errors + flood.timeouts).toBe(flood.sent);
      // The server's record agrees: every delivery past the rate limit has an inbox row, finished.
      expect(flood.inbox.rows).toBe(flood.sent - flood.rateLimited);
      expect(flood.inbox.statuses.unfinished ?? 0).toBe(0);
      for (const c of [details.noisy.alone, details.noisy.flood]) {
        expect(c.quiet.n).toBeGreaterThan(0);
        expect(c.payouts.attempted).toBeGreaterThan(0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
