// Secret canaries: a unique canary secret per plugin key (two platform-format plugins, one
// SDK-format plugin), then every path that produces output is driven on a real server — plugin
// calls that log, throw and echo, HTTP to a granted fake provider that echoes, the order form, the
// payout flow, webhooks, IPN, order pages, every admin read — and all of it is scanned for the
// canaries in plain, base64, base64url and hex: every HTTP answer, the IPN bodies, the server's
// pino log, the plugin log, the audit log, the webhook inbox, the SQLite database file and its
// -wal, what each plugin could see, and what the providers received.
//
// The one legitimate place: a request a plugin sent to its own granted provider (a platform plugin
// sends its key; the host adds an SDK plugin's secret host-side). Those are counted separately,
// as legitimate, and excluded from the scan of the provider.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IPN_SECRET } from '../helpers/test-host.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { startRecorder } from './recorders.ts';
import type { Recorder } from './recorders.ts';
import { serverStillServing, startServerEnv } from './server-env.ts';
import type { ServerEnv } from './server-env.ts';
import { all, findCanaries, sleep } from './tally.ts';
import type { SecurityCase } from './tally.ts';

const rand = () => crypto.randomBytes(9).toString('hex');
export const CANARIES = {
  'canplat.apiSecret': `cnry-p1-${rand()}`,
  'canplat.webhookSecret': `cnry-p2-${rand()}`,
  'canplat2.apiSecret': `cnry-p3-${rand()}`,
  'cansdk.apiSecret': `cnry-s1-${rand()}`,
  'cansdk.signingKey': `cnry-s2-${rand()}`,
} as const;
type CanaryLabel = keyof typeof CANARIES;
const OWNER: Record<CanaryLabel, string> = {
  'canplat.apiSecret': 'canplat', 'canplat.webhookSecret': 'canplat', 'canplat2.apiSecret': 'canplat2', 'cansdk.apiSecret': 'cansdk', 'cansdk.signingKey': 'cansdk',
};

const platConfigure = (key: string, network: string) => `
module.exports.type = 'payout';
module.exports.title = 'Canary ${key}';
module.exports.name = '${key}';
module.exports.required_npm = ['axios'];
module.exports.allow_XML = ['CARDUAH'];
module.exports.default_config = { apiUrl: '' };
module.exports.required_config = { apiUrl: 1, apiSecret: 2, webhookSecret: 2 };
module.exports.network = ['${network}'];`;

