// Host-side use of secrets for SDK-format plugins: the plugin names a config key, the host reads
// the secret and puts it (or a signature made with it) into the request headers. The secret never
// enters the sandbox, and the audit line says which key was used, never its value.
import crypto from 'node:crypto';
import { CapabilityArgumentError } from '../capability.ts';
import { isForbiddenRequestHeader, isSafeAcrossOrigins, validHeaderName } from './headers.ts';

export type SignPart = 'timestamp' | 'method' | 'path' | 'pathWithQuery' | 'query' | 'body' | { literal: string } | { header: string };

export interface SignSpec {
  key: string;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  header: string;
  parts: SignPart[];
  separator: string;
  timestampHeader: string | null;
  timestampUnit: 'ms' | 's';
}

export interface SecretUse {
  auth: { bearer: string } | { basic: { username: string; passwordKey: string } } | null;
  secretHeaders: Record<string, string>;
  sign: SignSpec | null;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

function fail(where: string, problem: string): never {
  throw new CapabilityArgumentError('http.request', where, problem);
}

function configKey(v: unknown, where: string): string {
  if (typeof v !== 'string' || !KEY.test(v)) fail(where, 'must name a config key of the plugin (letters, digits, _ . -)');
  return v;
}

function headerName(v: unknown, where: string): string {
  if (typeof v !== 'string' || !validHeaderName(v)) fail(where, 'must be a valid header name');
  return v;
}

/**
 * A header the host fills with a secret or a value made from one. Not one the plugin itself may
 * not set (Host, framing, Proxy-*, User-Agent, method overrides: the host adds these after the
 * plugin's headers were sanitised, so they would slip past that rule), and not one that follows
 * redirects to other origins (Accept, Content-Type, …), which would carry the secret away.
 */
function secretHeaderName(v: unknown, where: string): string {
  const name = headerName(v, where);
  const lower = name.toLowerCase();
  if (isForbiddenRequestHeader(lower) || isSafeAcrossOrigins(lower)) {
    fail(where, `cannot be '${name}': the host puts secrets only in headers a plugin may set and that never follow a redirect to another origin (e.g. Authorization or X-Api-Key)`);
  }
  return name;
}

export function parseSecretUse(raw: Record<string, unknown>): SecretUse | null {
  if (raw.auth === undefined && raw.secretHeaders === undefined && raw.sign === undefined) return null;
  let auth: SecretUse['auth'] = null;
  if (raw.auth !== undefined) {
    const a = raw.auth as Record<string, unknown>;
    if (a && typeof a.bearer === 'string') auth = { bearer: configKey(a.bearer, 'auth.bearer') };
    else if (a && a.basic && typeof a.basic === 'object') {
      const b = a.basic as Record<string, unknown>;
      if (typeof b.username !== 'string') fail('auth.basic.username', 'must be a string');
      auth = { basic: { username: b.username, passwordKey: configKey(b.passwordKey, 'auth.basic.passwordKey') } };
    } else fail('auth', "must be { bearer: '<config key>' } or { basic: { username, passwordKey } }");
  }
  const secretHeaders: Record<string, string> = {};
  if (raw.secretHeaders !== undefined) {
    if (!raw.secretHeaders || typeof raw.secretHeaders !== 'object') fail('secretHeaders', 'must map header names to config keys');
    for (const [h, k] of Object.entries(raw.secretHeaders as Record<string, unknown>)) secretHeaders[secretHeaderName(h, `secretHeaders[${h}]`)] = configKey(k, `secretHeaders[${h}]`);
  }
  let sign: SignSpec | null = null;
  if (raw.sign !== undefined) {
    const s = raw.sign as Record<string, unknown>;
    if (!s || typeof s !== 'object') fail('sign', 'must be { key, header, parts, algorithm?, encoding?, separator?, timestampHeader? }');
    const algorithm = (s.algorithm ?? 'sha256') as SignSpec['algorithm'];
    if (!['sha1', 'sha256', 'sha512'].includes(algorithm)) fail('sign.algorithm', "must be 'sha1', 'sha256' or 'sha512'");
    const encoding = (s.encoding ?? 'hex') as SignSpec['encoding'];
    if (encoding !== 'hex' && encoding !== 'base64') fail('sign.encoding', "must be 'hex' or 'base64'");
    if (!Array.isArray(s.parts) || s.parts.length === 0 || s.parts.length > 20) fail('sign.parts', 'must list 1-20 parts: timestamp, method, path, pathWithQuery, query, body, {literal}, {header}');
    const parts = s.parts.map((p, i): SignPart => {
      if (typeof p === 'string' && ['timestamp', 'method', 'path', 'pathWithQuery', 'query', 'body'].includes(p)) return p as SignPart;
      if (p && typeof p === 'object' && typeof (p as { literal?: unknown }).literal === 'string') return { literal: String((p as { literal: string }).literal).slice(0, 200) };
      if (p && typeof p === 'object' && typeof (p as { header?: unknown }).header === 'string') return { header: headerName((p as { header: string }).header, `sign.parts[${i}].header`) };
      fail(`sign.parts[${i}]`, 'is not a known part');
    });
    sign = {
      key: configKey(s.key, 'sign.key'), algorithm, encoding, header: secretHeaderName(s.header, 'sign.header'), parts,
      separator: typeof s.separator === 'string' ? s.separator.slice(0, 10) : '',
      timestampHeader: s.timestampHeader === undefined ? null : secretHeaderName(s.timestampHeader, 'sign.timestampHeader'),
      timestampUnit: s.timestampUnit === 's' ? 's' : 'ms',
    };
  }
  return { auth, secretHeaders, sign };
}

/** Every config key a request asks the host to apply (auth, secret headers, signing key). */
export function secretKeysOf(use: SecretUse): string[] {
  const keys = new Set<string>();
  if (use.auth && 'bearer' in use.auth) keys.add(use.auth.bearer);
  if (use.auth && 'basic' in use.auth) keys.add(use.auth.basic.passwordKey);
  for (const k of Object.values(use.secretHeaders)) keys.add(k);
  if (use.sign) keys.add(use.sign.key);
  return [...keys];
}

export function describeSecretUse(use: SecretUse | null | undefined): string {
  if (!use) return '';
  const parts = [];
  if (use.auth) parts.push('bearer' in use.auth ? `auth=bearer(${use.auth.bearer})` : `auth=basic(${use.auth.basic.passwordKey})`);
  for (const [h, k] of Object.entries(use.secretHeaders)) parts.push(`${h}=secret(${k})`);
  if (use.sign) parts.push(`${use.sign.header}=hmac-${use.sign.algorithm}(${use.sign.key})`);
  return parts.length ? ` host-side: ${parts.join(' ')}` : '';
}

/** Headers to add, computed with the plugin's own secrets read on the host. */
export async function secretHeadersFor(
  use: SecretUse, req: { method: string; url: string; headers: Record<string, string>; body: Buffer | null },
  readSecret: (key: string) => Promise<string>, now: () => number = Date.now,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (use.auth && 'bearer' in use.auth) out.authorization = `Bearer ${await readSecret(use.auth.bearer)}`;
  if (use.auth && 'basic' in use.auth) {
    out.authorization = `Basic ${Buffer.from(`${use.auth.basic.username}:${await readSecret(use.auth.basic.passwordKey)}`).toString('base64')}`;
  }
  for (const [h, k] of Object.entries(use.secretHeaders)) out[h.toLowerCase()] = await readSecret(k);
  if (use.sign) {
    const s = use.sign;
    const ts = String(s.timestampUnit === 's' ? Math.floor(now() / 1000) : now());
    if (s.timestampHeader) out[s.timestampHeader.toLowerCase()] = ts;
    const url = new URL(req.url);
    const lower = Object.fromEntries(Object.entries({ ...req.headers, ...out }).map(([k, v]) => [k.toLowerCase(), v]));
    const text = s.parts.map((p) => {
      if (p === 'timestamp') return ts;
      if (p === 'method') return req.method;
      if (p === 'path') return url.pathname;
      if (p === 'pathWithQuery') return url.pathname + url.search;
      if (p === 'query') return url.search.replace(/^\?/, '');
      if (p === 'body') return req.body ? req.body.toString('utf8') : '';
      if ('literal' in p) return p.literal;
      return lower[p.header.toLowerCase()] ?? '';
    }).join(s.separator);
    out[s.header.toLowerCase()] = crypto.createHmac(s.algorithm, await readSecret(s.key)).update(text, 'utf8').digest(s.encoding);
  }
  return out;
}
