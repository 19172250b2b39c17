// http.request end to end against a granted loopback origin (host-api/http.ts with the header
// rules of host-api/http/headers.ts): what a plugin sends arrives intact but for the headers that
// are ours, and what the provider answers comes back as status, headers and a decoded body.

import { describe, expect, it } from 'vitest';
import { createHttpCapability } from '../../../host-api/http.ts';
import { BYTES, args, call, ctxFor, lookups, makeCap, open, provider, trap, useLoopbackProviders } from './http-fixture.ts';

useLoopbackProviders();

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
