// What a settled tx costs must not grow with how many txs are pending: the lookups the host makes
// once per tx (updateHistory's live-payout check, findOne by order / transaction / _id, each with
// active) must be index searches on the selective column, never a walk over the plugin's active txs.
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, test } from 'vitest';
import { MIGRATIONS, migrate } from '../../../runtime/store/sqlite-schema.ts';
import { txOrderBy, txWhere } from '../../../runtime/store/sqlite-tx-sql.ts';
import type { CheckedTxQuery } from '../../../runtime/store/tx-query.ts';

type Condition = CheckedTxQuery['conditions'][number];
const eq = (field: string, value: string | boolean): Condition => ({ field, op: 'eq', value }) as Condition;

function planOf(db: DatabaseSync, conditions: Condition[]): string {
  const { sql, params } = txWhere({ plugin: 'alpha', conditions, sort: [], limit: 0, skip: 0 } as unknown as CheckedTxQuery);
  return db.prepare(`EXPLAIN QUERY PLAN SELECT COUNT(*) FROM payout_txs WHERE ${sql}`).all(...params).map((r) => String(r.detail)).join('; ');
}

/** The plan of findPayoutTxs' own statement (sorted by _id, as every tx query ends, one row: findOne). */
function findOnePlan(db: DatabaseSync, conditions: Condition[], orderBy?: string): string {
  const query = { plugin: 'alpha', conditions, sort: [{ field: '_id', direction: 1 }], limit: 1, skip: 0 } as unknown as CheckedTxQuery;
  const { sql, params } = txWhere(query);
  return db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM payout_txs WHERE ${sql} ORDER BY ${orderBy ?? txOrderBy(query)} LIMIT 1`).all(...params).map((r) => String(r.detail)).join('; ');
}

function schemaUpTo(version: number): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) db.exec(m.sql);
  return db;
}

describe('per-tx lookups of payout txs', () => {
  const latest = new DatabaseSync(':memory:');
  migrate(latest, ':memory:', new Date().toISOString());

  test.each([
    ['order and active (updateHistory, findOne({ order, active }))', [eq('order', 'o1'), eq('active', true)], 'payout_txs_by_order'],
    ['transaction and active (a webhook finding its tx)', [eq('transaction', 't1'), eq('active', true)], 'payout_txs_by_transaction'],
    ['order alone', [eq('order', 'o1')], 'payout_txs_by_order'],
    ['_id (updateOne({ _id }))', [eq('_id', 'x1')], 'sqlite_autoindex_payout_txs_1'],
  ])('%s searches %s', (_what, conditions, index) => {
    const plan = planOf(latest, conditions);
    expect(plan).toMatch(new RegExp(`^SEARCH payout_txs USING (COVERING )?INDEX ${index} `));
    expect(plan).not.toContain('payout_txs_by_active');
  });

  test('positive control: the schema before migration 8 walked the active index for order and active', () => {
    expect(planOf(schemaUpTo(7), [eq('order', 'o1'), eq('active', true)])).toContain('payout_txs_by_active');
  });

  test('the sweep\'s own listing of active txs still uses the active index', () => {
    expect(planOf(latest, [eq('active', true)])).toContain('payout_txs_by_active');
  });

  test.each([
    ['findOne({ transaction }) (a webhook finding its tx)', [eq('transaction', 't1')], 'payout_txs_by_transaction'],
    ['findOne({ order })', [eq('order', 'o1')], 'payout_txs_by_order'],
    ['findOne({ transaction, active })', [eq('transaction', 't1'), eq('active', true)], 'payout_txs_by_transaction'],
  ])('%s searches %s and sorts only what it found', (_what, conditions, index) => {
    const plan = findOnePlan(latest, conditions);
    expect(plan).toMatch(new RegExp(`^SEARCH payout_txs USING (COVERING )?INDEX ${index} `));
  });

  test('positive control: ordered by the plain column, findOne({ transaction }) walked every tx of the plugin in _id order', () => {
    expect(findOnePlan(latest, [eq('transaction', 't1')], '"_id" ASC')).toMatch(/^SEARCH payout_txs USING INDEX payout_txs_by_module \(payoutModule=\?\)$/);
  });

  test('a listing without a selective condition keeps streaming in index order (no sort of every row per page)', () => {
    expect(findOnePlan(latest, [])).not.toContain('TEMP B-TREE');
  });
});
