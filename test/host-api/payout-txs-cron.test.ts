// End to end: a platform plugin whose cron looks at its payout txs in a time window written with
// epoch-ms numbers, as mongoose allows (`createdAt: { $lt: Date.now() - 600000, $gt: … }`), runs in
// the real sandbox against each store: no host call is refused, it finds the txs inside the window
// and none outside it, and settles them. A window mongoose could not cast is refused with mongoose's
// CastError text and the plugin line that made the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { orderWithTx } from '../helpers/orders.ts';
import { storeTargets } from './store-targets.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

// The cron of the real-world plugin the issue came from, trimmed to what it does with the db.
const WINDOW_CRON = `
const id_key = __dirname.split('/').slice(-1)[0];
class WindowCron {
  async getFields() { return [{ _id: 'card_number', name: 'Card', required: true }]; }
  async transfer(order) { return { ok: 2, transaction: 't-' + order._id, amount: order.outAmount, currency: 'UAH', to: 'x' }; }
  initCron({ db, updateHistory }) {
    return {
      schedule: '47 * * * * *',
      fn: async () => {
        const waitTxs = await db.OrderPayoutTxs.countDocuments({
          active: true,
          payoutModule: id_key,
          createdAt: { $lt: (Date.now() - 1000 * 60 * 10), $gt: (Date.now() - 1000 * 60 * 60 * 24 * 3) },
        });
        if (!waitTxs) return { waitTxs, settled: [] };
        const txs = await db.OrderPayoutTxs.find({
          active: true, payoutModule: id_key,
          createdAt: { $lt: new Date(Date.now() - 1000 * 60 * 10), $gt: Date.now() - 1000 * 60 * 60 * 24 * 3 },
        }).sort({ createdAt: 'asc' }).populate('order').lean();
        const settled = [];
        for (const tx of txs) {
          await updateHistory({ orderId: tx.order._id, oldStatus: tx.order.status, status: 'done', comment: 'paid: ' + tx.transaction });
          await db.OrderPayoutTxs.updateOne({ _id: tx._id }, { $set: { active: 'false' } });
          settled.push(tx.transaction);
        }
        return { waitTxs, settled, createdAtIsDate: txs.every((t) => t.createdAt instanceof Date) };
      },
    };
  }
}
module.exports = WindowCron;`;

const BAD_WINDOW_CRON = `
const id_key = __dirname.split('/').slice(-1)[0];
class BadWindow {
  async getFields() { return []; }
  async transfer() { return null; }
  initCron({ db }) {
    return {
      schedule: '*/5 * * * *',
      fn: async () => {
        try {
          return await db.OrderPayoutTxs.countDocuments({ active: true, payoutModule: id_key, createdAt: { $lt: 'abc' } });
        } catch (e) {
          return { name: e.name, message: e.message, rule: e.rule };
        }
      },
    };
  }
}
module.exports = BadWindow;`;

for (const target of storeTargets('payout-tx cron window')) {
  describe.skipIf(target.skip)(`a cron's numeric createdAt window (${target.title})`, () => {
    let local: LocalHost;
    let drop: () => Promise<void> = async () => {};
    let clock: number | null = null;

    beforeAll(async () => {
      const db = await target.fresh();
      drop = db.drop;
      local = await openLocalHost({ storeUrl: db.url, storeNow: () => clock ?? Date.now() });
    });
    afterAll(async () => {
      await local?.close();
      await drop();
    });

    async function txAged(plugin: string, ageMs: number, transaction: string, active = true) {
      clock = Date.now() - ageMs;
      try {
        return await orderWithTx(local.store, plugin, 'inProgressPayout', { transaction, active });
      } finally {
        clock = null;
      }
    }

    it('runs without a refused host call, finds the txs inside the window only and settles them', async () => {
      const plugin = await local.load(writePlugin('window', { 'index.js': WINDOW_CRON }));
      expect(plugin.cron).toEqual({ schedule: '47 * * * * *', callWhenInit: false });
      await txAged('window', 1 * MINUTE, 'too-new');
      const inside = [await txAged('window', 2 * DAY, 'two-days'), await txAged('window', 30 * MINUTE, 'half-hour')];
      await txAged('window', 4 * DAY, 'too-old');
      await txAged('window', 60 * MINUTE, 'inactive', false);
      await txAged('other', 60 * MINUTE, 'another-plugin');

      const result = await local.sandbox.invoke('window', 'cron', []);
      expect(result).toMatchObject({ ok: true, value: { waitTxs: 2, settled: ['two-days', 'half-hour'], createdAtIsDate: true } });

      await local.host.audit.flush();
      const calls = await local.store.queryAudit({ plugin: 'window', limit: 100 });
      expect(calls.filter((c) => c.decision !== 'allowed')).toEqual([]);
      expect(calls.map((c) => c.capability)).toEqual(expect.arrayContaining(['payoutTxs.count', 'payoutTxs.find', 'history.update', 'payoutTxs.updateOne']));
      for (const { order } of inside) expect((await local.store.getOrder(order._id))?.status).toBe('done');
      const rows = await local.store.findPayoutTxs({ plugin: 'window', conditions: [] });
      expect(rows.filter((r) => r.active).map((r) => r.transaction).sort()).toEqual(['too-new', 'too-old']);
      expect((await local.store.findPayoutTxs({ plugin: 'other', conditions: [] }))[0].active).toBe(true);

      // Settled: the next run finds nothing left in the window.
      expect(await local.sandbox.invoke('window', 'cron', [])).toMatchObject({ ok: true, value: { waitTxs: 0, settled: [] } });
    });

    it('refuses a window mongoose cannot cast, with its CastError text and the plugin line of the call', async () => {
      await local.load(writePlugin('badwindow', { 'index.js': BAD_WINDOW_CRON }));
      const result = await local.sandbox.invoke('badwindow', 'cron', []);
      expect(result).toMatchObject({ ok: true, value: { name: 'CastError', rule: 'payoutTxs.cast' } });
      const line = BAD_WINDOW_CRON.split('\n').findIndex((l) => l.includes("createdAt: { $lt: 'abc' }")) + 1;
      expect((result as { value: { message: string } }).value.message)
        .toBe(`index.js:${line}: Cast to date failed for value "abc" (type string) at path "createdAt" for model "OrderPayoutTxs"`);
    });
  });
}