// A careless platform plugin: it reads its secrets and puts them everywhere it can.
const CANPLAT_INDEX = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const axios = require('axios');
class Careless {
  async getFields(lang, xml) {
    const s = await config.get('apiSecret');
    console.log('fields for ' + xml + ' with key ' + s, { nested: { key: s } });
    console.warn(Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex'), encodeURIComponent(s));
    if (xml === 'PROBE') return { seen: await this.probe() };
    return [{ _id: 'card_number', name: 'Card (' + s + ')', placeholder: s, regexp: '^[0-9]{16}$', regexp_error: 'card refused by key ' + s, required: true }];
  }
  async probe() {
    const out = {};
    for (const k of ['apiSecret', 'webhookSecret', 'apiUrl', 'canplat.apiSecret', 'cansdk.apiSecret']) out[k] = await config.get(k).catch((e) => e.message);
    out.refusals = [];
    for (const c of ['config.get', 'payoutTxs.find', 'history.update']) out.refusals.push(await globalThis.__ps_host.call(c, { key: 'apiSecret', plugin: 'cansdk', op: 'find', filter: {}, orderId: 'x', status: 'done' }).then((r) => JSON.stringify(r), (e) => e.message));
    return out;
  }
  async transfer(order) {
    const s = await config.get('apiSecret');
    const url = await config.get('apiUrl');
    const res = await axios.post(url + '/' + id_key + '/pay', { order: order._id, key: s }, { headers: { 'x-api-key': s } });
    console.log('provider said', JSON.stringify(res.data));
    if (order.outValues && order.outValues.card_number === '4000000000000002') throw new Error('declined with key ' + s + ' and response ' + JSON.stringify(res.data));
    return { ok: 2, transaction: id_key + '-' + order._id, amount: order.outAmount, currency: 'UAH', to: 'card via ' + s };
  }
  async initCron() {
    return { schedule: '0 0 1 1 *', fn: async () => { const s = await config.get('apiSecret'); console.log('cron with ' + s); return 'cron ' + s; } };
  }
}
module.exports = Careless;`;

const CANPLAT_CALLBACKS = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const db = require('../../../db');
const updateHistory = require('../../../modules/updateHistory.js');
module.exports = {
  final: async (req, res, param) => {
    const s = await config.get('apiSecret');
    const w = await config.get('webhookSecret');
    const id = String((param.post && param.post.id) || '');
    const tx = await db.OrderPayoutTxs.findOne({ transaction: id, active: true }).populate('order');
    if (!tx) { res.writeHead(404); return res.end('no tx for ' + id + ' (key ' + s + ')'); }
    await updateHistory({ orderId: tx.order._id, oldStatus: tx.order.status, status: 'done', payoutStatus: 'paid:' + s, orderNote: 'note ' + w, comment: 'settled with ' + s + ' / ' + w });
    await db.OrderPayoutTxs.updateOne({ _id: tx._id }, { $set: { active: false, note: 'closed ' + w } });
    await updateHistory({ orderId: s, status: 'done' }).catch((e) => console.error('as expected: ' + e.message));
    res.set({ 'Content-Type': 'text/plain', 'X-Request-Id': s, 'ETag': w, 'Content-Language': Buffer.from(w).toString('base64') });
    res.writeHead(200);
    res.end('ok ' + s + ' ' + Buffer.from(s).toString('base64') + ' ' + Buffer.from(w).toString('hex'));
  },
  boom: async () => { const s = await config.get('apiSecret'); throw new Error('boom ' + s); },
  echo: async (req, res, param) => { res.set('Content-Type', 'application/json'); res.end(JSON.stringify({ post: param.post, key: await config.get('webhookSecret') })); },
};`;

const cansdkSource = (echo: string) => `
import { definePayoutPlugin } from 'payout-sandbox/sdk';
const rev = (s) => [...String(s)].reverse().join('');
let lastSeen = '';
async function call(ctx, path) {
  const res = await ctx.http.request({
    method: 'POST', url: '${echo}/cansdk/' + path, json: { path },
    auth: { bearer: 'apiSecret' }, secretHeaders: { 'x-api-secret': 'apiSecret' },
    sign: { key: 'signingKey', header: 'x-sign', timestampHeader: 'x-ts', parts: ['timestamp', 'method', 'path', 'body', { header: 'x-api-secret' }] },
  });
  lastSeen = JSON.stringify({ status: res.status, headers: res.headers, text: res.text });
  return lastSeen;
}
export default definePayoutPlugin({
  manifest: {
    title: 'Canary SDK',
    currencies: ['CARDUAH'],
    config: { apiSecret: { secret: true }, signingKey: { secret: true } },
    network: [{ origin: '${echo}', secrets: ['apiSecret', 'signingKey'] }],
  },
  async fields(ctx, { currency }) {
    if (currency === 'PROBE') {
      const seen = [await call(ctx, 'probe')];
      for (const k of ['apiSecret', 'signingKey']) seen.push(await ctx.config.get(k).then(String, (e) => e.message));
      return { seen: rev(seen.join('\\n')) };
    }
    return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }];
  },
  async transfer(ctx, order) {
    const seen = await call(ctx, 'pay');
    ctx.log.info('provider answered ' + seen);
    return { status: 'accepted', reference: 'sdk-' + order._id, amount: order.outAmount, to: seen.slice(0, 150) };
  },
  async status(ctx, payout) {
    const seen = await call(ctx, 'status');
    if (seen.includes('nothing')) throw new Error('status failed: ' + seen);
    return { status: 'pending', reason: seen.slice(0, 100) };
  },
  async webhook(ctx, req) {
    const seen = await call(ctx, 'webhook');
    const ref = req.body && req.body.reference;
    return { response: { status: 200, headers: { 'content-type': 'text/plain', 'x-request-id': seen.slice(0, 80) }, body: 'seen ' + seen },
      updates: ref ? [{ reference: String(ref), status: 'paid', amount: req.body.amount }] : [] };
  },
});`;

export interface CanaryEnv {
  s: ServerEnv;
  echo: Recorder;
  dbFile: string;
  /** What each plugin reported it could see, by plugin. */
  views: Record<string, string>;
  /** Occurrences of a canary in requests its own plugin sent to its own granted provider. */
  legitimate: Record<string, number>;
  /** Stored rows and logs, read after the drive. */
  stored: Record<string, string>;
  close(): Promise<void>;
}

async function waitDone(s: ServerEnv, what: string, check: () => Promise<boolean>, ms = 15_000) {
  await s.t.waitFor(what, async () => ((await check()) ? true : null), ms);
}

/** Drives every output path once; the scans then read what was left behind. */
export async function startCanaryEnv(): Promise<CanaryEnv> {
  const echo = await startRecorder();
  const s = await startServerEnv({ callbackWallMs: 3000, sweepIntervalMs: 200, statusPollMs: 200 });
  const t = s.t;
  await s.load(writePlugin('canplat', { 'configure.js': platConfigure('canplat', echo.origin), 'index.js': CANPLAT_INDEX, 'callbacks.js': CANPLAT_CALLBACKS }));
  // The other spelling the platform uses: callback.js.
  await s.load(writePlugin('canplat2', { 'configure.js': platConfigure('canplat2', echo.origin), 'index.js': CANPLAT_INDEX, 'callback.js': CANPLAT_CALLBACKS }));
  await s.load(writePlugin('cansdk', { 'configure.js': undefined as never, 'index.js': undefined as never, 'plugin.ts': cansdkSource(echo.origin) }));

  // The administrator configures everything through the admin API.
  const admin = async (method: string, url: string, body?: unknown) => {
    const r = await s.http(method, url, body as object, { authorization: `Bearer ${(await import('../helpers/test-host.ts')).ADMIN_TOKEN}` });
    if (r.status >= 400) throw new Error(`${method} ${url}: ${r.status} ${r.body}`);
    return JSON.parse(r.body || 'null');
  };
  const setConfig = (payoutKey: string, key: string, value: string) => admin('POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey, key, value });
  for (const key of ['canplat', 'canplat2']) {
    await setConfig(key, 'apiUrl', echo.origin);
    await setConfig(key, 'apiSecret', CANARIES[`${key}.apiSecret` as CanaryLabel]);
  }
  await setConfig('canplat', 'webhookSecret', CANARIES['canplat.webhookSecret']);
  await setConfig('cansdk', 'apiSecret', CANARIES['cansdk.apiSecret']);
  await setConfig('cansdk', 'signingKey', CANARIES['cansdk.signingKey']);
  const routes: Record<string, string> = {};
  for (const key of ['canplat', 'canplat2', 'cansdk']) {
    await admin('POST', `/api/admin/plugins/${key}/grants`, { origin: echo.origin });
    routes[key] = (await admin('POST', '/api/admin/routes', { fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '10000', payoutPlugin: key, autoPayout: true, active: true })).route._id;
  }

  const create = async (key: string, card: string) => s.http('POST', '/api/public/exchanger/order/create', {
    routeId: routes[key], amount: '10', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: card }],
    ipnUrl: `${t.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
  });
  const markPaid = async (uid: number) => {
    for (const status of ['inProgress', 'inProgressPayout']) await admin('POST', `/api/admin/orders/${uid}/status`, { status });
  };
  const orderDetail = (uid: number) => admin('GET', `/api/admin/orders/${uid}`);

  // The order form: a bad card (the plugin's field texts come back in the 422), then good orders.
  for (const key of ['canplat', 'canplat2', 'cansdk']) await create(key, '12');
  const orders: Record<string, { uid: number; orderId: string; secret: string }> = {};
  for (const key of ['canplat', 'canplat2', 'cansdk']) {
    const r = await create(key, '4111111111111111');
    if (r.status !== 200) throw new Error(`order for ${key}: ${r.status} ${r.body}`);
    orders[key] = JSON.parse(r.body);
    await markPaid(orders[key].uid);
  }
  for (const key of ['canplat', 'canplat2', 'cansdk']) {
    await waitDone(s, `${key} transfer`, async () => (await orderDetail(orders[key].uid)).payoutTxs.length > 0);
  }
  // A transfer that throws after its request left (UNKNOWN, with the error text kept).
  const declined = JSON.parse((await create('canplat', '4000000000000002')).body);
  await markPaid(declined.uid);
  await waitDone(s, 'the declined payout', async () => ['UNKNOWN', 'NEEDS_REVIEW'].includes((await orderDetail(declined.uid)).attempts[0]?.state));

  // Webhooks: settle, boom, echo, unknown id; SDK webhook with an update.
  for (const key of ['canplat', 'canplat2']) {
    const tx = (await orderDetail(orders[key].uid)).payoutTxs[0].transaction;
    await s.http('POST', `/payout_call/${key}/final/`, { id: tx });
    await s.http('POST', `/payout_call/${key}/final/`, { id: 'unknown-tx' });
    await s.http('POST', `/payout_call/${key}/boom/`, { a: 1 });
    await s.http('POST', `/payout_call/${key}/echo/`, 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' });
  }
  const sdkTx = (await orderDetail(orders.cansdk.uid)).payoutTxs[0];
  // Delivered until applied: a status poll of the sweep may hold the attempt's lease at that moment.
  await waitDone(s, 'cansdk done', async () => {
    await s.http('POST', '/payout_call/cansdk/webhook/', { reference: sdkTx.transaction, amount: sdkTx.amount });
    return (await orderDetail(orders.cansdk.uid)).order.status === 'done';
  });
  for (const key of ['canplat', 'canplat2']) await waitDone(s, `${key} done`, async () => (await orderDetail(orders[key].uid)).order.status === 'done');
  await t.merchant.waitFor(3 * 3 + 2);
  await admin('POST', '/api/admin/plugins/canplat/cron/run');

  // Customer pages and the status lookup.
  for (const key of ['canplat', 'canplat2', 'cansdk']) {
    const o = orders[key];
    await s.http('GET', `/en/order/${o.uid}/${o.secret}`);
    await s.http('GET', `/en/payment/${o.uid}/${o.secret}`);
    await s.http('GET', `/api/public/exchanger/order/status?uid=${o.uid}&secret=${o.secret}`);
  }
  // Every admin read.
  const reads = ['/api/admin/plugins', '/api/admin/orders?limit=500', '/api/admin/audit?limit=1000', '/api/admin/webhooks?limit=500', '/api/admin/health', '/api/admin/routes'];
  for (const key of ['canplat', 'canplat2', 'cansdk', 'nimbuspay']) reads.push(`/api/admin/plugins/${key}`, `/api/admin/plugins/${key}/log?limit=1000`, `/api/admin/plugins/${key}/frame`, `/api/admin/audit?plugin=${key}&limit=1000`);
  for (const o of [...Object.values(orders), declined]) reads.push(`/api/admin/orders/${o.uid}`);
  for (const r of reads) await admin('GET', r);
  await s.http('GET', '/healthz');
  await s.http('GET', '/metrics');
  await s.http('POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'canplat', key: 'apiSecret', value: 'x' }, { authorization: 'Bearer wrong' });

  // What the plugins themselves could see.
  const views: Record<string, string> = {};
  for (const key of ['canplat', 'canplat2', 'cansdk']) {
    const r = await t.host.sandbox.invoke(key, 'getFields', ['en', 'PROBE']);
    const seen = r.ok ? String((r.value as { seen: unknown }).seen === undefined ? JSON.stringify(r.value) : typeof (r.value as { seen: unknown }).seen === 'string' ? (r.value as { seen: string }).seen : JSON.stringify((r.value as { seen: unknown }).seen)) : JSON.stringify(r.error);
    views[key] = key === 'cansdk' ? [...seen].reverse().join('') : seen;
  }

  await t.host.hostApi.audit.flush();
  await t.host.hostApi.pluginLog.flush();
  await sleep(300);
  const stored = {
    pluginLog: JSON.stringify(await Promise.all(['canplat', 'canplat2', 'cansdk', 'nimbuspay'].map((plugin) => t.host.store.queryPluginLog({ plugin, limit: 1000 })))),
    audit: JSON.stringify(await t.host.store.queryAudit({ limit: 10_000 })),
    inbox: JSON.stringify(await t.host.store.listWebhooks({ limit: 1000 })),
  };

  const legitimate: Record<string, number> = {};
  for (const [label, canary] of Object.entries(CANARIES)) {
    legitimate[label] = echo.requests.filter((r) => r.url.startsWith(`/${OWNER[label as CanaryLabel]}/`) && findCanaries(JSON.stringify(r), { c: canary }).length > 0).length;
  }
  return {
    s, echo, views, legitimate, stored,
    dbFile: path.join(t.dataDir, 'store.db'),
    async close() {
      await s.close();
      await echo.close();
    },
  };
}

type Sink = { name: string; what: string; read(env: CanaryEnv, label: CanaryLabel): string | Buffer };

const SINKS: Sink[] = [
  { name: 'HTTP answers', what: 'every body and header the server sent (admin API incl. plugin detail/config/log/audit/frame, merchant API, pages, webhooks)', read: (e) => JSON.stringify(e.s.exchanges) },
  { name: 'merchant API errors', what: 'error messages returned to HTTP callers of the order form', read: (e) => JSON.stringify(e.s.exchanges.filter((x) => x.url.startsWith('/api/public/') && x.status >= 400)) },
  { name: 'webhook answers', what: 'bodies and headers of /payout_call/ answers', read: (e) => JSON.stringify(e.s.exchanges.filter((x) => x.url.startsWith('/payout_call/'))) },
  { name: 'IPN', what: 'bodies and headers the fake merchant received', read: (e) => JSON.stringify(e.s.t.merchant.received) },
  { name: 'server log', what: "the server's own pino log", read: (e) => e.s.logLines.join('') },
  { name: 'plugin log', what: 'all plugin log lines in the store', read: (e) => e.stored.pluginLog },
  { name: 'audit log', what: 'all audit records in the store', read: (e) => e.stored.audit },
  { name: 'webhook inbox', what: 'recorded deliveries and their answers', read: (e) => e.stored.inbox },
  { name: 'database file', what: 'the SQLite file bytes', read: (e) => fs.readFileSync(e.dbFile) },
  { name: 'database -wal', what: 'the SQLite write-ahead log bytes', read: (e) => (fs.existsSync(`${e.dbFile}-wal`) ? fs.readFileSync(`${e.dbFile}-wal`) : Buffer.alloc(0)) },
  {
    name: 'plugin views', what: "what every plugin could see (an SDK plugin must never see its own; none may see another's)",
    read: (e, label) => Object.entries(e.views).filter(([p]) => OWNER[label] === 'cansdk' || p !== OWNER[label]).map(([, v]) => v).join('\n'),
  },
  {
    name: 'providers', what: 'requests the fake providers received, except those a plugin sent to its own granted provider',
    read: (e, label) => JSON.stringify(e.echo.requests.filter((r) => !r.url.startsWith(`/${OWNER[label]}/`))) + JSON.stringify(e.s.t.provider.requests),
  },
];

export const canaryCases: SecurityCase<CanaryEnv>[] = SINKS.flatMap((sink) => (Object.keys(CANARIES) as CanaryLabel[]).map((label) => ({
  name: `canary ${label} not in: ${sink.name}`,
  attack: `scan ${sink.what} for ${label} (plain, base64, base64url, hex)`,
  async run(env: CanaryEnv) {
    const found = findCanaries(sink.read(env, label), { [label]: CANARIES[label] });
    return all([[found.length === 0, `found ${found.join(', ')}`]]);
  },
})));

export function legitimateLine(env: CanaryEnv): string {
  return Object.entries(env.legitimate).filter(([, n]) => n > 0).map(([label, n]) => `${label} in ${n} request(s) to its own granted provider`).join(', ');
}

export async function canaryStillServing(env: CanaryEnv): Promise<string | null> {
  return serverStillServing(env.s);
}
