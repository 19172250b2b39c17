// host-api/crypto.ts as the sandbox process runs it: an HMAC's key is handed to Node as text and
// its encoding (a Buffer key costs Node ≈10 µs more), which must give the digest of the bytes
// Buffer.from decodes, in every encoding a plugin can send, and keep the size cap on the key.
import nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_CRYPTO_INPUT_BYTES, runCryptoOperation } from '../../host-api/crypto.ts';

const data = [{ s: '{"id":"tx-1","status":"DONE"}' }];
const hmac = (key: unknown, alg = 'sha256') => (runCryptoOperation('crypto.hmac', { alg, key, data, enc: 'hex' }) as { s: string }).s;
const expected = (key: Buffer, alg = 'sha256') => nodeCrypto.createHmac(alg, key).update(data[0].s).digest('hex');

// Bytes no text encoding keeps by accident: high bytes, a NUL, bytes that are not UTF-8.
const bytes = Buffer.from([0x00, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0xfe, 0x41, 0x20, 0x0a]);

describe('crypto.hmac: the key as text and its encoding', () => {
  const cases: [string, unknown, Buffer][] = [
    ['a plain string (utf8 by default)', { s: 'whsec_0123456789abcdef' }, Buffer.from('whsec_0123456789abcdef')],
    ['non-ASCII text, utf8', { s: 'clé-été-ключ-🔑', enc: 'utf8' }, Buffer.from('clé-été-ключ-🔑', 'utf8')],
    ['utf-8 spelled with a dash', { s: 'clé', enc: 'utf-8' }, Buffer.from('clé', 'utf8')],
    ['a lone surrogate (replaced as Buffer.from replaces it)', { s: 'a\ud800b' }, Buffer.from('a\ud800b')],
    ['hex', { s: bytes.toString('hex'), enc: 'hex' }, bytes],
    ['odd-length hex (the last digit dropped, as by Buffer.from)', { s: 'abc', enc: 'hex' }, Buffer.from('abc', 'hex')],
    ['base64', { s: bytes.toString('base64'), enc: 'base64' }, bytes],
    ['base64url', { s: bytes.toString('base64url'), enc: 'base64url' }, bytes],
    ['latin1', { s: bytes.toString('latin1'), enc: 'latin1' }, bytes],
    ['binary', { s: bytes.toString('latin1'), enc: 'binary' }, bytes],
    ['ascii', { s: 'plain-ascii-key', enc: 'ascii' }, Buffer.from('plain-ascii-key', 'ascii')],
    ['a Buffer (base64 across the bridge)', { b64: bytes.toString('base64') }, bytes],
    ['an empty key', { s: '' }, Buffer.alloc(0)],
  ];
  for (const [name, key, raw] of cases) {
    it(`${name}: the digest of the decoded bytes`, () => {
      expect(hmac(key)).toBe(expected(raw));
    });
  }

  it('the digest depends on the encoding named (positive control: the same text read as utf8 differs)', () => {
    const text = bytes.toString('latin1');
    expect(hmac({ s: text, enc: 'latin1' })).toBe(expected(bytes));
    expect(hmac({ s: text, enc: 'utf8' })).not.toBe(expected(bytes));
  });

  it('every algorithm of the allowlist still decides, before the key is read', () => {
    expect(hmac({ s: 'k' }, 'sha512')).toBe(expected(Buffer.from('k'), 'sha512'));
    expect(() => hmac({ s: 'k', enc: 'utf16le' }, 'md4')).toThrow(/algorithm 'md4' is not available/);
  });

  it('an encoding outside the list is refused, as for every other input', () => {
    expect(() => hmac({ s: 'k', enc: 'utf16le' })).toThrow(/input encoding 'utf16le' is not supported/);
    expect(() => hmac({ n: 1 })).toThrow(/key must be a string or a Buffer/);
  });

  it('a key over the size cap is refused; one at the cap is not (positive control)', () => {
    expect(hmac({ s: 'a'.repeat(MAX_CRYPTO_INPUT_BYTES) })).toBe(expected(Buffer.alloc(MAX_CRYPTO_INPUT_BYTES, 'a')));
    expect(() => hmac({ s: 'a'.repeat(MAX_CRYPTO_INPUT_BYTES + 1) })).toThrow(/key is larger than/);
    // 3 bytes a character in UTF-8: over the cap in bytes while under it in characters.
    expect(() => hmac({ s: '€'.repeat(Math.ceil(MAX_CRYPTO_INPUT_BYTES / 3) + 1) })).toThrow(/key is larger than/);
    expect(() => hmac({ b64: Buffer.alloc(MAX_CRYPTO_INPUT_BYTES + 3).toString('base64') })).toThrow(/key is larger than/);
    expect(() => hmac({ s: 'ab'.repeat(MAX_CRYPTO_INPUT_BYTES + 1), enc: 'hex' })).toThrow(/key is larger than/);
  });

  it('base64 text that Buffer.byteLength over-counts (characters it skips) is measured by its decoded bytes', () => {
    // Over the cap by length, under it once the spaces Buffer.from skips are dropped: the cap
    // is on the bytes, as before (the estimate only picks the path).
    const under = Buffer.alloc(MAX_CRYPTO_INPUT_BYTES - 3, 1).toString('base64');
    const padded = `${under.slice(0, 4)}${' '.repeat(400)}${under.slice(4)}`;
    expect(hmac({ s: padded, enc: 'base64' })).toBe(expected(Buffer.from(padded, 'base64')));
  });
});
