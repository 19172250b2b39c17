// A server instance's id, stable across restarts on one data folder, so a restarted server can
// recognise the leases of its previous life (IPN claims, payout-attempt leases, cron and sweep leases)
// and take them back at once instead of waiting for them to expire.
//
// Why slots and not one id per data folder: several servers may share one data folder (and store).
// They must never share an id, or one would take back leases a live peer holds. So the folder holds
// a random base (`instance-id`, written once) and numbered slot files (`instance-<n>.lock`, naming
// the pid and host that hold them). A starting server takes the lowest slot that is free or whose
// holder process is gone (same host, pid no longer alive): a single server restarted gets its old
// id back; of several, the restarted one takes a dead peer's slot, which is just as good, since the
// leases it takes back belong to a process that is gone. A slot held by another host is never taken
// over (its pid cannot be checked from here); those leases expire on their own.
// Choosing a slot is serialised by a lock directory, so two servers starting together never pick the same one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface InstanceSlot {
  /** `<base>-<n>`, e.g. `ps-3f9a0c1d2e-1`. */
  id: string;
  /** Frees the slot (clean shutdown). A killed server's slot is freed by the next start's pid check. */
  release(): void;
}

interface SlotHolder { pid: number; host: string }

const MAX_SLOTS = 256;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 10_000;

export function claimInstanceSlot(dataDir: string, isAlive: (pid: number) => boolean = pidAlive): InstanceSlot {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const base = readOrCreateBase(dataDir);
  const unlock = lockDir(path.join(dataDir, 'instance-slots.lock'));
  try {
    for (let n = 1; n <= MAX_SLOTS; n++) {
      const file = path.join(dataDir, `instance-${n}.lock`);
      const holder = readHolder(file);
      const free = holder === null || (holder.host === os.hostname() && holder.pid !== process.pid && !isAlive(holder.pid));
      if (!free) continue;
      writeAtomically(file, JSON.stringify({ pid: process.pid, host: os.hostname() }));
      return {
        id: `${base}-${n}`,
        release: () => {
          const now = readHolder(file);
          if (now && now.pid === process.pid && now.host === os.hostname()) fs.rmSync(file, { force: true });
        },
      };
    }
  } finally {
    unlock();
  }
  throw new Error(`instance id: all ${MAX_SLOTS} instance slots in ${dataDir} are held by running servers; ` +
    `stop one, or give this server its own data folder (--data)`);
}

function readOrCreateBase(dataDir: string): string {
  const file = path.join(dataDir, 'instance-id');
  try {
    fs.writeFileSync(file, `ps-${randomBytes(5).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const base = fs.readFileSync(file, 'utf8').trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(base)) {
    throw new Error(`instance id: ${file} holds ${JSON.stringify(base.slice(0, 80))}, not an id of letters, digits, '.', '_' or '-'; delete the file to get a new one`);
  }
  return base;
}

function readHolder(file: string): SlotHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<SlotHolder>;
    if (Number.isInteger(v.pid) && typeof v.host === 'string') return { pid: v.pid!, host: v.host };
  } catch {
    // fall through: written atomically, so garbage is someone's hand edit; treat the slot as free
  }
  return null;
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** mkdir is atomic: the directory is the lock. One left by a killed server is stale after 10 s. */
function lockDir(dir: string): () => void {
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      return () => fs.rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > LOCK_STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed by its holder meanwhile
    }
    if (Date.now() > until) throw new Error(`instance id: ${dir} stayed locked for ${LOCK_WAIT_MS} ms; if no server is starting, delete it`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
