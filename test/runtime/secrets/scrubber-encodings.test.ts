// The scrubber against the encodings a provider may echo a secret in, and against a secret cut in
// pieces. Every row has its control: the same text without the secret comes back untouched.
import { describe, expect, it } from 'vitest';
import { Scrubber, fragmentLength, MIN_SCRUBBED_SECRET_LENGTH } from '../../../runtime/secrets/scrubber.ts';

// '/', '+', '=' and '_' are what JSON, PHP, URL and form encoders treat differently.
const SECRET = 'sk_live/9fQ+Zr2=Wb7_Kx4pL';
const LABEL = 'acme.apiKey';

const scrubber = (): Scrubber => {
  const s = new Scrubber();
  s.add(SECRET, LABEL);
  return s;
};
const utf16le = (s: string) => Buffer.from(s, 'utf16le').toString('latin1');
const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16().toString('latin1');
const allEscaped = (s: string, upper = false) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).map((x) => (upper ? x.toUpperCase().replace('\\U', '\\u') : x)).join('');
const everyBytePercent = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const htmlEscaped = (s: string) => s.replace(/[/+=_]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);

/** Echo shapes: how a provider prints what it was sent. `x` stands for the value echoed. */
const ECHOES: Array<[string, (x: string) => string]> = [
  ['plain JSON', (x) => JSON.stringify({ authorization: `Bearer ${x}` })],
  ["PHP json_encode (escapes '/' as '\\/')", (x) => JSON.stringify({ authorization: `Bearer ${x}` }).replace(/\//g, '\\/')],
  ['every character as \\uXXXX (lower-case hex)', (x) => `{"authorization":"${allEscaped(`Bearer ${x}`)}"}`],
  ['every character as \\uXXXX (upper-case hex)', (x) => `{"authorization":"${allEscaped(x, true)}"}`],
  ['some characters as \\uXXXX, the rest plain', (x) => `{"a":"${x.replace(/[_=]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}"}`],
  ['JSON inside a JSON string', (x) => JSON.stringify({ logged: JSON.stringify({ auth: x }).replace(/\//g, '\\/') })],
  ['URL query (encodeURIComponent)', (x) => `https://p.example/echo?key=${encodeURIComponent(x)}`],
  ['URL query, lower-case hex, every byte encoded', (x) => `key=${everyBytePercent(x)}`],
  ['form body (URLSearchParams)', (x) => new URLSearchParams({ note: 'hi', key: x }).toString()],
  ['HTML error page with character references', (x) => `<p>Invalid key ${htmlEscaped(x)}</p>`],
  ['base64 of the whole header line', (x) => Buffer.from(`Authorization: Bearer ${x}`).toString('base64')],
  ['base64, secret at the second byte alignment', (x) => Buffer.from(`a:${x}`).toString('base64')],
  ['base64url of a JSON blob', (x) => Buffer.from(JSON.stringify({ k: x })).toString('base64url')],
  ['hex, lower case', (x) => Buffer.from(`key=${x}`).toString('hex')],
  ['hex, upper case', (x) => Buffer.from(x).toString('hex').toUpperCase()],
  ['UTF-16LE bytes (read as latin1)', (x) => utf16le(`Authorization: Bearer ${x}`)],
  ['UTF-16BE bytes (read as latin1)', (x) => utf16be(`Authorization: Bearer ${x}`)],
  ['cut in two JSON string values at the middle', (x) => JSON.stringify({ keyStart: x.slice(0, Math.floor(x.length / 2)), keyEnd: x.slice(Math.floor(x.length / 2)) })],
  ['cut in two, the second piece \\/-escaped', (x) => `{"a":"${x.slice(0, 11)}","b":"${x.slice(11).replace(/\//g, '\\/')}"}`],
  ['cut in three lines', (x) => `${x.slice(0, 8)}\n${x.slice(8, 8 + fragmentLength(x.length)!)}\n${x.slice(8 + fragmentLength(x.length)!)}`],
];

describe('scrubbing a secret in every encoding a provider may echo', () => {
  it.each(ECHOES)('%s', (_name, echo) => {
    const s = scrubber();
    const leaked = echo(SECRET);
    const out = s.scrub(leaked);
    expect(out).toContain(`[redacted:${LABEL}]`);
    // Nothing of the secret as long as the fragment length is left, in any of the row's spellings.
    const w = fragmentLength(SECRET.length)!;
    for (let i = 0; i + w <= SECRET.length; i++) {
      const piece = SECRET.slice(i, i + w);
      expect(out).not.toContain(piece);
    }
    // Nothing the scrubber recognises is left behind either.
    expect(s.scrub(out)).toBe(out);
    // Control: the same shape around a value that is not a secret passes through untouched.
    const harmless = 'pk_test/1aB+Cd3=Ef4_Gh5iJ';
    expect(s.scrub(echo(harmless))).toBe(echo(harmless));
  });

  it('catches the longer piece of any cut and both pieces of a cut near the middle; shorter pieces pass (by design)', () => {
    const s = scrubber();
    const w = fragmentLength(SECRET.length)!;
    expect(w).toBe(Math.floor(SECRET.length / 2));
    for (let cut = 1; cut < SECRET.length; cut++) {
      const out = s.scrub(JSON.stringify([SECRET.slice(0, cut), SECRET.slice(cut)]));
      const [a, b] = JSON.parse(out) as string[];
      // Whichever piece reaches the fragment length is redacted.
      if (cut >= w) expect(a).toBe(`[redacted:${LABEL}]`);
      if (SECRET.length - cut >= w) expect(b).toBe(`[redacted:${LABEL}]`);
      // Below it a piece is not matched: that is what keeps the scrubber from being a
      // character-by-character oracle for a plugin that makes a provider echo its guesses.
      if (cut < w) expect(a).toBe(SECRET.slice(0, cut));
    }
  });

  it('is not an oracle for short guesses: a known prefix plus one guessed character is left as it is', () => {
    const s = scrubber();
    const guesses = Array.from('abcdefghijklmnopqrstuvwxyz0123456789/+', (c) => `sk_live/${c}`);
    expect(s.scrub(guesses.join(','))).toBe(guesses.join(','));
  });

  it('leaves ordinary text alone and keeps the text around a redaction', () => {
    const s = scrubber();
    const text = 'status=ok; note="sk_live keys start with sk_live/"; amount=10.00 %2F \\/ &amp; 0xDEAD';
    expect(s.scrub(text)).toBe(text);
    expect(s.scrub(`before ${SECRET} after`)).toBe(`before [redacted:${LABEL}] after`);
  });

  it('a value that contains another secret adds no windows of its own', () => {
    const s = new Scrubber();
    s.add(SECRET, LABEL);
    s.add(`Bearer ${SECRET}`, 'acme.authHeader');
    // "Bearer sk_live/9f…" minus its tail must not be matched: the prefix is public.
    expect(s.scrub('Bearer sk_live/9fQ')).toBe('Bearer sk_live/9fQ');
    expect(s.scrub(`Bearer ${SECRET}`)).toMatch(/^\[redacted:/);
  });

  it('values the host derives (a Basic header with a known username) are matched whole only; the configured secret in pieces', () => {
    const s = new Scrubber();
    const password = 'pw-7Qm2Lx9Rt4Vz8Kc3';
    const blob = Buffer.from(`merchant-4711:${password}`).toString('base64');
    s.add(blob, 'host-side secret');
    s.add(password, 'acme.apiPassword');
    // Half the blob, its known username part first: not a piece, so not an oracle for the rest.
    expect(s.scrub(blob.slice(0, Math.floor(blob.length / 2) + 2))).toBe(blob.slice(0, Math.floor(blob.length / 2) + 2));
    expect(s.scrub(`Authorization: Basic ${blob}`)).toBe('Authorization: Basic [redacted:host-side secret]');
    // Control: the password's own pieces are caught.
    expect(s.scrub(JSON.stringify({ a: password.slice(0, 9), b: password.slice(9) }))).toBe('{"a":"[redacted:acme.apiPassword]","b":"[redacted:acme.apiPassword]"}');
  });

  it('per-plugin scrubbing covers the same encodings, for that plugin only', () => {
    const s = new Scrubber();
    s.add(SECRET, LABEL);
    s.add('other-plugin-secret-0123456789', 'beta.apiKey');
    const php = JSON.stringify({ a: SECRET, b: 'other-plugin-secret-0123456789' }).replace(/\//g, '\\/');
    expect(s.scrubFor('acme', php)).toBe('{"a":"[redacted:acme.apiKey]","b":"other-plugin-secret-0123456789"}');
  });

  it('has a minimum length for secrets it must catch, and long values (PEM keys) stay cheap', () => {
    expect(MIN_SCRUBBED_SECRET_LENGTH).toBe(16);
    expect(fragmentLength(15)).toBeNull();
    expect(fragmentLength(16)).toBe(8);
    const pem = `-----BEGIN PRIVATE KEY-----\n${Buffer.alloc(1200, 7).toString('base64')}\n-----END PRIVATE KEY-----`;
    const s = new Scrubber();
    s.add(pem, 'acme.signingKey');
    const middle = pem.slice(400, 600);
    expect(s.scrub(`x ${middle} y`)).toBe('x [redacted:acme.signingKey] y');
  });
});
