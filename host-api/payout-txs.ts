// payout-txs: what a plugin may do with `db.OrderPayoutTxs` — read, count and update its own
// payout txs, nothing else.
//  - every query is AND-ed with payoutModule = <calling plugin> by the store; a filter naming
//    another payoutModule is refused;
//  - only plain conditions on known fields, with $eq $ne $lt $lte $gt $gte $in $nin (and $and);
//    operators that could widen the scope or run code ($or, $nor, $where, $expr, $regex, …) are refused;
//  - populate('order') returns a read-only projection of the plugin's own order (orderForPlugin),
//    never the merchant's secrets or URLs;
//  - updateOne may change `active` and the plugin-owned `note`, nothing else.
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, PolicyDenied } from './capability.ts';
import type { Store, TxCondition, TxField, TxOp, TxQuery, TxScalar } from '../runtime/store/store.ts';
import { TX_FILTER_FIELDS } from '../runtime/store/store.ts';
import type { Order, PayoutTx } from '../runtime/store/types.ts';

export const MAX_TXS_PER_QUERY = 10_000;
const MAX_IN_LIST = 1000;
const MAX_NOTE = 2000;
const OPERATORS: Record<string, TxOp> = { $eq: 'eq', $ne: 'ne', $lt: 'lt', $lte: 'lte', $gt: 'gt', $gte: 'gte', $in: 'in', $nin: 'nin' };
const FIELDS = new Set<string>(TX_FILTER_FIELDS);

/** The fields of an order a plugin may see — the same projection for transfer() and populate. */
export const ORDER_FIELDS_FOR_PLUGIN = ['_id', 'uid', 'status', 'inAmount', 'outAmount', 'inXML', 'outXML', 'outSymbol', 'outValues', 'createdAt'] as const;

export function orderForPlugin(order: Order): Record<string, unknown> {
  const outValues: Record<string, string> = {};
  for (const v of order.toValues) outValues[v.key] = v.value;
  return {
    _id: order._id, uid: order.uid, status: order.status, inAmount: order.inAmount, outAmount: order.outAmount,
    inXML: order.fromXml, outXML: order.toXml, outSymbol: order.outSymbol, outValues, createdAt: order.createdAt,
  };
}

function deny(rule: string, message: string): never {
  throw new PolicyDenied(rule, `OrderPayoutTxs: ${message}`);
}

function scalar(value: unknown, where: string): TxScalar {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') deny('payoutTxs.value', `${where} is a number; payout tx fields hold strings (amounts are decimal strings, dates ISO-8601), so compare with a string`);
  deny('payoutTxs.value', `${where} must be a string, boolean or null (regular expressions and objects are not supported)`);
}

function conditionsOf(filter: unknown, plugin: string, where = 'filter'): TxCondition[] {
  if (filter === null || filter === undefined) return [];
  if (typeof filter !== 'object' || Array.isArray(filter)) deny('payoutTxs.filter', `${where} must be an object`);
  const out: TxCondition[] = [];
  for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
    if (key === '$and') {
      if (!Array.isArray(value)) deny('payoutTxs.filter', `${where}.$and must be an array`);
      value.forEach((sub, i) => out.push(...conditionsOf(sub, plugin, `${where}.$and[${i}]`)));
      continue;
    }
    if (key.startsWith('$')) deny('payoutTxs.operator', `operator ${key} is not allowed in ${where}; use plain conditions (they are AND-ed)`);
    if (key === 'payoutModule') {
      if (value === plugin || (value && typeof value === 'object' && (value as Record<string, unknown>).$eq === plugin && Object.keys(value).length === 1)) continue;
      deny('payoutTxs.foreign-module', `${where}.payoutModule must be this plugin ('${plugin}'); a plugin can only query its own payout txs`);
    }
    if (!FIELDS.has(key)) deny('payoutTxs.field', `unknown field '${key}' in ${where}; fields: ${TX_FILTER_FIELDS.join(', ')}`);
    const field = key as TxField;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const ops = Object.entries(value as Record<string, unknown>);
      if (!ops.length) deny('payoutTxs.filter', `${where}.${key} is an empty object`);
      for (const [op, operand] of ops) {
        const mapped = OPERATORS[op];
        if (!mapped) deny('payoutTxs.operator', `operator ${op} is not allowed on ${where}.${key}; allowed: ${Object.keys(OPERATORS).join(' ')}`);
        if (mapped === 'in' || mapped === 'nin') {
          if (!Array.isArray(operand)) deny('payoutTxs.filter', `${where}.${key}.${op} must be an array`);
          if (operand.length > MAX_IN_LIST) deny('payoutTxs.filter', `${where}.${key}.${op} has more than ${MAX_IN_LIST} values`);
          out.push({ field, op: mapped, value: operand.map((v, i) => scalar(v, `${where}.${key}.${op}[${i}]`)) });
        } else {
          out.push({ field, op: mapped, value: scalar(operand, `${where}.${key}.${op}`) });
        }
      }
    } else {
      out.push({ field, op: 'eq', value: scalar(value, `${where}.${key}`) });
    }
  }
  return out;
}

