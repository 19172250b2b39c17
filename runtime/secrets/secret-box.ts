// AES-256-GCM envelopes for secret config values. The envelope names the key that sealed it (so
// keys can rotate) and is bound to its field: the associated data is the plugin and config key,
// so a ciphertext copied to another plugin or key does not open.
import crypto from 'node:crypto';
import type { KeyRing } from './master-key.ts';

const PREFIX = 'enc:v1:';

export class SecretBoxError extends Error {}

export function isEnvelope(value: string): boolean {
  return value.startsWith(PREFIX);
}

function aad(field: string): Buffer {
  return Buffer.from(`payout-sandbox secret\0${field}`, 'utf8');
}

export class SecretBox {
  private readonly keys: KeyRing;
  /** Each raw key as a KeyObject, made once: turning the Buffer into one on every open() was most of its cost. */
  private readonly keyObjects = new Map<string, crypto.KeyObject>();
  constructor(keys: KeyRing) {
    this.keys = keys;
  }

  private keyObject(id: string, raw: Buffer): crypto.KeyObject {
    let k = this.keyObjects.get(id);
    if (!k) {
      k = crypto.createSecretKey(raw);
      this.keyObjects.set(id, k);
    }
    return k;
  }

  seal(plaintext: string, field: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.keys.current.key, iv);
    cipher.setAAD(aad(field));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${PREFIX}${this.keys.current.id}:${iv.toString('base64url')}:${ct.toString('base64url')}:${tag.toString('base64url')}`;
  }

  open(envelope: string, field: string): string {
    if (!isEnvelope(envelope)) throw new SecretBoxError(`secret ${field} is not an encrypted envelope`);
    const [kid, iv, ct, tag] = envelope.slice(PREFIX.length).split(':');
    const raw = this.keys.byId.get(kid);
    if (!raw) throw new SecretBoxError(`secret ${field} was sealed with key ${kid}, which is not loaded; set PAYOUT_SANDBOX_OLD_MASTER_KEYS to read it`);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.keyObject(kid, raw), Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(field));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`secret ${field} could not be decrypted (wrong key, or the ciphertext was moved from another field or tampered with)`);
    }
  }

  /** Whether an envelope was sealed with the current key (rotation re-seals the others). */
  isCurrent(envelope: string): boolean {
    return envelope.slice(PREFIX.length).split(':')[0] === this.keys.current.id;
  }
}
