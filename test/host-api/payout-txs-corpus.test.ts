// Runs the compatibility corpus (payout-txs-corpus.ts) through the real in-isolate db shim and the
// host API, on SQLite and (when MONGODB_URL is set) on MongoDB, and compares each result with what
// mongoose gives for the same call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { newOrder } from '../helpers/orders.ts';
import { CORPUS } from './payout-txs-corpus.ts';
import { storeTargets } from './store-targets.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

// Runs a corpus case: getFields(fixturesJson, code).
const RUNNER = `
const id_key = __dirname.split('/').slice(-1)[0];
const db = require('../../../db');
class Corpus {
  async getFields(fixtures, code) {
    const run = new Function('db', 'id_key', 'F', 'return (async () => {\\n' + code + '\\n})()');
    try { return { ok: true, value: await run(db, id_key, JSON.parse(fixtures)) }; }
    catch (e) { return { ok: false, name: e && e.name, message: String(e && e.message), rule: e && e.rule }; }
  }
  async transfer() { return null; }
}
module.exports = Corpus;`;

const SEED = [
  { name: 'a', plugin: 'corpus', transaction: 'tx-a', active: true, amount: '10', currency: 'USDT', to: 'addr-1', note: null, age: 30 * MINUTE },
  { name: 'b', plugin: 'corpus', transaction: 'tx-b', active: false, amount: '20', currency: 'BTC', to: null, note: 'n2', age: 2 * DAY },
  { name: 'c', plugin: 'corpus', transaction: 'tx-c', active: true, amount: '9.5', currency: 'USDT', to: 'addr-3', note: 'n3', age: 4 * DAY },
  { name: 'd', plugin: 'corpus', transaction: 'tx-d', active: true, amount: '100', currency: 'UAH', to: 'addr-4', note: 'n4', age: 1 * MINUTE },
  { name: 'x', plugin: 'other', transaction: 'tx-x', active: true, amount: '10', currency: 'USDT', to: 'addr-1', note: null, age: 30 * MINUTE },
];

it('the corpus covers every query form design.md §4.1 lists, and each case expects one outcome', () => {
  const code = CORPUS.map((c) => c.code).join('\n');
  for (const form of ["populate('order')", "populate({ path: 'order', select", '.select({', '.lean()', 'countDocuments(', 'updateOne({ _id:', '$lt', '$gt', '.sort(', '.limit(', '.skip(', 'findById(']) {
    expect(code, form).toContain(form);
  }
  for (const c of CORPUS) expect(c.refused === undefined, c.name).toBe(c.expect !== undefined);
  expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
});

for (const target of storeTargets('payout-tx compatibility corpus')) {
  describe.skipIf(target.skip)(`OrderPayoutTxs compatibility corpus (${target.title})`, () => {
    let local: LocalHost;
    let drop: () => Promise<void> = async () => {};
    let clock: number | null = null;
    const fixtures: Record<string, { _id: string; order: string }> = {};

    beforeAll(async () => {
      const db = await target.fresh();
      drop = db.drop;
      local = await openLocalHost({ storeUrl: db.url, storeNow: () => clock ?? Date.now() });
      await local.load(writePlugin('corpus', { 'index.js': RUNNER }));
      for (const s of SEED) {
        clock = Date.now() - s.age;
        const order = await local.store.createOrder(newOrder({ payoutModule: s.plugin }));
        const tx = await local.store.insertPayoutTx({
          order: order._id, transaction: s.transaction, payoutModule: s.plugin, active: s.active, amount: s.amount,
          currency: s.currency, to: s.to, note: s.note, attemptId: null,
        });
        fixtures[s.name] = { _id: tx._id, order: order._id };
      }
      clock = null;
    });
    afterAll(async () => {
      await local?.close();
      await drop();
    });

    for (const c of CORPUS) {
      it(`${c.name} [${c.source}]`, async () => {
        const r = await local.sandbox.invoke('corpus', 'getFields', [JSON.stringify(fixtures), c.code]);
        if (!r.ok) throw new Error(`the corpus plugin itself failed: ${r.error.message}`);
        const got = r.value as { ok: boolean; value?: unknown; name?: string; message?: string; rule?: string };
        if (c.refused) {
          expect(got, JSON.stringify(got)).toMatchObject({ ok: false, rule: c.refused.rule, ...(c.refused.name ? { name: c.refused.name } : {}) });
          // The plugin line of the call comes first (here: the corpus runner's), then mongoose's text.
          if (typeof c.refused.message === 'string') expect(got.message).toMatch(new RegExp(`(^|: )${c.refused.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
          else if (c.refused.message) expect(got.message).toMatch(c.refused.message);
        } else {
          expect(got, JSON.stringify(got)).toEqual({ ok: true, value: c.expect });
        }
      });
    }
  });
}
