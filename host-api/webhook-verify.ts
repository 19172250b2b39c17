// webhook.verify: the host checks a provider's webhook signature for an SDK plugin, so the signing
// secret never enters the sandbox. The plugin declares the scheme in its manifest
// (manifest.webhook.signature: HMAC algorithm, signature and timestamp headers, what is signed,
// which secret config key, tolerance) and calls ctx.webhook.verify(req) from webhook(); it gets
// { verified, reason, message } back, never the secret or the expected signature.
//
// Policy: only from a webhook call (callback:*), only with a declared scheme, bodies up to
// MAX_BODY_BYTES. Checks: the timestamp within toleranceSec of the host's clock (expired), the
// HMAC compared in constant time (crypto.timingSafeEqual over equal-length digests), and a
// delivery seen before within the tolerance window is refused (replayed), keyed by the delivery
// id header or else by the signature. Only deliveries whose signature verified are remembered,
// so nobody without the secret can fill the memory. The memory is the server process's: a
// restart forgets it (the timestamp tolerance still bounds a replay after that).
// Audit: one record per call (dispatch.ts) with the scheme and the verdict, never the secret,
// the signature or the body.
import nodeCrypto from 'node:crypto';
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, PolicyDenied } from './capability.ts';
import type { WebhookSignatureScheme } from '../runtime/manifest/manifest.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_HEADERS = 200;
/** Remembered deliveries per plugin; past it the oldest are forgotten first. */
export const MAX_REMEMBERED = 20_000;

export type NotVerifiedReason = 'missing_signature' | 'malformed_signature' | 'missing_timestamp' | 'bad_timestamp' | 'expired' |
  'missing_delivery_id' | 'mismatch' | 'replayed' | 'secret_unset';

export type VerifyResult =
  | { verified: true; timestamp: number | null; deliveryId: string | null }
  | { verified: false; reason: NotVerifiedReason; message: string };

export interface VerifyArgs {
  headers: Record<string, string>;
  rawBody: string;
  method: string;
  path: string;
}

export interface WebhookVerifyDeps {
  schemeOf(plugin: string): WebhookSignatureScheme | null | undefined;
  /** The host's read of a secret config value; throws when it is not set. */
  readSecret(plugin: string, key: string): Promise<string>;
  now?: () => number;
  maxRemembered?: number;
}

/** The exact bytes the provider signs, per the scheme. */
export function signedMessage(scheme: WebhookSignatureScheme, d: { rawBody: string; headers: Record<string, string>; method: string; path: string; timestamp: string }): string {
  return scheme.parts.map((p) => {
    if (p === 'timestamp') return d.timestamp;
    if (p === 'body') return d.rawBody;
    if (p === 'method') return d.method.toUpperCase();
    if (p === 'path') return d.path;
    if ('literal' in p) return p.literal;
    return d.headers[p.header] ?? '';
  }).join(scheme.separator);
}

function digest(scheme: WebhookSignatureScheme, secret: string, message: string): Buffer {
  return nodeCrypto.createHmac(scheme.algorithm, secret).update(message, 'utf8').digest();
}

/**
 * Headers of a delivery signed as the plugin's provider would: what `payout-sandbox trigger` and
 * the test kit send. `timestamp` in the scheme's unit (default: now).
 */
export function signWebhook(scheme: WebhookSignatureScheme, secret: string, d: { rawBody: string; method?: string; path: string; headers?: Record<string, string>; timestamp?: number; deliveryId?: string }): Record<string, string> {
  const unit = scheme.timestampUnit === 'ms' ? 1 : 1000;
  const timestamp = String(d.timestamp ?? Math.floor(Date.now() / unit));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers ?? {})) headers[k.toLowerCase()] = v;
  if (scheme.timestampHeader) headers[scheme.timestampHeader] = timestamp;
  if (scheme.deliveryIdHeader) headers[scheme.deliveryIdHeader] ??= d.deliveryId ?? nodeCrypto.randomUUID();
  const mac = digest(scheme, secret, signedMessage(scheme, { rawBody: d.rawBody, headers, method: d.method ?? 'POST', path: d.path, timestamp }));
  headers[scheme.header] = scheme.prefix + mac.toString(scheme.encoding);
  return headers;
}

function parseArgs(raw: unknown): VerifyArgs {
  const bad = (where: string, problem: string): never => { throw new CapabilityArgumentError('webhook.verify', where, problem); };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad('', 'must be the webhook request: ctx.webhook.verify(req)');
  const r = raw as Record<string, unknown>;
  if (typeof r.rawBody !== 'string') bad('rawBody', 'must be the exact body as received (req.rawBody)');
  if (Buffer.byteLength(r.rawBody as string) > MAX_BODY_BYTES) bad('rawBody', `is larger than ${MAX_BODY_BYTES} bytes`);
  if (!r.headers || typeof r.headers !== 'object' || Array.isArray(r.headers)) bad('headers', 'must be the request headers (req.headers)');
  const entries = Object.entries(r.headers as Record<string, unknown>);
  if (entries.length > MAX_HEADERS) bad('headers', `has more than ${MAX_HEADERS} entries`);
  const headers: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || v.length > 8192) bad(`headers.${k.slice(0, 40)}`, 'must be a string of at most 8192 characters');
    headers[k.toLowerCase()] = v as string;
  }
  const text = (v: unknown, where: string, fallback: string) => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || v.length > 2048) bad(where, 'must be a string of at most 2048 characters');
    return v as string;
  };
  return { headers, rawBody: r.rawBody as string, method: text(r.method, 'method', 'POST'), path: text(r.path, 'path', '') };
}

