// The bounds of one http.request (host-api/http.ts and host-api/http/egress.ts): request and
// response sizes, the request timeout and the call's deadline, requests per call and per minute,
// and the count of requests that may have left, which the orchestrator reads to decide whether a
// payout may have been sent.

import { describe, expect, it } from 'vitest';
import { CapabilityError } from '../../../host-api/capability.ts';
import { call, ctxFor, listen, makeCap, open, provider, refusal, slowAnswered, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

describe('limits (each named by the attack)', () => {
  const grants = () => [open(provider.origin)];

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
    const e = await call(makeCap(grants), { url: `${provider.origin}/slow?ms=3000&id=total-timeout`, timeoutMs: 200 }, ctx).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/within 200 ms \(the 200 ms request timeout\)/);
    // Cut by its own timeout, not ended by the provider's late answer: without reading a clock,
    // the provider must not have answered yet when the request failed.
    expect(slowAnswered, 'the provider answered before the request was cut').not.toContain('total-timeout');
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
