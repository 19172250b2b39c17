// The SQL of a tx query: findOne's page is the literal `LIMIT 1` (SQLite keeps the best row while
// it sorts, a third of the lookup's cost), every other page is bound. What must hold: findOne still
// answers the first match in the query's sort order, skip still skips, and no plugin value is
// ever written into the statement's text.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { txPage } from '../../../runtime/store/sqlite-tx-sql.ts';
import type { CheckedTxQuery } from '../../../runtime/store/tx-query.ts';
import type { TxQuery } from '../../../runtime/store/store.ts';
import type { SqlParam } from '../../../runtime/store/sqlite-tx-sql.ts';
import { sampleOrder } from './contract-fixtures.ts';

const page = (limit: number, skip: number) => {
  const params: SqlParam[] = [];
  return { sql: txPage({ plugin: 'alpha', conditions: [], sort: [], limit, skip } as unknown as CheckedTxQuery, params), params };
};

describe('the page of a tx query', () => {
  test('findOne (one row, nothing skipped) is the constant LIMIT 1, with nothing bound', () => {
    expect(page(1, 0)).toEqual({ sql: 'LIMIT 1', params: [] });
  });

  test.each([[5, 0], [1, 3], [0, 0], [7, 2]])('limit %i, skip %i is bound, never written into the SQL', (limit, skip) => {
    const { sql, params } = page(limit, skip);
    expect(sql).toBe('LIMIT ? OFFSET ?');
    expect(params).toEqual([limit === 0 ? -1 : limit, skip]);
  });
});

describe('findOne over several matching txs', () => {
  let store: Store;
  const ids: string[] = [];
  beforeAll(async () => {
    store = await openStore('sqlite::memory:');
    const order = await store.createOrder(sampleOrder({ payoutModule: 'alpha' }));
    for (let i = 0; i < 4; i++) {
      const tx = await store.insertPayoutTx({ order: order._id, transaction: 'same', payoutModule: 'alpha', active: i % 2 === 0, amount: '1.00', currency: 'UAH', to: null, note: `n${i}`, attemptId: null });
      ids.push(tx._id);
    }
  });
  afterAll(async () => {
    await store.close();
  });

  const find = (q: Partial<TxQuery>) => store.findPayoutTxs({ plugin: 'alpha', conditions: [{ field: 'transaction', op: 'eq', value: 'same' }], sort: [{ field: '_id', direction: 1 }], ...q } as TxQuery);

  test('answers the first match in the sort order, either direction', async () => {
    expect((await find({ limit: 1 })).map((t) => t._id)).toEqual([ids[0]]);
    expect((await find({ limit: 1, sort: [{ field: '_id', direction: -1 }] })).map((t) => t._id)).toEqual([ids[3]]);
    // Positive control: there are several matches to choose from.
    expect((await find({ limit: 10 })).map((t) => t._id)).toEqual(ids);
  });

  test('with skip, the row after the skipped ones', async () => {
    expect((await find({ limit: 1, skip: 2 })).map((t) => t._id)).toEqual([ids[2]]);
  });

  test('another plugin\'s txs are not found', async () => {
    expect(await store.findPayoutTxs({ plugin: 'beta', conditions: [{ field: 'transaction', op: 'eq', value: 'same' }], sort: [{ field: '_id', direction: 1 }], limit: 1 } as TxQuery)).toEqual([]);
  });
});
