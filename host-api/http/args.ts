// Strict schema for the arguments of http.request as they arrive from the sandbox (untrusted JSON).

import { CapabilityArgumentError } from '../capability.ts';
import { MAX_URL_LENGTH } from './address-policy.ts';
import { validHeaderName, validHeaderValue } from './headers.ts';
import { parseSecretUse } from './signing.ts';
import type { SecretUse } from './signing.ts';

export interface HttpRequestArgs {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  bodyEncoding: 'utf8' | 'base64';
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Secrets the host applies (SDK format): auth, secretHeaders, sign. */
  secrets?: SecretUse | null;
}

/** CONNECT and TRACE are not on the list: one opens a tunnel past every check here, the other echoes credentials. */
export const ALLOWED_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const KEYS = ['method', 'url', 'headers', 'body', 'bodyEncoding', 'timeoutMs', 'maxResponseBytes', 'auth', 'secretHeaders', 'sign'];
const MAX_HEADERS = 100;
const MAX_HEADER_BYTES = 32 * 1024;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function parseHttpRequestArgs(raw: unknown, capability = 'http.request'): HttpRequestArgs {
  const fail = (where: string, problem: string) => new CapabilityArgumentError(capability, where, problem);
  if (!isPlainObject(raw)) throw fail('(arguments)', 'must be an object');
  for (const k of Object.keys(raw)) {
    if (!KEYS.includes(k)) throw fail(JSON.stringify(k), `is not a known argument (expected ${KEYS.join(', ')})`);
  }

  const method = raw.method;
  if (typeof method !== 'string' || !ALLOWED_METHODS.includes(method.toUpperCase())) {
    throw fail('method', `must be one of ${ALLOWED_METHODS.join(', ')}`);
  }

  const url = raw.url;
  if (typeof url !== 'string') throw fail('url', 'must be a string');
  if (url.length > MAX_URL_LENGTH) throw fail('url', `must be at most ${MAX_URL_LENGTH} characters`);
  // Only the shape here; whether the URL is acceptable is policy (a PolicyDenied naming the rule).
  if (!/^https?:/i.test(url)) throw fail('url', 'must be an absolute http: or https: URL');

  const headers = raw.headers;
  if (!isPlainObject(headers)) throw fail('headers', 'must be an object of header name to string value');
  const names = Object.keys(headers);
  if (names.length > MAX_HEADERS) throw fail('headers', `must have at most ${MAX_HEADERS} entries`);
  let headerBytes = 0;
  const outHeaders: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    const where = `headers[${JSON.stringify(name)}]`;
    if (!validHeaderName(name)) throw fail(where, 'has a name that is not a valid HTTP header name');
    if (typeof value !== 'string') throw fail(where, 'must be a string');
    if (!validHeaderValue(value)) throw fail(where, 'must not contain CR, LF, NUL or characters beyond U+00FF');
    headerBytes += name.length + value.length + 4;
    outHeaders[name] = value;
  }
  if (headerBytes > MAX_HEADER_BYTES) throw fail('headers', `must total at most ${MAX_HEADER_BYTES} bytes`);

  const bodyEncoding = raw.bodyEncoding;
  if (bodyEncoding !== 'utf8' && bodyEncoding !== 'base64') throw fail('bodyEncoding', "must be 'utf8' or 'base64'");
  const body = raw.body;
  if (body !== null && typeof body !== 'string') throw fail('body', 'must be a string or null');
  if (typeof body === 'string' && bodyEncoding === 'base64' && !BASE64.test(body)) {
    throw fail('body', 'is not valid base64 (bodyEncoding is base64)');
  }
  const upper = method.toUpperCase();
  if (body !== null && (upper === 'GET' || upper === 'HEAD')) throw fail('body', `must be null for ${upper}`);

  const out: HttpRequestArgs = { method: upper, url, headers: outHeaders, body, bodyEncoding };
  if (raw.timeoutMs !== undefined) {
    const t = raw.timeoutMs;
    // No upper bound here: the configured total timeout and the deadline cap it anyway, and axios
    // users write generous timeouts.
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1) throw fail('timeoutMs', 'must be a positive integer (milliseconds)');
    out.timeoutMs = t;
  }
  if (raw.maxResponseBytes !== undefined) {
    const m = raw.maxResponseBytes;
    if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 1) throw fail('maxResponseBytes', 'must be a positive integer');
    out.maxResponseBytes = m;
  }
  const secrets = parseSecretUse(raw);
  if (secrets) out.secrets = secrets;
  return out;
}
