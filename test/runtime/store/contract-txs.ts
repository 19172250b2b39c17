// Contract: payout txs (the platform's OrderPayoutTxs as a plugin sees it): every TxOp with MongoDB's
// matching rules, sorting, limit/skip, counting, updateOne semantics, and the plugin scope.
import { expect, test } from 'vitest';
import type { Store, TxCondition, TxQuery } from '../../../runtime/store/store.ts';
import type { PayoutTx } from '../../../runtime/store/types.ts';
import type { Fixture } from './contract-fixtures.ts';
import { ID, T0, iso } from './contract-fixtures.ts';

const ORDER_1 = '1'.repeat(24);
const ORDER_2 = '2'.repeat(24);

/** Three rows of plugin alpha (a, b, c, created 1 s apart) and the same three again for plugin beta. */
async function seed(store: Store, f: Fixture): Promise<{ alpha: PayoutTx[]; beta: PayoutTx[] }> {
  const rows = [
    { order: ORDER_1, transaction: 'tx-a', active: true, amount: '10', currency: 'USDT', to: 'addr-1', note: null },
    { order: ORDER_1, transaction: 'tx-b', active: false, amount: '20', currency: 'BTC', to: null, note: 'n2' },
    { order: ORDER_2, transaction: 'tx-c', active: true, amount: '30', currency: 'USDT', to: 'addr-3', note: 'n3' },
  ];
  const alpha: PayoutTx[] = [];
  const beta: PayoutTx[] = [];
  for (const row of rows) {
    alpha.push(await store.insertPayoutTx({ ...row, payoutModule: 'alpha', attemptId: null }));
    beta.push(await store.insertPayoutTx({ ...row, payoutModule: 'beta', attemptId: null }));
    f.clock.advance(1000);
  }
  return { alpha, beta };
}

const txIds = (rows: PayoutTx[]): string[] => rows.map((r) => r.transaction);

