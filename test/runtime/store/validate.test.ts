// Checker.time: times are stored as canonical ISO-8601 UTC strings, so string order is time order.
import { describe, expect, it } from 'vitest';
import { Checker } from '../../../runtime/store/validate.ts';

const time = (v: unknown) => new Checker('op').time('at', v);

describe('Checker.time', () => {
  it('keeps a canonical time, and makes any other spelling of a time canonical UTC', () => {
    expect(time('2026-12-06T02:40:00.123Z')).toBe('2026-12-06T02:40:00.123Z');
    expect(time('2026-12-06T02:40:00Z')).toBe('2026-12-06T02:40:00.000Z');
    expect(time('2026-12-06T04:40:00+02:00')).toBe('2026-12-06T02:40:00.000Z');
    expect(time('2026-12-06')).toBe('2026-12-06T00:00:00.000Z');
  });

  it('refuses what is not a time in one line naming the field, and years outside 0000..9999', () => {
    expect(() => time('yesterday')).toThrow('op: at must be an ISO-8601 time, got the string "yesterday"');
    expect(() => time(1765000000000)).toThrow(/^op: at must be an ISO-8601 time, got /);
    expect(() => time(null)).toThrow(/^op: at must be an ISO-8601 time, got /);
    expect(() => time('2026-13-01T00:00:00Z')).toThrow(/must be an ISO-8601 time/);
    expect(() => time('+010000-01-01T00:00:00.000Z')).toThrow('op: at is outside years 0000..9999: +010000-01-01T00:00:00.000Z');
  });
});
