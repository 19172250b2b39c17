// The SSRF table against the real guard. Only loopback is ever contacted: non-loopback addresses
// are decided by the injected resolver and connector, and the connector records a violation if the
// guard ever hands it one (except in the rows that simulate a DNS change, which divert to the trap).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpCapability, classifyAddress, parseTarget, type Grant } from '../../host-api/http.ts';
import { CapabilityArgumentError, CapabilityError, PolicyDenied, newCounters, type HostCallContext } from '../../host-api/capability.ts';
import { SSRF_CASES, PUBLIC_IP, fill, startTrap, testConnector, tableResolver, type SsrfCase, type Trap, type ConnectorMode } from './ssrf-cases.ts';

let provider: http.Server;
let trap: Trap;
const ports = { P: 0, TRAP: 0 };
let current: SsrfCase | null = null;
const providerRequests: string[] = [];
const violations: string[] = [];
const tally = { tried: 0, through: [] as string[] };

beforeAll(async () => {
  trap = await startTrap();
  provider = http.createServer((req, res) => {
    providerRequests.push(`${req.method} ${req.url}`);
    const m = /^\/chain\/(\d+)$/.exec(req.url ?? '');
    const loc = m && current?.redirects?.[Number(m[1])];
    if (loc !== undefined && loc !== null) {
      res.writeHead(302, { location: fill(loc, ports) });
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end('provider');
  });
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  ports.P = (provider.address() as AddressInfo).port;
  ports.TRAP = trap.port;
});

afterAll(async () => {
  provider.closeAllConnections();
  await new Promise<void>((r) => provider.close(() => r()));
  await trap.close();
});

function capabilityFor(c: SsrfCase) {
  const grants: Grant[] = [`http://127.0.0.1:${ports.P}`, ...(c.grants ?? []).map((g) => fill(g, ports))].map((origin) => ({
    origin,
    pathPrefix: null,
    methods: null,
  }));
  const dns: Record<string, string[] | string[][]> = {};
  for (const [k, v] of Object.entries(c.dns ?? {})) dns[k] = v;
  const mode: ConnectorMode = c.connector ?? 'strict';
  return createHttpCapability({
    grantsFor: async () => grants,
    resolve: tableResolver(() => dns),
    connect: testConnector({ mode: () => mode, trapPort: () => ports.TRAP, violations }),
    caps: { totalTimeoutMs: 5000, connectTimeoutMs: 2000 },
  });
}

describe('SSRF table', () => {
  it('has at least 50 rows', () => {
    expect(SSRF_CASES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(SSRF_CASES.map((c) => c.name)).size).toBe(SSRF_CASES.length);
  });

  it.each(SSRF_CASES.map((c) => [c.name, c] as const))('refuses: %s', async (_name, c) => {
    current = c;
    tally.tried++;
    const trapBefore = { connections: trap.connections, requests: trap.requests.length };
    const violationsBefore = violations.length;
    const providerBefore = providerRequests.length;
    const cap = capabilityFor(c);
    const ctx: HostCallContext = { plugin: 'acme', callId: 'call-1', method: 'transfer', deadline: Date.now() + 10_000, counters: newCounters() };
    let outcome: unknown;
    try {
      const args = cap.parse({ method: c.method ?? 'GET', url: fill(c.url, ports), headers: {}, body: c.body ?? null, bodyEncoding: 'utf8' });
      outcome = await cap.invoke(ctx, args);
    } catch (e) {
      outcome = e;
    }
    const refused = outcome instanceof PolicyDenied || outcome instanceof CapabilityArgumentError;
    const diverted = c.connector !== undefined && c.connector !== 'strict';
    const through =
      !refused ||
      violations.length > violationsBefore ||
      trap.requests.length > trapBefore.requests ||
      (!diverted && trap.connections > trapBefore.connections);
    if (through) tally.through.push(c.name);
    expect(through, `${c.name}: ${outcome instanceof Error ? outcome.message : JSON.stringify(outcome)}`).toBe(false);
    expect((outcome as PolicyDenied).rule, (outcome as Error).message).toBe(c.rule);
    // Nothing left except the row's own redirect hops to the provider, and those were counted.
    expect(ctx.counters.outboundRequests).toBe(providerRequests.length - providerBefore);
  });

  it('prints the tally and lets nothing through', () => {
    const line = `ssrf: ${tally.tried} cases tried, ${tally.through.length} got through`;
    console.log(line);
    expect(tally.tried).toBe(SSRF_CASES.length);
    expect(tally.through, line).toEqual([]);
    expect(violations).toEqual([]);
    expect(trap.requests).toEqual([]);
  });
});

describe('guard mechanics behind the table', () => {
  it('a granted public name is pinned: the connector gets the checked address, TLS/Host keep the name', async () => {
    // Stand-in for a real provider: the connector records what it was asked for and serves the
    // request from loopback, reporting the pinned public address as the remote (no packet leaves).
    const seen: Array<{ hostname: string; servername?: string; host?: string; port: string }> = [];
    const hostHeaders: string[] = [];
    const echo = http.createServer((req, res) => {
      hostHeaders.push(String(req.headers.host));
      res.end('ok');
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as AddressInfo).port;
    const inner = testConnector({ mode: () => ({ reportRemote: PUBLIC_IP }), trapPort: () => echoPort, violations: [] });
    const lookups: string[] = [];
    const cap = createHttpCapability({
      grantsFor: async () => [{ origin: 'http://pay.provider.example', pathPrefix: '/v1/', methods: ['GET'] }],
      resolve: tableResolver(() => ({ 'pay.provider.example': [PUBLIC_IP] }), lookups),
      connect: (o, cb) => {
        seen.push({ hostname: o.hostname, servername: o.servername, host: o.host, port: o.port });
        return inner(o, cb);
      },
    });
    const ctx: HostCallContext = { plugin: 'acme', callId: 'c', method: 'transfer', deadline: Date.now() + 5000, counters: newCounters() };
    const res = await cap.invoke(ctx, cap.parse({ method: 'GET', url: 'http://pay.provider.example/v1/status', headers: {}, body: null, bodyEncoding: 'utf8' }));
    echo.closeAllConnections();
    echo.close();
    expect(res.status).toBe(200);
    expect(lookups).toEqual(['pay.provider.example']);
    expect(seen).toHaveLength(1);
    expect(seen[0].hostname).toBe(PUBLIC_IP);
    expect(seen[0].port).toBe('80');
    expect(hostHeaders).toEqual(['pay.provider.example']);
    expect(ctx.counters.outboundRequests).toBe(1);
  });

  it('https to a granted name passes the name as TLS servername (SNI and certificate check)', async () => {
    const seen: Array<{ hostname: string; servername?: string }> = [];
    const cap = createHttpCapability({
      grantsFor: async () => [{ origin: 'https://pay.provider.example', pathPrefix: null, methods: null }],
      resolve: tableResolver(() => ({ 'pay.provider.example': [PUBLIC_IP] })),
      connect: (o, cb) => {
        seen.push({ hostname: o.hostname, servername: o.servername });
        cb(new Error('test stops here'), null);
      },
    });
    const ctx: HostCallContext = { plugin: 'acme', callId: 'c', method: 'transfer', deadline: Date.now() + 5000, counters: newCounters() };
    await expect(cap.invoke(ctx, cap.parse({ method: 'GET', url: 'https://pay.provider.example/', headers: {}, body: null, bodyEncoding: 'utf8' }))).rejects.toThrow(/test stops here/);
    expect(seen).toEqual([{ hostname: PUBLIC_IP, servername: 'pay.provider.example' }]);
    expect(ctx.counters.outboundRequests).toBe(0);
  });

  it('each redirect hop is looked up again, so a name that flips to private on the second lookup is refused', async () => {
    let hop = 0;
    const flipViolations: string[] = [];
    const flip = http.createServer((req, res) => {
      hop++;
      res.writeHead(302, { location: 'http://flip.provider.example/again' });
      res.end();
    });
    await new Promise<void>((r) => flip.listen(0, '127.0.0.1', r));
    const flipPort = (flip.address() as AddressInfo).port;
    const inner = testConnector({ mode: () => ({ reportRemote: PUBLIC_IP }), trapPort: () => flipPort, violations: [] });
    const cap = createHttpCapability({
      grantsFor: async () => [{ origin: 'http://flip.provider.example', pathPrefix: null, methods: null }],
      resolve: tableResolver(() => ({ 'flip.provider.example': [[PUBLIC_IP], ['10.0.0.9']] })),
      connect: (o, cb) => {
        if (o.hostname !== PUBLIC_IP) flipViolations.push(`connector reached for ${o.hostname}`);
        return inner(o, cb);
      },
    });
    const ctx: HostCallContext = { plugin: 'acme', callId: 'c', method: 'transfer', deadline: Date.now() + 5000, counters: newCounters() };
    const err = await cap.invoke(ctx, cap.parse({ method: 'GET', url: 'http://flip.provider.example/', headers: {}, body: null, bodyEncoding: 'utf8' })).catch((e) => e);
    flip.closeAllConnections();
    flip.close();
    expect(err).toBeInstanceOf(PolicyDenied);
    expect(err.rule).toBe('http.redirect');
    expect(err.message).toMatch(/10\.0\.0\.9/);
    expect(hop).toBe(1);
    expect(flipViolations).toEqual([]);
    expect(ctx.counters.outboundRequests).toBe(1);
  });
});

describe('pins, fallbacks and lookup failures', () => {
  const ctx = (): HostCallContext => ({ plugin: 'acme', callId: 'c', method: 'transfer', deadline: Date.now() + 5000, counters: newCounters() });
  const get = (url: string) => ({ method: 'GET', url, headers: {}, body: null, bodyEncoding: 'utf8' });

  it('tries the next checked address when one does not connect, and re-checks the one that does', async () => {
    const echo = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('second address'));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as AddressInfo).port;
    const asked: string[] = [];
    const divert = testConnector({ mode: () => ({ reportRemote: '1.1.1.1' }), trapPort: () => echoPort, violations: [] });
    const cap = createHttpCapability({
      grantsFor: async () => [{ origin: 'http://multi.provider.example', pathPrefix: null, methods: null }],
      resolve: tableResolver(() => ({ 'multi.provider.example': ['2606:4700::6810:84e5', PUBLIC_IP, '1.1.1.1'] })),
      connect: (o, cb) => {
        asked.push(o.hostname);
        if (o.hostname !== '1.1.1.1') return cb(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), null);
        return divert(o, cb);
      },
    });
    const c = ctx();
    const res = await cap.invoke(c, cap.parse(get('http://multi.provider.example/')));
    echo.closeAllConnections();
    echo.close();
    expect(res.body).toBe('second address');
    // IPv4 answers first; the IPv6 one is never needed.
    expect(asked).toEqual([PUBLIC_IP, '1.1.1.1']);
    expect(c.counters.outboundRequests).toBe(1);
  });

  it('a name that does not resolve fails as a DNS error with nothing counted', async () => {
    const cap = createHttpCapability({
      grantsFor: async () => [{ origin: 'https://gone.provider.example', pathPrefix: null, methods: null }],
      resolve: tableResolver(() => ({})),
      connect: testConnector({ mode: () => 'strict', trapPort: () => ports.TRAP, violations }),
    });
    const c = ctx();
    const e = await cap.invoke(c, cap.parse(get('https://gone.provider.example/'))).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('dns');
    expect(e.message).toBe('http.request: gone.provider.example could not be resolved (ENOTFOUND)');
    expect(c.counters.outboundRequests).toBe(0);
  });
});

