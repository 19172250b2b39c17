// computeGoals: each goal's `met` follows from the value measured in that run and the target;
// a scenario not run, or a size not reached, gives value and met null (never a borrowed figure).
import { describe, expect, it } from 'vitest';
import { computeGoals } from '../../bench/goals.ts';
import type { BenchReport } from '../../bench/run-bench.ts';

type Details = BenchReport['details'];

const none: Details = { call: null, webhook: null, startup: null, density: null, sweep: null, noisy: null };

function find(goals: ReturnType<typeof computeGoals>, pattern: RegExp) {
  const g = goals.find((x) => pattern.test(x.goal));
  if (!g) throw new Error(`no goal matches ${pattern}`);
  return g;
}

const variant = (ratio: number) => ({ ratioToFloor: ratio });
// Private MB added per plugin as given; RSS 40 MB more (the shared Node binary each process counts).
const densityPoints = (added: Record<number, number>) => ({ points: Object.entries(added).map(([plugins, mb]) => ({ plugins: Number(plugins), addedPerPluginMb: mb + 40, addedPrivatePerPluginMb: mb })) });

describe('bench goals', () => {
  it('is all null when nothing was measured', () => {
    const goals = computeGoals(none);
    expect(goals.length).toBeGreaterThanOrEqual(16);
    for (const g of goals) expect([g.value, g.met]).toEqual([null, null]);
  });

  it('computes met from the measured value on both sides of each limit', () => {
    const details = {
      ...none,
      call: { floor: { json: { p50: 50 } }, variants: { bare: variant(1.1), config: variant(1.6), secret: variant(2), txRead: variant(2.01) } },
      webhook: { hostCalls: { ratio: 0.99 }, memoryStore: { ratio: 0.9 } },
      density: { processPerPlugin: densityPoints({ 1: 30, 10: 2.5, 50: 2.6 }), sharedGroup: densityPoints({ 1: 30, 10: 1 }) },
      sweep: { points: [{ txs: 1000, overheadPctOfProvider: 10 }, { txs: 10_000, overheadPctOfProvider: 10.1 }] },
    } as unknown as Details;
    const goals = computeGoals(details);
    expect(find(goals, /tx read/)).toMatchObject({ value: 2.01, met: false });
    expect(find(goals, /secret read/)).toMatchObject({ value: 2, met: true });
    expect(find(goals, /cacheable config/)).toMatchObject({ value: 1.6, met: false, target: '≤ 1.5×' });
    expect(find(goals, /memory store/)).toMatchObject({ value: 0.9, met: true });
    expect(find(goals, /file store/)).toMatchObject({ value: 0.99, met: false, target: '≥ 1.0×' });
    expect(find(goals, /at 10 plugins, process per plugin/)).toMatchObject({ value: 2.5, met: true });
    expect(find(goals, /at 50 plugins, process per plugin/)).toMatchObject({ value: 2.6, met: false });
    // The shared group stopped at 10: its 50-plugin figure is not measured, not taken from 10.
    expect(find(goals, /at 50 plugins, one shared group/)).toMatchObject({ value: null, met: null });
    expect(find(goals, /sweep of 1 000/)).toMatchObject({ value: 10, met: true });
    expect(find(goals, /sweep of 10 000/)).toMatchObject({ value: 10.1, met: false });
    expect(find(goals, /never-seen/)).toMatchObject({ value: null, met: null });
  });

  it('names the engine of every goal, and says why an engine has no figure instead of borrowing one', () => {
    const details = { ...none, call: { floor: { json: { p50: 50 } }, variants: { bare: variant(1), config: variant(1), secret: variant(1), txRead: variant(1.5) } } } as unknown as Details;
    // Positive control: measured on quickjs, the value is quickjs's own.
    expect(find(computeGoals(details, 'quickjs'), /tx read/)).toMatchObject({ engine: 'quickjs', value: 1.5, met: true, unavailable: null });
    expect(computeGoals(none).every((g) => g.engine === 'isolated-vm')).toBe(true);
    const missing = computeGoals(none, 'quickjs', { call: "engine 'quickjs' is not available", webhook: 'it crashed' });
    expect(find(missing, /tx read/)).toMatchObject({ engine: 'quickjs', value: null, met: null, unavailable: "engine 'quickjs' is not available" });
    expect(find(missing, /file store/)).toMatchObject({ value: null, met: null, unavailable: 'it crashed' });
    // A scenario that was not run at all is "not measured", with no reason.
    expect(find(missing, /never-seen/)).toMatchObject({ value: null, met: null, unavailable: null });
  });

  it('density goals take private memory, and RSS (named so) only where the kernel did not report private memory', () => {
    const withoutPrivate = { points: [{ plugins: 10, addedPerPluginMb: 42, addedPrivatePerPluginMb: null }] };
    const details = { ...none, density: { processPerPlugin: densityPoints({ 10: 2.4 }), sharedGroup: withoutPrivate } } as unknown as Details;
    const goals = computeGoals(details);
    expect(find(goals, /at 10 plugins, process per plugin/)).toMatchObject({ goal: expect.stringMatching(/^density: private MB/), value: 2.4, met: true });
    expect(find(goals, /at 10 plugins, one shared group/)).toMatchObject({ goal: expect.stringMatching(/^density: RSS MB/), value: 42, met: false });
  });

  it('takes sweep and density figures at exactly the sizes named, not the nearest one run', () => {
    const details = {
      ...none,
      density: { processPerPlugin: densityPoints({ 1: 30, 3: 1 }), sharedGroup: densityPoints({ 1: 30, 3: 1 }) },
      sweep: { points: [{ txs: 20, overheadPctOfProvider: 1 }, { txs: 60, overheadPctOfProvider: 1 }] },
    } as unknown as Details;
    const goals = computeGoals(details);
    for (const g of goals.filter((x) => /density|sweep/.test(x.goal))) expect([g.goal, g.value, g.met]).toEqual([g.goal, null, null]);
  });
});
