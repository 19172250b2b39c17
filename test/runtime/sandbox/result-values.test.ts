// What a result may hold, counted in values: the check runs in the sandbox process and again in
// the server (an escaped sandbox process could skip the first), so it must itself be cheap and
// safe on any parsed JSON, however large or deep.
import { describe, expect, it } from 'vitest';
import { MAX_RESULT_VALUES, holdsMoreThan } from '../../../runtime/sandbox/result-values.ts';

describe('holdsMoreThan', () => {
  it('counts strings, numbers, keys, arrays and objects', () => {
    expect(holdsMoreThan('text', 1)).toBe(false);
    expect(holdsMoreThan('text', 0)).toBe(true);
    // [ {a: 1}, "x" ]: the array, the object, its key, its value, the string.
    expect(holdsMoreThan([{ a: 1 }, 'x'], 5)).toBe(false);
    expect(holdsMoreThan([{ a: 1 }, 'x'], 4)).toBe(true);
  });

  it('refuses a large array by its length, and counts up to the limit exactly', () => {
    expect(holdsMoreThan(new Array(2_000_000).fill(0), MAX_RESULT_VALUES)).toBe(true);
    expect(holdsMoreThan(new Array(MAX_RESULT_VALUES - 1).fill(0), MAX_RESULT_VALUES)).toBe(false); // the array itself is one
    expect(holdsMoreThan(new Array(MAX_RESULT_VALUES).fill(0), MAX_RESULT_VALUES)).toBe(true);
  });

  it('walks nesting far deeper than the call stack without recursion', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(holdsMoreThan(deep, 300_000)).toBe(false);
    expect(holdsMoreThan(deep, MAX_RESULT_VALUES)).toBe(true);
  });

  it('lets ordinary payout results through', () => {
    const fields = Array.from({ length: 50 }, (_, i) => ({ _id: `f${i}`, name: 'Card', regexp: '^[0-9]{16}$', required: true }));
    expect(holdsMoreThan(fields, MAX_RESULT_VALUES)).toBe(false);
  });
});