function sortOf(sort: unknown): TxQuery['sort'] {
  if (sort === null || sort === undefined) return undefined;
  const pairs: [string, number][] = typeof sort === 'string'
    ? sort.split(/\s+/).filter(Boolean).map((s) => (s.startsWith('-') ? [s.slice(1), -1] : [s, 1]))
    : Object.entries(sort as Record<string, unknown>).map(([k, v]) => [k, v === -1 || v === 'desc' || v === 'descending' ? -1 : 1]);
  return pairs.map(([field, direction]) => {
    if (!FIELDS.has(field)) deny('payoutTxs.field', `cannot sort by unknown field '${field}'`);
    return { field: field as TxField, direction: direction as 1 | -1 };
  });
}

/** Projection: 'a b -c' or {a: 1} / {c: 0}. `_id` stays unless excluded. */
function project<T extends Record<string, unknown>>(doc: T, select: unknown): Record<string, unknown> {
  if (select === null || select === undefined || select === '') return doc;
  const spec: Record<string, boolean> = {};
  if (typeof select === 'string') for (const s of select.split(/\s+/).filter(Boolean)) spec[s.replace(/^[-+]/, '')] = !s.startsWith('-');
  else if (typeof select === 'object') for (const [k, v] of Object.entries(select as Record<string, unknown>)) spec[k] = Boolean(v);
  const including = Object.entries(spec).some(([k, v]) => v && k !== '_id');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === '_id' ? spec._id !== false : including ? spec[k] === true : spec[k] !== false) out[k] = v;
  }
  return out;
}

export interface FindArgs {
  op: 'find' | 'findOne';
  filter: unknown;
  populate: { path: string; select: unknown }[];
  select: unknown;
  sort: unknown;
  limit: number | null;
  skip: number | null;
}

function txForPlugin(tx: PayoutTx): Record<string, unknown> {
  return {
    _id: tx._id, order: tx.order, transaction: tx.transaction, payoutModule: tx.payoutModule, active: tx.active,
    amount: tx.amount, currency: tx.currency, to: tx.to, note: tx.note, createdAt: tx.createdAt, updatedAt: tx.updatedAt,
  };
}

