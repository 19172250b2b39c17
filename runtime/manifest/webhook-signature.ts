// The webhook signature scheme an SDK plugin declares (manifest.webhook.signature): how its
// provider signs deliveries. The host verifies with it (host-api/webhook-verify.ts) so the signing
// secret stays host-side; `payout-sandbox trigger` and the test kit sign test deliveries with it.
import { PluginRejected } from '../plugin-errors.ts';

/** What the provider signs, joined with `separator` in this order. */
export type WebhookSignPart = 'timestamp' | 'body' | 'method' | 'path' | { literal: string } | { header: string };

export interface WebhookSignatureScheme {
  /** The secret config key holding the signing secret. */
  key: string;
  /** Lower-case header carrying the signature. */
  header: string;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  /** Stripped from the header value before comparing, e.g. 'sha256='. */
  prefix: string;
  parts: WebhookSignPart[];
  separator: string;
  /** Lower-case header carrying the signed timestamp, or null when the provider sends none. */
  timestampHeader: string | null;
  timestampUnit: 's' | 'ms';
  /** How far a timestamp may be from the host's clock; also how long a delivery is remembered against replay. */
  toleranceSec: number;
  /** Lower-case header naming the delivery; replays are recognised by it (else by the signature). */
  deliveryIdHeader: string | null;
}

const HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const ALGORITHMS = new Set(['sha1', 'sha256', 'sha512']);

function reject(field: string, problem: string): never {
  throw new PluginRejected('manifest_invalid', `definePayoutPlugin manifest: webhook.signature${field ? `.${field}` : ''} ${problem}`);
}

function header(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !HEADER.test(raw.toLowerCase())) reject(field, `must be a header name like 'x-signature'; got ${JSON.stringify(raw)?.slice(0, 40)}`);
  return raw.toLowerCase();
}

function part(raw: unknown, i: number): WebhookSignPart {
  if (raw === 'timestamp' || raw === 'body' || raw === 'method' || raw === 'path') return raw;
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const r = raw as Record<string, unknown>;
    if (typeof r.literal === 'string' && r.literal.length <= 256) return { literal: r.literal };
    if (r.header !== undefined) return { header: header(r.header, `parts[${i}].header`) };
  }
  return reject(`parts[${i}]`, "must be 'timestamp', 'body', 'method', 'path', { literal: '...' } or { header: 'x-name' }");
}

/**
 * Checks manifest.webhook (undefined: no scheme). `secretKeys` are the config keys declared
 * secret: the signing key must be one, or the plugin could read it and would not need the host.
 */
export function webhookSignatureFromSdk(raw: unknown, secretKeys: Set<string>): WebhookSignatureScheme | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new PluginRejected('manifest_invalid', 'definePayoutPlugin manifest: webhook must be an object like { signature: { key, header, parts } }');
  const sig = (raw as Record<string, unknown>).signature;
  if (sig === undefined || sig === null) return null;
  if (typeof sig !== 'object' || Array.isArray(sig)) reject('', 'must be an object: { key, header, parts, algorithm?, timestampHeader?, toleranceSec? }');
  const s = sig as Record<string, unknown>;
  if (typeof s.key !== 'string' || !secretKeys.has(s.key)) {
    reject('key', `must name a secret config key (config: { ${typeof s.key === 'string' ? s.key : 'webhookSecret'}: { secret: true } }); got ${JSON.stringify(s.key)?.slice(0, 40)}`);
  }
  const algorithm = s.algorithm ?? 'sha256';
  if (typeof algorithm !== 'string' || !ALGORITHMS.has(algorithm)) reject('algorithm', "must be 'sha256', 'sha512' or 'sha1'");
  const encoding = s.encoding ?? 'hex';
  if (encoding !== 'hex' && encoding !== 'base64') reject('encoding', "must be 'hex' or 'base64'");
  if (!Array.isArray(s.parts) || s.parts.length === 0 || s.parts.length > 16) reject('parts', "must list what is signed, e.g. ['timestamp', 'body']");
  const parts = s.parts.map(part);
  if (!parts.includes('body')) reject('parts', "must include 'body': a signature that does not cover the body proves nothing about it");
  const timestampHeader = s.timestampHeader === undefined || s.timestampHeader === null ? null : header(s.timestampHeader, 'timestampHeader');
  if (parts.includes('timestamp') && !timestampHeader) reject('timestampHeader', "is required when parts include 'timestamp' (the header the provider sends it in)");
  const timestampUnit = s.timestampUnit ?? 's';
  if (timestampUnit !== 's' && timestampUnit !== 'ms') reject('timestampUnit', "must be 's' or 'ms'");
  const toleranceSec = s.toleranceSec ?? 300;
  if (typeof toleranceSec !== 'number' || !Number.isInteger(toleranceSec) || toleranceSec < 1 || toleranceSec > 86_400) reject('toleranceSec', 'must be a whole number of seconds from 1 to 86400');
  const prefix = s.prefix ?? '';
  if (typeof prefix !== 'string' || prefix.length > 32) reject('prefix', "must be a short string like 'sha256='");
  const separator = s.separator ?? '.';
  if (typeof separator !== 'string' || separator.length > 8) reject('separator', "must be a short string (default '.')");
  const deliveryIdHeader = s.deliveryIdHeader === undefined || s.deliveryIdHeader === null ? null : header(s.deliveryIdHeader, 'deliveryIdHeader');
  return {
    key: s.key as string, header: header(s.header, 'header'), algorithm: algorithm as WebhookSignatureScheme['algorithm'], encoding, prefix,
    parts, separator, timestampHeader, timestampUnit, toleranceSec, deliveryIdHeader,
  };
}
