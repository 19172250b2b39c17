// Which hosts and addresses the egress guard will talk to. Two layers:
//   1. parseTarget: the URL as the plugin wrote it. WHATWG URL parsing quietly turns `2130706433`,
//      `0x7f000001`, `0177.0.0.1`, `127.1`, `127.0.0.1.`, `%31%32%37.0.0.1` and full-width digits
//      into 127.0.0.1, strips tabs and newlines, and reads `\` as `/`. Those rewrites are exactly how
//      SSRF filters get bypassed (the filter and the socket disagree on what the host is), so we look
//      at the raw spelling first and refuse anything that is not written canonically, then compare
//      with what WHATWG decided and refuse on any disagreement.
//   2. classifyAddress: an IP address (a literal, a DNS answer, a socket's remote address) is
//      allowed only if it is global unicast. Everything else is blocked: an allowlist of one range
//      ages better than a blocklist of many.

import { isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { PolicyRule } from '../../runtime/errors.ts';

export type HostKind = 'name' | 'ipv4' | 'ipv6';

export interface Target {
  scheme: 'http' | 'https';
  /** Lower-case name without trailing dot, dotted-quad IPv4, or compressed IPv6 (no brackets). */
  host: string;
  hostKind: HostKind;
  port: number;
  /** `scheme://host:port`, port always explicit: the unit grants are written in. */
  origin: string;
  pathname: string;
  search: string;
  /** What is requested: normalised host, default port omitted, fragment dropped. */
  href: string;
}

export type Verdict<T> = { ok: true; value: T } | { ok: false; rule: PolicyRule; reason: string };

export const MAX_URL_LENGTH = 8192;

const refuse = (rule: PolicyRule, reason: string): { ok: false; rule: PolicyRule; reason: string } => ({ ok: false, rule, reason });

/** `[::1]` for IPv6, the host itself otherwise. */
export function hostForUrl(host: string, kind: HostKind): string {
  return kind === 'ipv6' ? `[${host}]` : host;
}

export function defaultPort(scheme: 'http' | 'https'): number {
  return scheme === 'https' ? 443 : 80;
}

/** The origin as an admin would type it for `--grant`: default port left out. */
export function displayOrigin(t: Pick<Target, 'scheme' | 'host' | 'hostKind' | 'port'>): string {
  const port = t.port === defaultPort(t.scheme) ? '' : `:${t.port}`;
  return `${t.scheme}://${hostForUrl(t.host, t.hostKind)}${port}`;
}

const CANONICAL_IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Any label inet_aton would read as a number: decimal, octal (leading 0) or hex (0x).
const NUMERIC_LABEL = /^(0x[0-9a-f]*|\d+)$/i;
const NAME_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses and vets a URL the way the guard will use it. Refuses (never "fixes") anything whose
 * meaning depends on lenient parsing.
 */
export function parseTarget(raw: string): Verdict<Target> {
  if (typeof raw !== 'string' || raw.length === 0) return refuse('http.url', 'the URL is empty');
  if (raw.length > MAX_URL_LENGTH) return refuse('http.url', `the URL is longer than ${MAX_URL_LENGTH} characters`);
  // WHATWG silently deletes tab/CR/LF anywhere, so `exa\nmple.com` would reach example.com while
  // logs show something else. No legitimate URL needs raw whitespace or control characters.
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(raw)) {
    return refuse('http.url', 'the URL contains whitespace or control characters (percent-encode them)');
  }
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(raw);
  if (!m) return refuse('http.url', 'the URL is not absolute');
  const scheme = m[1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return refuse('http.scheme', `scheme ${scheme}: is not allowed (only http and https)`);
  }
  const rest = m[2];
  // `http:example.com`, `http:/example.com`, `http:\\example.com` all parse under WHATWG.
  if (!rest.startsWith('//')) return refuse('http.url', 'the URL must be written as scheme://host/...');
  const afterSlashes = rest.slice(2);
  const authEnd = afterSlashes.search(/[/?#]/);
  const authority = authEnd === -1 ? afterSlashes : afterSlashes.slice(0, authEnd);
  if (authority.includes('\\')) return refuse('http.url', 'the host part contains a backslash');
  if (authority.includes('@')) {
    return refuse('http.url', 'credentials in the URL (user@host) are not allowed; send them in a header');
  }

  let rawHost: string;
  let rawPort: string | null = null;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return refuse('http.url', 'unterminated IPv6 literal');
    rawHost = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return refuse('http.url', 'junk after the IPv6 literal');
      rawPort = after.slice(1);
    }
    // Zone ids name an interface (fe80::1%eth0): link-local by construction, and parsers disagree
    // on them (WHATWG rejects, ipaddr.js accepts).
    if (rawHost.includes('%')) return refuse('http.host-spelling', 'IPv6 zone identifiers are not allowed');
  } else {
    const colon = authority.indexOf(':');
    rawHost = colon === -1 ? authority : authority.slice(0, colon);
    if (colon !== -1) rawPort = authority.slice(colon + 1);
    if (rawHost.includes('%')) {
      return refuse('http.host-spelling', `percent-encoded host "${rawHost}" is not allowed; write the host plainly`);
    }
  }
  if (rawHost === '') return refuse('http.url', 'the URL has no host');

  let port = defaultPort(scheme);
  if (rawPort !== null) {
    // `:080`, `:` and `:+80` all mean something to someone; only plain decimal is accepted.
    if (!/^[1-9]\d{0,4}$/.test(rawPort) || Number(rawPort) > 65535) {
      return refuse('http.url', `port "${rawPort}" is not a plain decimal port number 1-65535`);
    }
    port = Number(rawPort);
  }

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('http.url', 'the URL does not parse');
  }
  const parsedPort = url.port === '' ? defaultPort(scheme) : Number(url.port);
  if (parsedPort !== port) return refuse('http.url', 'the port is ambiguous');

  const whatwgHost = url.hostname;
  let host: string;
  let hostKind: HostKind;

  if (authority.startsWith('[')) {
    const canonical = canonicalV6(rawHost);
    if (!whatwgHost.startsWith('[') || canonical === null || `[${canonical}]` !== whatwgHost) {
      return refuse('http.url', `"${rawHost}" is not an IPv6 address`);
    }
    host = canonical;
    hostKind = 'ipv6';
  } else {
    const lower = rawHost.toLowerCase();
    const labels = lower.split('.');
    const trailingDot = labels.length > 1 && labels[labels.length - 1] === '';
    const core = trailingDot ? labels.slice(0, -1) : labels;
    const looksNumeric = core.every((l) => NUMERIC_LABEL.test(l)) || NUMERIC_LABEL.test(core[core.length - 1] ?? '');
    if (CANONICAL_IPV4.test(lower)) {
      if (whatwgHost !== lower) return refuse('http.host-spelling', `host "${rawHost}" is read differently by URL parsers`);
      host = lower;
      hostKind = 'ipv4';
    } else if (looksNumeric) {
      const meant = /^\d+\.\d+\.\d+\.\d+$/.test(whatwgHost) ? ` (it means ${whatwgHost})` : '';
      return refuse(
        'http.host-spelling',
        `host "${rawHost}" is a non-canonical IPv4 spelling${meant}; write addresses as four plain decimal numbers`,
      );
    } else if (/^\d+\.\d+\.\d+\.\d+$/.test(whatwgHost) || whatwgHost.startsWith('[')) {
      // WHATWG turned something we took for a name (full-width digits, IDNA mapping, ...) into an
      // address. Whatever it was, it is an attempt to hide an address.
      return refuse('http.host-spelling', `host "${rawHost}" turns into the address ${whatwgHost} when parsed`);
    } else {
      const name = whatwgHost.endsWith('.') ? whatwgHost.slice(0, -1) : whatwgHost;
      if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => NAME_LABEL.test(l))) {
        return refuse('http.url', `host "${rawHost}" is not a valid DNS name`);
      }
      host = name;
      hostKind = 'name';
    }
  }

  const t: Target = {
    scheme,
    host,
    hostKind,
    port,
    origin: `${scheme}://${hostForUrl(host, hostKind)}:${port}`,
    pathname: url.pathname || '/',
    search: url.search,
    href: '',
  };
  t.href = `${displayOrigin(t)}${t.pathname}${t.search}`;
  return { ok: true, value: t };
}