function describeScheme(s: WebhookSignatureScheme): string {
  return `hmac-${s.algorithm}(${s.key}) over ${s.parts.map((p) => (typeof p === 'string' ? p : 'literal' in p ? 'literal' : `header:${p.header}`)).join(s.separator)} in ${s.header}`;
}

export function createWebhookVerifyCapability(deps: WebhookVerifyDeps): Capability<VerifyArgs, VerifyResult> {
  const now = deps.now ?? Date.now;
  const max = deps.maxRemembered ?? MAX_REMEMBERED;
  // plugin → (replay key → forget at, epoch ms); a Map keeps insertion order, oldest first.
  const seen = new Map<string, Map<string, number>>();
  const remembered = (plugin: string, key: string): boolean => {
    const list = seen.get(plugin);
    const until = list?.get(key);
    return until !== undefined && until > now();
  };
  const remember = (plugin: string, key: string, forgetAt: number) => {
    let list = seen.get(plugin);
    if (!list) seen.set(plugin, list = new Map());
    for (const [k, until] of list) {
      if (until > now() && list.size < max) break;
      list.delete(k);
    }
    list.set(key, forgetAt);
  };
  const no = (reason: NotVerifiedReason, message: string): VerifyResult => ({ verified: false, reason, message });

  return {
    name: 'webhook.verify',
    parse: parseArgs,
    summarize: (a) => `${a.method} ${a.path || '(no path)'}, body ${Buffer.byteLength(a.rawBody)} bytes`,
    async invoke(ctx: HostCallContext, args: VerifyArgs): Promise<VerifyResult> {
      if (!ctx.method.startsWith('callback:')) {
        throw new PolicyDenied('webhook.verify.outside-webhook', `webhook.verify refused: it checks a delivery, so only webhook() may call it (this is ${ctx.method})`);
      }
      const scheme = deps.schemeOf(ctx.plugin);
      if (!scheme) {
        throw new PolicyDenied('webhook.verify.no-scheme', "webhook.verify refused: the manifest declares no webhook.signature (add webhook: { signature: { key, header, parts, timestampHeader?, toleranceSec? } })");
      }
      return verify(ctx.plugin, scheme, args);
    },
    // The verdict goes into the audit record: `…: verified` or `…: not verified: expired`.
    summarizeResult: (r) => (r.verified ? ': verified' : `: not verified: ${r.reason}`),
  };

  async function verify(plugin: string, scheme: WebhookSignatureScheme, args: VerifyArgs): Promise<VerifyResult> {
    const given = args.headers[scheme.header];
    if (!given) return no('missing_signature', `no ${scheme.header} header: the delivery is not signed`);
    const unit = scheme.timestampUnit === 'ms' ? 1 : 1000;
    let timestamp: string = '';
    let timestampMs: number | null = null;
    if (scheme.timestampHeader) {
      timestamp = args.headers[scheme.timestampHeader] ?? '';
      if (!timestamp) return no('missing_timestamp', `no ${scheme.timestampHeader} header: the delivery has no signed timestamp`);
      if (!/^\d{1,16}$/.test(timestamp)) return no('bad_timestamp', `${scheme.timestampHeader} is not a whole number of ${scheme.timestampUnit === 'ms' ? 'milliseconds' : 'seconds'}`);
      timestampMs = Number(timestamp) * unit;
      const skewSec = Math.round((now() - timestampMs) / 1000);
      if (Math.abs(skewSec) > scheme.toleranceSec) {
        return no('expired', `the timestamp is ${Math.abs(skewSec)} s ${skewSec >= 0 ? 'old' : 'in the future'}; toleranceSec is ${scheme.toleranceSec}`);
      }
    }
    const deliveryId = scheme.deliveryIdHeader ? args.headers[scheme.deliveryIdHeader] ?? '' : null;
    if (scheme.deliveryIdHeader && !deliveryId) return no('missing_delivery_id', `no ${scheme.deliveryIdHeader} header: the delivery has no id`);

    const text = given.startsWith(scheme.prefix) ? given.slice(scheme.prefix.length).trim() : null;
    const valid = text !== null && (scheme.encoding === 'hex' ? /^[0-9a-fA-F]+$/.test(text) : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text));
    if (!valid) return no('malformed_signature', `${scheme.header} is not ${scheme.prefix ? `'${scheme.prefix}' and ` : ''}a ${scheme.encoding} signature`);
    let secret: string;
    try {
      secret = await deps.readSecret(plugin, scheme.key);
    } catch {
      return no('secret_unset', `the secret config key '${scheme.key}' is not set; the administrator sets it in the plugin's settings`);
    }
    const expected = digest(scheme, secret, signedMessage(scheme, { ...args, timestamp }));
    const provided = Buffer.from(text as string, scheme.encoding);
    // Lengths are public (the algorithm fixes them); the bytes are compared in constant time.
    const same = provided.length === expected.length && nodeCrypto.timingSafeEqual(provided, expected);
    if (!same) return no('mismatch', `the ${scheme.header} signature does not match (${describeScheme(scheme)}); check the secret and what the provider signs`);

    const replayKey = deliveryId !== null ? `id:${deliveryId}` : `sig:${expected.toString('base64')}`;
    if (remembered(plugin, replayKey)) {
      return no('replayed', deliveryId !== null ? `delivery ${deliveryId.slice(0, 80)} was already verified within the last ${scheme.toleranceSec} s` : `this signed delivery was already verified within the last ${scheme.toleranceSec} s`);
    }
    // Remembered for as long as its timestamp would still pass (both directions of clock skew).
    remember(plugin, replayKey, Math.max(now(), timestampMs ?? now()) + scheme.toleranceSec * 1000);
    return { verified: true, timestamp: timestampMs, deliveryId };
  }
}
