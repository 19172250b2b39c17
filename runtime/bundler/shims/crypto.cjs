// require('crypto') / require('node:crypto'): the subset payout plugins use, computed by the
// sandbox process (host-api/crypto.ts). Synchronous, like Node's, because plugins call
// createHmac(...).update(...).digest('hex') inline.
'use strict';
const host = globalThis.__ps_host;
const { Buffer } = require('./buffer.cjs');

function chunk(data, enc) {
  if (typeof data === 'string') return enc && enc !== 'utf8' && enc !== 'utf-8' ? { s: data, enc: String(enc) } : { s: data };
  if (Buffer.isBuffer(data)) return { b64: data.toString('base64') };
  if (ArrayBuffer.isView(data)) return { b64: Buffer.from(/** @type {ArrayBuffer} */ (data.buffer), data.byteOffset, data.byteLength).toString('base64') };
  if (data instanceof ArrayBuffer) return { b64: Buffer.from(data).toString('base64') };
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
}
function keyChunk(key) {
  if (key && typeof key === 'object' && !Buffer.isBuffer(key) && !ArrayBuffer.isView(key) && key.key !== undefined) return chunk(key.key);
  return chunk(key);
}
function output(result) {
  return Object.prototype.hasOwnProperty.call(result, 's') ? result.s : Buffer.from(result.b64, 'base64');
}

class Digest {
  constructor(op, alg, key) {
    this._op = op;
    this._alg = String(alg);
    this._key = key;
    this._chunks = [];
    this._done = false;
  }
  update(data, enc) {
    if (this._done) throw new Error('Digest already called');
    this._chunks.push(chunk(data, enc));
    return this;
  }
  digest(enc) {
    if (this._done) throw new Error('Digest already called');
    this._done = true;
    const args = { alg: this._alg, data: this._chunks, enc: enc === undefined ? null : enc };
    if (this._key) args.key = this._key;
    return output(host.callSync(this._op, args));
  }
  copy() {
    const c = new Digest(this._op, this._alg, this._key);
    c._chunks = this._chunks.slice();
    return c;
  }
}

class Signer {
  constructor(alg) {
    this._alg = alg === undefined || alg === null ? null : String(alg);
    this._chunks = [];
  }
  update(data, enc) {
    this._chunks.push(chunk(data, enc));
    return this;
  }
  sign(privateKey, enc) {
    return output(host.callSync('crypto.sign', { alg: this._alg, data: this._chunks, key: keyChunk(privateKey), enc: enc === undefined ? null : enc }));
  }
  verify(publicKey, signature, sigEnc) {
    return host.callSync('crypto.verify', { alg: this._alg, data: this._chunks, key: keyChunk(publicKey), signature: chunk(signature, sigEnc) });
  }
}

function randomBytes(size, callback) {
  const buf = Buffer.from(host.callSync('crypto.randomBytes', { size: Number(size) }).b64, 'base64');
  if (typeof callback === 'function') {
    queueMicrotask(() => callback(null, buf));
    return undefined;
  }
  return buf;
}

function timingSafeEqual(a, b) {
  const x = Buffer.isBuffer(a) ? a : Buffer.from(a.buffer || a, a.byteOffset || 0, a.byteLength);
  const y = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer || b, b.byteOffset || 0, b.byteLength);
  if (x.length !== y.length) throw new RangeError('Input buffers must have the same byte length');
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

function randomInt(min, max) {
  if (max === undefined) { max = min; min = 0; }
  const range = max - min;
  if (!Number.isSafeInteger(range) || range <= 0) throw new RangeError('randomInt: max must be greater than min');
  const n = randomBytes(6).readUIntBE(0, 6);
  return min + (n % range);
}

module.exports = {
  createHash: (alg) => new Digest('crypto.hash', alg, null),
  createHmac: (alg, key) => new Digest('crypto.hmac', alg, keyChunk(key)),
  createSign: (alg) => new Signer(alg),
  createVerify: (alg) => new Signer(alg),
  sign: (alg, data, key) => new Signer(alg).update(data).sign(key),
  verify: (alg, data, key, signature) => new Signer(alg).update(data).verify(key, signature),
  randomBytes,
  randomUUID: () => host.callSync('crypto.randomUUID', null),
  randomInt,
  timingSafeEqual,
  getHashes: () => ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-512', 'ripemd160'],
};
