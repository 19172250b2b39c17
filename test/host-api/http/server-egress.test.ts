// Requests the server makes on its own (merchant IPN, createServerEgress in host-api/http.ts):
// the same address policy as plugin requests, loopback only at origins the host lists, and no
// redirects unless enabled, each hop then checked.

import { describe, expect, it } from 'vitest';
import { createServerEgress } from '../../../host-api/http.ts';
import { PolicyDenied } from '../../../host-api/capability.ts';
import { tableResolver, testConnector } from '../ssrf-cases.ts';
import { lookups, other, provider, trap, useLoopbackProviders, violations } from './http-fixture.ts';

useLoopbackProviders();

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
