// Smoke test of `payout-sandbox bench --quick --json`: the command runs end to end and prints one
// JSON object whose headline figures are all finite numbers, and whose scenarios account for what
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
  'webhook_throughput_ratio', 'call_overhead_us_p50', 'call_overhead_us_p99', 'cold_start_ms', 'warm_start_ms',
  'rss_per_plugin_mb', 'rss_per_plugin_mb_shared_group', 'cold_start_own_process_ms', 'sweep_ms_per_tx_1k', 'sweep_ms_per_tx_10k',
  'noisy_neighbour_p99_ratio', 'noisy_neighbour_quiet_faults', 'noisy_neighbour_quiet_payouts_not_done',
];

interface Details {
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
        if (key === 'targets' || key === 'meta' || key === 'details') continue;
        expect(value === null || (typeof value === 'number' && Number.isFinite(value)), `${key} = ${String(value)}`).toBe(true);
      }
      expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(report);
      expect((report.meta as { profile: string }).profile).toBe('quick');

      const details = report.details as Details;
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
