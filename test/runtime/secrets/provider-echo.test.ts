// The finding, end to end through http.request: an SDK plugin asks the host to apply its API key
// (auth: { bearer }), and a provider on 127.0.0.1 echoes the Authorization header back in the
// body or in a header, in the encodings real providers use. Whatever reaches the plugin — body as
// text or as base64 bytes, headers, status text — holds no piece of the key it could hand on.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpCapability, type HttpResponseResult } from '../../../host-api/http.ts';
import { newCounters, type HostCallContext } from '../../../host-api/capability.ts';
import { Scrubber, fragmentLength } from '../../../runtime/secrets/scrubber.ts';

const KEY = 'sk_live/9fQ+Zr2=Wb7_Kx4pL';
let server: http.Server;
let origin: string;

/** What the provider answers for each path, given the Authorization header it received. */
const ECHO: Record<string, (auth: string) => { type?: string; body: Buffer | string; headers?: Record<string, string> }> = {
  '/plain': (a) => ({ type: 'application/json', body: JSON.stringify({ youSent: a }) }),
  '/php': (a) => ({ type: 'application/json', body: JSON.stringify({ youSent: a }).replace(/\//g, '\\/') }),
  '/unicode': (a) => ({ type: 'application/json', body: `{"youSent":"${[...a].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"}` }),
  '/utf16-binary': (a) => ({ type: 'application/octet-stream', body: Buffer.from(`Authorization: ${a}`, 'utf16le') }),
  '/utf16-as-utf8': (a) => ({ type: 'text/plain', body: Buffer.from(`Authorization: ${a}`, 'utf16le') }),
  '/utf16be-binary': (a) => ({ body: Buffer.from(`Authorization: ${a}`, 'utf16le').swap16() }),
  '/form': (a) => ({ type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ auth: a }).toString() }),
  '/base64': (a) => ({ type: 'text/plain', body: Buffer.from(`Authorization: ${a}`).toString('base64') }),
  '/hex': (a) => ({ type: 'text/plain', body: Buffer.from(a).toString('hex').toUpperCase() }),
  '/split': (a) => ({ type: 'application/json', body: JSON.stringify({ first: a.slice(0, 7 + 12), rest: a.slice(7 + 12) }) }),
  '/header': (a) => ({ type: 'text/plain', body: 'see headers', headers: { 'x-echo': encodeURIComponent(a), 'x-echo-php': JSON.stringify(a).replace(/\//g, '\\/') } }),
  '/harmless': () => ({ type: 'application/json', body: JSON.stringify({ note: 'pk_test/1aB+Cd3=Ef4_Gh5iJ', escaped: 'a\\/b' }), headers: { 'x-note': 'pk_test%2F1aB' } }),
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const echo = ECHO[req.url ?? ''];
    if (!echo) return void res.writeHead(404).end();
    const out = echo(String(req.headers.authorization ?? ''));
    res.writeHead(200, { ...(out.type ? { 'content-type': out.type } : {}), ...out.headers }).end(out.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function call(path: string): Promise<HttpResponseResult> {
  // As the host wires it: the plugin's own secrets are registered under `<plugin>.<key>`.
  const scrubber = new Scrubber();
  scrubber.add(KEY, 'acme.apiKey');
  const cap = createHttpCapability({
    grantsFor: async () => [{ origin, pathPrefix: null, methods: null }],
    readSecret: async () => KEY,
    scrubForPlugin: (plugin, text) => scrubber.scrubFor(plugin, text),
  });
  const ctx: HostCallContext = { plugin: 'acme', callId: 'c1', method: 'transfer', deadline: Date.now() + 10_000, counters: newCounters() };
  return cap.invoke(ctx, cap.parse({ method: 'GET', url: `${origin}${path}`, headers: {}, body: null, bodyEncoding: 'utf8', auth: { bearer: 'apiKey' } }));
}

/** Everything the plugin receives, decoded the ways it could decode it. */
function whatThePluginSees(r: HttpResponseResult): string {
  const raw = r.bodyEncoding === 'base64' ? Buffer.from(r.body, 'base64') : Buffer.from(r.body);
  const even = Buffer.from(raw.subarray(0, raw.length - (raw.length % 2)));
  const texts = [r.body, r.statusText, r.url, ...Object.values(r.headers), raw.toString('latin1'), even.toString('utf16le'), even.swap16().toString('utf16le')];
  for (const t of [...texts]) {
    try {
      texts.push(JSON.parse(t));
    } catch {}
    try {
      texts.push(decodeURIComponent(t.replace(/\+/g, ' ')));
    } catch {}
    texts.push(Buffer.from(t, 'base64').toString('latin1'), Buffer.from(t, 'hex').toString('latin1'));
  }
  return texts.map((t) => (typeof t === 'string' ? t : JSON.stringify(t))).join('\n').replace(/\0/g, '');
}

describe('a provider echoing the host-applied key', () => {
  const w = fragmentLength(KEY.length)!;
  it.each(Object.keys(ECHO).filter((p) => p !== '/harmless'))('%s: no piece of the key reaches the plugin', async (path) => {
    const r = await call(path);
    expect(r.status).toBe(200);
    const seen = whatThePluginSees(r);
    for (let i = 0; i + w <= KEY.length; i++) expect(seen, `piece ${i}`).not.toContain(KEY.slice(i, i + w));
    expect(seen).toMatch(/\[redacted:/);
  });

  it('control: a response without the key comes back byte for byte', async () => {
    const r = await call('/harmless');
    expect(JSON.parse(r.body)).toEqual({ note: 'pk_test/1aB+Cd3=Ef4_Gh5iJ', escaped: 'a\\/b' });
    expect(r.headers['x-note']).toBe('pk_test%2F1aB');
  });
});
