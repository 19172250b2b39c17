// Call ids: unique within the server process and not guessable from outside (a sandbox process
// names the call its host calls belong to; the server checks it against its own table).
import crypto from 'node:crypto';

let callSeq = 0;
// Random bytes for call ids come from a pool refilled 4 KiB at a time: a randomBytes(4) per call
// cost more than the rest of the call's bookkeeping (bench/: per-call cost).
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;
export function newCallId(): string {
  if (idPoolOffset + 4 > idPool.length) {
    idPool = crypto.randomBytes(ID_POOL_BYTES);
    idPoolOffset = 0;
  }
  const suffix = idPool.toString('hex', idPoolOffset, idPoolOffset + 4);
  idPoolOffset += 4;
  return `c${(++callSeq).toString(36)}${suffix}`;
}
