// /payout_call/:payoutKey/:callback/ over real HTTP on 127.0.0.1, with a real sandbox and the
// policed host API (openLocalHost) running test/fixtures/plugins/webhook-probe, whose callbacks
// each behave one way (echo, refuse GET, set hostile headers, hang, stay silent, crash, …).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import type { LoadedPlugin } from '../../../runtime/plugins/load-plugin.ts';
import { payoutCallRoutes } from '../../../runtime/server/routes/payout-call.ts';
import type { CallbackInvoke, PayoutCallOptions, WebhookEvent } from '../../../runtime/server/routes/payout-call.ts';
import type { WebhookDelivery } from '../../../runtime/store/types.ts';
import { orderWithTx } from '../../helpers/orders.ts';
import { endedAtOwnDeadline } from '../../helpers/sandbox.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { WebhookQuota } from '../../../runtime/retention/webhook-quota.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/plugins/${name}`, import.meta.url));
const KEY = 'webhook-probe';

let local: LocalHost;
const plugins = new Map<string, LoadedPlugin>();
const apps: FastifyInstance[] = [];
let steps: string[] = [];
let events: WebhookEvent[] = [];

/** While set, the route gets a call's result only once it settles: for the route, the call still runs. */
let holdResults: Promise<void> | null = null;

const invoke: CallbackInvoke = async (key, method, args, opts) => {
  steps.push(`invoke ${(args as { name: string }).name}`);
  const result = await local.sandbox.invoke(key, method, args, opts);
  if (holdResults) await holdResults;
  return result;
};

beforeAll(async () => {
  local = await openLocalHost({ sandbox: { breaker: { threshold: 1000 } } });
  await local.sandbox.start();
  for (const name of [KEY, 'minimal']) {
    const p = await local.load(fixture(name));
    plugins.set(p.key, p);
  }
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await local.close();
});
beforeEach(() => {
  steps = [];
  events = [];
});

async function serve(overrides: Partial<PayoutCallOptions> = {}): Promise<string> {
  const app = Fastify({ logger: false });
  apps.push(app);
  await app.register(payoutCallRoutes, {
    store: {
      recordWebhook: async (d) => { steps.push(`record ${d.callback}`); return local.store.recordWebhook(d); },
      finishWebhook: (id, r) => local.store.finishWebhook(id, r),
    },
    invoke,
    pluginInfo: (key) => {
      const p = plugins.get(key);
      return p ? { callbacks: p.description.callbacks } : null;
    },
    wallMs: 1500, bodyLimitBytes: 1024, ratePerMinute: 1000, onEvent: (e) => events.push(e),
    ...overrides,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

interface Sent { method?: string; headers?: Record<string, string>; body?: string | Buffer | Buffer[] }
interface Got { status: number; headers: http.IncomingHttpHeaders; text: string; json: () => any; ms: number }

/** node:http rather than fetch: it lets a test send Cookie, Connection and chunked bodies as written. */
function request(url: string, sent: Sent = {}): Promise<Got> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: sent.method ?? 'POST', headers: sent.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text), ms: Date.now() - started });
      });
    });
    req.on('error', reject);
    const parts = Array.isArray(sent.body) ? sent.body : sent.body === undefined ? [] : [sent.body];
    for (const p of parts) req.write(p);
    req.end();
  });
}

async function inbox(callback: string, count = 1, finished = true): Promise<WebhookDelivery[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const rows = (await local.store.listWebhooks({ plugin: KEY, limit: 1000 })).filter((r) => r.callback === callback);
    if (rows.length >= count && (!finished || rows.every((r) => r.state !== 'received'))) return rows.reverse();
    if (Date.now() > deadline) throw new Error(`inbox: ${rows.length} ${callback} rows, states ${rows.map((r) => r.state)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('routing', () => {
  let base: string;
  beforeAll(async () => { base = await serve(); });

  it('answers one 404, byte for byte, for an unknown plugin and an unknown callback, naming neither, without running anything', async () => {
    const noPlugin = await request(`${base}/payout_call/nope/url_final/`, { headers: form, body: 'id=1' });
    const noCallback = await request(`${base}/payout_call/${KEY}/url_final`, { headers: form, body: 'id=1' });
    for (const res of [noPlugin, noCallback]) {
      expect(res.status).toBe(404);
      expect(res.json()).toEqual({ statusCode: 404, code: 'CALLBACK_NOT_FOUND', message: 'no such payout callback here', error: { code: 'CALLBACK_NOT_FOUND', message: 'no such payout callback here', field: null } });
    }
    const sameHeaders = (h: http.IncomingHttpHeaders) => ({ ...h, date: undefined, connection: undefined, 'keep-alive': undefined });
    expect([noCallback.text, sameHeaders(noCallback.headers)]).toEqual([noPlugin.text, sameHeaders(noPlugin.headers)]);
    expect(noCallback.text).not.toMatch(/webhook-probe|nope|url_final/);
    expect(steps).toEqual([]);
    // Positive control: the same plugin's real callback is served.
    expect((await request(`${base}/payout_call/${KEY}/bad_status/`, { body: '' })).status).not.toBe(404);
  });

  it('serves POST and GET, with and without the trailing slash; the plugin refuses GET itself', async () => {
    expect((await request(`${base}/payout_call/${KEY}/post_only/`, { body: '' })).text).toBe('ok');
    expect((await request(`${base}/payout_call/${KEY}/post_only`, { body: '' })).text).toBe('ok');
    const get = await request(`${base}/payout_call/${KEY}/post_only/?id=5`, { method: 'GET' });
    expect([get.status, get.text]).toEqual([405, 'error method req']);
    const rows = await inbox('post_only', 3);
    expect(rows.map((r) => [r.method, r.responseStatus, r.state])).toEqual([['POST', 200, 'processed'], ['POST', 200, 'processed'], ['GET', 405, 'processed']]);
    expect(rows[2].query).toEqual({ id: '5' });
  });
});

describe('what the plugin is given, and what the inbox keeps', () => {
  let base: string;
  beforeAll(async () => { base = await serve(); });

  it('a form body: param.post, param.get, rawBody, method, IP and cleaned-up headers', async () => {
    const body = 'id=np_1&status=DONE&note=a+b%26c&tag=x&tag=y';
    const res = await request(`${base}/payout_call/${KEY}/echo/?ref=42&ref=43&lang=en`, {
      headers: { ...form, 'X-Nimbus-Signature': 'abc', Cookie: 'admin_session=s3cret', Connection: 'keep-alive, x-hop', 'X-Hop': 'drop me', 'Keep-Alive': 'timeout=5' },
      body,
    });
    expect(res.status).toBe(200);
    const seen = res.json();
    expect(seen).toMatchObject({
      method: 'POST', ip: '127.0.0.1', url: '/payout_call/webhook-probe/echo/?ref=42&ref=43&lang=en', path: '/payout_call/webhook-probe/echo/',
      post: { id: 'np_1', status: 'DONE', note: 'a b&c', tag: ['x', 'y'] }, get: { ref: ['42', '43'], lang: 'en' }, rawBody: body,
    });
    expect(seen.headers['x-nimbus-signature']).toBe('abc');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    for (const gone of ['cookie', 'connection', 'keep-alive', 'x-hop']) expect(seen.headers).not.toHaveProperty(gone);

    const [row] = await inbox('echo');
    expect(row).toMatchObject({ method: 'POST', ip: '127.0.0.1', body, bodyEncoding: 'utf8', state: 'processed', responseStatus: 200, error: null, query: { ref: '42,43', lang: 'en' } });
    expect(row.headers).not.toHaveProperty('cookie');
    expect(JSON.parse(row.responseBody!).rawBody).toBe(body);
  });

  it('JSON, broken JSON, text, no content type and non-utf8 bytes', async () => {
    const echo = `${base}/payout_call/${KEY}/echo/`;
    const json = await request(echo, { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"id":"np_2","amount":"10.5"}' });
    expect(json.json()).toMatchObject({ post: { id: 'np_2', amount: '10.5' }, rawBody: '{"id":"np_2","amount":"10.5"}' });
    const vendorJson = await request(echo, { headers: { 'content-type': 'application/vnd.provider+json' }, body: '[1,2]' });
    expect(vendorJson.json().post).toEqual([1, 2]);
    const broken = await request(echo, { headers: { 'content-type': 'application/json' }, body: '{"id":' });
    expect(broken.json()).toMatchObject({ post: '{"id":', rawBody: '{"id":' });
    const text = await request(echo, { headers: { 'content-type': 'text/xml' }, body: '<id>np_3</id>' });
    expect(text.json().post).toBe('<id>np_3</id>');
    const untyped = await request(echo, { body: 'id=np_4' });
    expect(untyped.json().post).toBe('id=np_4');
    const empty = await request(echo, { method: 'GET' });
    expect(empty.json()).toMatchObject({ method: 'GET', post: {}, get: {}, rawBody: '' });

    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    await request(echo, { headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const rows = await inbox('echo', 8);
    expect(rows.at(-1)).toMatchObject({ body: bytes.toString('base64'), bodyEncoding: 'base64', state: 'processed' });
  });
});

describe('limits', () => {
  it('413 for a body over the limit, declared or chunked, before anything is recorded or run', async () => {
    const base = await serve({ bodyLimitBytes: 1024 });
    const declared = await request(`${base}/payout_call/${KEY}/echo/`, { headers: form, body: 'x'.repeat(1025) });
    expect(declared.status).toBe(413);
    expect(declared.json().message).toBe('the request body is over the 1024-byte limit for payout callbacks; the plugin did not run');
    const chunked = await request(`${base}/payout_call/${KEY}/echo/`, { headers: { ...form, 'transfer-encoding': 'chunked' }, body: [Buffer.alloc(600, 97), Buffer.alloc(600, 97)] });
    expect(chunked.status).toBe(413);
    expect(steps).toEqual([]);
    expect((await request(`${base}/payout_call/${KEY}/echo/`, { headers: form, body: 'x'.repeat(1024) })).status).toBe(200);
  });

  it('429 once a plugin used its budget; other plugins and unknown names are not affected', async () => {
    const base = await serve({ ratePerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await request(`${base}/payout_call/${KEY}/post_only/`, { body: '' })).status).toBe(200);
    const limited = await request(`${base}/payout_call/${KEY}/post_only`, { body: '' });
    expect(limited.status).toBe(429);
    expect(limited.json().message).toMatch(/^too many deliveries to payout plugin 'webhook-probe': at most 3 per minute; retry in /);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(steps.filter((s) => s.startsWith('invoke'))).toHaveLength(3);
    expect((await request(`${base}/payout_call/minimal/url_final/`, { headers: form, body: 'id=1' })).status).toBe(200);
    // Unknown names are answered before the budget is consulted.
    expect((await request(`${base}/payout_call/${KEY}/url_final/`, { body: '' })).status).toBe(404);
    expect((await request(`${base}/payout_call/nope/url_final/`, { body: '' })).status).toBe(404);
  });
});

describe('the plugin answering, failing or not answering', () => {
  let base: string;
  beforeAll(async () => { base = await serve({ wallMs: 500 }); });

  it('records the delivery before the plugin runs, even when the plugin then crashes; the caller learns nothing', async () => {
    const res = await request(`${base}/payout_call/${KEY}/crash/`, { headers: form, body: 'id=7' });
    expect(res.status).toBe(500);
    const message = 'the payout plugin could not process this request';
    expect(res.json()).toEqual({ statusCode: 500, code: 'CALLBACK_PLUGIN_FAILED', message, error: { code: 'CALLBACK_PLUGIN_FAILED', message, field: null } });
    expect(steps).toEqual(['record crash', 'invoke crash']);
    const [row] = await inbox('crash');
    expect(row).toMatchObject({ body: 'id=7', state: 'failed', responseStatus: 500 });
    expect(row.error).toMatch(/^plugin_error: .*cannot reach db/);
    expect(events).toEqual([expect.objectContaining({ outcome: 'plugin_failed', status: 500, inboxId: row._id })]);
  });

  it('503 and no plugin run when the delivery cannot be recorded', async () => {
    const failing = await serve({
      store: { recordWebhook: async () => { throw new Error('database is locked'); }, finishWebhook: async () => {} },
    });
    const res = await request(`${failing}/payout_call/${KEY}/echo/`, { headers: form, body: 'id=8' });
    expect([res.status, res.headers['retry-after']]).toEqual([503, '30']);
    expect(steps).toEqual([]);
  });

  it('passes only safe response headers, and sandboxes what the plugin serves', async () => {
    const res = await request(`${base}/payout_call/${KEY}/headers/`, { body: '' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('<script>alert(1)</script>');
    for (const gone of ['set-cookie', 'location', 'x-powered-by', 'access-control-allow-origin', 'content-language']) expect(res.headers).not.toHaveProperty(gone);
    expect(res.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=5', 'retry-after': '7', 'x-request-id': 'r-1',
      'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
    });
    expect((await request(`${base}/payout_call/${KEY}/bad_status/`, { body: '' })).status).toBe(500);
  });

  it('504 when the plugin never answers, 500 when it finishes without answering', async () => {
    const pid = local.sandbox.processOf(KEY)?.pid ?? null;
    const hang = await request(`${base}/payout_call/${KEY}/hang/`, { body: '' });
    expect(hang.status).toBe(504);
    expect(hang.json().message).toBe('the plugin did not answer within 500 ms');
    expect(hang.ms).toBeGreaterThanOrEqual(450); // not before its deadline (load only makes it later)
    const [hangRow] = await inbox('hang');
    expect(hangRow).toMatchObject({ state: 'failed', responseStatus: 504 });
    // Ended by its own sandbox process at that deadline, not by a clock nor the watchdog's kill
    // (a crash, and a new process).
    expect(endedAtOwnDeadline(hangRow.error, 500), hangRow.error ?? 'no error').toBe(true);
    expect(local.sandbox.processOf(KEY)?.pid).toBe(pid);

    const silent = await request(`${base}/payout_call/${KEY}/silent/`, { body: '' });
    expect([silent.status, silent.json().message]).toEqual([500, 'the plugin finished without answering']);
    expect((await inbox('silent'))[0]).toMatchObject({ state: 'failed', error: 'the plugin finished without answering' });
  });

  it('sends the response as soon as the plugin ends it; the inbox row is finished when the call is', async () => {
    // The call's result is held from the route until the answer has arrived: a route that
    // waited for the call to end before answering would never answer (the test's timeout).
    let release = () => {};
    holdResults = new Promise((resolve) => { release = resolve; });
    try {
      const res = await request(`${base}/payout_call/${KEY}/answer_then_work/`, { body: '' });
      expect([res.status, res.text]).toEqual([200, 'accepted']);
      expect((await inbox('answer_then_work', 1, false))[0].state).toBe('received');
    } finally {
      release();
      holdResults = null;
    }
    const [row] = await inbox('answer_then_work');
    expect(row).toMatchObject({ state: 'failed', responseStatus: 200, responseBody: 'accepted' });
    expect(row.error).toMatch(/^plugin_error: .*failed after answering/);
  });
});

describe('duplicate deliveries', () => {
  it('settle the order once; every delivery is kept', async () => {
    const base = await serve();
    const { order } = await orderWithTx(local.store, KEY);
    const webhook = () => request(`${base}/payout_call/${KEY}/settle/`, { headers: form, body: `id=tx-${order.uid}` });
    const answers = (await Promise.all([webhook(), webhook()])).map((r) => [r.status, r.text]);
    const replay = await webhook();

    expect(answers.map((a) => a[0])).toEqual([200, 200]);
    expect(answers.filter((a) => a[1] === 'done')).toHaveLength(1);
    expect(answers.find((a) => a[1] !== 'done')![1]).toMatch(/^(alreadyProcessedTx|refused: updateHistory refused)/);
    expect(replay.text).toBe('alreadyProcessedTx');

    expect((await local.store.getOrder(order._id))!.status).toBe('done');
    expect((await local.store.getOrderHistory(order._id)).filter((h) => h.toStatus === 'done')).toHaveLength(1);
    expect(await local.store.listIpns(order._id)).toHaveLength(1);
    expect((await inbox('settle', 3)).map((r) => r.state)).toEqual(['processed', 'processed', 'processed']);
  });
});

describe('inbox quota (real SQLite file)', () => {
  let dir: string;
  let file: string;
  let store: Store;
  let refused: string[];
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-inbox-'));
    file = path.join(dir, 'store.db');
    store = await openStore(`sqlite:${file}`);
    refused = [];
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const serveWithQuota = (maxRows: number, maxBytes: number) => serve({
    store: { recordWebhook: async (d) => { steps.push(`record ${d.callback}`); return store.recordWebhook(d); }, finishWebhook: (id, r) => store.finishWebhook(id, r) },
    quota: new WebhookQuota({ usage: (p) => store.webhookUsage(p), maxRows, maxBytes }),
    onQuotaRefused: (plugin, limit) => refused.push(`${plugin} ${limit}`),
    bodyLimitBytes: 16 * 1024,
  });
  /** Counted in the file itself, not through the adapter: rows and stored body bytes per plugin. */
  const inFile = (plugin: string) => {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      return db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST("body" AS BLOB))), 0) AS b FROM webhook_inbox WHERE "plugin" = ?').get(plugin) as { n: number; b: number };
    } finally {
      db.close();
    }
  };

  it('an anonymous flood of large bodies stops at the byte quota: 413, nothing stored or run; deliveries before it and another plugin are processed', async () => {
    const base = await serveWithQuota(1000, 64 * 1024);
    expect((await request(`${base}/payout_call/${KEY}/post_only/`, { headers: form, body: 'id=legit' })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await request(`${base}/payout_call/${KEY}/post_only/`, { headers: form, body: 'x'.repeat(8 * 1024) })).status);
    const admitted = statuses.filter((s) => s === 200).length;
    expect(admitted).toBeGreaterThan(0);
    expect(statuses).toEqual([...Array(admitted).fill(200), ...Array(30 - admitted).fill(413)]);
    const counted = inFile(KEY);
    expect(counted.n).toBe(1 + admitted);
    expect(counted.b).toBeLessThanOrEqual(64 * 1024);
    // The answers kept with admitted deliveries count after they finish: at most one answer (16 KiB) over.
    expect((await store.webhookUsage(KEY)).bytes).toBeLessThanOrEqual(64 * 1024 + 16 * 1024);
    expect(steps.filter((s) => s.startsWith('invoke'))).toHaveLength(1 + admitted);
    expect(refused).toEqual(Array(30 - admitted).fill(`${KEY} bytes`));
    expect(events.filter((e) => e.outcome === 'over_quota').map((e) => [e.status, e.inboxId])).toEqual(Array(30 - admitted).fill([413, null]));
    // Another plugin has its own inbox and quota.
    expect((await request(`${base}/payout_call/minimal/url_final/`, { headers: form, body: 'id=1' })).status).toBe(200);
    expect(inFile('minimal').n).toBe(1);
  });

  it('503, nothing stored or run, when the inbox size cannot be read', async () => {
    const base = await serve({ quota: { admit: async () => { throw new Error('database is locked'); }, charge: () => {} } });
    const res = await request(`${base}/payout_call/${KEY}/echo/`, { headers: form, body: 'id=9' });
    expect([res.status, res.headers['retry-after']]).toEqual([503, '30']);
    expect(steps).toEqual([]);
  });

  it('a flood of small deliveries stops at the row quota with 429 and Retry-After; once retention deletes old rows, deliveries are taken again', async () => {
    const quota = new WebhookQuota({ usage: (p) => store.webhookUsage(p), maxRows: 5, maxBytes: 1024 * 1024 });
    const base = await serve({
      store: { recordWebhook: (d) => store.recordWebhook(d), finishWebhook: (id, r) => store.finishWebhook(id, r) }, quota,
      onQuotaRefused: (plugin, limit) => refused.push(`${plugin} ${limit}`),
    });
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await request(`${base}/payout_call/${KEY}/post_only/`, { body: '' }));
    expect(answers.map((a) => a.status)).toEqual([...Array(5).fill(200), ...Array(7).fill(429)]);
    expect(answers[5].headers['retry-after']).toBe('3600');
    expect(answers[5].json().message).toMatch(/holds its maximum of 5 deliveries; the delivery was neither stored nor processed/);
    expect(inFile(KEY).n).toBe(5);
    expect(refused).toHaveLength(7);
    while ((await store.listWebhooks({ plugin: KEY })).some((r) => r.state === 'received')) await new Promise((r) => setTimeout(r, 20));
    expect(await store.pruneOlderThan('webhooks', new Date(Date.now() + 1000).toISOString(), 100)).toBe(5);
    quota.resync();
    expect((await request(`${base}/payout_call/${KEY}/post_only/`, { body: '' })).status).toBe(200);
  });
});