describe('address classification details', () => {
  it.each([
    ['8.8.8.8', '8.8.8.8'],
    ['93.184.215.14', '93.184.215.14'],
    ['2606:4700:4700::1111', '2606:4700:4700::1111'],
    ['::ffff:8.8.8.8', '8.8.8.8'],
    ['64:ff9b::8.8.8.8', '64:ff9b::808:808'],
  ])('allows public %s', (input, normalised) => {
    expect(classifyAddress(input)).toMatchObject({ ok: true, address: normalised });
  });

  it.each([
    ['::ffff:a00:1', /private \(10\/8\)/],
    ['::10.0.0.1', /IPv4-compatible form of 10\.0\.0\.1/],
    ['::8.8.8.8', /IPv4-compatible form of 8\.8\.8\.8/],
    ['64:ff9b::a00:1', /NAT64 form of 10\.0\.0\.1/],
    ['2002:a00:1::', /6to4 address embedding 10\.0\.0\.1/],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', /Teredo address \(server 65\.54\.227\.120, client 10\.0\.0\.1\)/],
    ['fe80::1%eth0', /not an IP address/],
    ['0177.0.0.1', /not an IP address/],
    ['127.0.0.1', /loopback/],
  ])('blocks %s and says what it embeds', (input, detail) => {
    const v = classifyAddress(input);
    expect(v.ok).toBe(false);
    expect(v.detail).toMatch(detail);
  });

  it('reads ::127.0.0.1 as IPv4-compatible (::7f00:1) like the OS, not as IPv4-mapped like ipaddr.js', () => {
    expect(classifyAddress('::127.0.0.1')).toMatchObject({ address: '::7f00:1', range: 'ipv4Compatible', loopback: false });
    const t = parseTarget('http://[::127.0.0.1]/');
    expect(t.ok && t.value.host).toBe('::7f00:1');
  });

  it('WHATWG would have turned these into 127.0.0.1; the guard refuses the spelling instead', () => {
    for (const host of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '127.0.0.1.', '%31%32%37.0.0.1', '\uff11\uff12\uff17.0.0.1']) {
      expect(new URL(`http://${host}/`).hostname).toBe('127.0.0.1');
      const t = parseTarget(`http://${host}/`);
      expect(t.ok, host).toBe(false);
    }
  });
});
