// payout-txs: what a plugin may do with `db.OrderPayoutTxs` — read, count and update its own
// payout txs, nothing else.
//  - every query is AND-ed with payoutModule = <calling plugin> by the store; a filter naming
//    another payoutModule is refused;
//  - only plain conditions on known fields, with $eq $ne $lt $lte $gt $gte $in $nin (and $and);
//    operators that could widen the scope or run code ($or, $nor, $where, $expr, $regex, …) are refused;
//  - populate('order') returns a read-only projection of the plugin's own order (orderForPlugin),
//    never the merchant's secrets or URLs;
//  - updateOne may change `active` and the plugin-owned `note`, nothing else;
//  - values are cast to the platform schema's types as mongoose casts them (payout-txs/cast.ts);
//    a value mongoose could not cast is refused with mongoose's CastError text (rule payoutTxs.cast).
//    Casting changes types only: fields, operators and scope are read by payout-txs/query.ts.
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, PolicyDenied } from './capability.ts';
import type { Store, TxQuery } from '../runtime/store/store.ts';
import type { Order, PayoutTx } from '../runtime/store/types.ts';
import { conditionsOf, patchOf, sortOf } from './payout-txs/query.ts';
import type { TxPatchArgs } from './payout-txs/query.ts';

export const MAX_TXS_PER_QUERY = 10_000;

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
        if (!p || (p as { path?: unknown }).path !== 'order') throw new PolicyDenied('payoutTxs.populate', `OrderPayoutTxs: populate[${i}] may only be 'order'`);
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
  const updateOne: Capability<{ filter: unknown; patch: TxPatchArgs }, unknown> = {
    name: 'payoutTxs.updateOne',
    // `note` is stored and shown to administrators.
    storesPluginText: true,
    parse(raw) {
      const r = (raw ?? {}) as { filter?: unknown; update?: unknown };
      const patch = patchOf(r.update);
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
