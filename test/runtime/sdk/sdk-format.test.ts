// The SDK format end to end inside a real sandbox: a TypeScript plugin with definePayoutPlugin,
// its manifest read from code, secrets used host-side (never readable), typed errors.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const SECRET = `sdk-secret-${crypto.randomBytes(6).toString('hex')}`;
let local: LocalHost;
let server: http.Server;
let base = '';
const seen: { headers: http.IncomingHttpHeaders; body: string; path: string }[] = [];

const PLUGIN_TS = (origin: string) => `
import { definePayoutPlugin, ProviderRefused } from 'payout-sandbox/sdk';

interface Order { _id: string; outAmount: string; outValues: Record<string, string> }

export default definePayoutPlugin({
  manifest: {
    title: 'Typed Pay',
    currencies: ['CARDUAH'],
    config: { apiKey: { default: 'pk_test' }, apiSecret: { secret: true } },
    network: [{ origin: '${origin}', methods: ['GET', 'POST'] }],
  },
  fields(ctx, { lang, currency }: { lang: string; currency: string }) {
    return currency === 'CARDUAH' ? [{ _id: 'card_number', name: 'Card ' + lang, regexp: '^[0-9]{16}$', required: true }] : null;
  },
  async transfer(ctx, order: Order) {
    const res = await ctx.http.request({
      method: 'POST', url: '${origin}/payouts', json: { ref: order._id, amount: order.outAmount },
      secretHeaders: { 'x-api-secret': 'apiSecret' },
      sign: { key: 'apiSecret', header: 'x-sign', timestampHeader: 'x-ts', parts: ['timestamp', 'method', 'path', 'body'] },
    });
    if (res.status === 422) throw new ProviderRefused('insufficient funds');
    const body = res.json();
    return { status: 'accepted', reference: body.id, amount: order.outAmount };
  },
  async status(ctx, payout: { reference: string }) {
    const res = await ctx.http.get('${origin}/payouts/' + payout.reference);
    return { status: res.json().state === 'PAID' ? 'paid' : 'pending' };
  },
});
`;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ headers: req.headers, body, path: req.url ?? '' });
      if (req.url === '/payouts' && body.includes('"refuse"')) { res.statusCode = 422; res.end('{"error":"funds"}'); return; }
      res.setHeader('content-type', 'application/json');
      res.end(req.method === 'POST' ? JSON.stringify({ id: 'p_1' }) : JSON.stringify({ state: 'PAID' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  local = await openLocalHost({ grants: [{ origin: base, pathPrefix: null, methods: null }] });
});
afterAll(async () => {
  await local.close();
  server.close();
});

describe('SDK format', () => {
  it('loads a TypeScript plugin and reads its manifest from code', async () => {
    const plugin = await local.load(writePlugin('typedpay', { 'configure.js': undefined as never, 'index.js': undefined as never, 'plugin.ts': PLUGIN_TS(base) }), { apiSecret: SECRET });
    expect(plugin.manifest).toMatchObject({ format: 'sdk', title: 'Typed Pay', allow_XML: ['CARDUAH'], required_config: { apiKey: 1, apiSecret: 2 }, default_config: { apiKey: 'pk_test' } });
    expect(plugin.manifest.network).toEqual([{ origin: `${base}`, methods: ['GET', 'POST'], pathPrefix: null }]);
    expect(plugin.description.methods).toMatchObject({ getFields: true, transfer: true, status: true });
    expect(await local.sandbox.invoke('typedpay', 'getFields', ['ru', 'CARDUAH'])).toMatchObject({ ok: true, value: [{ _id: 'card_number', name: 'Card ru' }] });
  });

  it('transfer signs host-side: the provider sees the secret and a valid signature, the plugin never does', async () => {
    const r = await local.sandbox.invoke('typedpay', 'transfer', [{ _id: 'o1', outAmount: '25.00', outValues: {} }]);
    expect(r).toMatchObject({ ok: true, value: { ok: 2, transaction: 'p_1', amount: '25.00' } });
    const req = seen.at(-1)!;
    expect(req.headers['x-api-secret']).toBe(SECRET);
    const expected = crypto.createHmac('sha256', SECRET).update(`${req.headers['x-ts']}POST/payouts${req.body}`).digest('hex');
    expect(req.headers['x-sign']).toBe(expected);
    await local.host.audit.flush();
    const [audit] = await local.store.queryAudit({ plugin: 'typedpay', capability: 'http.request', limit: 1 });
    expect(audit.summary).toMatch(/host-side: x-api-secret=secret\(apiSecret\) x-sign=hmac-sha256\(apiSecret\)/);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });

  it('an SDK plugin cannot read its secret through config.get', async () => {
    const direct = await local.host.api.handle({ plugin: 'typedpay', callId: 'x', method: 'test', deadline: Date.now() + 1000, counters: { outboundRequests: 0, requestsStarted: 0, hostCalls: 0 } }, 'config.get', { key: 'apiSecret' });
    expect(direct).toMatchObject({ ok: false, error: { rule: 'config.secret-host-side' } });
  });

  it('ProviderRefused is reported as a definite refusal; status answers paid', async () => {
    const refused = await local.sandbox.invoke('typedpay', 'transfer', [{ _id: 'refuse', outAmount: '1', outValues: {} }]);
    expect(refused).toMatchObject({ ok: false, error: { kind: 'plugin_error', thrown: { name: 'ProviderRefused', definite: true, message: 'insufficient funds' } } });
    expect(await local.sandbox.invoke('typedpay', 'status', [{ reference: 'p_1' }])).toMatchObject({ ok: true, value: { status: 'paid' } });
  });
});
