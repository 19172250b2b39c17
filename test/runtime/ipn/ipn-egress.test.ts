// The IPN's egress policy on the host's egress guard: ipnLoopbackOrigins exactly, nothing else
// non-public, no redirects, POST only. The resolver and connector are injected and record every use,
// so a refusal is shown to happen before any socket opens (design.md §9); only 127.0.0.1 is contacted.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PolicyDenied } from '../../../host-api/capability.ts';
import type { Connector, Resolver } from '../../../host-api/http/egress.ts';
import { createIpnEgress } from '../../../runtime/ipn/ipn-egress.ts';

interface Receiver { server: http.Server; port: number; origin: string; received: string[] }
let merchant: Receiver;
let bystander: Receiver;
let connected: string[];
let lookups: string[];
const DNS: Record<string, string[]> = { 'shop.example.test': ['10.0.0.5'], 'meta.example.test': ['169.254.169.254'], 'mixed.example.test': ['93.184.216.34', '127.0.0.1'] };

async function receiver(): Promise<Receiver> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    if (req.url === '/moved') return void res.writeHead(302, { location: `${bystander.origin}/ipn` }).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, port, origin: `http://127.0.0.1:${port}`, received };
}

const realConnect = buildConnector({ timeout: 2000, allowH2: false });
const connect: Connector = ((o, cb) => {
  connected.push(`${o.hostname}:${o.port}`);
  if (o.hostname !== '127.0.0.1') return void cb(new Error(`test connector: refusing non-loopback ${o.hostname}`), null);
  return realConnect(o, cb);
}) as Connector;
const resolve: Resolver = async (host) => {
  lookups.push(host);
  if (!DNS[host]) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return DNS[host].map((address) => ({ address, family: 4 }));
};
const egress = (loopbackOrigins: string[]) => createIpnEgress({ loopbackOrigins, overrides: { resolve, connect } });
const post = (url: string) => ({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'orderId=o1&status=done' });

beforeAll(async () => {
  merchant = await receiver();
  bystander = await receiver();
});
afterAll(async () => {
  for (const r of [merchant, bystander]) {
    r.server.closeAllConnections();
    await new Promise<void>((done) => r.server.close(() => done()));
  }
});
beforeEach(() => {
  connected = [];
  lookups = [];
  merchant.received.length = 0;
  bystander.received.length = 0;
});

describe('IPN egress policy', () => {
  it('delivers to an origin in ipnLoopbackOrigins (the control), through the checked connector', async () => {
    const res = await egress([merchant.origin]).request(post(`${merchant.origin}/ipn`));
    expect(res.status).toBe(200);
    expect(merchant.received).toEqual(['POST /ipn']);
    expect(connected).toEqual([`127.0.0.1:${merchant.port}`]);
  });

  it.each([
    ['the same address on another port', () => `${bystander.origin}/ipn`, 'http.loopback'],
    ['the name localhost', () => `http://localhost:${merchant.port}/ipn`, 'http.localhost'],
    ['::1', () => `http://[::1]:${merchant.port}/ipn`, 'http.loopback'],
    ['a name that resolves to a private address', () => 'http://shop.example.test/ipn', 'http.address'],
    ['a name that resolves to cloud metadata', () => 'http://meta.example.test/latest', 'http.address'],
    ['a name with one loopback answer among public ones', () => 'http://mixed.example.test/ipn', 'http.address'],
    ['a private literal', () => 'http://192.168.0.10/ipn', 'http.address'],
  ])('refuses %s before any socket opens', async (_name, url, rule) => {
    const err = await egress([merchant.origin]).request(post(url())).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyDenied);
    expect(err.rule).toBe(rule);
    expect(err.message).toMatch(/^ipn refused: /);
    expect(connected).toEqual([]);
    expect([merchant.received, bystander.received]).toEqual([[], []]);
  });

  it('with no loopback origin configured (production), the local merchant too is refused', async () => {
    await expect(egress([]).request(post(`${merchant.origin}/ipn`))).rejects.toThrow(/no loopback origin is allowed here/);
    expect(connected).toEqual([]);
    expect(merchant.received).toEqual([]);
  });

  it('does not follow a redirect, even to another allowed origin, and sends only POST', async () => {
    const res = await egress([merchant.origin, bystander.origin]).request(post(`${merchant.origin}/moved`));
    expect(res.status).toBe(302);
    expect(bystander.received).toEqual([]);
    await expect(egress([merchant.origin]).request({ ...post(`${merchant.origin}/ipn`), method: 'GET', body: undefined }))
      .rejects.toMatchObject({ rule: 'ipn.method' });
    expect(merchant.received).toEqual(['POST /moved']);
  });
});
