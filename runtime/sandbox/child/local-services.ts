// Services the sandbox process answers itself, synchronously, without a trip to the server:
// pure computation that needs no secret and no I/O (crypto digests, WHATWG URL parsing).
import { isCryptoOperation, runCryptoOperation } from '../../../host-api/crypto.ts';

const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;
const SETTABLE = new Set(['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);
const MAX_URL_LENGTH = 16 * 1024;

function urlParts(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of URL_FIELDS) out[field] = url[field];
  return out;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} must be a string`);
  if (value.length > MAX_URL_LENGTH) throw new Error(`${what} is longer than ${MAX_URL_LENGTH} characters`);
  return value;
}

export function runLocalService(name: string, args: unknown): unknown {
  if (isCryptoOperation(name)) return runCryptoOperation(name, args);
  const a = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  if (name === 'url.parse') {
    const base = a.base === null || a.base === undefined ? undefined : text(a.base, 'base');
    return urlParts(new URL(text(a.input, 'input'), base));
  }
  if (name === 'url.set') {
    const url = new URL(text(a.href, 'href'));
    const field = String(a.field);
    if (!SETTABLE.has(field)) throw new Error(`URL.${field} cannot be set`);
    (url as unknown as Record<string, string>)[field] = text(a.value, 'value');
    return urlParts(url);
  }
  throw new Error(`unknown sandbox service '${name}'`);
}
