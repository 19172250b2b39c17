import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadKeyRing, keyId } from '../../../runtime/secrets/master-key.ts';
import { SecretBox } from '../../../runtime/secrets/secret-box.ts';
import { Scrubber, secretForms } from '../../../runtime/secrets/scrubber.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ps-keys-'));

describe('master key', () => {
  it('is created 0600 on first run and read back on the next', () => {
    const dir = path.join(tmp(), 'data');
    const first = loadKeyRing({ dataDir: dir, env: {} });
    expect(fs.statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const second = loadKeyRing({ dataDir: dir, env: {} });
    expect(second.current.id).toBe(first.current.id);
  });

  it('refuses a key file others can read, saying how to fix it', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'master.key'), crypto.randomBytes(32).toString('hex'), { mode: 0o644 });
    fs.chmodSync(path.join(dir, 'master.key'), 0o644);
    expect(() => loadKeyRing({ dataDir: dir, env: {} })).toThrow(/readable by group or others.*chmod 600/);
  });

  it('takes the key from PAYOUT_SANDBOX_MASTER_KEY and rejects a malformed one', () => {
    const hex = crypto.randomBytes(32).toString('hex');
    expect(loadKeyRing({ dataDir: tmp(), env: { PAYOUT_SANDBOX_MASTER_KEY: hex } }).current.id).toBe(keyId(Buffer.from(hex, 'hex')));
    expect(() => loadKeyRing({ dataDir: tmp(), env: { PAYOUT_SANDBOX_MASTER_KEY: 'short' } })).toThrow(/not a 256-bit key/);
  });
});

describe('secret box', () => {
  const ring = (k: Buffer, old: Buffer[] = []) => ({ current: { id: keyId(k), key: k }, byId: new Map([k, ...old].map((x) => [keyId(x), x])), source: 'test' });
  const k1 = crypto.randomBytes(32);
  const k2 = crypto.randomBytes(32);

  it('round-trips, and the envelope holds no plaintext', () => {
    const box = new SecretBox(ring(k1));
    const env = box.seal('canary-value-123', 'alpha.apiSecret');
    expect(env).toMatch(/^enc:v1:[0-9a-f]{12}:/);
    expect(env).not.toContain('canary');
    expect(box.open(env, 'alpha.apiSecret')).toBe('canary-value-123');
  });

  it('is bound to its field: a ciphertext moved to another plugin or key does not open', () => {
    const box = new SecretBox(ring(k1));
    const env = box.seal('s3cret', 'alpha.apiSecret');
    expect(() => box.open(env, 'beta.apiSecret')).toThrow(/could not be decrypted/);
    // Flip a character inside the ciphertext (the last base64url character may carry padding bits only).
    const parts = env.split(':');
    const ct = parts[4];
    const i = Math.floor(ct.length / 2);
    parts[4] = ct.slice(0, i) + (ct[i] === 'A' ? 'B' : 'A') + ct.slice(i + 1);
    expect(() => box.open(parts.join(':'), 'alpha.apiSecret')).toThrow(/could not be decrypted/);
  });

  it('opens envelopes of an old key after rotation, and names a missing key', () => {
    const old = new SecretBox(ring(k1)).seal('v', 'a.b');
    const rotated = new SecretBox(ring(k2, [k1]));
    expect(rotated.open(old, 'a.b')).toBe('v');
    expect(rotated.isCurrent(old)).toBe(false);
    expect(() => new SecretBox(ring(k2)).open(old, 'a.b')).toThrow(/PAYOUT_SANDBOX_OLD_MASTER_KEYS/);
  });
});

describe('scrubber', () => {
  it('removes a secret in plain, base64, hex and URL-encoded forms', () => {
    const s = new Scrubber();
    s.add('canary/secret+1', 'alpha.apiSecret');
    const forms = secretForms('canary/secret+1');
    for (const form of forms) expect(s.scrub(`x ${form} y`)).toBe('x [redacted:alpha.apiSecret] y');
    expect(s.scrubDeep({ a: ['canary/secret+1'], b: 1 })).toEqual({ a: ['[redacted:alpha.apiSecret]'], b: 1 });
  });

  it('ignores values too short to scrub safely', () => {
    const s = new Scrubber();
    s.add('ab', 'x');
    expect(s.scrub('about')).toBe('about');
  });
});
