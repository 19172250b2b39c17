// http.request end to end against fake providers on 127.0.0.1 (design.md §9: only loopback is
// ever contacted; the injected connector fails the test if handed anything else).

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpCapability,
  createServerEgress,
  normaliseGrant,
  DEFAULT_HTTP_CAPS,
  type Grant,
  type HttpCapabilityOptions,
  type EgressCaps,
} from '../../host-api/http.ts';
import { CapabilityArgumentError, CapabilityError, PolicyDenied, newCounters, type HostCallContext } from '../../host-api/capability.ts';
import { startTrap, testConnector, tableResolver, type Trap } from './ssrf-cases.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

async function listen(handler: (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

type Fake = Awaited<ReturnType<typeof listen>>;

let provider: Fake;
let other: Fake;
let trap: Trap;
const violations: string[] = [];
const lookups: string[] = [];
const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

beforeAll(async () => {
  trap = await startTrap();
  provider = await listen((req, body, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = (k: string) => u.searchParams.get(k);
    switch (u.pathname) {
      case '/json':
      case '/v1/ok':
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify({ ok: true, path: u.pathname }));
        return;
      case '/echo':
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-provider-id', 'p-1');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') }));
        return;
      case '/echo-bytes':
        res.setHeader('content-type', 'application/octet-stream');
        res.end(body);
        return;
      case '/status': {
        const n = Number(q('n'));
        res.writeHead(n, n === 402 ? 'Payment Required Here' : undefined, { 'content-type': 'text/plain' });
        res.end(n === 204 ? undefined : `status ${n}`);
        return;
      }
      case '/binary':
        res.setHeader('content-type', 'image/png');
        res.end(BYTES);
        return;
      case '/cp1251':
        res.setHeader('content-type', 'text/plain; charset=windows-1251');
        res.end(Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2])); // "Привет"
        return;
      case '/bad-utf8':
        res.setHeader('content-type', 'application/json');
        res.end(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
        return;
      case '/to':
        res.writeHead(Number(q('s') ?? 302), { location: q('u') ?? '/json' });
        res.end();
        return;
      case '/hops': {
        const n = Number(q('n'));
        res.writeHead(n > 0 ? 302 : 200, n > 0 ? { location: `/hops?n=${n - 1}` } : { 'content-type': 'text/plain' });
        res.end(n > 0 ? undefined : 'arrived');
        return;
      }
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      case '/big': {
        const n = Number(q('n'));
        if (q('chunked')) {
          res.setHeader('content-type', 'application/octet-stream');
          let sent = 0;
          const pump = () => {
            while (sent < n && !res.destroyed) {
              sent += 16 * 1024;
              if (!res.write(Buffer.alloc(16 * 1024, 0x61))) return void res.once('drain', pump);
            }
            res.end();
          };
          pump();
        } else {
          res.setHeader('content-length', String(n));
          res.end(Buffer.alloc(n, 0x61));
        }
        return;
      }
      case '/slow':
        setTimeout(() => {
          if (!res.destroyed) res.end('late');
        }, Number(q('ms')));
        return;
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('partial');
        return;
      case '/reset':
        req.socket.destroy();
        return;
      default:
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain');
        res.end('no such path');
    }
  });
  other = await listen((req, body, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ headers: req.headers, body: body.toString() }));
  });
});

afterAll(async () => {
  await provider.close();
  await other.close();
  await trap.close();
});

afterEach(() => {
  expect(violations, 'the guard handed a non-loopback address to the connector').toEqual([]);
  lookups.length = 0;
});

const open = (origin: string, extra: Partial<Grant> = {}): Grant => ({ origin, pathPrefix: null, methods: null, ...extra });

function makeCap(grants: Grant[] | (() => Grant[]), options: Partial<HttpCapabilityOptions> & { caps?: Partial<EgressCaps> } = {}) {
  return createHttpCapability({
    grantsFor: async () => (typeof grants === 'function' ? grants() : grants),
    resolve: tableResolver(() => ({}), lookups),
    connect: testConnector({ mode: () => 'strict', trapPort: () => trap.port, violations }),
    ...options,
  });
}

function ctxFor(deadlineInMs = 10_000, plugin = 'acme'): HostCallContext {
  return { plugin, callId: 'call-1', method: 'transfer', deadline: Date.now() + deadlineInMs, counters: newCounters() };
}

type Req = { method?: string; url: string; headers?: Record<string, string>; body?: string | null; bodyEncoding?: 'utf8' | 'base64'; timeoutMs?: number; maxResponseBytes?: number };
const args = (r: Req) => ({ method: 'GET', headers: {}, body: null, bodyEncoding: 'utf8' as const, ...r });

