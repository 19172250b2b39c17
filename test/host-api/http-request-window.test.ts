// The per-minute request window of http.request and IPN: exact sliding 60 s, whatever it holds.
// It drops expired starts from the front (O(1) a request); these tests pin that it still counts
// exactly what a filter over every start would, across its compaction of the kept starts too.
import { describe, expect, it } from 'vitest';
import { RequestWindow } from '../../host-api/http.ts';

describe('RequestWindow', () => {
  it('refuses the start past the limit, and frees exactly one slot as each start turns 60 s old', () => {
    let t = 1_000_000;
    const w = new RequestWindow(3, () => t);
    for (const dt of [0, 10_000, 20_000]) {
      t = 1_000_000 + dt;
      expect(w.take('a')).toBe(true);
    }
    expect(w.take('a')).toBe(false);
    expect(w.take('b')).toBe(true);
    t = 1_000_000 + 59_999;
    expect(w.take('a')).toBe(false);
    t = 1_000_000 + 60_000;
    expect(w.take('a')).toBe(true);
    expect(w.take('a')).toBe(false);
  });

  it('counts exactly across the compaction of thousands of starts', () => {
    let t = 0;
    const limit = 3000;
    const w = new RequestWindow(limit, () => t);
    for (let i = 0; i < limit; i++) {
      t = i * 10;
      expect(w.take('a')).toBe(true);
    }
    expect(w.take('a')).toBe(false);
    // 60 s after start i, only the starts after i still count: one slot per start that aged out.
    t = 60_000 + 2500 * 10;
    let admitted = 0;
    while (w.take('a')) admitted++;
    expect(admitted).toBe(2501);
    t += 10;
    expect(w.take('a')).toBe(true);
    expect(w.take('a')).toBe(false);
  });
});
