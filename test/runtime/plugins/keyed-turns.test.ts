// KeyedTurns: one work per key at a time, in arrival order; other keys are not held; a failure
// does not block the next work; no key is kept once its works are done.
import { describe, expect, it } from 'vitest';
import { KeyedTurns } from '../../../runtime/plugins/keyed-turns.ts';

describe('KeyedTurns', () => {
  it('runs the works of one key one after another, and another key beside them', async () => {
    const turns = new KeyedTurns();
    const order: string[] = [];
    let openFirst!: () => void;
    const first = turns.run('a', async () => { order.push('a1 start'); await new Promise<void>((r) => { openFirst = r; }); order.push('a1 end'); });
    const second = turns.run('a', async () => { order.push('a2'); });
    // Positive control: another key does not wait for 'a'.
    await turns.run('b', async () => { order.push('b'); });
    expect(order).toEqual(['a1 start', 'b']);
    openFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('a failed work rejects its own caller only; the next one runs', async () => {
    const turns = new KeyedTurns();
    const failed = turns.run('a', async () => { throw new Error('refused'); });
    const next = turns.run('a', async () => 'ran');
    await expect(failed).rejects.toThrow('refused');
    await expect(next).resolves.toBe('ran');
    await new Promise((r) => setImmediate(r));
    expect((turns as unknown as { tails: Map<string, unknown> }).tails.size).toBe(0);
  });
});
