// One reading of a plugin's payout-tx query for both adapters. The query arrives from plugin code (via
// host-api/payout-txs), so the field names that reach SQL are whitelisted here, values are type-checked
// per field so SQLite and MongoDB cannot disagree about a comparison (MongoDB never matches a number
// against a string, SQLite would convert it), and the plugin scope is carried separately from the
// conditions so that no condition can widen it.
import { Checker } from './validate.ts';
import { TX_FILTER_FIELDS } from './store.ts';
import type { TxField, TxOp, TxPatch, TxScalar } from './store.ts';

export const TX_OPS: readonly TxOp[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'nin'];
const BOOLEAN_FIELDS: readonly TxField[] = ['active'];
const NULLABLE_FIELDS: readonly TxField[] = ['to', 'note'];
const TIME_FIELDS: readonly TxField[] = ['createdAt', 'updatedAt'];
const MAX_IN_VALUES = 1000;

export type CheckedCondition =
  | { field: TxField; op: 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte'; value: TxScalar }
  | { field: TxField; op: 'in' | 'nin'; value: TxScalar[] };

export interface CheckedTxQuery {
  plugin: string;
  conditions: CheckedCondition[];
  /** Always ends with `_id` so that ties (and "no sort") give one order in both adapters. */
  sort: { field: TxField; direction: 1 | -1 }[];
  /** 0 means no limit, as in MongoDB. */
  limit: number;
  skip: number;
}

function checkScalar(c: Checker, field: TxField, op: TxOp, name: string, v: unknown): TxScalar {
  const ranged = op === 'lt' || op === 'lte' || op === 'gt' || op === 'gte';
  if (v === null) {
    if (ranged) c.fail(`${name}: ${op} cannot compare with null`);
    return null;
  }
  if (BOOLEAN_FIELDS.includes(field)) {
    if (ranged) c.fail(`${name}: ${field} is true/false and has no order; use eq, ne, in or nin`);
    return c.bool(name, v);
  }
  if (typeof v !== 'string') c.fail(`${name}: ${field} holds ${NULLABLE_FIELDS.includes(field) ? 'a string or null' : 'a string'}; got ${typeof v} ${String(v)}`);
  return TIME_FIELDS.includes(field) ? c.time(name, v) : v;
}

export function checkTxQuery(op: string, v: unknown, mode: 'read' | 'update' = 'read'): CheckedTxQuery {
  const c = new Checker(op);
  const o = c.object('query', v);
  c.onlyKeys('query', o, ['plugin', 'conditions', 'sort', 'limit', 'skip']);
  const plugin = c.text('plugin', o.plugin);
  const conditions = c.listOf('conditions', o.conditions, (item, n): CheckedCondition => {
    const cond = c.object(n, item);
    c.onlyKeys(n, cond, ['field', 'op', 'value']);
    const field = c.oneOf(`${n}.field`, cond.field, TX_FILTER_FIELDS);
    const operator = c.oneOf(`${n}.op`, cond.op, TX_OPS);
    if (operator === 'in' || operator === 'nin') {
      const values = c.listOf(`${n}.value`, cond.value, (x, xn) => checkScalar(c, field, operator, xn, x));
      if (values.length > MAX_IN_VALUES) c.fail(`${n}.value has ${values.length} values; at most ${MAX_IN_VALUES}`);
      return { field, op: operator, value: values };
    }
    if (Array.isArray(cond.value)) c.fail(`${n}.value: ${operator} takes one value, not an array (use in / nin)`);
    return { field, op: operator, value: checkScalar(c, field, operator, `${n}.value`, cond.value) };
  });
  const sort = o.sort === undefined ? [] : c.listOf('sort', o.sort, (item, n) => {
    const s = c.object(n, item);
    const direction: 1 | -1 = s.direction === 1 || s.direction === -1 ? s.direction : c.fail(`${n}.direction must be 1 or -1, got ${String(s.direction)}`);
    return { field: c.oneOf(`${n}.field`, s.field, TX_FILTER_FIELDS), direction };
  });
  if (!sort.some((s) => s.field === '_id')) sort.push({ field: '_id', direction: 1 });
  const limit = o.limit === undefined ? 0 : c.int('limit', o.limit, 0);
  const skip = o.skip === undefined ? 0 : c.int('skip', o.skip, 0);
  if (mode === 'update') {
    if (skip !== 0) c.fail('skip is not supported: an update changes the first matching row (updateOne semantics)');
    if (limit > 1) c.fail(`limit ${limit} is not supported: an update changes exactly the first matching row`);
  }
  return { plugin, conditions, sort, limit, skip };
}

export function checkTxPatch(v: unknown): TxPatch {
  const c = new Checker('updatePayoutTx');
  const o = c.object('patch', v);
  c.onlyKeys('patch', o, ['active', 'note']);
  const patch: TxPatch = {};
  if (o.active !== undefined) patch.active = c.bool('patch.active', o.active);
  if (o.note !== undefined) patch.note = c.textOrNull('patch.note', o.note);
  return patch;
}

