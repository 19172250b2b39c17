// The two URLs a merchant gives with an order: clientCallbackUrl (the customer's browser is sent
// there) and ipnUrl (this server POSTs there). At create time we refuse what is plainly wrong:
// not http(s), spellings URL parsers disagree on, credentials, and hosts that are obviously not
// public (private/loopback/link-local literals, localhost, single-label and local-only names).
// The IPN sender's egress guard still decides at send time, with DNS answers, whether the
// address is public — this check only makes the mistake visible to the merchant at once.
import { classifyAddress, isLocalhostName, parseTarget } from '../../host-api/http/address-policy.ts';
import { OrderFormError } from './order-errors.ts';

// Suffixes that never resolve on the public internet (RFC 6762 .local, RFC 8375 .home.arpa,
// the ICANN-reserved .internal, and the usual LAN habits).
const LOCAL_SUFFIXES = ['.local', '.localdomain', '.internal', '.home.arpa', '.lan', '.intranet', '.corp'];

/**
 * Normalises the configured loopback exceptions (demo and tests: ServerOptions.ipnLoopbackOrigins)
 * to the guard's origin form `scheme://host:port`.
 */
export function loopbackOriginSet(origins: readonly string[] = []): Set<string> {
  const out = new Set<string>();
  for (const o of origins) {
    const t = parseTarget(o);
    if (!t.ok) throw new Error(`allowLoopbackOrigins: ${o}: ${t.reason}`);
    out.add(t.value.origin);
  }
  return out;
}

/** Returns the URL as given (the IPN sender and the page parse it again), or throws OrderFormError. */
export function checkMerchantUrl(field: string, raw: string, allowLoopback: ReadonlySet<string>): string {
  const parsed = parseTarget(raw);
  if (!parsed.ok) {
    throw new OrderFormError(field, `${field} is not usable: ${parsed.reason}; give a full http(s) URL such as https://shop.example/path`);
  }
  const t = parsed.value;
  if (allowLoopback.has(t.origin)) return raw;
  const who = field === 'ipnUrl' ? 'this server must be able to reach it on the internet' : 'the customer\'s browser is sent there';
  if (t.hostKind !== 'name') {
    const v = classifyAddress(t.host);
    if (!v.ok) {
      throw new OrderFormError(field, `${field} points to ${t.host}, a ${v.detail} address; ${who}, so give a public host name`);
    }
    return raw;
  }
  if (isLocalhostName(t.host)) throw new OrderFormError(field, `${field} points to ${t.host}, which is this machine; ${who}, so give a public host name`);
  if (!t.host.includes('.')) throw new OrderFormError(field, `${field} host "${t.host}" is a single-label (intranet) name; ${who}, so give a fully qualified public host name`);
  const suffix = LOCAL_SUFFIXES.find((s) => t.host.endsWith(s));
  if (suffix) throw new OrderFormError(field, `${field} host "${t.host}" ends in ${suffix}, which is not reachable from the internet; give a public host name`);
  return raw;
}

/**
 * The customer's return link: the merchant's URL with `status=success|error` appended. The existing
 * query is kept byte for byte (URLSearchParams would re-encode it) and a fragment stays last.
 * Null when the stored URL is not http(s) — never a javascript: link, whatever was stored.
 */
export function returnUrl(clientCallbackUrl: string | null, outcome: 'success' | 'error'): string | null {
  if (!clientCallbackUrl) return null;
  if (!parseTarget(clientCallbackUrl).ok) return null;
  const hash = clientCallbackUrl.indexOf('#');
  const base = hash === -1 ? clientCallbackUrl : clientCallbackUrl.slice(0, hash);
  const fragment = hash === -1 ? '' : clientCallbackUrl.slice(hash);
  const joiner = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${joiner}status=${outcome}${fragment}`;
}
