// The security suite's stall measure (tally.ts, maxEventLoopGap): it must see an event loop kept
// busy, and must not blame a loop that merely waited, however late its timer ticks come.
import { describe, expect, it } from 'vitest';
import { maxEventLoopGap, sleep } from './tally.ts';

function threadCpuMs(): number {
  const used = process.threadCpuUsage();
  return (used.user + used.system) / 1000;
}

/** Keeps this thread busy, without turning the event loop, for `ms` of its own CPU time. */
function spinCpu(ms: number): void {
  const until = threadCpuMs() + ms;
  while (threadCpuMs() < until) { /* busy */ }
}

describe('maxEventLoopGap', () => {
  it('sees a loop kept busy without turning (positive control)', async () => {
    const { stallMs } = await maxEventLoopGap(async () => {
      await sleep(30);
      spinCpu(600);
      await sleep(30);
    });
    expect(stallMs).toBeGreaterThanOrEqual(600);
  });

  it('sees a busy stretch at the very end of the work too', async () => {
    const { stallMs } = await maxEventLoopGap(async () => { spinCpu(300); });
    expect(stallMs).toBeGreaterThanOrEqual(300);
  });

  it('does not count waiting as a stall: the loop turned in between', async () => {
    const { stallMs } = await maxEventLoopGap(async () => {
      for (let i = 0; i < 20; i++) {
        spinCpu(5);
        await sleep(20);
      }
    });
    expect(stallMs).toBeLessThan(100);
  });
});
