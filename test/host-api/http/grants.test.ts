// A plugin's granted origins (host-api/http/grants.ts), checked without a network: a target is
// within a grant by origin, method and path prefix, an encoded separator cannot walk out of the
// prefix, and a secret goes only where the manifest binds it. Each refusal has its control: the
// same request inside the grant.
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../../host-api/http/address-policy.ts';
import type { Target } from '../../../host-api/http/address-policy.ts';
import { checkPluginGrant, checkSecretBinding, normaliseGrant, toNormalGrant } from '../../../host-api/http/grants.ts';

const target = (url: string): Target => {
  const p = parseTarget(url);
  if (!p.ok) throw new Error(`test URL ${url}: ${p.reason}`);
  return p.value;
};
const grants = [toNormalGrant({ origin: 'https://api.pay.example', pathPrefix: '/v1/', methods: ['POST'] })];
const ruleOf = (run: () => void): string | null => {
  try { run(); return null; } catch (e) { return (e as { rule?: string }).rule ?? 'no rule'; }
};

describe('grants', () => {
  it('normalises a grant and refuses a malformed one in one line saying how to fix it', () => {
    expect(normaliseGrant({ origin: 'https://api.pay.example:443/', pathPrefix: null, methods: ['get'] })).toEqual({ origin: 'https://api.pay.example:443', pathPrefix: null, methods: ['GET'] });
    expect(() => normaliseGrant({ origin: 'https://api.pay.example/v1', pathPrefix: null, methods: null })).toThrow(/must be scheme:\/\/host\[:port\] only; put a path in pathPrefix/);
    expect(() => normaliseGrant({ origin: 'https://api.pay.example', pathPrefix: '/v1/%2f', methods: null })).toThrow(/must be a plain absolute path/);
    expect(() => normaliseGrant({ origin: 'https://api.pay.example', pathPrefix: null, methods: ['CONNECT'] })).toThrow(/is not one of GET/);
  });

  it('a request inside the grant passes (control); another origin, method or path is refused by its rule', () => {
    expect(ruleOf(() => checkPluginGrant('p', grants, target('https://api.pay.example/v1/pay'), 'POST'))).toBeNull();
    expect(ruleOf(() => checkPluginGrant('p', grants, target('https://evil.example/v1/pay'), 'POST'))).toBe('http.grant');
    expect(ruleOf(() => checkPluginGrant('p', grants, target('https://api.pay.example/v1/pay'), 'DELETE'))).toBe('http.grant.method');
    expect(ruleOf(() => checkPluginGrant('p', grants, target('https://api.pay.example/v2/pay'), 'POST'))).toBe('http.grant.path');
  });

  it('an encoded slash, backslash or dot segment under the prefix is refused: the server could decode it out of /v1/', () => {
    for (const path of ['/v1/..%2fadmin', '/v1/%5c..%5cadmin', '/v1/%2e%2e/admin']) {
      expect(ruleOf(() => checkPluginGrant('p', grants, target(`https://api.pay.example${path}`), 'POST')), path).toBe('http.grant.path');
    }
  });

  it('a secret goes only to the origin its manifest binds it to; unbound, only to a sole granted origin', () => {
    const two = [...grants, toNormalGrant({ origin: 'https://rates.example', pathPrefix: null, methods: null })];
    const network = [{ origin: 'https://api.pay.example', secrets: ['apiKey'] }];
    // The origin a request goes to, as the guard hands it over (port written out).
    const pay = target('https://api.pay.example/v1/pay').origin;
    const rates = target('https://rates.example/').origin;
    expect(ruleOf(() => checkSecretBinding('p', ['apiKey'], pay, two, network))).toBeNull();
    expect(ruleOf(() => checkSecretBinding('p', ['apiKey'], rates, two, network))).toBe('http.secret-origin');
    expect(ruleOf(() => checkSecretBinding('p', ['apiKey'], pay, grants, undefined))).toBeNull();
    expect(ruleOf(() => checkSecretBinding('p', ['apiKey'], pay, two, undefined))).toBe('http.secret-origin');
  });
});
