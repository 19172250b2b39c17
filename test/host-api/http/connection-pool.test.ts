// Keep-alive pools of http.request, attacked: a kept connection must never carry a request the
// address policy would not let open a new one, never serve another plugin, and never grow past its
// bounds. Only loopback is ever contacted: the connector maps the documentation-free public
// addresses the resolver answers onto the local fake provider and reports the address it was
// asked for as the socket's remote address, as a real network would.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpCapability, createServerEgress, type Connector, type Grant, type HttpCapabilityOptions } from '../../../host-api/http.ts';
import { PolicyDenied, newCounters, type HostCallContext } from '../../../host-api/capability.ts';
import { PUBLIC_IP, tableResolver } from '../ssrf-cases.ts';

const OTHER_PUBLIC_IP = '93.184.215.15';
const NAME = 'pay.provider.example';

interface Provider {
  port: number;
  connections: number;
  requests: number;
  open: number;
  maxOpen: number;
  close(): Promise<void>;
}

let provider: Provider;
/** Every address the connector was asked to open a socket to. */
let connects: string[] = [];

beforeAll(async () => {
  const p: Provider = { port: 0, connections: 0, requests: 0, open: 0, maxOpen: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    p.requests++;
    req.resume();
    req.on('end', () => {
      // /slow answers on the next timer turn, so concurrent requests overlap at the server.
      const answer = () => res.end(JSON.stringify({ ok: true }));
      if (req.url === '/slow') setTimeout(answer, 20);
      else answer();
    });
  });
  server.on('connection', (socket: Socket) => {
    p.connections++;
    p.open++;
    p.maxOpen = Math.max(p.maxOpen, p.open);
    socket.on('close', () => p.open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.port = (server.address() as AddressInfo).port;
  p.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  provider = p;
});
afterAll(() => provider.close());
beforeEach(() => {
  connects = [];
  Object.assign(provider, { connections: 0, requests: 0, maxOpen: provider.open });
});

/** Public addresses are served by the local provider; anything else fails the test. */
const publicToLoopback: Connector = (() => {
  const real = buildConnector({ timeout: 2000, allowH2: false });
  return ((o, cb) => {
    connects.push(o.hostname);
    if (o.hostname !== PUBLIC_IP && o.hostname !== OTHER_PUBLIC_IP) throw new Error(`test connector: refusing ${o.hostname}`);
    real({ ...o, hostname: '127.0.0.1', port: String(provider.port) }, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no socket'), null);
      Object.defineProperty(socket as Socket, 'remoteAddress', { value: o.hostname, configurable: true });
      cb(null, socket);
    });
  }) as Connector;
})();

const origin = () => `http://${NAME}:${provider.port}`;
const grant = (): Grant => ({ origin: origin(), pathPrefix: null, methods: null });

function makeCap(dns: () => Record<string, string[] | string[][]>, options: Partial<HttpCapabilityOptions> = {}) {
  return createHttpCapability({ grantsFor: async () => [grant()], resolve: tableResolver(dns), connect: publicToLoopback, ...options });
}

const ctxFor = (plugin = 'acme'): HostCallContext => ({ plugin, callId: 'c', method: 'cron', deadline: Date.now() + 10_000, counters: newCounters() });

async function get(cap: ReturnType<typeof makeCap>, ctx = ctxFor(), path = '/json') {
  return cap.invoke(ctx, cap.parse({ method: 'GET', url: `${origin()}${path}`, headers: {}, body: null, bodyEncoding: 'utf8' }));
}

async function refused(p: Promise<unknown>): Promise<PolicyDenied> {
  const e = await p.then((v) => v, (err) => err);
  if (!(e instanceof PolicyDenied)) throw new Error(`expected a refusal, got ${e instanceof Error ? e.message : JSON.stringify(e)}`);
  return e;
}

describe('one plugin, one origin', () => {
  it('positive control: a second request reuses the kept connection, and each request is counted as sent', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }));
    const first = ctxFor();
    const second = ctxFor();
    expect((await get(cap, first)).status).toBe(200);
    expect((await get(cap, second)).status).toBe(200);
    expect(provider.requests).toBe(2);
    expect(provider.connections).toBe(1);
    expect(connects).toEqual([PUBLIC_IP]);
    expect([first.counters.outboundRequests, second.counters.outboundRequests]).toEqual([1, 1]);
  });

  it('pool: false opens a connection per request', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { pool: false });
    await get(cap);
    await get(cap);
    expect(provider.connections).toBe(2);
  });

  it('DNS rebinding between two requests: the second is refused by the address policy, the kept connection carries nothing', async () => {
    for (const rebound of ['10.0.0.7', '127.0.0.1', '169.254.169.254']) {
      provider.requests = 0;
      const cap = makeCap(() => ({ [NAME]: [[PUBLIC_IP], [rebound]] }));
      expect((await get(cap)).status).toBe(200);
      const ctx = ctxFor();
      const e = await refused(get(cap, ctx));
      expect(e.rule).toBe('http.address');
      expect(e.message).toContain(`resolves to ${rebound}`);
      expect(provider.requests).toBe(1);
      expect(ctx.counters.outboundRequests).toBe(0);
    }
  });

  it('DNS answers a new public address: the request opens a connection to it instead of reusing the one pinned to the old address', async () => {
    const cap = makeCap(() => ({ [NAME]: [[PUBLIC_IP], [OTHER_PUBLIC_IP]] }));
    await get(cap);
    await get(cap);
    expect(connects).toEqual([PUBLIC_IP, OTHER_PUBLIC_IP]);
    expect(provider.connections).toBe(2);
  });

  it('a grant revoked between two requests refuses the second before the kept connection is touched', async () => {
    let grants = [grant()];
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { grantsFor: async () => grants });
    await get(cap);
    grants = [];
    expect((await refused(get(cap))).rule).toBe('http.grant');
    expect(provider.requests).toBe(1);
  });
});

