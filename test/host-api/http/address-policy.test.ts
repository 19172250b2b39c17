// Loopback through http.request (host-api/http/address-policy.ts and address-pins.ts): only the
// granted loopback origin on its own port, `localhost` only when granted by that name (pinned to
// 127.0.0.1, never looked up), no other spelling of loopback, and none at all where the server
// turns loopback grants off.

import { describe, expect, it } from 'vitest';
import { call, lookups, makeCap, open, provider, refusal, trap, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

describe('loopback granted by its literal or by the name localhost', () => {
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
});

describe('loopback refusals (each named by the attack)', () => {
  const grants = () => [open(provider.origin)];

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
});
