// The arguments of http.request as they arrive from the sandbox (host-api/http/args.ts), the audit
// line the capability writes for a request (never a header value, body or query), and the
// documented defaults of its caps.

import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_CAPS } from '../../../host-api/http.ts';
import { CapabilityArgumentError } from '../../../host-api/capability.ts';
import { args, makeCap, open, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

describe('arguments and the audit line', () => {
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
