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
  constructor(keys: KeyRing) {
    this.keys = keys;
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
    const key = this.keys.byId.get(kid);
    if (!key) throw new SecretBoxError(`secret ${field} was sealed with key ${kid}, which is not loaded; set PAYOUT_SANDBOX_OLD_MASTER_KEYS to read it`);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
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
