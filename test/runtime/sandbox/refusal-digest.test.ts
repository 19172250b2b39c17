// Refusals are written once per plugin per window: the first at once, the rest as one count.
import { describe, expect, it } from 'vitest';
import { RefusalDigest } from '../../../runtime/sandbox/refusal-digest.ts';

describe('refusal digest', () => {
  it('writes the first refusal of a window, counts the rest into one line, per plugin', () => {
    const lines: string[] = [];
    const d = new RefusalDigest({ windowMs: 60_000, write: (plugin, count, text) => lines.push(`${plugin} ${count} ${text}`) });
    for (let i = 0; i < 1000; i++) d.note('flooded', `refusal ${i}`);
    d.note('other', 'its own refusal');
    expect(lines).toEqual(['flooded 1 refusal 0', 'other 1 its own refusal']);
    d.flush();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^flooded 999 999 more refused in 60 s; the first: refusal 0$/);
    d.note('flooded', 'a new window');
    expect(lines.at(-1)).toBe('flooded 1 a new window'); // control: after the window, written at once again
  });
});
