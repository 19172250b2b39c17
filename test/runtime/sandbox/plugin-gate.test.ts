// The per-plugin gate with a clock the test moves: the CPU budget slides (charges leave the window),
// the queue is bounded and FIFO, a queued call gives up at its wait, and over budget the queue empties.
import { describe, expect, it } from 'vitest';
import { PluginGate } from '../../../runtime/sandbox/plugin-gate.ts';

function gate(o: Partial<ConstructorParameters<typeof PluginGate>[0]> = {}) {
  let t = 0;
  const g = new PluginGate({ cpuMsPerWindow: 1000, cpuWindowMs: 10_000, maxConcurrentCalls: 1, maxQueuedCalls: 1, ...o }, () => t);
  return { g, advance: (ms: number) => { t += ms; } };
}

describe('plugin gate', () => {
  it('refuses over budget until the charges slide out of the window, and says when', async () => {
    const { g, advance } = gate();
    g.charge(600);
    advance(3000);
    g.charge(500);
    expect(g.budgetShare()).toBeCloseTo(1.1);
    const refused = await g.acquire(100);
    expect(refused).toMatchObject({ ok: false, retryInMs: 7000 }); // when the 600 ms charge leaves
    expect(g.wouldRefuse()).not.toBeNull();
    advance(7000);
    expect(g.usedMs()).toBe(500);
    const admitted = await g.acquire(100);
    expect(admitted.ok).toBe(true); // control: under budget again
  });

  it('queues one call behind the running one, refuses the next at once, and admits in order', async () => {
    const { g } = gate({ cpuMsPerWindow: 1e9 });
    const first = await g.acquire(10_000);
    expect(first.ok).toBe(true);
    const queued = g.acquire(10_000);
    const refused = await g.acquire(10_000);
    expect(refused).toMatchObject({ ok: false, message: expect.stringMatching(/maxQueuedCalls 1/) });
    if (first.ok) first.release();
    expect((await queued).ok).toBe(true);
    expect(g.runningCalls).toBe(1);
  });

  it('a queued call gives up at its wait; one waiting while the budget runs out is refused', async () => {
    const { g } = gate();
    const running = await g.acquire(10_000);
    expect(running.ok).toBe(true);
    expect(await g.acquire(20)).toMatchObject({ ok: false, message: expect.stringMatching(/waited 20 ms/) });
    const waiting = g.acquire(10_000);
    g.charge(1500);
    expect(await waiting).toMatchObject({ ok: false, message: expect.stringMatching(/budget is 1000 ms/) });
  });
});
