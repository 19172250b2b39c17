// SSRF attack table for the egress guard, plus the harness that runs it without ever sending a
// packet beyond loopback (design.md §9). Exported so later proof suites can replay the same rows.
//
// Placeholders in urls, grants, redirects and DNS answers:
//   {P}    port of the granted fake provider (http://127.0.0.1:{P} is granted in every row)
//   {TRAP} port of a loopback trap server that is never granted: any request bytes reaching it
//          mean the attack got through.
// The public address used in rows that need a "good" DNS answer is PUBLIC_IP: it is never
// contacted; the injected connector diverts or refuses instead.

import http from 'node:http';
import type { AddressInfo as NetAddressInfo, Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { Connector, Resolver } from '../../host-api/http.ts';

export const PUBLIC_IP = '93.184.215.14';

export type ConnectorMode =
  /** Default: reaching the connector with a non-loopback address is a test failure. */
  | 'strict'
  /** Simulates DNS changing after the check: whatever address it is given, it connects to the trap. */
  | 'rebind-to-trap'
  /** Connects to the trap but reports this remote address on the socket (a rebind to a private host). */
  | { reportRemote: string | undefined };

export interface SsrfCase {
  /** The attack, as the test title. */
  name: string;
  url: string;
  method?: string;
  body?: string | null;
  /** Origins granted besides the fake provider (which is always granted). */
  grants?: string[];
  /** name → answers. A list of lists is served in turn on successive lookups. */
  dns?: Record<string, string[] | string[][]>;
  /** What the provider's /chain/<i> answers: a Location per hop. */
  redirects?: string[];
  connector?: ConnectorMode;
  /** The PolicyDenied rule (or 'schema' for an argument error) the guard must refuse with. */
  rule: string;
}

const p = (path = '/') => `http://127.0.0.1:{P}${path}`;
const chain = (...locations: string[]): Pick<SsrfCase, 'url' | 'redirects'> => ({ url: p('/chain/0'), redirects: locations });

export const SSRF_CASES: SsrfCase[] = [
  // --- IPv4 literals outside global unicast (a grant does not open them)
  { name: 'private 10/8 literal, even when granted', url: 'http://10.0.0.1/', grants: ['http://10.0.0.1'], rule: 'http.address' },
  { name: 'private 10/8 top address', url: 'http://10.255.255.255/', rule: 'http.address' },
  { name: 'private 172.16/12 literal', url: 'http://172.16.0.1/', rule: 'http.address' },
  { name: 'private 172.31/16 end of 172.16/12', url: 'https://172.31.255.254/', rule: 'http.address' },
  { name: 'private 192.168/16 literal (router admin)', url: 'http://192.168.0.1/admin', rule: 'http.address' },
  { name: 'cloud metadata 169.254.169.254', url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', rule: 'http.address' },
  { name: 'metadata as decimal 2852039166', url: 'http://2852039166/latest/meta-data/', rule: 'http.host-spelling' },
  { name: 'metadata as hex 0xa9fea9fe', url: 'http://0xa9fea9fe/latest/meta-data/', rule: 'http.host-spelling' },
  { name: 'metadata as octal 0251.0376.0251.0376', url: 'http://0251.0376.0251.0376/', rule: 'http.host-spelling' },
  { name: 'metadata as short form 169.254.43518', url: 'http://169.254.43518/', rule: 'http.host-spelling' },
  { name: 'metadata as mixed hex dotted 0xa9.0xfe.0xa9.0xfe', url: 'http://0xa9.0xfe.0xa9.0xfe/', rule: 'http.host-spelling' },
  { name: 'carrier-grade NAT 100.64/10 bottom', url: 'http://100.64.0.1/', rule: 'http.address' },
  { name: 'carrier-grade NAT 100.64/10 top', url: 'http://100.127.255.254/', rule: 'http.address' },
  { name: 'unspecified 0.0.0.0 (reaches local services on Linux)', url: 'http://0.0.0.0:{P}/', rule: 'http.address' },
  { name: '"this network" 0/8', url: 'http://0.1.2.3/', rule: 'http.address' },
  { name: 'limited broadcast 255.255.255.255', url: 'http://255.255.255.255/', rule: 'http.address' },
  { name: 'multicast 224.0.0.1', url: 'http://224.0.0.1/', rule: 'http.address' },
  { name: 'multicast SSDP 239.255.255.250', url: 'http://239.255.255.250:1900/', rule: 'http.address' },
  { name: 'reserved 240/4', url: 'http://240.0.0.1/', rule: 'http.address' },
  { name: 'documentation TEST-NET-1 192.0.2/24', url: 'http://192.0.2.1/', rule: 'http.address' },
  { name: 'documentation TEST-NET-2 198.51.100/24', url: 'http://198.51.100.7/', rule: 'http.address' },
  { name: 'documentation TEST-NET-3 203.0.113/24', url: 'http://203.0.113.9/', rule: 'http.address' },
  { name: 'benchmarking 198.18/15', url: 'http://198.19.0.1/', rule: 'http.address' },
  { name: 'IETF protocol assignments 192.0.0/24', url: 'http://192.0.0.170/', rule: 'http.address' },
  { name: '6to4 relay anycast 192.88.99/24', url: 'http://192.88.99.1/', rule: 'http.address' },

  // --- loopback spellings aimed at the granted provider's own port, and other loopback ports
  { name: 'loopback on a port other than the granted one', url: 'http://127.0.0.1:{TRAP}/', rule: 'http.loopback' },
  { name: 'another 127/8 address on the granted port', url: 'http://127.0.0.2:{P}/', rule: 'http.loopback' },
  { name: 'granted loopback port but https instead of http', url: 'https://127.0.0.1:{P}/', rule: 'http.loopback' },
  { name: 'loopback as decimal 2130706433', url: 'http://2130706433:{P}/', rule: 'http.host-spelling' },
  { name: 'loopback as hex 0x7f000001', url: 'http://0x7f000001:{P}/', rule: 'http.host-spelling' },
  { name: 'loopback as octal 0177.0.0.1', url: 'http://0177.0.0.1:{P}/', rule: 'http.host-spelling' },
  { name: 'loopback short form 127.1', url: 'http://127.1:{P}/', rule: 'http.host-spelling' },
  { name: 'loopback with trailing dot 127.0.0.1.', url: 'http://127.0.0.1.:{TRAP}/', rule: 'http.host-spelling' },
  { name: 'loopback percent-encoded %31%32%37.0.0.1', url: 'http://%31%32%37.0.0.1:{TRAP}/', rule: 'http.host-spelling' },
  { name: 'loopback in full-width digits', url: 'http://\uff11\uff12\uff17.0.0.1:{TRAP}/', rule: 'http.host-spelling' },
  { name: 'zero host 0 (means 0.0.0.0)', url: 'http://0:{TRAP}/', rule: 'http.host-spelling' },
  { name: 'localhost on the granted port', url: 'http://localhost:{P}/', rule: 'http.localhost' },
  { name: 'localhost. with trailing dot', url: 'http://localhost.:{TRAP}/', rule: 'http.localhost' },
  { name: 'sub.localhost (RFC 6761 loopback name)', url: 'http://api.localhost:{P}/', rule: 'http.localhost' },
  { name: 'IPv6 loopback [::1] on the granted port', url: 'http://[::1]:{P}/', rule: 'http.loopback' },
  { name: 'IPv4-mapped loopback [::ffff:127.0.0.1]', url: 'http://[::ffff:127.0.0.1]:{P}/', rule: 'http.loopback' },

  // --- IPv6 literals and IPv6 forms that embed a blocked IPv4 address
  { name: 'IPv6 unspecified [::]', url: 'http://[::]:{TRAP}/', rule: 'http.address' },
  { name: 'IPv6 link-local fe80::', url: 'http://[fe80::1]/', rule: 'http.address' },
  { name: 'IPv6 zone id fe80::1%25eth0', url: 'http://[fe80::1%25eth0]/', rule: 'http.host-spelling' },
  { name: 'IPv6 unique local fc00::/7 (fc00::1)', url: 'http://[fc00::1]/', rule: 'http.address' },
  { name: 'IPv6 unique local fd12:3456::1', url: 'http://[fd12:3456::1]/', rule: 'http.address' },
  { name: 'IPv6 multicast ff02::1', url: 'http://[ff02::1]/', rule: 'http.address' },
  { name: 'IPv4-mapped private ::ffff:10.0.0.1', url: 'http://[::ffff:10.0.0.1]/', rule: 'http.address' },
  { name: 'IPv4-mapped private in hex ::ffff:a00:1', url: 'http://[::ffff:a00:1]/', rule: 'http.address' },
  { name: 'IPv4-mapped metadata ::ffff:a9fe:a9fe', url: 'http://[::ffff:a9fe:a9fe]/', rule: 'http.address' },
  { name: 'IPv4-compatible ::10.0.0.1', url: 'http://[::10.0.0.1]/', rule: 'http.address' },
  { name: 'IPv4-compatible loopback ::127.0.0.1', url: 'http://[::127.0.0.1]:{P}/', rule: 'http.address' },
  { name: 'IPv4-translated ::ffff:0:a00:1', url: 'http://[::ffff:0:a00:1]/', rule: 'http.address' },
  { name: 'NAT64 of private 64:ff9b::a00:1', url: 'http://[64:ff9b::a00:1]/', rule: 'http.address' },
  { name: 'NAT64 of metadata 64:ff9b::a9fe:a9fe', url: 'http://[64:ff9b::a9fe:a9fe]/', rule: 'http.address' },
  { name: 'NAT64 of loopback 64:ff9b::7f00:1', url: 'http://[64:ff9b::7f00:1]:{P}/', rule: 'http.address' },
  { name: 'local-use NAT64 64:ff9b:1::/48', url: 'http://[64:ff9b:1::a00:1]/', rule: 'http.address' },
  { name: '6to4 of private 2002:a00:1::', url: 'http://[2002:a00:1::]/', rule: 'http.address' },
  { name: '6to4 of loopback 2002:7f00:1::1', url: 'http://[2002:7f00:1::1]/', rule: 'http.address' },
  { name: 'Teredo 2001:0::/32 with client 10.0.0.1', url: 'http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/', rule: 'http.address' },
  { name: 'IPv6 documentation 2001:db8::/32', url: 'http://[2001:db8::1]/', rule: 'http.address' },
  { name: 'IPv6 documentation 3fff::/20', url: 'http://[3fff::1]/', rule: 'http.address' },
  { name: 'IPv6 benchmarking 2001:2::/48', url: 'http://[2001:2::1]/', rule: 'http.address' },
  { name: 'IPv6 discard-only 100::/64', url: 'http://[100::1]/', rule: 'http.address' },
  { name: 'IPv6 deprecated site-local fec0::/10', url: 'http://[fec0::1]/', rule: 'http.address' },

  // --- URL parser tricks
  { name: 'userinfo confusion granted@private', url: 'http://127.0.0.1:{P}@10.0.0.1/', rule: 'http.url' },
  { name: 'backslash authority confusion', url: 'http://10.0.0.1\\@127.0.0.1:{P}/', rule: 'http.url' },
  { name: 'tab inside the host (stripped by WHATWG)', url: 'http://10.0.0.\t1/', rule: 'http.url' },
  { name: 'newline inside the host', url: 'http://127.0.0.\n1:{TRAP}/', rule: 'http.url' },
  { name: 'port with leading zero :0{P}', url: 'http://127.0.0.1:0{P}/', rule: 'http.url' },
  { name: 'file: scheme', url: 'file:///etc/passwd', rule: 'schema' },
  { name: 'gopher: scheme to loopback', url: 'gopher://127.0.0.1:{TRAP}/_GET', rule: 'schema' },

  // --- names whose DNS answers are not all public (checked before any socket opens)
  { name: 'granted name with one private answer among public ones', url: 'https://api.provider.example/', grants: ['https://api.provider.example'], dns: { 'api.provider.example': [PUBLIC_IP, '10.0.0.7'] }, rule: 'http.address' },
  { name: 'granted name resolving to metadata 169.254.169.254', url: 'http://meta.provider.example/', grants: ['http://meta.provider.example'], dns: { 'meta.provider.example': ['169.254.169.254'] }, rule: 'http.address' },
  { name: 'granted name resolving to loopback on the provider port', url: 'http://loop.provider.example:{P}/', grants: ['http://loop.provider.example:{P}'], dns: { 'loop.provider.example': ['127.0.0.1'] }, rule: 'http.address' },
  { name: 'granted name resolving to ::1', url: 'http://v6loop.provider.example:{P}/', grants: ['http://v6loop.provider.example:{P}'], dns: { 'v6loop.provider.example': ['::1'] }, rule: 'http.address' },
  { name: 'granted name resolving to ::ffff:10.0.0.1', url: 'http://mapped.provider.example/', grants: ['http://mapped.provider.example'], dns: { 'mapped.provider.example': ['::ffff:10.0.0.1'] }, rule: 'http.address' },
  { name: 'granted name resolving to 0.0.0.0', url: 'http://zero.provider.example:{P}/', grants: ['http://zero.provider.example:{P}'], dns: { 'zero.provider.example': ['0.0.0.0'] }, rule: 'http.address' },
  { name: 'granted name with a ULA AAAA beside a public A', url: 'https://dual.provider.example/', grants: ['https://dual.provider.example'], dns: { 'dual.provider.example': [PUBLIC_IP, 'fd00::5'] }, rule: 'http.address' },
  { name: 'granted name resolving to DNS64 of loopback', url: 'http://dns64.provider.example:{P}/', grants: ['http://dns64.provider.example:{P}'], dns: { 'dns64.provider.example': ['64:ff9b::7f00:1'] }, rule: 'http.address' },
  { name: 'granted name whose resolver returns garbage', url: 'http://odd.provider.example/', grants: ['http://odd.provider.example'], dns: { 'odd.provider.example': ['not-an-ip'] }, rule: 'http.address' },
  { name: 'ungranted name (never even looked up)', url: 'http://internal.corp.example/', dns: { 'internal.corp.example': ['10.0.0.1'] }, rule: 'http.grant' },
  { name: 'metadata.google.internal-style name, ungranted', url: 'http://metadata.google.internal/computeMetadata/v1/', rule: 'http.grant' },

  // --- DNS answers that change between the check and the connect (socket remote address check)
  { name: 'DNS rebinding: checked public, connection lands on loopback', url: 'http://rebind.provider.example/', grants: ['http://rebind.provider.example'], dns: { 'rebind.provider.example': [PUBLIC_IP] }, connector: 'rebind-to-trap', rule: 'http.remote-address' },
  { name: 'DNS rebinding: connection lands on private 10.0.0.7', url: 'https://rebind2.provider.example/', grants: ['https://rebind2.provider.example'], dns: { 'rebind2.provider.example': [PUBLIC_IP] }, connector: { reportRemote: '10.0.0.7' }, rule: 'http.remote-address' },
  { name: 'DNS rebinding: connection lands on ::ffff:169.254.169.254', url: 'http://rebind3.provider.example/', grants: ['http://rebind3.provider.example'], dns: { 'rebind3.provider.example': [PUBLIC_IP] }, connector: { reportRemote: '::ffff:169.254.169.254' }, rule: 'http.remote-address' },
  { name: 'DNS rebinding: socket with no remote address', url: 'http://rebind4.provider.example/', grants: ['http://rebind4.provider.example'], dns: { 'rebind4.provider.example': [PUBLIC_IP] }, connector: { reportRemote: undefined }, rule: 'http.remote-address' },
  { name: 'DNS rebinding to another public address than the one checked', url: 'http://rebind5.provider.example/', grants: ['http://rebind5.provider.example'], dns: { 'rebind5.provider.example': [PUBLIC_IP] }, connector: { reportRemote: '1.1.1.1' }, rule: 'http.remote-address' },

  // --- redirect chains starting at the granted provider
  { name: 'redirect to private 10.0.0.1', ...chain('http://10.0.0.1/'), rule: 'http.redirect' },
  { name: 'redirect to cloud metadata', ...chain('http://169.254.169.254/latest/meta-data/iam/'), rule: 'http.redirect' },
  { name: 'redirect to IPv4-mapped metadata', ...chain('http://[::ffff:a9fe:a9fe]/'), rule: 'http.redirect' },
  { name: 'redirect to loopback on another port', ...chain('http://127.0.0.1:{TRAP}/'), rule: 'http.redirect' },
  { name: 'redirect to localhost on the granted port', ...chain('http://localhost:{P}/'), rule: 'http.redirect' },
  { name: 'redirect to decimal loopback 2130706433', ...chain('http://2130706433:{TRAP}/'), rule: 'http.redirect' },
  { name: 'redirect to an ungranted public origin', ...chain('https://evil.example/steal'), rule: 'http.redirect' },
  { name: 'redirect to a granted name that resolves privately', ...chain('http://api.internal.example/'), grants: ['http://api.internal.example'], dns: { 'api.internal.example': ['10.1.2.3'] }, rule: 'http.redirect' },
  { name: 'two-hop redirect ending at 192.168.1.1', ...chain(p('/chain/1'), 'http://192.168.1.1/'), rule: 'http.redirect' },
  { name: 'redirect to file:', ...chain('file:///etc/passwd'), rule: 'http.redirect' },
  { name: 'scheme-relative redirect //10.0.0.1/', ...chain('//10.0.0.1/'), rule: 'http.redirect' },
  { name: 'backslash redirect \\\\10.0.0.1', ...chain('\\\\10.0.0.1\\x'), rule: 'http.redirect' },
  { name: 'relative-looking redirect /\\10.0.0.1/ that WHATWG reads as another host', ...chain('/\\10.0.0.1/'), rule: 'http.redirect' },
  { name: 'redirect to gopher: on loopback', ...chain('gopher://127.0.0.1:{TRAP}/_x'), rule: 'http.redirect' },
  { name: 'redirect loop beyond the maximum', ...chain(...Array.from({ length: 8 }, (_, i) => p(`/chain/${i + 1}`))), rule: 'http.redirect.max' },
];

// ---------------------------------------------------------------------------------------------
// Harness

export function fill(s: string, ports: { P: number; TRAP: number }): string {
  return s.replaceAll('{P}', String(ports.P)).replaceAll('{TRAP}', String(ports.TRAP));
}

export function isLoopbackAddress(a: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(a) || a === '::1';
}

/** A loopback server that records what reaches it. */
export interface Trap {
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  const trap: Trap = { port: 0, connections: 0, requests: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    trap.requests.push(`${req.method} ${req.url}`);
    res.end('trapped');
  });
  server.on('connection', () => trap.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  trap.port = (server.address() as NetAddressInfo).port;
  trap.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return trap;
}

/**
 * The connector tests inject. Strict mode records (and throws on) any non-loopback address: the
 * guard must decide those before a socket opens. The rebinding modes stand in for a network whose
 * DNS changed after the check: they never contact the address they are given, only the trap.
 */
export function testConnector(opts: { mode: () => ConnectorMode; trapPort: () => number; violations: string[] }): Connector {
  const real = buildConnector({ timeout: 2000, allowH2: false });
  return (o, cb) => {
    const mode = opts.mode();
    if (mode === 'strict') {
      if (!isLoopbackAddress(o.hostname)) {
        opts.violations.push(`connector reached for ${o.hostname}:${o.port}`);
        throw new Error(`test connector: refusing to connect to non-loopback ${o.hostname}`);
      }
      return real(o, cb);
    }
    return real({ ...o, hostname: '127.0.0.1', port: String(opts.trapPort()), protocol: 'http:', servername: undefined }, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no socket'), null);
      if (typeof mode === 'object') {
        Object.defineProperty(socket as Socket, 'remoteAddress', { value: mode.reportRemote, configurable: true });
      }
      cb(null, socket);
    });
  };
}

/** Resolver over a table; successive lookups of a name walk a list of answer lists. */
export function tableResolver(table: () => Record<string, string[] | string[][]>, lookups?: string[]): Resolver {
  const seen = new Map<string, number>();
  return async (hostname) => {
    lookups?.push(hostname);
    const entry = table()[hostname];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const lists = Array.isArray(entry[0]) ? (entry as string[][]) : [entry as string[]];
    const n = seen.get(hostname) ?? 0;
    seen.set(hostname, n + 1);
    return lists[Math.min(n, lists.length - 1)].map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}