describe('between plugins', () => {
  it('two plugins to the same origin never share a connection', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }));
    for (const plugin of ['alpha', 'beta', 'alpha', 'beta']) expect((await get(cap, ctxFor(plugin))).status).toBe(200);
    expect(provider.requests).toBe(4);
    // One each, each reused once: had they shared, there would be one.
    expect(provider.connections).toBe(2);
  });

  it('a plugin at its bound waits for its own connections; another plugin is not held up by it', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { pool: { socketsPerPlugin: 1, socketsPerOrigin: 1 } });
    const results = await Promise.all([get(cap, ctxFor('alpha'), '/slow'), get(cap, ctxFor('alpha'), '/slow'), get(cap, ctxFor('beta'), '/slow')]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    // alpha's two requests took turns on one connection, beta had its own.
    expect(provider.connections).toBe(2);
  });
});

describe('bounds', () => {
  it('concurrent requests of one plugin open at most socketsPerOrigin connections; the rest wait and are served', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { pool: { socketsPerOrigin: 2 } });
    const results = await Promise.all(Array.from({ length: 6 }, () => get(cap, ctxFor(), '/slow')));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(provider.requests).toBe(6);
    expect(provider.connections).toBeLessThanOrEqual(2);
  });

  it('positive control: with room for all of them, the same burst opens more than two', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { pool: { socketsPerOrigin: 8 } });
    await Promise.all(Array.from({ length: 6 }, () => get(cap, ctxFor(), '/slow')));
    expect(provider.connections).toBeGreaterThan(2);
  });

  it('a waiting request gives up at its own deadline, having sent nothing', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }), { pool: { socketsPerOrigin: 1 } });
    const slow = get(cap, ctxFor(), '/slow');
    const hurried = { ...ctxFor(), deadline: Date.now() + 5 };
    const e = await get(cap, hurried).then(() => null, (err) => err);
    expect(e?.message).toMatch(/did not complete within/);
    expect(hurried.counters.outboundRequests).toBe(0);
    expect((await slow).status).toBe(200);
  });
});

describe("the host's own traffic", () => {
  it('server egress (IPN) opens its own connection per request and keeps refusing an origin it does not allow, whatever the plugins keep open', async () => {
    const cap = makeCap(() => ({ [NAME]: [PUBLIC_IP] }));
    await get(cap);
    const ipn = createServerEgress({ label: 'ipn', resolve: tableResolver(() => ({ [NAME]: [PUBLIC_IP] })), connect: publicToLoopback });
    await ipn.request({ method: 'POST', url: `${origin()}/json`, body: '{}' });
    await ipn.request({ method: 'POST', url: `${origin()}/json`, body: '{}' });
    expect(provider.connections).toBe(3);
    const loopback = createServerEgress({ label: 'ipn' });
    const e = await loopback.request({ method: 'POST', url: `http://127.0.0.1:${provider.port}/json`, body: '{}' }).then(() => null, (err) => err);
    expect(e).toBeInstanceOf(PolicyDenied);
    expect((e as PolicyDenied).rule).toBe('http.loopback');
  });
});
