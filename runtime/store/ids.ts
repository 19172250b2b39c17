// Record ids are laid out like MongoDB ObjectIds (4-byte seconds, 5 random bytes fixed per process,
// 3-byte counter starting at a random value) so a platform plugin that prints, compares or sorts
// `_id` sees what it would see on the platform, and ids from one process sort in creation order.
import { randomBytes } from 'node:crypto';

const ID_PATTERN = /^[0-9a-f]{24}$/;
const processRandom = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

export function newId(nowMs: number = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 0xffffffff) {
    throw new RangeError(`newId: time ${nowMs} ms is outside the range an id can encode (1970..2106)`);
  }
  counter = (counter + 1) % 0x1000000;
  return seconds.toString(16).padStart(8, '0') + processRandom + counter.toString(16).padStart(6, '0');
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** The creation time an id carries, to the second. */
export function idTime(id: string): Date {
  if (!isId(id)) throw new TypeError(`idTime: ${JSON.stringify(id)} is not a 24-hex id`);
  return new Date(parseInt(id.slice(0, 8), 16) * 1000);
}
