// A checked payout-tx query as SQL with MongoDB's matching rules (see TxOp in store.ts). Field names
// come from the whitelist in tx-query.ts only; every value is a bound parameter. Lists travel as one
// JSON parameter through json_each so that the SQL text, and so the cached statement, does not depend
// on how many values a plugin passes.
import type { CheckedCondition, CheckedTxQuery } from './tx-query.ts';
import type { TxScalar } from './store.ts';
import { q } from './sqlite-schema.ts';

export type SqlParam = string | number | null;
const bind = (v: TxScalar): SqlParam => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
const RANGE_SQL = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

function inList(column: string, values: TxScalar[], params: SqlParam[]): string {
  const parts: string[] = [];
  const present = values.filter((v) => v !== null);
  if (present.length > 0) {
    parts.push(`${column} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(present));
  }
  if (present.length !== values.length) parts.push(`${column} IS NULL`);
  return parts.length === 0 ? '0' : `(${parts.join(' OR ')})`;
}

function conditionSql(cond: CheckedCondition, params: SqlParam[]): string {
  const column = q(cond.field);
  switch (cond.op) {
    case 'eq':
      if (cond.value === null) return `${column} IS NULL`;
      params.push(bind(cond.value));
      return `${column} = ?`;
    case 'ne':
      // IS NOT keeps rows whose column is null, as MongoDB's $ne does.
      if (cond.value === null) return `${column} IS NOT NULL`;
      params.push(bind(cond.value));
      return `${column} IS NOT ?`;
    case 'in':
      return inList(column, cond.value, params);
    case 'nin':
      // A null column makes IN yield NULL; IFNULL turns that into "not in the list", as $nin does.
      return `NOT IFNULL(${inList(column, cond.value, params)}, 0)`;
    default:
      params.push(bind(cond.value));
      return `${column} ${RANGE_SQL[cond.op]} ?`;
  }
}

/** WHERE clause: the plugin scope first, then the plugin's own conditions, AND-ed in parentheses. */
export function txWhere(query: CheckedTxQuery): { sql: string; params: SqlParam[] } {
  const params: SqlParam[] = [query.plugin];
  const parts = query.conditions.map((c) => `(${conditionSql(c, params)})`);
  return { sql: `"payoutModule" = ?${parts.map((p) => ` AND ${p}`).join('')}`, params };
}

/** Conditions that narrow a plugin's txs to a handful through their own index. */
const SELECTIVE_FIELDS: ReadonlySet<string> = new Set(['_id', 'order', 'transaction']);

export function txOrderBy(query: CheckedTxQuery): string {
  // With an equality on a selective column, the few matching rows are sorted after the index
  // search. Left to itself, SQLite walked ("payoutModule", "_id") in sort order for
  // `findOne({ transaction })` instead, hoping for an early match: every row of the plugin, about
  // 1 ms per lookup at 20 000 txs, on every webhook. The unary + keeps the ORDER BY from choosing
  // the index; without such a condition (listing, paging) the index order is the right plan.
  const selective = query.conditions.some((c) => (c.op === 'eq' || c.op === 'in') && c.value !== null && SELECTIVE_FIELDS.has(c.field));
  return query.sort.map((s) => `${selective ? '+' : ''}${q(s.field)} ${s.direction === 1 ? 'ASC' : 'DESC'}`).join(', ');
}

export function txPage(query: CheckedTxQuery, params: SqlParam[]): string {
  // findOne, the lookup every webhook and tx read makes: with the limit a literal, SQLite keeps the
  // one best row while it sorts instead of sorting for a limit known only at run time (measured:
  // 2.7 instead of 8.4 µs per lookup). Only this constant is written into the SQL; every other
  // page is bound, so plugin values never shape the statement (nor grow the statement cache).
  if (query.limit === 1 && query.skip === 0) return 'LIMIT 1';
  params.push(query.limit === 0 ? -1 : query.limit, query.skip);
  return 'LIMIT ? OFFSET ?';
}
