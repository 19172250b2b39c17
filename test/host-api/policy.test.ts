// Each host-API rule, tried from inside a real sandbox by the attack it stops, with the audit
// record it must leave. Two plugins share one host: alpha (the victim) and beta (the attacker).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { orderWithTx } from '../helpers/orders.ts';

const CANARY = `alpha-canary-${Math.random().toString(36).slice(2)}-secret`;
let local: LocalHost;
let server: http.Server;
let serverUrl = '';

// beta runs whatever JavaScript a test hands it, as `getFields(lang, code)`.
const ATTACKER = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const db = require('../../../db');
const updateHistory = require('../../../modules/updateHistory.js');
const axios = require('axios');
class Attacker {
  async getFields(lang, code) {
    const run = new Function('config', 'db', 'updateHistory', 'axios', 'return (async () => { ' + code + ' })()');
    try { return { ok: true, value: await run(config, db, updateHistory, axios) }; }
    catch (e) { return { ok: false, message: String(e && e.message), rule: e && e.rule }; }
  }
  async transfer() { return null; }
}
module.exports = Attacker;`;

async function attack(code: string): Promise<{ ok: boolean; value?: unknown; message?: string; rule?: string }> {
  const r = await local.sandbox.invoke('beta', 'getFields', ['en', code]);
  if (!r.ok) throw new Error(`the attacker plugin itself failed: ${r.error.message}`);
  return r.value as { ok: boolean; value?: unknown; message?: string; rule?: string };
}

async function lastAudit(capability: string) {
  await local.host.audit.flush();
  return (await local.store.queryAudit({ plugin: 'beta', capability, limit: 1 }))[0];
}

beforeAll(async () => {
  server = http.createServer((req, res) => res.end(JSON.stringify({ path: req.url })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  local = await openLocalHost({
    grantsFor: async (plugin) => (plugin === 'alpha' ? [{ origin: serverUrl, pathPrefix: null, methods: null }] : []),
  });
  await local.load(writePlugin('alpha', {
    'index.js': `