export function payoutTxCapabilities(store: Pick<Store, 'findPayoutTxs' | 'countPayoutTxs' | 'updatePayoutTx' | 'getOrders'>): Capability[] {
  const find: Capability<FindArgs, unknown> = {
    name: 'payoutTxs.find',
    parse(raw) {
      const r = (raw ?? {}) as Record<string, unknown>;
      if (r.op !== 'find' && r.op !== 'findOne') throw new CapabilityArgumentError('payoutTxs.find', 'op', "must be 'find' or 'findOne'");
      const populate = Array.isArray(r.populate) ? r.populate : [];
      for (const [i, p] of populate.entries()) {
        if (!p || (p as { path?: unknown }).path !== 'order') deny('payoutTxs.populate', `populate[${i}] may only be 'order'`);
      }
      const limit = r.limit === null || r.limit === undefined ? null : Number(r.limit);
      const skip = r.skip === null || r.skip === undefined ? null : Number(r.skip);
      if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new CapabilityArgumentError('payoutTxs.find', 'limit', 'must be a non-negative integer');
      if (skip !== null && (!Number.isInteger(skip) || skip < 0)) throw new CapabilityArgumentError('payoutTxs.find', 'skip', 'must be a non-negative integer');
      return { op: r.op, filter: r.filter, populate: populate as FindArgs['populate'], select: r.select, sort: r.sort, limit, skip };
    },
    summarize: (a) => `${a.op} ${JSON.stringify(a.filter ?? {}).slice(0, 300)}${a.populate.length ? ' populate(order)' : ''}`,
    async invoke(ctx: HostCallContext, a) {
      const query: TxQuery = {
        plugin: ctx.plugin, conditions: conditionsOf(a.filter, ctx.plugin), sort: sortOf(a.sort),
        limit: a.op === 'findOne' ? 1 : Math.min(a.limit || MAX_TXS_PER_QUERY, MAX_TXS_PER_QUERY), skip: a.skip ?? undefined,
      };
      const rows = await store.findPayoutTxs(query);
      let docs = rows.map((tx) => project(txForPlugin(tx), a.select));
      const populate = a.populate.find((p) => p.path === 'order');
      if (populate && rows.length) {
        const orders = new Map((await store.getOrders([...new Set(rows.map((r) => r.order))])).map((o) => [o._id, o]));
        docs = docs.map((doc, i) => {
          const order = orders.get(rows[i].order);
          // An order that is not this plugin's is not shown, even if a row points at it.
          const visible = order && order.payoutModule === ctx.plugin ? project(orderForPlugin(order), populate.select) : null;
          return 'order' in doc ? { ...doc, order: visible } : doc;
        });
      }
      return a.op === 'findOne' ? docs[0] ?? null : docs;
    },
  };
  const count: Capability<{ filter: unknown }, number> = {
    name: 'payoutTxs.count',
    parse: (raw) => ({ filter: (raw as { filter?: unknown } | null)?.filter }),
    summarize: (a) => `countDocuments ${JSON.stringify(a.filter ?? {}).slice(0, 300)}`,
    invoke: (ctx, a) => store.countPayoutTxs({ plugin: ctx.plugin, conditions: conditionsOf(a.filter, ctx.plugin) }),
  };
  const updateOne: Capability<{ filter: unknown; patch: { active?: boolean; note?: string | null } }, unknown> = {
    name: 'payoutTxs.updateOne',
    // `note` is stored and shown to administrators.
    storesPluginText: true,
    parse(raw) {
      const r = (raw ?? {}) as { filter?: unknown; update?: unknown };
      const update = r.update;
      if (!update || typeof update !== 'object' || Array.isArray(update)) throw new CapabilityArgumentError('payoutTxs.updateOne', 'update', 'must be an object like {$set: {active: false}}');
      const u = update as Record<string, unknown>;
      const keys = Object.keys(u);
      let set: Record<string, unknown>;
      if (keys.length === 1 && keys[0] === '$set' && u.$set && typeof u.$set === 'object') set = u.$set as Record<string, unknown>;
      else if (keys.every((k) => !k.startsWith('$'))) set = u; // mongoose treats a bare object as $set
      else deny('payoutTxs.update-operator', `only {$set: {...}} updates are allowed; got ${keys.filter((k) => k.startsWith('$')).join(', ')}`);
      const patch: { active?: boolean; note?: string | null } = {};
      for (const [field, value] of Object.entries(set)) {
        if (field === 'active') {
          if (typeof value !== 'boolean') throw new CapabilityArgumentError('payoutTxs.updateOne', '$set.active', 'must be true or false');
          patch.active = value;
        } else if (field === 'note') {
          if (value !== null && (typeof value !== 'string' || value.length > MAX_NOTE)) throw new CapabilityArgumentError('payoutTxs.updateOne', '$set.note', `must be a string of at most ${MAX_NOTE} characters or null`);
          patch.note = value as string | null;
        } else {
          deny('payoutTxs.readonly-field', `field '${field}' is read-only; a plugin may only change 'active' and 'note'`);
        }
      }
      return { filter: r.filter, patch };
    },
    summarize: (a) => `updateOne ${JSON.stringify(a.filter ?? {}).slice(0, 200)} set ${Object.keys(a.patch).join(',')}`,
    async invoke(ctx, a) {
      const r = await store.updatePayoutTx({ plugin: ctx.plugin, conditions: conditionsOf(a.filter, ctx.plugin) }, a.patch);
      return { acknowledged: true, matchedCount: r.matched, modifiedCount: r.modified };
    },
  };
  return [find as Capability, count as Capability, updateOne as Capability];
}
