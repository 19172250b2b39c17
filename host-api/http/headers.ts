// Header rules for outbound requests and for what comes back.

// Headers a plugin may not set. Framing and connection management are ours (a plugin that sets
// Transfer-Encoding or Content-Length can smuggle a second request past the provider's front end);
// Host must match the origin we checked; Proxy-* must never reach anyone; Accept-Encoding is ours
// so we can count response bytes as they arrive; User-Agent is ours so providers see the host.
const FORBIDDEN = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
  'http2-settings',
  'accept-encoding',
  'user-agent',
  // A grant can restrict methods; these would let a granted GET act as a DELETE on servers that
  // honour them.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

export function isForbiddenRequestHeader(lowerName: string): boolean {
  return FORBIDDEN.has(lowerName) || lowerName.startsWith('proxy-') || lowerName.startsWith('sec-');
}

// What may follow a cross-origin redirect. Everything else (Authorization, Cookie, X-Api-Key,
// signature headers, ...) may carry a credential meant for the first origin only; we cannot tell
// which custom header is a secret, so only these known-harmless ones pass.
const SAFE_ACROSS_ORIGINS = new Set(['accept', 'accept-language', 'content-language', 'content-type']);

export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[\r\n\0]/;

export interface SanitisedHeaders {
  headers: Record<string, string>;
  /** Lower-case names the plugin set and we dropped (names only: values may be secrets). */
  stripped: string[];
}

/** Lower-cases names, drops forbidden ones. Names and values must already be valid (see parse). */
export function sanitiseRequestHeaders(input: Record<string, string>): SanitisedHeaders {
  const headers: Record<string, string> = {};
  const stripped: string[] = [];
  for (const [name, value] of Object.entries(input)) {
    const lower = name.toLowerCase();
    if (isForbiddenRequestHeader(lower)) {
      if (!stripped.includes(lower)) stripped.push(lower);
      continue;
    }
    // Two spellings of one name (Content-Type and content-type): join as HTTP would.
    headers[lower] = lower in headers ? `${headers[lower]}, ${value}` : value;
  }
  return { headers, stripped };
}

export function isSafeAcrossOrigins(lowerName: string): boolean {
  return SAFE_ACROSS_ORIGINS.has(lowerName);
}

export function headersForCrossOrigin(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (SAFE_ACROSS_ORIGINS.has(k)) out[k] = v;
  return out;
}

export function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith('content-')) out[k] = v;
  return out;
}

export function validHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

export function validHeaderValue(value: string): boolean {
  // Latin-1 only: undici sends header bytes as latin1, so anything wider would be mangled.
  return !BAD_VALUE.test(value) && /^[\u0000-\u00ff]*$/.test(value);
}

/** undici gives string | string[] per header; the isolate gets one string per name. */
export function flattenResponseHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

const TEXTUAL = /^(text\/[a-z0-9.+-]+|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|x-ndjson|[a-z0-9.+-]*\+json|[a-z0-9.+-]*\+xml))$/;

/**
 * Text when the content type says so and the bytes decode cleanly in its charset (UTF-8 unless
 * stated: providers in this market still answer in windows-1251); base64 otherwise, so binary
 * never gets mangled into replacement characters.
 */
export function decodeBody(contentType: string | undefined, body: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  const asBase64 = { body: body.toString('base64'), bodyEncoding: 'base64' as const };
  if (!contentType) return asBase64;
  const [essence, ...params] = contentType.split(';').map((s) => s.trim());
  if (!TEXTUAL.test(essence.toLowerCase())) return asBase64;
  let charset = 'utf-8';
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  try {
    return { body: new TextDecoder(charset, { fatal: true }).decode(body), bodyEncoding: 'utf8' };
  } catch {
    return asBase64;
  }
}