const config = require('../../../modules/config/payout.config.js')('alpha');
module.exports = class { async getFields() { const s = await config.get('apiSecret'); console.log('my secret is', s); throw new Error('failed with ' + s); } async transfer() {} };`,
  }), { apiSecret: CANARY, apiKey: 'alpha-key' });
  await local.load(writePlugin('beta', { 'index.js': ATTACKER }));
});
afterAll(async () => {
  await local.close();
  server.close();
});

describe('config: a plugin reads its own declared keys only', () => {
  it('beta asking config.get("apiSecret") gets its own (unset) value, never alpha\'s', async () => {
    expect(await attack(`return await config.get('apiSecret');`)).toEqual({ ok: true, value: '' });
  });

  it('a plugin asking payout.config.js for another plugin\'s config is refused when it loads', async () => {
    const dir = writePlugin('gamma', { 'index.js': `const config = require('../../../modules/config/payout.config.js')('alpha');\nmodule.exports = class { async getFields() {} async transfer() {} };` });
    await expect(local.load(dir)).rejects.toThrow(/plugin 'gamma' asked for the config of 'alpha'; a plugin can only read its own config/);
  });

  it('an undeclared key is refused and audited with its rule', async () => {
    const r = await attack(`return await config.get('databaseUrl');`);
    expect(r).toMatchObject({ ok: false, rule: 'config.undeclared-key' });
    expect(await lastAudit('config.get')).toMatchObject({ decision: 'denied', rule: 'config.undeclared-key' });
  });
});

describe('payout txs: scoped to the calling plugin', () => {
  it('find, count and update never see another plugin\'s rows, whatever the filter', async () => {
    const alpha = await orderWithTx(local.store, 'alpha');
    const beta = await orderWithTx(local.store, 'beta');
    const seen = await attack(`return (await db.OrderPayoutTxs.find({}).lean()).map((t) => t.payoutModule);`);
    expect(seen).toEqual({ ok: true, value: ['beta'] });
    expect(await attack(`return await db.OrderPayoutTxs.findOne({ _id: '${alpha.txId}' }).lean();`)).toEqual({ ok: true, value: null });
    expect(await attack(`return await db.OrderPayoutTxs.updateOne({ _id: '${alpha.txId}' }, { $set: { active: false } });`))
      .toMatchObject({ ok: true, value: { matchedCount: 0, modifiedCount: 0 } });
    expect(await attack(`return await db.OrderPayoutTxs.countDocuments({ active: true });`)).toMatchObject({ ok: true });
    const own = await attack(`const t = await db.OrderPayoutTxs.findOne({ _id: '${beta.txId}' }).populate('order').lean(); return t.order;`);
    expect(own.ok).toBe(true);
    expect(Object.keys(own.value as object).sort()).toEqual(['_id', 'createdAt', 'inAmount', 'inXML', 'outAmount', 'outSymbol', 'outValues', 'outXML', 'status', 'uid']);
    expect(JSON.stringify(own.value)).not.toMatch(/merchant-ipn-secret|order-page-secret|ipnUrl/);
  });

  it.each([
    ['$or around payoutModule', `{ $or: [{ payoutModule: 'alpha' }, { active: true }] }`, 'payoutTxs.operator'],
    ['$where', `{ $where: 'this.payoutModule == "alpha"' }`, 'payoutTxs.operator'],
    ['$expr', `{ $expr: { $eq: [1, 1] } }`, 'payoutTxs.operator'],
    ['another payoutModule', `{ payoutModule: 'alpha' }`, 'payoutTxs.foreign-module'],
    ['$ne on payoutModule', `{ payoutModule: { $ne: 'beta' } }`, 'payoutTxs.foreign-module'],
    ['$regex', `{ transaction: { $regex: '.*' } }`, 'payoutTxs.operator'],
  ])('a query widened with %s is refused and audited', async (_name, filter, rule) => {
    const r = await attack(`return await db.OrderPayoutTxs.find(${filter}).lean();`);
    expect(r).toMatchObject({ ok: false, rule });
    expect(await lastAudit('payoutTxs.find')).toMatchObject({ decision: 'denied', rule });
  });

  it('updateOne may only change active and note', async () => {
    const { txId } = await orderWithTx(local.store, 'beta');
    const r = await attack(`return await db.OrderPayoutTxs.updateOne({ _id: '${txId}' }, { $set: { amount: '1000000' } });`);
    expect(r).toMatchObject({ ok: false, rule: 'payoutTxs.readonly-field' });
    const inc = await attack(`return await db.OrderPayoutTxs.updateOne({ _id: '${txId}' }, { $inc: { amount: 1 } });`);
    expect(inc).toMatchObject({ ok: false, rule: 'payoutTxs.update-operator' });
  });
});

describe('updateHistory: only the plugin\'s own payout, only inProgressPayout → done | errorPayout', () => {
  it('refuses another plugin\'s order', async () => {
    const { order } = await orderWithTx(local.store, 'alpha');
    const r = await attack(`return await updateHistory({ orderId: '${order._id}', oldStatus: 'inProgressPayout', status: 'done' });`);
    expect(r).toMatchObject({ ok: false, rule: 'history.not-own-order' });
    expect((await local.store.getOrder(order._id))?.status).toBe('inProgressPayout');
    expect(await lastAudit('history.update')).toMatchObject({ decision: 'denied', rule: 'history.not-own-order' });
  });

  it('refuses a stale oldStatus and a forbidden target status', async () => {
    const { order } = await orderWithTx(local.store, 'beta');
    expect(await attack(`return await updateHistory({ orderId: '${order._id}', oldStatus: 'inProgress', status: 'done' });`))
      .toMatchObject({ ok: false, rule: 'history.stale-old-status' });
    expect(await attack(`return await updateHistory({ orderId: '${order._id}', status: 'returned' });`))
      .toMatchObject({ ok: false, rule: 'history.forbidden-status' });
    expect(await attack(`return await updateHistory({ orderId: '${order._id}', status: 'done', oldStatus: 'inProgressPayout' }).then(() => updateHistory({ orderId: '${order._id}', status: 'errorPayout' }));`))
      .toMatchObject({ ok: false, rule: 'history.wrong-current-status' });
  });

  it('refuses an order of its own with no payout in progress', async () => {
    const { order } = await orderWithTx(local.store, 'beta', 'inProgressPayout', { active: false });
    expect(await attack(`return await updateHistory({ orderId: '${order._id}', status: 'done' });`)).toMatchObject({ ok: false, rule: 'history.no-live-payout' });
  });

  it('settles its own order: status, history entry and IPN in one step', async () => {
    const { order } = await orderWithTx(local.store, 'beta');
    const r = await attack(`return await updateHistory({ orderId: '${order._id}', oldStatus: 'inProgressPayout', status: 'done', payoutStatus: 'done', comment: 'paid' });`);
    expect(r).toMatchObject({ ok: true, value: { status: 'done' } });
    expect((await local.store.getOrder(order._id))?.status).toBe('done');
    expect((await local.store.getOrderHistory(order._id)).at(-1)).toMatchObject({ toStatus: 'done', actor: 'plugin:beta', comment: 'paid' });
    const [ipn] = await local.store.listIpns(order._id);
    expect(ipn).toMatchObject({ status: 'done', fields: { newStatus: 'done', orderId: order._id } });
  });
});

describe('http: only granted origins', () => {
  it('beta cannot reach the origin granted to alpha; the refusal names the origin and is audited', async () => {
    const r = await attack(`return (await axios.get('${serverUrl}/x')).data;`);
    expect(r.ok).toBe(false);
    expect(r.message).toContain(serverUrl.replace('http://', ''));
    const audit = await lastAudit('http.request');
    expect(audit.decision).toBe('denied');
    expect(audit.rule).toMatch(/^http\./);
  });
});

describe('secrets never leave in logs, audit records or errors', () => {
  it('alpha printing and throwing its secret leaves only redactions behind', async () => {
    const r = await local.sandbox.invoke('alpha', 'getFields', ['en', 'CARDUAH']);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error', message: 'failed with [redacted:alpha.apiSecret]' } });
    await local.host.audit.flush();
    await local.host.pluginLog.flush();
    const log = await local.store.queryPluginLog({ plugin: 'alpha', limit: 100 });
    expect(log.map((l) => l.text)).toContain('my secret is [redacted:alpha.apiSecret]');
    const everything = JSON.stringify({
      log, audit: await local.store.queryAudit({ limit: 1000 }), view: await local.host.config.view('alpha'),
    });
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toContain(Buffer.from(CANARY).toString('base64'));
    expect(everything).not.toContain(Buffer.from(CANARY).toString('hex'));
    expect(await local.host.config.view('alpha')).toContainEqual(expect.objectContaining({ key: 'apiSecret', secret: true, set: true, value: null }));
  });
});
