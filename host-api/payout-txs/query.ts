// Reads what a plugin passes to db.OrderPayoutTxs (filter, sort, update) into the store's terms,
// casting every value as mongoose would (cast.ts). Casting only changes the type of a value: the
// fields, the operators and the scope are decided here exactly as before casting existed —
//  - a filter names only known fields; conditions are AND-ed ($and too); operators are
//    $eq $ne $lt $lte $gt $gte $in $nin, nothing that could widen the scope or run code;
//  - payoutModule, if named, must be the calling plugin itself (the store ANDs it anyway);
//  - an update is {$set: {...}} (or a bare object, read as $set) of `active` and `note` only.
import { CapabilityArgumentError, PolicyDenied } from '../capability.ts';
import type { TxCondition, TxField, TxOp, TxQuery, TxScalar } from '../../runtime/store/store.ts';
import { TX_FILTER_FIELDS } from '../../runtime/store/store.ts';
import { castValue, fromWire, storedTime } from './cast.ts';
import type { CastValue } from './cast.ts';
import type { PolicyRule } from '../../runtime/errors.ts';

const MAX_IN_LIST = 1000;
export const MAX_NOTE = 2000;
const OPERATORS: Record<string, TxOp> = { $eq: 'eq', $ne: 'ne', $lt: 'lt', $lte: 'lte', $gt: 'gt', $gte: 'gte', $in: 'in', $nin: 'nin' };
const FIELDS = new Set<string>(TX_FILTER_FIELDS);
type Ranged = 'lt' | 'lte' | 'gt' | 'gte';

