// Smoke test of `payout-sandbox bench --quick --json`: the command runs end to end and prints one
// JSON object whose headline figures are all finite numbers. It asserts no performance target:
// figures from a test run (a busy machine, a short run) mean nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve('runtime/cli/bin.js');

const REQUIRED = [
  'webhook_throughput_ratio', 'call_overhead_us_p50', 'call_overhead_us_p99', 'cold_start_ms', 'warm_start_ms',
  'rss_per_plugin_mb', 'sweep_ms_per_tx_1k', 'sweep_ms_per_tx_10k',
];

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
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