async function call(cap: ReturnType<typeof makeCap>, r: Req, ctx = ctxFor()) {
  return cap.invoke(ctx, cap.parse(args(r)));
}

async function refusal(cap: ReturnType<typeof makeCap>, r: Req, ctx = ctxFor()): Promise<PolicyDenied> {
  const e = await call(cap, r, ctx).then(
    (v) => v,
    (err) => err,
  );
  if (!(e instanceof PolicyDenied)) throw new Error(`expected a refusal, got ${e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e)}`);
  return e;
}

describe('granted loopback origin, end to end', () => {
  it('GET JSON: status, headers, utf8 body, final url, one request counted', async () => {
    const cap = makeCap([open(provider.origin)]);
    const ctx = ctxFor();
    const res = await call(cap, { url: `${provider.origin}/json` }, ctx);
    expect(res).toMatchObject({ status: 200, statusText: 'OK', bodyEncoding: 'utf8', url: `${provider.origin}/json`, redirected: false });
    expect(JSON.parse(res.body)).toEqual({ ok: true, path: '/json' });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ctx.counters.outboundRequests).toBe(1);
    const seen = provider.seen.at(-1)!;
    expect(seen.headers.host).toBe(`127.0.0.1:${provider.port}`);
    expect(seen.headers['user-agent']).toBe('payout-sandbox/0.1');
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(lookups).toEqual([]);
  });

  it('POST JSON: body, content type, length, query and plugin headers arrive intact', async () => {
    const cap = makeCap([open(provider.origin)]);
    const payload = JSON.stringify({ amount: '10.50', currency: 'USDT', to: 'T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb' });
    const res = await call(cap, {
      method: 'post',
      url: `${provider.origin}/echo?order=42`,
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k-123', 'X-Signature': 'abc' },
      body: payload,
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-provider-id']).toBe('p-1');
    const echoed = JSON.parse(res.body);
    expect(echoed.method).toBe('POST');
    expect(echoed.url).toBe('/echo?order=42');
    expect(echoed.body).toBe(payload);
    expect(echoed.headers['content-type']).toBe('application/json');
    expect(echoed.headers['content-length']).toBe(String(Buffer.byteLength(payload)));
    expect(echoed.headers['x-api-key']).toBe('k-123');
    expect(echoed.headers['x-signature']).toBe('abc');
  });

  it('strips hop-by-hop, framing, proxy and method-override headers the plugin tries to set', async () => {
    const cap = makeCap([open(provider.origin)]);
    const headers = {
      Host: 'internal.admin',
      Connection: 'upgrade',
      'Keep-Alive': 'timeout=999',
      'Transfer-Encoding': 'chunked',
      TE: 'trailers',
      Upgrade: 'websocket',
      'Content-Length': '999',
      Expect: '100-continue',
      'Proxy-Authorization': 'Basic eA==',
      'Proxy-Connection': 'keep-alive',
      'User-Agent': 'evil-bot',
      'Accept-Encoding': 'gzip',
      'X-HTTP-Method-Override': 'DELETE',
      'Content-Type': 'text/plain',
    };
    const a = cap.parse(args({ method: 'POST', url: `${provider.origin}/echo`, headers, body: 'hi' }));
    const summary = cap.summarize(a);
    const res = await cap.invoke(ctxFor(), a);
    const h = JSON.parse(res.body).headers;
    expect(h.host).toBe(`127.0.0.1:${provider.port}`);
    expect(h['user-agent']).toBe('payout-sandbox/0.1');
    expect(h['accept-encoding']).toBe('identity');
    expect(h['content-length']).toBe('2');
    expect(h['transfer-encoding']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h['x-http-method-override']).toBeUndefined();
    expect(h.upgrade).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h.expect).toBeUndefined();
    expect(h['content-type']).toBe('text/plain');
    expect(summary).toMatch(/stripped-headers=host,connection,keep-alive,transfer-encoding,te,upgrade,content-length,expect,proxy-authorization,proxy-connection,user-agent,accept-encoding,x-http-method-override$/);
  });

  it('returns non-2xx statuses as results, with their status text', async () => {
    const cap = makeCap([open(provider.origin)]);
    const r404 = await call(cap, { url: `${provider.origin}/nowhere` });
    expect(r404).toMatchObject({ status: 404, statusText: 'Not Found', body: 'no such path' });
    const r500 = await call(cap, { url: `${provider.origin}/status?n=500` });
    expect(r500).toMatchObject({ status: 500, statusText: 'Internal Server Error', body: 'status 500' });
    const r402 = await call(cap, { url: `${provider.origin}/status?n=402` });
    expect(r402.statusText).toBe('Payment Required Here');
    const r204 = await call(cap, { method: 'DELETE', url: `${provider.origin}/status?n=204` });
    expect(r204).toMatchObject({ status: 204, body: '' });
  });

  it('binary bodies travel as base64 both ways', async () => {
    const cap = makeCap([open(provider.origin)]);
    const png = await call(cap, { url: `${provider.origin}/binary` });
    expect(png.bodyEncoding).toBe('base64');
    expect(Buffer.from(png.body, 'base64').equals(BYTES)).toBe(true);
    const echo = await call(cap, { method: 'POST', url: `${provider.origin}/echo-bytes`, body: BYTES.toString('base64'), bodyEncoding: 'base64' });
    expect(echo.bodyEncoding).toBe('base64');
    expect(Buffer.from(echo.body, 'base64').equals(BYTES)).toBe(true);
  });

  it('decodes a declared charset, and falls back to base64 when "JSON" is not valid UTF-8', async () => {
    const cap = makeCap([open(provider.origin)]);
    expect(await call(cap, { url: `${provider.origin}/cp1251` })).toMatchObject({ body: 'Привет', bodyEncoding: 'utf8' });
    const bad = await call(cap, { url: `${provider.origin}/bad-utf8` });
    expect(bad.bodyEncoding).toBe('base64');
    expect(Buffer.from(bad.body, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  });

  it('HEAD returns headers and an empty body', async () => {
    const cap = makeCap([open(provider.origin)]);
    const res = await call(cap, { method: 'HEAD', url: `${provider.origin}/json` });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
  });

  it('follows a same-origin redirect and reports it', async () => {
    const cap = makeCap([open(provider.origin)]);
    const ctx = ctxFor();
    const res = await call(cap, { url: `${provider.origin}/to?u=/json` }, ctx);
    expect(res).toMatchObject({ status: 200, redirected: true, url: `${provider.origin}/json` });
    expect(ctx.counters.outboundRequests).toBe(2);
  });

  it('303 after a POST continues as GET without the body', async () => {
    const cap = makeCap([open(provider.origin)]);
    const res = await call(cap, { method: 'POST', url: `${provider.origin}/to?s=303&u=/echo`, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    const echoed = JSON.parse(res.body);
    expect(echoed.method).toBe('GET');
    expect(echoed.body).toBe('');
    expect(echoed.headers['content-type']).toBeUndefined();
  });

  it('307 on the same origin resends method and body', async () => {
    const cap = makeCap([open(provider.origin)]);
    const res = await call(cap, { method: 'PUT', url: `${provider.origin}/to?s=307&u=/echo`, body: 'same-origin body' });
    expect(JSON.parse(res.body)).toMatchObject({ method: 'PUT', body: 'same-origin body' });
  });

  it('follows exactly the maximum of 5 redirects', async () => {
    const cap = makeCap([open(provider.origin)]);
    const res = await call(cap, { url: `${provider.origin}/hops?n=5` });
    expect(res).toMatchObject({ status: 200, body: 'arrived', redirected: true });
  });

  it('drops credentials and custom headers on a redirect to another granted origin', async () => {
    const cap = makeCap([open(provider.origin), open(other.origin)]);
    const res = await call(cap, {
      url: `${provider.origin}/to?u=${encodeURIComponent(`${other.origin}/landing`)}`,
      headers: { Authorization: 'Bearer secret', Cookie: 'sid=1', 'X-Api-Key': 'k', 'X-Signature': 's', Accept: 'application/json' },
    });
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(`${other.origin}/landing`);
    const h = JSON.parse(res.body).headers;
    expect(h.authorization).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h['x-api-key']).toBeUndefined();
    expect(h['x-signature']).toBeUndefined();
    expect(h.accept).toBe('application/json');
    expect(h.host).toBe(`127.0.0.1:${other.port}`);
  });

  it('refuses a 307 that would resend the body to another origin', async () => {
    const cap = makeCap([open(provider.origin), open(other.origin)]);
    const before = other.seen.length;
    const e = await refusal(cap, { method: 'POST', url: `${provider.origin}/to?s=307&u=${encodeURIComponent(`${other.origin}/x`)}`, body: 'signed payout' });
    expect(e.rule).toBe('http.redirect');
    expect(e.message).toMatch(/would resend the request body/);
    expect(other.seen.length).toBe(before);
  });

  it('localhost granted literally by that name works, pinned to 127.0.0.1 without a lookup', async () => {
    const cap = makeCap([open(`http://localhost:${provider.port}`)]);
    const res = await call(cap, { url: `http://localhost:${provider.port}/json` });
    expect(res.status).toBe(200);
    expect(provider.seen.at(-1)!.headers.host).toBe(`localhost:${provider.port}`);
    expect(lookups).toEqual([]);
  });

  it('a server that turns loopback grants off refuses even the granted loopback origin', async () => {
    const cap = makeCap([open(provider.origin)], { allowLoopbackGrants: false });
    const e = await refusal(cap, { url: `${provider.origin}/json` });
    expect(e.rule).toBe('http.loopback');
    expect(e.message).toContain('no loopback origin is allowed here');
  });

  it('works with the default resolver and connector, and ignores proxy variables', async () => {
    const saved = { ...process.env };
    const trapUrl = `http://127.0.0.1:${trap.port}`;
    Object.assign(process.env, { HTTP_PROXY: trapUrl, HTTPS_PROXY: trapUrl, ALL_PROXY: trapUrl, http_proxy: trapUrl, https_proxy: trapUrl, NO_PROXY: '' });
    try {
      const cap = createHttpCapability({ grantsFor: async () => [open(provider.origin)] });
      const res = await cap.invoke(ctxFor(), cap.parse(args({ url: `${provider.origin}/json` })));
      expect(res.status).toBe(200);
      expect(trap.connections).toBe(0);
    } finally {
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY']) {
        if (k in saved) process.env[k] = saved[k];
        else delete process.env[k];
      }
    }
  });
});

// Self-signed, test-only (SAN: DNS:localhost, IP:127.0.0.1), trusted by nothing but these tests.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBsDCCAVWgAwIBAgIUPX1o4M+sA4mHgclCFBoXeyGXdZgwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTcGF5b3V0LXNhbmRib3ggdGVzdDAgFw0yNjExMjMxNTU0MzRa
GA8yMTI2MTAzMDE1NTQzNFowHjEcMBoGA1UEAwwTcGF5b3V0LXNhbmRib3ggdGVz
dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABLCHv2pkRDV4W2yUjkGYUE0yr5AL
so6qkxJYmzPPDtIKGjT1G5b7yXWkRFmfCwAeWA6GuSUMV7qBAPajDH5TMFqjbzBt
MB0GA1UdDgQWBBSzVOl19iThrgQRgw5ebVVOyoN8GjAfBgNVHSMEGDAWgBSzVOl1
9iThrgQRgw5ebVVOyoN8GjAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxv
Y2FsaG9zdIcEfwAAATAKBggqhkjOPQQDAgNJADBGAiEAyK98Lc3lxdtuFufWYpqB
gmblkElxhHE8QVvaTUhUjooCIQD0ZRCNPb+Syu13fyVUtLcrdV6IEoKJtvNKE2Bh
EqclPw==
-----END CERTIFICATE-----`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDqHvbL3scqkja5ji
eNl9bDMDCiRp74DXEswX/tvxnyOhRANCAASwh79qZEQ1eFtslI5BmFBNMq+QC7KO
qpMSWJszzw7SCho09RuW+8l1pERZnwsAHlgOhrklDFe6gQD2owx+UzBa
-----END PRIVATE KEY-----`;

describe('TLS with a pinned address', () => {
  let tls: { port: number; sni: string[]; hosts: string[]; close(): Promise<void> };
  beforeAll(async () => {
    const sni: string[] = [];
    const hosts: string[] = [];
    const server = https.createServer({ cert: TEST_CERT, key: TEST_KEY }, (req, res) => {
      sni.push(String((req.socket as import('node:tls').TLSSocket).servername));
      hosts.push(String(req.headers.host));
      res.setHeader('content-type', 'text/plain');
      res.end('secure');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    tls = {
      port: (server.address() as AddressInfo).port,
      sni,
      hosts,
      close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    };
  });
  afterAll(() => tls.close());

  // The guard's default connector with one extra trusted CA, still refusing non-loopback addresses.
  function trustingConnector() {
    const real = buildConnector({ ca: TEST_CERT, allowH2: false, timeout: 2000 });
    return ((o, cb) => {
      if (!/^127\./.test(o.hostname)) {
        violations.push(`tls connector reached for ${o.hostname}`);
        throw new Error('non-loopback');
      }
      return real(o, cb);
    }) as ReturnType<typeof buildConnector>;
  }

  it('a name granted over https connects to the pinned address but verifies the certificate and sends SNI for the name', async () => {
    const origin = `https://localhost:${tls.port}`;
    const cap = makeCap([open(origin)], { connect: trustingConnector() });
    const res = await call(cap, { url: `${origin}/x` });
    expect(res).toMatchObject({ status: 200, body: 'secure' });
    expect(tls.sni.at(-1)).toBe('localhost');
    expect(tls.hosts.at(-1)).toBe(`localhost:${tls.port}`);
  });

  it('an IP literal over https is verified against the IP in the certificate', async () => {
    const origin = `https://127.0.0.1:${tls.port}`;
    const cap = makeCap([open(origin)], { connect: trustingConnector() });
    expect((await call(cap, { url: `${origin}/x` })).status).toBe(200);
  });

  it('an untrusted certificate fails the request as a TLS error, with nothing counted', async () => {
    const origin = `https://127.0.0.1:${tls.port}`;
    const cap = createHttpCapability({ grantsFor: async () => [open(origin)] });
    const ctx = ctxFor();
    const e = await cap.invoke(ctx, cap.parse(args({ url: `${origin}/x` }))).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('tls');
    expect(ctx.counters.outboundRequests).toBe(0);
  });
});

describe('refusals (each named by the attack)', () => {
  const grants = () => [open(provider.origin)];

  it('ungranted origin: the message names the origin and how to grant it', async () => {
    const ctx = ctxFor();
    const e = await refusal(makeCap(grants), { url: 'https://evil.example/steal?k=1' }, ctx);
    expect(e.rule).toBe('http.grant');
    expect(e.message).toBe(
      "http.request refused: https://evil.example:443 is not granted to plugin 'acme'. An administrator can grant it in the admin page (Plugins → acme → Network) or with --grant https://evil.example for `payout-sandbox call`.",
    );
    expect(lookups).toEqual([]);
    expect(ctx.counters.outboundRequests).toBe(0);
  });

  it('127.0.0.1 on a port other than the granted fake provider', async () => {
    const e = await refusal(makeCap(grants), { url: `http://127.0.0.1:${trap.port}/` });
    expect(e.rule).toBe('http.loopback');
    expect(e.message).toContain(`loopback origins allowed here: ${provider.origin}`);
    expect(trap.connections).toBe(0);
  });

  it('localhost (not granted by that name) on the granted port', async () => {
    const e = await refusal(makeCap(grants), { url: `http://localhost:${provider.port}/json` });
    expect(e.rule).toBe('http.localhost');
    expect(lookups).toEqual([]);
  });

  it.each([
    ['[::1] IPv6 loopback', (p: number) => `http://[::1]:${p}/json`, 'http.loopback'],
    ['[::ffff:127.0.0.1] IPv4-mapped loopback', (p: number) => `http://[::ffff:127.0.0.1]:${p}/json`, 'http.loopback'],
    ['2130706433 decimal loopback', (p: number) => `http://2130706433:${p}/json`, 'http.host-spelling'],
    ['0x7f000001 hex loopback', (p: number) => `http://0x7f000001:${p}/json`, 'http.host-spelling'],
    ['0177.0.0.1 octal loopback', (p: number) => `http://0177.0.0.1:${p}/json`, 'http.host-spelling'],
    ['127.1 short-form loopback', (p: number) => `http://127.1:${p}/json`, 'http.host-spelling'],
  ])('%s on the granted port', async (_name, url, rule) => {
    const before = provider.seen.length;
    const e = await refusal(makeCap(grants), { url: url(provider.port) });
    expect(e.rule).toBe(rule);
    expect(provider.seen.length).toBe(before);
  });

  it('redirect from a granted origin to an ungranted one', async () => {
    const ctx = ctxFor();
    const e = await refusal(makeCap(grants), { url: `${provider.origin}/to?u=${encodeURIComponent('https://evil.example/collect')}` }, ctx);
    expect(e.rule).toBe('http.redirect');
    expect(e.message).toContain(`redirect from ${provider.origin}/to to https://evil.example:443/collect was not followed`);
    expect(e.message).not.toContain('?u=');
    expect(e.message).toContain("https://evil.example:443 is not granted to plugin 'acme'");
    expect(ctx.counters.outboundRequests).toBe(1);
  });

  it('redirect from a granted origin to a private address', async () => {
    const e = await refusal(makeCap(grants), { url: `${provider.origin}/to?u=${encodeURIComponent('http://10.0.0.1/admin')}` });
    expect(e.rule).toBe('http.redirect');
    expect(e.message).toMatch(/10\.0\.0\.1 is private \(10\/8\)/);
  });

  it('redirect from a granted origin to loopback on another port', async () => {
    const e = await refusal(makeCap(grants), { url: `${provider.origin}/to?u=${encodeURIComponent(`http://127.0.0.1:${trap.port}/`)}` });
    expect(e.rule).toBe('http.redirect');
    expect(trap.connections).toBe(0);
  });

  it('redirect loop beyond the maximum of 5', async () => {
    const ctx = ctxFor();
    const before = provider.seen.length;
    const e = await refusal(makeCap(grants), { url: `${provider.origin}/loop` }, ctx);
    expect(e.rule).toBe('http.redirect.max');
    expect(provider.seen.length - before).toBe(6);
    expect(ctx.counters.outboundRequests).toBe(6);
  });

  it('oversize response with a declared length', async () => {
    const cap = makeCap(grants, { caps: { maxResponseBytes: 64 * 1024 } });
    const e = await refusal(cap, { url: `${provider.origin}/big?n=${200 * 1024}` });
    expect(e.rule).toBe('http.response-size');
  });

  it('oversize chunked response: reading stops past the limit (plugin may lower the cap)', async () => {
    const cap = makeCap(grants);
    const e = await refusal(cap, { url: `${provider.origin}/big?chunked=1&n=${4 * 1024 * 1024}`, maxResponseBytes: 100_000 });
    expect(e.rule).toBe('http.response-size');
    expect(e.message).toMatch(/100000-byte limit; reading stopped/);
  });

  it('a plugin cannot raise the response cap above the configured one', async () => {
    const cap = makeCap(grants, { caps: { maxResponseBytes: 1000 } });
    const e = await refusal(cap, { url: `${provider.origin}/big?n=5000`, maxResponseBytes: 10_000_000 });
    expect(e.rule).toBe('http.response-size');
  });

  it('slow response beyond the total timeout', async () => {
    const ctx = ctxFor();
    const t0 = Date.now();
    const e = await call(makeCap(grants), { url: `${provider.origin}/slow?ms=3000`, timeoutMs: 200 }, ctx).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/within 200 ms \(the 200 ms request timeout\)/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(ctx.counters.outboundRequests).toBe(1);
  });

  it("slow response beyond the call's deadline", async () => {
    const e = await call(makeCap(grants), { url: `${provider.origin}/slow?ms=3000` }, ctxFor(250)).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/the call's deadline/);
  });

  it('a response body that stalls is cut off by the total timeout', async () => {
    const e = await call(makeCap(grants), { url: `${provider.origin}/stall-body`, timeoutMs: 300 }).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('timeout');
  });

  it('a call whose deadline has passed sends nothing', async () => {
    const ctx = ctxFor(-1);
    const before = provider.seen.length;
    const e = await call(makeCap(grants), { url: `${provider.origin}/json` }, ctx).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('deadline');
    expect(provider.seen.length).toBe(before);
    expect(ctx.counters.outboundRequests).toBe(0);
  });

  it('a method outside the grant', async () => {
    const cap = makeCap([open(provider.origin, { methods: ['GET'] })]);
    const before = provider.seen.length;
    const e = await refusal(cap, { method: 'POST', url: `${provider.origin}/echo`, body: '{}' });
    expect(e.rule).toBe('http.grant.method');
    expect(e.message).toContain('POST is not granted for');
    expect(e.message).toContain('(granted: GET)');
    expect(provider.seen.length).toBe(before);
  });

  it.each([
    ['a path outside the prefix', '/json'],
    ['a sibling that shares the prefix text', '/v10/ok'],
    ['dot-segment traversal out of the prefix', '/v1/../json'],
    ['encoded-slash traversal out of the prefix', '/v1/..%2fjson'],
    ['encoded-dot traversal out of the prefix', '/v1/%2e%2e/json'],
    ['encoded backslash traversal', '/v1/..%5cjson'],
  ])('a path outside the grant: %s', async (_name, path) => {
    const cap = makeCap([open(provider.origin, { pathPrefix: '/v1' })]);
    const e = await refusal(cap, { url: `${provider.origin}${path}` });
    expect(e.rule).toBe('http.grant.path');
  });

  it('a path inside the grant passes', async () => {
    const cap = makeCap([open(provider.origin, { pathPrefix: '/v1' })]);
    expect((await call(cap, { url: `${provider.origin}/v1/ok` })).status).toBe(200);
  });

  it('per-call cap: the fourth request of a call capped at 3 is refused; a new call may go on', async () => {
    const cap = makeCap(grants, { caps: { maxRequestsPerCall: 3 } });
    const ctx = ctxFor();
    for (let i = 0; i < 3; i++) await call(cap, { url: `${provider.origin}/json` }, ctx);
    const e = await refusal(cap, { url: `${provider.origin}/json` }, ctx);
    expect(e.rule).toBe('http.rate.call');
    expect(ctx.counters.outboundRequests).toBe(3);
    expect((await call(cap, { url: `${provider.origin}/json` }, ctxFor())).status).toBe(200);
  });

  it('per-call cap counts redirect hops', async () => {
    const cap = makeCap(grants, { caps: { maxRequestsPerCall: 3 } });
    const e = await refusal(cap, { url: `${provider.origin}/hops?n=4` });
    expect(e.rule).toBe('http.redirect');
    expect(e.message).toContain('[http.rate.call]');
  });

  it('per-minute cap per plugin, with the window sliding', async () => {
    let now = 1_000_000;
    const cap = makeCap(grants, { caps: { maxRequestsPerMinute: 2 }, now: () => now });
    await call(cap, { url: `${provider.origin}/json` });
    await call(cap, { url: `${provider.origin}/json` }, ctxFor());
    const e = await refusal(cap, { url: `${provider.origin}/json` }, ctxFor());
    expect(e.rule).toBe('http.rate.minute');
    // Another plugin has its own window.
    expect((await call(cap, { url: `${provider.origin}/json` }, ctxFor(10_000, 'other-plugin'))).status).toBe(200);
    now += 60_001;
    expect((await call(cap, { url: `${provider.origin}/json` })).status).toBe(200);
  });

  it('oversize request body', async () => {
    const cap = makeCap(grants, { caps: { maxRequestBodyBytes: 1000 } });
    const before = provider.seen.length;
    const e = await refusal(cap, { method: 'POST', url: `${provider.origin}/echo`, body: 'x'.repeat(1001) });
    expect(e.rule).toBe('http.request-size');
    expect(provider.seen.length).toBe(before);
  });
});

describe('counting requests that may have left', () => {
  it('counts a request whose connection the provider drops after reading it', async () => {
    const ctx = ctxFor();
    const e = await call(makeCap([open(provider.origin)]), { method: 'POST', url: `${provider.origin}/reset`, body: 'payout' }, ctx).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('network');
    expect(ctx.counters.outboundRequests).toBe(1);
  });

  it('does not count a request that could not connect', async () => {
    const closed = await listen(() => {});
    await closed.close();
    const ctx = ctxFor();
    const e = await call(makeCap([open(closed.origin)]), { url: `${closed.origin}/` }, ctx).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(ctx.counters.outboundRequests).toBe(0);
  });
});

describe('arguments, grants and the audit line', () => {
  const cap = makeCap([open('http://127.0.0.1:1')]);
  it.each([
    ['not an object', 'x', /argument \(arguments\) must be an object/],
    ['unknown key', { ...args({ url: 'http://a.example/' }), proxy: 'x' }, /argument "proxy" is not a known argument/],
    ['bad method', args({ method: 'CONNECT', url: 'http://a.example/' }), /argument method must be one of/],
    ['url not a string', { ...args({ url: '' }), url: 5 }, /argument url must be a string/],
    ['url scheme', args({ url: 'ftp://a.example/' }), /argument url must be an absolute http: or https: URL/],
    ['header with CRLF', args({ url: 'http://a.example/', headers: { 'X-A': 'a\r\nHost: b' } }), /argument headers\["X-A"\] must not contain CR, LF/],
    ['header name', args({ url: 'http://a.example/', headers: { 'X A': 'a' } }), /argument headers\["X A"\] has a name/],
    ['header value type', { ...args({ url: 'http://a.example/' }), headers: { a: 1 } }, /argument headers\["a"\] must be a string/],
    ['body on GET', args({ url: 'http://a.example/', body: 'x' }), /argument body must be null for GET/],
    ['bad base64', args({ method: 'POST', url: 'http://a.example/', body: 'not base64!', bodyEncoding: 'base64' }), /argument body is not valid base64/],
    ['bodyEncoding', { ...args({ url: 'http://a.example/' }), bodyEncoding: 'hex' }, /argument bodyEncoding must be 'utf8' or 'base64'/],
    ['timeoutMs', { ...args({ url: 'http://a.example/' }), timeoutMs: -1 }, /argument timeoutMs must be a positive integer/],
    ['maxResponseBytes', { ...args({ url: 'http://a.example/' }), maxResponseBytes: 1.5 }, /argument maxResponseBytes must be a positive integer/],
  ])('parse rejects %s, naming the field', (_name, raw, message) => {
    expect(() => cap.parse(raw)).toThrow(CapabilityArgumentError);
    expect(() => cap.parse(raw)).toThrow(message);
  });

  it('summarize: method, origin, path and body size; no header values, body or query', () => {
    const a = cap.parse(args({ method: 'POST', url: 'https://api.provider.example/v1/pay?sig=SECRETSIG', headers: { Authorization: 'Bearer SECRETTOKEN', 'X-Api-Key': 'SECRETKEY' }, body: '{"card":"4111111111111111"}' }));
    const line = cap.summarize(a);
    expect(line).toBe('POST https://api.provider.example:443/v1/pay body=27B');
    expect(line).not.toMatch(/SECRET|4111/);
  });

  it('normaliseGrant accepts origins with or without the default port and rejects malformed grants', () => {
    expect(normaliseGrant({ origin: 'https://API.Provider.example', pathPrefix: '/v1/', methods: ['get', 'POST'] })).toEqual({
      origin: 'https://api.provider.example:443',
      pathPrefix: '/v1/',
      methods: ['GET', 'POST'],
    });
    expect(() => normaliseGrant({ origin: 'https://a.example/v1', pathPrefix: null, methods: null })).toThrow(/pathPrefix/);
    expect(() => normaliseGrant({ origin: 'https://a.example', pathPrefix: 'v1', methods: null })).toThrow(/plain absolute path/);
    expect(() => normaliseGrant({ origin: 'https://a.example', pathPrefix: '/v1/../admin', methods: null })).toThrow(/plain absolute path/);
    expect(() => normaliseGrant({ origin: 'https://a.example', pathPrefix: null, methods: ['TRACE'] })).toThrow(/TRACE/);
    expect(() => normaliseGrant({ origin: 'http://2130706433', pathPrefix: null, methods: null })).toThrow(/non-canonical/);
  });

  it('an invalid grant from the store fails the call closed with a clear error', async () => {
    const bad = makeCap([{ origin: 'https://a.example/path', pathPrefix: null, methods: null }]);
    const e = await call(bad, { url: 'https://a.example/path' }).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('grants');
  });

  it('defaults are the documented ones', () => {
    expect(DEFAULT_HTTP_CAPS).toEqual({
      connectTimeoutMs: 5000,
      totalTimeoutMs: 30000,
      maxRequestBodyBytes: 1048576,
      maxResponseBytes: 2097152,
      maxRequestsPerCall: 20,
      maxRequestsPerMinute: 120,
      maxRedirects: 5,
    });
  });
});

describe('server-originated requests (merchant IPN)', () => {
  function ipn(extra: Parameters<typeof createServerEgress>[0] = {}) {
    return createServerEgress({
      label: 'ipn',
      allowLoopbackOrigins: [other.origin],
      resolve: tableResolver(() => ({ 'merchant.example': ['10.20.30.40'], 'split.example': ['8.8.8.8', '192.168.0.10'] }), lookups),
      connect: testConnector({ mode: () => 'strict', trapPort: () => trap.port, violations }),
      ...extra,
    });
  }

  it('delivers to an allowed loopback origin (tests and demo) and counts it', async () => {
    const counters = { outboundRequests: 0 };
    const res = await ipn().request({
      method: 'POST',
      url: `${other.origin}/ipn`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'orderId=1&status=done',
      counters,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).body).toBe('orderId=1&status=done');
    expect(counters.outboundRequests).toBe(1);
  });

  it.each([
    ['our own loopback on another port', () => `http://127.0.0.1:${provider.port}/admin`, 'http.loopback'],
    ['localhost', () => `http://localhost:${other.port}/`, 'http.localhost'],
    ['a private address', () => 'http://10.0.0.1/ipn', 'http.address'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/', 'http.address'],
    ['a name that resolves privately', () => 'https://merchant.example/ipn', 'http.address'],
    ['a name with one private answer', () => 'https://split.example/ipn', 'http.address'],
    ['a decimal loopback spelling', () => `http://2130706433:${other.port}/`, 'http.host-spelling'],
  ])('refuses an ipnUrl pointing at %s', async (_name, url, rule) => {
    const e = await ipn().request({ method: 'POST', url: url(), body: 'x=1' }).catch((x) => x);
    expect(e).toBeInstanceOf(PolicyDenied);
    expect(e.rule).toBe(rule);
    expect(e.message).toMatch(/^ipn refused: /);
  });

  it('does not follow redirects by default (returns the 3xx)', async () => {
    const egress = ipn({ allowLoopbackOrigins: [provider.origin] });
    const res = await egress.request({ method: 'POST', url: `${provider.origin}/to?u=${encodeURIComponent('http://10.0.0.1/')}`, body: 'x=1' });
    expect(res.status).toBe(302);
    expect(res.redirected).toBe(false);
  });

  it('when redirects are enabled, each hop is still checked', async () => {
    const egress = ipn({ allowLoopbackOrigins: [provider.origin], caps: { maxRedirects: 3 } });
    const e = await egress.request({ method: 'GET', url: `${provider.origin}/to?u=${encodeURIComponent('http://10.0.0.1/')}` }).catch((x) => x);
    expect(e).toBeInstanceOf(PolicyDenied);
    expect(e.rule).toBe('http.redirect');
  });

  it('only loopback origins may be listed as allowed loopback origins', () => {
    expect(() => createServerEgress({ allowLoopbackOrigins: ['http://10.0.0.1:80'] })).toThrow(/not a loopback origin/);
    expect(() => createServerEgress({ allowLoopbackOrigins: ['https://merchant.example'] })).toThrow(/not a loopback origin/);
  });
});
