import { describe, expect, test } from 'vitest';
import { idTime, isId, newId } from '../../../runtime/store/ids.ts';

describe('ids', () => {
  test('are 24 lowercase hex digits that carry their creation second, like ObjectIds', () => {
    const at = Date.parse('2031-03-04T05:06:07.890Z');
    const id = newId(at);
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(id.slice(0, 8)).toBe(Math.floor(at / 1000).toString(16).padStart(8, '0'));
    expect(idTime(id).toISOString()).toBe('2031-03-04T05:06:07.000Z');
    expect(isId(id)).toBe(true);
    expect(isId(id.toUpperCase())).toBe(false);
    expect(isId(`${id}0`)).toBe(false);
  });

  test('are unique and, within one process, sort in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => newId(Date.parse('2030-01-01T00:00:00Z')));
    expect(new Set(ids).size).toBe(ids.length);
    const sortable = ids.slice(0, 100);
    // The 3-byte counter may wrap once across a run; within 100 consecutive ids a wrap shows as one descent at most.
    const descents = sortable.filter((id, i) => i > 0 && id < sortable[i - 1]).length;
    expect(descents).toBeLessThanOrEqual(1);
  });

  test('refuse times an id cannot encode', () => {
    expect(() => newId(-1000)).toThrow(/outside the range an id can encode/);
    expect(() => idTime('xyz')).toThrow(/is not a 24-hex id/);
  });
});
