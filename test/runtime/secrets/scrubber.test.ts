// What the scrubber keeps between calls (compiled patterns, the shortest text worth decoding) is
// built from the set of known secrets: a secret added or changed after it was built is scrubbed
// all the same, by every entry point.
import { describe, expect, it } from 'vitest';
import { Scrubber } from '../../../runtime/secrets/scrubber.ts';

const LONG = 'sk_live/9fQ+Zr2=Wb7_Kx4pL-0123456789abcdef';
const SHORT = 'pk_9fQ2Wb7Kx4pLzz'; // 17 characters: shorter than any form of LONG
const hex = (s: string) => Buffer.from(s).toString('hex');

describe('scrubber: what it caches follows the set of secrets', () => {
  it('a secret added after the patterns were built is scrubbed, shorter than every form before it', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    // Builds the patterns; control: the value is not a secret yet, and passes.
    expect(s.scrub(SHORT)).toBe(SHORT);
    expect(s.scrubFor('acme', SHORT)).toBe(SHORT);
    expect(s.scrubDeepFor('acme', { [SHORT]: [SHORT] })).toEqual({ [SHORT]: [SHORT] });
    s.add(SHORT, 'acme.webhookSecret');
    expect(s.scrub(SHORT)).toBe('[redacted:acme.webhookSecret]');
    expect(s.scrubFor('acme', `x${SHORT}`)).toBe('x[redacted:acme.webhookSecret]');
    expect(s.scrubDeepFor('acme', { [SHORT]: [SHORT, hex(SHORT)] })).toEqual({
      '[redacted:acme.webhookSecret]': ['[redacted:acme.webhookSecret]', '[redacted:acme.webhookSecret]'],
    });
    // The earlier secret still is, too.
    expect(s.scrubFor('acme', LONG)).toBe('[redacted:acme.apiKey]');
  });

  it('a changed secret: the new value is scrubbed, the removed one no longer', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    expect(s.scrubFor('acme', LONG)).toBe('[redacted:acme.apiKey]');
    s.remove(LONG);
    s.add(SHORT, 'acme.apiKey');
    expect(s.scrubFor('acme', LONG)).toBe(LONG);
    expect(s.scrubFor('acme', SHORT)).toBe('[redacted:acme.apiKey]');
    expect(s.scrub(`a ${SHORT} b`)).toBe('a [redacted:acme.apiKey] b');
  });

  it('a text exactly as long as the shortest form is still searched; one character shorter cannot hold it', () => {
    const s = new Scrubber();
    s.add(SHORT, 'acme.apiKey');
    // The shortest form is a fragment of half the secret (8 characters).
    const fragment = SHORT.slice(0, Math.floor(SHORT.length / 2));
    expect(s.scrub(fragment)).toBe('[redacted:acme.apiKey]');
    expect(s.scrub(fragment.slice(1))).toBe(fragment.slice(1));
    // Decoding never lengthens a text: a fragment spelt with escapes is longer, and caught.
    expect(s.scrub(fragment.replace('_', '\\u005f'))).toBe('[redacted:acme.apiKey]');
  });

  it('each plugin\'s own patterns follow their own secrets', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    expect(s.scrubFor('beta', SHORT)).toBe(SHORT);
    s.add(SHORT, 'beta.apiKey');
    expect(s.scrubFor('beta', SHORT)).toBe('[redacted:beta.apiKey]');
    // Another plugin's secret is not redacted in text of that plugin (scrubFor is per owner).
    expect(s.scrubFor('acme', SHORT)).toBe(SHORT);
  });
});

describe('scrubber: the hex view is searched only where a hex form fits', () => {
  it('a secret in hex, in either case and mixed, inside other hex digits and text, is redacted; shorter runs pass', () => {
    const s = new Scrubber();
    s.add(SHORT, 'acme.apiKey');
    const h = hex(SHORT);
    expect(s.scrub(`sig=${h};`)).toBe('sig=[redacted:acme.apiKey];');
    expect(s.scrub(`sig=${h.toUpperCase()}`)).toBe('sig=[redacted:acme.apiKey]');
    const mixed = [...h].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    expect(s.scrub(`00ff${mixed}00ff`)).toBe('00ff[redacted:acme.apiKey]00ff');
    // Its pieces too: the hex of half the secret (8 characters, 16 digits) is caught; one digit
    // less is no form (control), nor is the hex of something else.
    expect(s.scrub(`x${h.slice(0, 16)}`)).toBe('x[redacted:acme.apiKey]');
    expect(s.scrub(`x${h.slice(0, 15)}`)).toBe(`x${h.slice(0, 15)}`);
    const other = hex('pk_0000000000000');
    expect(s.scrub(`sig=${other}`)).toBe(`sig=${other}`);
  });
});

describe('scrubDeepFor: the copy it returns', () => {
  it('keeps a "__proto__" key an own property, and every value and key where it was', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    const input = JSON.parse(`{"__proto__":{"polluted":"${SHORT}"},"list":["${LONG}",1,null,true],"${LONG}":{"toString":"x"}}`);
    const out = s.scrubDeepFor('acme', input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(out))).toEqual(JSON.parse(`{"__proto__":{"polluted":"${SHORT}"},"list":["[redacted:acme.apiKey]",1,null,true],"[redacted:acme.apiKey]":{"toString":"x"}}`));
    // The input is not changed.
    expect(input.list[0]).toBe(LONG);
  });

  it('keeps every object\'s keys in their order, at every depth (a result reads as the plugin wrote it)', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    const input = { _id: 'card', name: LONG, nested: { z: 1, a: [{ second: 2, first: 1 }], m: null }, last: true };
    const out = s.scrubDeepFor('acme', input);
    expect(JSON.stringify(out)).toBe(JSON.stringify({ ...input, name: '[redacted:acme.apiKey]' }));
    expect(Object.keys(out)).toEqual(['_id', 'name', 'nested', 'last']);
  });

  it('hands back non-objects and the value itself when the plugin has no secret', () => {
    const s = new Scrubber();
    s.add(LONG, 'acme.apiKey');
    const value = { a: LONG };
    expect(s.scrubDeepFor('beta', value)).toBe(value);
    expect(s.scrubDeepFor('acme', 7)).toBe(7);
    expect(s.scrubDeepFor('acme', LONG)).toBe('[redacted:acme.apiKey]');
  });
});
