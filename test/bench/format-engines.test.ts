// The engines side by side in the bench's table: every headline figure has a row, each engine a
// column; an engine without figures says "<engine>: not available (<reason>)" in each of its cells,
// and the goals table names the engine on every row.
import { describe, expect, it } from 'vitest';
import { FIGURE_ROWS, engineCell } from '../../bench/format-engines.ts';
import { figuresOf } from '../../bench/run-bench.ts';
import type { BenchReport, EngineColumn } from '../../bench/run-bench.ts';
import { formatReport } from '../../bench/format-report.ts';
import { computeGoals } from '../../bench/goals.ts';

const none: BenchReport['details'] = { call: null, webhook: null, startup: null, density: null, sweep: null, noisy: null };
const startup = { cold: { totalMs: 12.5 }, warm: { totalMs: 3 }, warmRebundled: { totalMs: 4 }, coldOwnProcess: { totalMs: 40 }, esbuildServiceStartMs: 20, sandboxProcessStartMs: 30, firstPluginOfServerMs: 62.5 } as unknown as BenchReport['details']['startup'];

function column(engine: 'isolated-vm' | 'quickjs', details: BenchReport['details'], missing: EngineColumn['missing'] = {}, unavailable: string | null = null): EngineColumn {
  return { engine, unavailable, missing, figures: figuresOf(details), details };
}

describe('engines side by side', () => {
  it('has a row for every headline figure', () => {
    expect(FIGURE_ROWS.map((r) => r.key).sort()).toEqual(Object.keys(figuresOf(none)).sort());
  });

  it('prints each engine its own figure, or why it has none', () => {
    const row = FIGURE_ROWS.find((r) => r.key === 'cold_start_ms')!;
    expect(engineCell(column('quickjs', { ...none, startup }), row)).toBe('12.5');
    expect(engineCell(column('quickjs', none, { startup: 'the engine is missing' }), row)).toBe('quickjs: not available (the engine is missing)');
    expect(engineCell(column('quickjs', none), row)).toBe('—');
  });

  it('the table has a column per engine and the goals name their engine', () => {
    const why = "engine 'quickjs' is not available in this sandbox process";
    const missing = { startup: why };
    const report = {
      ...figuresOf({ ...none, startup }),
      engines: [column('isolated-vm', { ...none, startup }), column('quickjs', none, missing, why)],
      goals: [...computeGoals({ ...none, startup }, 'isolated-vm'), ...computeGoals(none, 'quickjs', missing)],
      meta: { profile: 'quick', date: 'd', node: 'v24', isolatedVm: '7', cpus: 2, cpuModel: 'cpu', loadAvgStart: [0], loadAvgEnd: [0], durationS: 1, warning: null, problems: [], scenarios: ['startup'], sweepSizes: [], engines: ['isolated-vm', 'quickjs'], primaryEngine: 'isolated-vm' },
      details: { ...none, startup: null },
    } as unknown as BenchReport;
    const text = formatReport(report);
    expect(text).toMatch(/figure +isolated-vm +quickjs/);
    expect(text).toMatch(/start-up: never-seen plugin, ms +12\.5 +quickjs: not available \(engine 'quickjs' is not available in this sandbox process\)/);
    // Only the scenarios run have rows.
    expect(text).not.toMatch(/call, 1 tx read ÷ JSON floor/);
    // Goal rows: the same goal on both engines, next to each other.
    expect(text).toMatch(/start-up of a known plugin \(warm\), ms +isolated-vm +≤ 5 ms +3\.00 +yes\nstart-up of a known plugin \(warm\), ms +quickjs +≤ 5 ms +— +quickjs: not available/);
    expect(text).toContain('==== isolated-vm: the figures in detail ====');
    expect(text).not.toContain('==== quickjs');
  });
});