function deny(rule: PolicyRule, message: string): never {
  throw new PolicyDenied(rule, `OrderPayoutTxs: ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Conditions the store reads as "every row" and "no row" (MongoDB's $nin: [] and $in: []). */
const everyRow = (field: TxField): TxCondition => ({ field, op: 'nin', value: [] });
const noRow = (field: TxField): TxCondition => ({ field, op: 'in', value: [] });

/** A cast value as the store holds it; `undefined` for a date no stored time can equal. */
function stored(v: CastValue): TxScalar | undefined {
  if (!(v instanceof Date)) return v;
  const t = storedTime(v);
  return 'iso' in t ? t.iso : undefined;
}

/**
 * A range condition with MongoDB's meaning: null matches nothing with lt/gt and only null with
 * lte/gte; false < true; a date outside the stored years is before or after every stored time.
 */
function rangeCondition(field: TxField, op: Ranged, v: CastValue): TxCondition {
  if (v === null) return op === 'lte' || op === 'gte' ? { field, op: 'eq', value: null } : noRow(field);
  if (typeof v === 'boolean') {
    const below = op === 'lt' || op === 'lte';
    const strict = op === 'lt' || op === 'gt';
    const candidates = [false, true].filter((b) => (below ? (strict ? b < v : b <= v) : (strict ? b > v : b >= v)));
    return { field, op: 'in', value: candidates };
  }
  if (v instanceof Date) {
    const t = storedTime(v);
    if ('outside' in t) {
      const matchesAll = (t.outside === 'after') === (op === 'lt' || op === 'lte');
      return matchesAll ? { field, op: 'ne', value: null } : noRow(field);
    }
    return { field, op, value: t.iso };
  }
  return { field, op, value: v };
}

function listCondition(field: TxField, op: 'in' | 'nin', operand: unknown, path: string): TxCondition {
  // Mongoose wraps a single value: {$in: 'a'} is {$in: ['a']}.
  const list = Array.isArray(operand) ? operand : [operand];
  if (list.length > MAX_IN_LIST) deny('payoutTxs.filter', `${path} has more than ${MAX_IN_LIST} values`);
  const values = list.map((v) => stored(castValue(field, v, path))).filter((v): v is TxScalar => v !== undefined);
  return { field, op, value: values };
}

function operatorCondition(field: TxField, op: TxOp, operand: unknown, path: string): TxCondition {
  if (op === 'in' || op === 'nin') return listCondition(field, op, operand, path);
  const v = castValue(field, operand, path);
  if (op === 'eq' || op === 'ne') {
    const s = stored(v);
    if (s === undefined) return op === 'eq' ? noRow(field) : everyRow(field);
    return { field, op, value: s };
  }
  return rangeCondition(field, op, v);
}

/** The filter a plugin passed, as AND-ed store conditions with every value cast. */
export function conditionsOf(filter: unknown, plugin: string, where = 'filter'): TxCondition[] {
  if (filter === null || filter === undefined) return [];
  if (!isObject(filter)) deny('payoutTxs.filter', `${where} must be an object`);
  const out: TxCondition[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and') {
      if (!Array.isArray(value)) deny('payoutTxs.filter', `${where}.$and must be an array`);
      value.forEach((sub, i) => out.push(...conditionsOf(sub, plugin, `${where}.$and[${i}]`)));
      continue;
    }
    if (key.startsWith('$')) deny('payoutTxs.operator', `operator ${key} is not allowed in ${where}; use plain conditions (they are AND-ed)`);
    if (key === 'payoutModule') {
      if (value === plugin || (isObject(value) && value.$eq === plugin && Object.keys(value).length === 1)) continue;
      deny('payoutTxs.foreign-module', `${where}.payoutModule must be this plugin ('${plugin}'); a plugin can only query its own payout txs`);
    }
    if (!FIELDS.has(key)) deny('payoutTxs.field', `unknown field '${key}' in ${where}; fields: ${TX_FILTER_FIELDS.join(', ')}`);
    const field = key as TxField;
    const path = `${where === 'filter' ? '' : `${where}.`}${key}`;
    if (isObject(value) && !fromWire(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      for (const [op, operand] of Object.entries(value)) {
        const mapped = OPERATORS[op];
        if (!mapped) deny('payoutTxs.operator', `operator ${op} is not allowed on ${where}.${key}; allowed: ${Object.keys(OPERATORS).join(' ')}`);
        out.push(operatorCondition(field, mapped, operand, path));
      }
    } else if (Array.isArray(value)) {
      // Mongoose reads an array on a single-value path as $in.
      out.push(listCondition(field, 'in', value, path));
    } else {
      out.push(operatorCondition(field, 'eq', value, path));
    }
  }
  return out;
}

function sortDirection(field: string, v: unknown): 1 | -1 {
  if (v === 1 || v === 'asc' || v === 'ascending') return 1;
  if (v === -1 || v === 'desc' || v === 'descending') return -1;
  deny('payoutTxs.sort', `Invalid sort value: { ${field}: ${String(v).slice(0, 40)} }; use 1, -1, 'asc' or 'desc'`);
}

/** Mongoose's sort forms: 'a -b', {a: 1, b: 'desc'}, [['a', -1]]. */
export function sortOf(sort: unknown): TxQuery['sort'] {
  if (sort === null || sort === undefined || sort === '') return undefined;
  let pairs: [string, 1 | -1][];
  if (typeof sort === 'string') pairs = sort.split(/\s+/).filter(Boolean).map((s) => (s.startsWith('-') ? [s.slice(1), -1] : [s, 1]));
  else if (Array.isArray(sort)) {
    pairs = sort.map((p) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') deny('payoutTxs.sort', 'an array sort must list [field, direction] pairs');
      return [p[0], sortDirection(p[0], p[1])];
    });
  } else if (isObject(sort)) pairs = Object.entries(sort).map(([k, v]) => [k, sortDirection(k, v)]);
  else deny('payoutTxs.sort', 'sort must be a string, an object or an array of pairs');
  return pairs.map(([field, direction]) => {
    if (!FIELDS.has(field)) deny('payoutTxs.field', `cannot sort by unknown field '${field}'`);
    return { field: field as TxField, direction };
  });
}

export type TxPatchArgs = { active?: boolean; note?: string | null };

/** {$set: {active, note}} or a bare {active, note}, each value cast to its path's type. */
export function patchOf(update: unknown): TxPatchArgs {
  if (!isObject(update)) throw new CapabilityArgumentError('payoutTxs.updateOne', 'update', 'must be an object like {$set: {active: false}}');
  const keys = Object.keys(update);
  let set: Record<string, unknown>;
  if (keys.length === 1 && keys[0] === '$set' && isObject(update.$set)) set = update.$set;
  else if (keys.every((k) => !k.startsWith('$'))) set = update; // mongoose treats a bare object as $set
  else deny('payoutTxs.update-operator', `only {$set: {...}} updates are allowed; got ${keys.filter((k) => k.startsWith('$')).join(', ')}`);
  const patch: TxPatchArgs = {};
  for (const [field, value] of Object.entries(set)) {
    if (field === 'active') {
      const active = castValue('active', value, 'active');
      // Mongoose would write the null; every stored tx is active or not, so say it here.
      if (active === null) throw new CapabilityArgumentError('payoutTxs.updateOne', '$set.active', 'must be true or false (null would leave the tx neither)');
      patch.active = active as boolean;
    } else if (field === 'note') {
      const note = castValue('note', value, 'note') as string | null;
      if (note !== null && note.length > MAX_NOTE) throw new CapabilityArgumentError('payoutTxs.updateOne', '$set.note', `must be a string of at most ${MAX_NOTE} characters or null`);
      patch.note = note;
    } else {
      deny('payoutTxs.readonly-field', `field '${field}' is read-only; a plugin may only change 'active' and 'note'`);
    }
  }
  return patch;
}
