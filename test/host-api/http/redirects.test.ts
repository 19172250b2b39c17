// Redirects of http.request (host-api/http/egress.ts follows them by hand): each hop goes through
// the whole guard again, across origins only harmless headers follow and a body never does, and a
// redirect out of the grant, to a private address or past the maximum is refused by name.

import { describe, expect, it } from 'vitest';
import { call, ctxFor, makeCap, open, other, provider, refusal, trap, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

describe('redirects between granted origins', () => {
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
});

describe('refused redirects (each named by the attack)', () => {
  const grants = () => [open(provider.origin)];

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
});