// ---------------------------------------------------------------------------------------------
// Addresses

export interface AddressInfo {
  /** Normalised: dotted quad, or compressed IPv6. An IPv4-mapped IPv6 address is unwrapped. */
  address: string;
  family: 4 | 6;
}

export interface AddressVerdict {
  ok: boolean;
  address: string;
  family: 4 | 6;
  /** ipaddr.js range name, or ours for the ranges it does not name. */
  range: string;
  /** A socket to it would stay on this host (127/8, ::1, IPv4-mapped 127/8); NAT64 or compatible forms do not. */
  loopback: boolean;
  /** Why, for the refusal message. */
  detail: string;
}

// Spelled out even though ipaddr.js knows them: a reviewer should see the list, and a future
// ipaddr.js that reclassifies a range must not silently open it.
const BLOCKED_V4: Array<[string, string]> = [
  ['0.0.0.0/8', '"this network" (0/8)'],
  ['10.0.0.0/8', 'private (10/8)'],
  ['100.64.0.0/10', 'carrier-grade NAT (100.64/10)'],
  ['127.0.0.0/8', 'loopback (127/8)'],
  ['169.254.0.0/16', 'link-local (169.254/16, cloud metadata)'],
  ['172.16.0.0/12', 'private (172.16/12)'],
  ['192.0.0.0/24', 'IETF protocol assignments (192.0.0/24)'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.88.99.0/24', '6to4 relay anycast (192.88.99/24)'],
  ['192.168.0.0/16', 'private (192.168/16)'],
  ['198.18.0.0/15', 'benchmarking (198.18/15)'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast (224/4)'],
  ['240.0.0.0/4', 'reserved (240/4, includes broadcast)'],
];
const BLOCKED_V4_PARSED = BLOCKED_V4.map(([cidr, why]) => [ipaddr.IPv4.parseCIDR(cidr), why] as const);

const V6 = (cidr: string): [ipaddr.IPv6, number] => ipaddr.IPv6.parseCIDR(cidr);
const GLOBAL_UNICAST_V6 = V6('2000::/3');
const BLOCKED_V6: Array<[[ipaddr.IPv6, number], string]> = [
  [V6('2001::/23'), 'IETF protocol assignments (2001::/23, includes Teredo and benchmarking)'],
  [V6('2001:db8::/32'), 'documentation (2001:db8::/32)'],
  [V6('2002::/16'), '6to4 (2002::/16)'],
  [V6('3fff::/20'), 'documentation (3fff::/20)'],
  [V6('2620:4f:8000::/48'), 'AS112 (2620:4f:8000::/48)'],
];
const NAT64_WKP = V6('64:ff9b::/96');
const IPV4_COMPATIBLE = V6('::/96');
const IPV4_TRANSLATED = V6('::ffff:0:0:0/96');

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function classifyV4(a: ipaddr.IPv4): { ok: boolean; range: string; detail: string } {
  const range = a.range();
  for (const [cidr, why] of BLOCKED_V4_PARSED) {
    if (a.match(cidr)) return { ok: false, range, detail: why };
  }
  if (range !== 'unicast') return { ok: false, range, detail: `${range} range` };
  return { ok: true, range, detail: 'global unicast' };
}

/**
 * RFC 4291 reading of an IPv6 string, compressed hex. Not ipaddr.js's parser: it reads `::10.0.0.1`
 * (IPv4-compatible, ::a00:1) as `::ffff:10.0.0.1` and accepts hex/octal in a dotted tail, while
 * the OS and WHATWG do neither. node:net validates (inet_pton rules), WHATWG serialises.
 */
export function canonicalV6(input: string): string | null {
  if (typeof input !== 'string' || input.includes('%') || !isIPv6(input)) return null;
  try {
    const h = new URL(`http://[${input}]/`).hostname;
    return h.slice(1, -1);
  } catch {
    return null;
  }
}

/** Normalises an address string (dotted quad or IPv6, mapped forms unwrapped); null if it is not one. */
export function normaliseAddress(input: string): AddressInfo | null {
  if (typeof input !== 'string' || input.includes('%')) return null;
  if (CANONICAL_IPV4.test(input)) return { address: input, family: 4 };
  const v6 = canonicalV6(input);
  if (v6 === null) return null;
  const a = ipaddr.IPv6.parse(v6);
  if (a.isIPv4MappedAddress()) return { address: a.toIPv4Address().toString(), family: 4 };
  return { address: a.toString(), family: 6 };
}

/**
 * Allowed iff global unicast. IPv6 forms that carry an IPv4 address are judged by it (mapped,
 * NAT64) or refused outright (compatible, translated, 6to4, Teredo: deprecated or never routed to
 * a payment provider), and the refusal names the embedded address.
 */
export function classifyAddress(input: string): AddressVerdict {
  const n = normaliseAddress(input);
  if (!n) return { ok: false, address: String(input), family: 4, range: 'invalid', loopback: false, detail: 'not an IP address' };
  if (n.family === 4) {
    const a = ipaddr.IPv4.parse(n.address);
    const c = classifyV4(a);
    return { ...c, address: n.address, family: 4, loopback: c.range === 'loopback' };
  }
  const a = ipaddr.IPv6.parse(n.address);
  const range = a.range();
  const base = { address: n.address, family: 6 as const, range, loopback: range === 'loopback' };
  const p = a.parts;
  if (range === 'loopback' || range === 'unspecified') return { ...base, ok: false, detail: `${range} address` };
  if (a.match(IPV4_COMPATIBLE)) {
    const v4 = v4FromParts(p[6], p[7]);
    return { ...base, ok: false, range: 'ipv4Compatible', detail: `deprecated IPv4-compatible form of ${v4} (${classifyV4(v4).detail})` };
  }
  if (a.match(IPV4_TRANSLATED)) {
    const v4 = v4FromParts(p[6], p[7]);
    return { ...base, ok: false, detail: `IPv4-translated form of ${v4} (${classifyV4(v4).detail})` };
  }
  if (a.match(NAT64_WKP)) {
    // Legitimate on IPv6-only hosts behind DNS64, so judged by the address it carries.
    const v4 = v4FromParts(p[6], p[7]);
    const c = classifyV4(v4);
    return c.ok
      ? { ...base, ok: true, detail: `NAT64 form of ${v4}` }
      : { ...base, ok: false, detail: `NAT64 form of ${v4} (${c.detail})` };
  }
  if (range === '6to4') {
    const v4 = v4FromParts(p[1], p[2]);
    return { ...base, ok: false, detail: `6to4 address embedding ${v4} (${classifyV4(v4).detail}); 6to4 is deprecated` };
  }
  if (range === 'teredo') {
    const server = v4FromParts(p[2], p[3]);
    const client = v4FromParts(p[6] ^ 0xffff, p[7] ^ 0xffff);
    return { ...base, ok: false, detail: `Teredo address (server ${server}, client ${client}); Teredo is not allowed` };
  }
  for (const [cidr, why] of BLOCKED_V6) {
    if (a.match(cidr)) return { ...base, ok: false, detail: why };
  }
  if (range !== 'unicast' || !a.match(GLOBAL_UNICAST_V6)) {
    return { ...base, ok: false, detail: range === 'unicast' ? 'outside global unicast 2000::/3' : `${range} range` };
  }
  return { ...base, ok: true, detail: 'global unicast' };
}

const PRIVATE_NETWORK_RANGES = new Set(['private', 'carrierGradeNat', 'uniqueLocal']);

/**
 * RFC 1918, carrier-grade NAT and IPv6 unique-local: where an operator's internal services live.
 * Refused like every non-public address unless a host-side policy (the installer's, for a package
 * mirror) allows them at a configured origin. Never loopback, link-local or metadata.
 */
export function isPrivateNetwork(v: AddressVerdict): boolean {
  return !v.ok && !v.loopback && PRIVATE_NETWORK_RANGES.has(v.range) && !/metadata|link-local/.test(v.detail);
}

/**
 * `localhost` and `*.localhost` (RFC 6761). Their answers come from /etc/hosts or the resolver,
 * which can say anything, so they are never looked up: a grant that names `localhost` literally is
 * pinned to 127.0.0.1, and without such a grant the name is refused.
 */
export function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/** The loopback address a loopback origin is pinned to, or null if the origin is not loopback. */
export function loopbackPin(t: Pick<Target, 'host' | 'hostKind'>): AddressInfo | null {
  if (t.hostKind === 'name') return isLocalhostName(t.host) ? { address: '127.0.0.1', family: 4 } : null;
  const v = classifyAddress(t.host);
  // Only the plain forms: ::ffff:127.0.0.1 or 64:ff9b::7f00:1 are spellings, not a local provider.
  if (!v.loopback) return null;
  if (t.hostKind === 'ipv4' && v.family === 4) return { address: v.address, family: 4 };
  if (t.hostKind === 'ipv6' && v.family === 6 && v.range === 'loopback') return { address: v.address, family: 6 };
  return null;
}
