// crypto: what a plugin may compute with Node's crypto. Runs in the sandbox process (pure
// computation, no secrets at rest, no I/O), called synchronously from the isolate because
// platform plugins call createHmac(...).digest() synchronously.
//
// Policy: an allowlist of hash algorithms, size caps on every input, no key generation, no
// ciphers (no plugin format use), no access to the host's keys. Audit: the sandbox process
// counts calls per plugin invocation and the server records the counts with the call
// (`local: {crypto.hmac: 3}`), not one row per digest.
import nodeCrypto from 'node:crypto';

export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-512', 'ripemd160'];
export const SIGN_ALGORITHMS = ['RSA-SHA256', 'RSA-SHA384', 'RSA-SHA512', 'sha256', 'sha384', 'sha512', 'ed25519'];
const OUTPUT_ENCODINGS = ['hex', 'base64', 'base64url', 'latin1', 'binary'];
export const MAX_CRYPTO_INPUT_BYTES = 8 * 1024 * 1024;
export const MAX_RANDOM_BYTES = 65536;

/** Bytes crossing from the isolate: a string (utf8) or base64 for Buffers/typed arrays. */
export type Chunk = { s: string; enc?: string } | { b64: string };
export type Output = { s: string } | { b64: string };

export class CryptoArgumentError extends Error {}

const INPUT_ENCODINGS = ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii'];

/** A chunk as text and the encoding that decodes it (base64 for Buffers), the encoding checked. */
function encodedText(chunk: unknown, what: string): { text: string; enc: BufferEncoding } {
  if (!chunk || typeof chunk !== 'object') throw new CryptoArgumentError(`crypto: ${what} must be a string or a Buffer`);
  const c = chunk as Record<string, unknown>;
  if (typeof c.b64 === 'string') return { text: c.b64, enc: 'base64' };
  if (typeof c.s !== 'string') throw new CryptoArgumentError(`crypto: ${what} must be a string or a Buffer`);
  const enc = typeof c.enc === 'string' ? c.enc : 'utf8';
  if (!INPUT_ENCODINGS.includes(enc)) throw new CryptoArgumentError(`crypto: input encoding '${enc}' is not supported`);
  return { text: c.s, enc: enc as BufferEncoding };
}

function toBuffer(chunk: unknown, what: string): Buffer {
  const { text, enc } = encodedText(chunk, what);
  const buf = Buffer.from(text, enc);
  if (buf.length > MAX_CRYPTO_INPUT_BYTES) throw new CryptoArgumentError(`crypto: ${what} is larger than ${MAX_CRYPTO_INPUT_BYTES} bytes`);
  return buf;
}

/**
 * An HMAC's key as Node takes it fastest: the text and its encoding, which Node decodes exactly
 * as Buffer.from does. Node 24 checks a Buffer key for being a KeyObject or a CryptoKey the slow
 * way (≈10 µs an HMAC; a string key ≈1.5 µs), and every webhook signature check pays it.
 * Buffer.byteLength never counts fewer bytes than the text decodes to, so a key it finds under
 * the cap is under it; one it does not is decoded and measured as every other input is.
 */
function hmacKey(chunk: unknown): Buffer | { text: string; enc: BufferEncoding } {
  const key = encodedText(chunk, 'key');
  return Buffer.byteLength(key.text, key.enc) <= MAX_CRYPTO_INPUT_BYTES ? key : toBuffer(chunk, 'key');
}

function createHmac(alg: unknown, keyChunk: unknown): nodeCrypto.Hmac {
  const name = hashAlgorithm(alg);
  const key = hmacKey(keyChunk);
  return Buffer.isBuffer(key) ? nodeCrypto.createHmac(name, key) : nodeCrypto.createHmac(name, key.text, { encoding: key.enc });
}

function chunks(list: unknown, what: string): Buffer {
  if (!Array.isArray(list)) throw new CryptoArgumentError(`crypto: ${what} must be a list of chunks`);
  const buffers = list.map((c, i) => toBuffer(c, `${what}[${i}]`));
  const all = Buffer.concat(buffers);
  if (all.length > MAX_CRYPTO_INPUT_BYTES) throw new CryptoArgumentError(`crypto: ${what} is larger than ${MAX_CRYPTO_INPUT_BYTES} bytes`);
  return all;
}

function output(buf: Buffer, enc: unknown): Output {
  if (enc === undefined || enc === null) return { b64: buf.toString('base64') };
  if (typeof enc !== 'string' || !OUTPUT_ENCODINGS.includes(enc)) throw new CryptoArgumentError(`crypto: digest encoding '${String(enc)}' is not supported (use hex, base64, base64url or latin1)`);
  return { s: buf.toString(enc as BufferEncoding) };
}

function hashAlgorithm(alg: unknown): string {
  const name = String(alg).toLowerCase();
  if (!HASH_ALGORITHMS.includes(name)) throw new CryptoArgumentError(`crypto: algorithm '${String(alg)}' is not available; use one of ${HASH_ALGORITHMS.join(', ')}`);
  return name;
}

function keyObject(key: unknown, kind: 'private' | 'public'): nodeCrypto.KeyObject {
  const pem = toBuffer(key, 'key');
  return kind === 'private' ? nodeCrypto.createPrivateKey(pem) : nodeCrypto.createPublicKey(pem);
}

type Args = Record<string, unknown>;
const operations: Record<string, (a: Args) => unknown> = {
  'crypto.hash': (a) => output(nodeCrypto.createHash(hashAlgorithm(a.alg)).update(chunks(a.data, 'data')).digest(), a.enc),
  'crypto.hmac': (a) => output(createHmac(a.alg, a.key).update(chunks(a.data, 'data')).digest(), a.enc),
  'crypto.randomBytes': (a) => {
    const size = Number(a.size);
    if (!Number.isInteger(size) || size < 0 || size > MAX_RANDOM_BYTES) throw new CryptoArgumentError(`crypto: randomBytes size must be an integer from 0 to ${MAX_RANDOM_BYTES}`);
    return { b64: nodeCrypto.randomBytes(size).toString('base64') };
  },
  'crypto.randomUUID': () => nodeCrypto.randomUUID(),
  'crypto.sign': (a) => {
    const alg = a.alg === null || a.alg === undefined ? null : String(a.alg);
    if (alg !== null && !SIGN_ALGORITHMS.includes(alg)) throw new CryptoArgumentError(`crypto: signature algorithm '${alg}' is not available; use one of ${SIGN_ALGORITHMS.join(', ')}`);
    return output(nodeCrypto.sign(alg, chunks(a.data, 'data'), keyObject(a.key, 'private')), a.enc);
  },
  'crypto.verify': (a) => {
    const alg = a.alg === null || a.alg === undefined ? null : String(a.alg);
    if (alg !== null && !SIGN_ALGORITHMS.includes(alg)) throw new CryptoArgumentError(`crypto: signature algorithm '${alg}' is not available`);
    return nodeCrypto.verify(alg, chunks(a.data, 'data'), keyObject(a.key, 'public'), toBuffer(a.signature, 'signature'));
  },
};

export function isCryptoOperation(name: string): boolean {
  return Object.hasOwn(operations, name);
}

export function runCryptoOperation(name: string, args: unknown): unknown {
  const op = operations[name];
  if (!op) throw new CryptoArgumentError(`crypto: unknown operation ${name}`);
  return op((args && typeof args === 'object' ? args : {}) as Args);
}
