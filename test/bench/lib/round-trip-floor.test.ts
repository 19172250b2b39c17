// The round-trip floor's two ends: each round trip resolves only once the echo process has
// answered, and close() ends that process (none is left behind by a bench run).
import { describe, expect, it } from 'vitest';
import { startJsonFloor, startRawFloor } from '../../../bench/lib/round-trip-floor.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('round-trip floor', () => {
  for (const [name, start] of [['JSON frames', startJsonFloor], ['raw bytes', startRawFloor]] as const) {
    it(`${name}: round trips complete one after another, and close() ends the echo process`, async () => {
      const floor = await start();
      try {
        expect(alive(floor.pid)).toBe(true);
        for (let i = 0; i < 50; i++) await floor.roundTrip();
      } finally {
        await floor.close();
      }
      expect(alive(floor.pid)).toBe(false);
    }, 30_000);
  }

  it('JSON frames: a round trip waits for its own answer (the echo is not answered locally)', async () => {
    const floor = await startJsonFloor();
    let settled = false;
    try {
      process.kill(floor.pid, 'SIGSTOP');
      const trip = floor.roundTrip().then(() => { settled = true; });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(settled).toBe(false);
      process.kill(floor.pid, 'SIGCONT');
      await trip;
      expect(settled).toBe(true);
    } finally {
      await floor.close();
    }
  }, 30_000);
});