export function registerTxContract(f: Fixture): void {
  test('insertPayoutTx stores the platform shape and findPayoutTxs returns it unchanged', async () => {
    const store = await f.open();
    const tx = await store.insertPayoutTx({
      order: ORDER_1, transaction: 'prov-1', payoutModule: 'alpha', active: true, amount: '99.25', currency: 'UAH',
      to: '4111', note: 'first', attemptId: 'd'.repeat(24),
    });
    expect(tx).toEqual({
      _id: ID, order: ORDER_1, transaction: 'prov-1', payoutModule: 'alpha', active: true, amount: '99.25', currency: 'UAH',
      to: '4111', note: 'first', attemptId: 'd'.repeat(24), createdAt: iso(T0), updatedAt: iso(T0),
    });
    expect(await store.findPayoutTxs({ plugin: 'alpha', conditions: [] })).toEqual([tx]);
  });

  test('every TxOp matches as MongoDB does, null and booleans included', async () => {
    const store = await f.open();
    await seed(store, f);
    const cases: [TxCondition[], string[]][] = [
      [[{ field: 'transaction', op: 'eq', value: 'tx-b' }], ['tx-b']],
      [[{ field: 'active', op: 'eq', value: true }], ['tx-a', 'tx-c']],
      [[{ field: 'active', op: 'ne', value: true }], ['tx-b']],
      [[{ field: 'to', op: 'eq', value: null }], ['tx-b']],
      [[{ field: 'to', op: 'ne', value: null }], ['tx-a', 'tx-c']],
      [[{ field: 'currency', op: 'ne', value: 'USDT' }], ['tx-b']],
      [[{ field: 'note', op: 'ne', value: 'n2' }], ['tx-a', 'tx-c']],
      [[{ field: 'amount', op: 'lt', value: '20' }], ['tx-a']],
      [[{ field: 'amount', op: 'lte', value: '20' }], ['tx-a', 'tx-b']],
      [[{ field: 'amount', op: 'gt', value: '20' }], ['tx-c']],
      [[{ field: 'amount', op: 'gte', value: '20' }], ['tx-b', 'tx-c']],
      [[{ field: 'note', op: 'lt', value: 'n3' }], ['tx-b']],
      [[{ field: 'createdAt', op: 'gt', value: iso(T0) }], ['tx-b', 'tx-c']],
      [[{ field: 'createdAt', op: 'lte', value: iso(T0 + 1000) }], ['tx-a', 'tx-b']],
      [[{ field: 'currency', op: 'in', value: ['BTC', 'XMR'] }], ['tx-b']],
      [[{ field: 'note', op: 'in', value: [null, 'n3'] }], ['tx-a', 'tx-c']],
      [[{ field: 'active', op: 'in', value: [false] }], ['tx-b']],
      [[{ field: 'transaction', op: 'in', value: [] }], []],
      [[{ field: 'currency', op: 'nin', value: ['USDT'] }], ['tx-b']],
      [[{ field: 'note', op: 'nin', value: ['n2'] }], ['tx-a', 'tx-c']],
      [[{ field: 'note', op: 'nin', value: [null] }], ['tx-b', 'tx-c']],
      [[{ field: 'transaction', op: 'nin', value: [] }], ['tx-a', 'tx-b', 'tx-c']],
      [[{ field: 'order', op: 'eq', value: ORDER_1 }, { field: 'active', op: 'eq', value: true }], ['tx-a']],
      [[{ field: 'order', op: 'eq', value: ORDER_2 }, { field: 'active', op: 'eq', value: false }], []],
    ];
    for (const [conditions, expected] of cases) {
      const query: TxQuery = { plugin: 'alpha', conditions };
      expect(txIds(await store.findPayoutTxs(query)), JSON.stringify(conditions)).toEqual(expected);
      expect(await store.countPayoutTxs(query), JSON.stringify(conditions)).toBe(expected.length);
    }
  });

  test('sorting, limit and skip; count applies skip and limit', async () => {
    const store = await f.open();
    await seed(store, f);
    const find = async (q: Omit<TxQuery, 'plugin' | 'conditions'>) => txIds(await store.findPayoutTxs({ plugin: 'alpha', conditions: [], ...q }));
    expect(await find({})).toEqual(['tx-a', 'tx-b', 'tx-c']);
    expect(await find({ sort: [{ field: 'amount', direction: -1 }] })).toEqual(['tx-c', 'tx-b', 'tx-a']);
    expect(await find({ sort: [{ field: 'currency', direction: 1 }, { field: 'amount', direction: -1 }] })).toEqual(['tx-b', 'tx-c', 'tx-a']);
    expect(await find({ sort: [{ field: 'active', direction: -1 }] })).toEqual(['tx-a', 'tx-c', 'tx-b']);
    expect(await find({ sort: [{ field: 'to', direction: 1 }] })).toEqual(['tx-b', 'tx-a', 'tx-c']);
    expect(await find({ sort: [{ field: 'createdAt', direction: -1 }], limit: 2 })).toEqual(['tx-c', 'tx-b']);
    expect(await find({ sort: [{ field: 'createdAt', direction: -1 }], skip: 1, limit: 1 })).toEqual(['tx-b']);
    expect(await find({ skip: 2 })).toEqual(['tx-c']);
    expect(await find({ limit: 0 })).toEqual(['tx-a', 'tx-b', 'tx-c']);
    const count = (q: Omit<TxQuery, 'plugin' | 'conditions'>) => store.countPayoutTxs({ plugin: 'alpha', conditions: [], ...q });
    expect(await count({})).toBe(3);
    expect(await count({ limit: 2 })).toBe(2);
    expect(await count({ skip: 2 })).toBe(1);
    expect(await count({ skip: 5 })).toBe(0);
  });

  test("the plugin scope always applies: another plugin's row is never returned, counted or updated", async () => {
    const store = await f.open();
    const { alpha, beta } = await seed(store, f);
    const allIds = [...alpha, ...beta].map((r) => r._id);
    const scoped = (conditions: TxCondition[]): TxQuery => ({ plugin: 'alpha', conditions });
    expect(await store.findPayoutTxs(scoped([]))).toEqual(alpha);
    expect(await store.findPayoutTxs(scoped([{ field: '_id', op: 'eq', value: beta[0]._id }]))).toEqual([]);
    expect(await store.countPayoutTxs(scoped([{ field: '_id', op: 'eq', value: beta[0]._id }]))).toBe(0);
    expect(await store.findPayoutTxs(scoped([{ field: '_id', op: 'in', value: allIds }]))).toEqual(alpha);
    expect(await store.findPayoutTxs(scoped([{ field: '_id', op: 'nin', value: [] }]))).toEqual(alpha);
    expect(await store.findPayoutTxs(scoped([{ field: '_id', op: 'ne', value: alpha[0]._id }]))).toEqual(alpha.slice(1));
    expect(await store.countPayoutTxs(scoped([{ field: 'transaction', op: 'in', value: ['tx-a', 'tx-b', 'tx-c'] }]))).toBe(3);
    expect(await store.updatePayoutTx(scoped([{ field: '_id', op: 'eq', value: beta[2]._id }]), { active: false, note: 'hijack' }))
      .toEqual({ matched: 0, modified: 0 });
    for (let i = 0; i < 3; i++) {
      expect(await store.updatePayoutTx(scoped([{ field: 'note', op: 'ne', value: 'mine' }]), { note: 'mine' })).toEqual({ matched: 1, modified: 1 });
    }
    expect(await store.updatePayoutTx(scoped([{ field: 'note', op: 'ne', value: 'mine' }]), { note: 'mine' })).toEqual({ matched: 0, modified: 0 });
    expect(await store.findPayoutTxs({ plugin: 'beta', conditions: [] })).toEqual(beta);
    expect((await store.findPayoutTxs(scoped([]))).map((r) => r.note)).toEqual(['mine', 'mine', 'mine']);
    await expect(store.findPayoutTxs(scoped([{ field: 'payoutModule' as never, op: 'eq', value: 'beta' }])))
      .rejects.toThrow(/conditions\[0\]\.field must be one of/);
  });

  test('updatePayoutTx changes the first row in sort order and reports modified honestly', async () => {
    const store = await f.open();
    const { alpha } = await seed(store, f);
    const [a, , c] = alpha;
    f.clock.advance(60_000);
    const active: TxQuery = { plugin: 'alpha', conditions: [{ field: 'active', op: 'eq', value: true }], sort: [{ field: 'amount', direction: -1 }] };
    expect(await store.updatePayoutTx(active, { active: false })).toEqual({ matched: 1, modified: 1 });
    const after = await store.findPayoutTxs({ plugin: 'alpha', conditions: [] });
    expect(after).toEqual([a, alpha[1], { ...c, active: false, updatedAt: f.clock.at() }]);
    f.clock.advance(1000);
    const byId: TxQuery = { plugin: 'alpha', conditions: [{ field: '_id', op: 'eq', value: c._id }] };
    expect(await store.updatePayoutTx(byId, { active: false })).toEqual({ matched: 1, modified: 0 });
    expect(await store.updatePayoutTx({ ...byId, conditions: [{ field: '_id', op: 'eq', value: a._id }] }, { note: null })).toEqual({ matched: 1, modified: 0 });
    expect(await store.findPayoutTxs({ plugin: 'alpha', conditions: [] })).toEqual(after);
    await expect(store.updatePayoutTx({ ...byId, skip: 1 }, { active: true })).rejects.toThrow(/skip is not supported/);
    await expect(store.updatePayoutTx(byId, { payoutModule: 'beta' } as never)).rejects.toThrow(/unknown field "payoutModule"/);
    expect(await store.updatePayoutTx(byId, {})).toEqual({ matched: 1, modified: 0 });
    expect(await store.updatePayoutTx({ plugin: 'gamma', conditions: [] }, {})).toEqual({ matched: 0, modified: 0 });
  });

  test('a malformed tx query is refused with the reason', async () => {
    const store = await f.open();
    const bad = (conditions: unknown, extra: object = {}) => store.findPayoutTxs({ plugin: 'alpha', conditions, ...extra } as TxQuery);
    await expect(bad([{ field: 'amount', op: 'regex', value: '1' }])).rejects.toThrow(/conditions\[0\]\.op must be one of eq, ne/);
    await expect(bad([{ field: 'amount', op: 'gt', value: 5 }])).rejects.toThrow(/amount holds a string; got number 5/);
    await expect(bad([{ field: 'amount', op: 'eq', value: ['1'] }])).rejects.toThrow(/eq takes one value, not an array/);
    await expect(bad([{ field: 'amount', op: 'in', value: '1' }])).rejects.toThrow(/conditions\[0\]\.value must be an array/);
    await expect(bad([{ field: 'active', op: 'gt', value: false }])).rejects.toThrow(/active is true\/false and has no order/);
    await expect(bad([{ field: 'to', op: 'lt', value: null }])).rejects.toThrow(/lt cannot compare with null/);
    await expect(bad([{ field: 'createdAt', op: 'gt', value: 'yesterday' }])).rejects.toThrow(/must be an ISO-8601 time/);
    await expect(bad([], { sort: [{ field: 'payoutModule', direction: 1 }] })).rejects.toThrow(/sort\[0\]\.field must be one of/);
    await expect(bad([], { sort: [{ field: 'amount', direction: 0 }] })).rejects.toThrow(/direction must be 1 or -1/);
    await expect(bad([], { limit: -1 })).rejects.toThrow(/limit must be an integer from 0/);
    await expect(store.findPayoutTxs({ plugin: '', conditions: [] })).rejects.toThrow(/findPayoutTxs: plugin must not be empty/);
  });
}
