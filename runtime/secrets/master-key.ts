// The master key that encrypts secret config values at rest. From PAYOUT_SANDBOX_MASTER_KEY (64 hex
// characters or base64 of 32 bytes), or from a key file created with mode 0600 on first run.
// Older keys stay readable through PAYOUT_SANDBOX_OLD_MASTER_KEYS (comma-separated) for rotation.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface KeyRing {
  /** Key used for new envelopes. */
  current: { id: string; key: Buffer };
  /** Every key that can open an envelope, by id. */
  byId: Map<string, Buffer>;
  source: string;
}

export class MasterKeyError extends Error {}

export function keyId(key: Buffer): string {
  return crypto.createHash('sha256').update('payout-sandbox key id\0').update(key).digest('hex').slice(0, 12);
}

export function parseKey(text: string, where: string): Buffer {
  const t = text.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t, 'base64');
  if (!key || key.length !== 32) {
    throw new MasterKeyError(`${where} is not a 256-bit key: give 64 hex characters or the base64 of 32 bytes (e.g. from \`openssl rand -hex 32\`)`);
  }
  return key;
}

function ring(current: Buffer, old: Buffer[], source: string): KeyRing {
  const byId = new Map<string, Buffer>();
  for (const k of [current, ...old]) byId.set(keyId(k), k);
  return { current: { id: keyId(current), key: current }, byId, source };
}

export function loadKeyRing(options: { dataDir: string; env?: NodeJS.ProcessEnv }): KeyRing {
  const env = options.env ?? process.env;
  const old = (env.PAYOUT_SANDBOX_OLD_MASTER_KEYS ?? '').split(',').filter((s) => s.trim()).map((s, i) => parseKey(s, `PAYOUT_SANDBOX_OLD_MASTER_KEYS entry ${i + 1}`));
  if (env.PAYOUT_SANDBOX_MASTER_KEY) {
    return ring(parseKey(env.PAYOUT_SANDBOX_MASTER_KEY, 'PAYOUT_SANDBOX_MASTER_KEY'), old, 'PAYOUT_SANDBOX_MASTER_KEY');
  }
  const file = path.join(options.dataDir, 'master.key');
  if (fs.existsSync(file)) {
    const mode = fs.statSync(file).mode & 0o777;
    if (mode & 0o077) {
      throw new MasterKeyError(`${file} is readable by group or others (mode ${mode.toString(8)}); run \`chmod 600 ${file}\``);
    }
    return ring(parseKey(fs.readFileSync(file, 'utf8'), file), old, file);
  }
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(32);
  // 'wx' fails if another process created it in the meantime; then we read theirs.
  try {
    fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadKeyRing(options);
    throw err;
  }
  return ring(key, old, file);
}
