// Plain in-memory versions of the platform modules a payout plugin requires (db, updateHistory,
// i18n, axios, bluebird). They back the in-process loader: the benchmark baseline and a way to
// run a plugin with no sandbox at all. Never used by the server.
import { randomBytes } from 'node:crypto';

// ---------------------------------------------------------------- db: OrderPayoutTxs

export interface StoredOrder { _id: string; uid: number; status: string; outAmount?: string; [field: string]: unknown }
export interface StoredPayoutTx {
  _id: string;
  order: string;
  transaction: string;
  payoutModule: string;
  active: boolean;
  amount?: string;
  currency?: string;
  to?: string | null;
  createdAt: Date;
  [field: string]: unknown;
}

type Filter = Record<string, unknown>;
type PopulateSpec = string | { path: string; select?: string | Record<string, number> };
type SelectSpec = string | Record<string, number>;

const SUPPORTED_OPERATORS = new Set(['$eq', '$ne', '$lt', '$lte', '$gt', '$gte', '$in', '$nin']);

export function newObjectId(): string {
  return randomBytes(12).toString('hex');
}

// Dates compare by time; an ISO string compared with a Date is read as a date, as Mongo users expect.
function comparable(value: unknown, other: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string' && other instanceof Date) return Date.parse(value);
  return value;
}

function matchesCondition(actual: unknown, condition: unknown): boolean {
  const isOperatorObject = condition !== null && typeof condition === 'object' && !(condition instanceof Date) &&
    !Array.isArray(condition) && Object.keys(condition).some((key) => key.startsWith('$'));
  if (!isOperatorObject) return comparable(actual, condition) === comparable(condition, actual);
  return Object.entries(condition as Record<string, unknown>).every(([operator, operand]) => {
    if (!SUPPORTED_OPERATORS.has(operator)) throw new Error(`in-memory OrderPayoutTxs: operator ${operator} is not supported`);
    const a = comparable(actual, operand) as number | string;
    const b = comparable(operand, actual) as number | string;
    switch (operator) {
      case '$eq': return a === b;
      case '$ne': return a !== b;
      case '$lt': return a < b;
      case '$lte': return a <= b;
      case '$gt': return a > b;
      case '$gte': return a >= b;
      case '$in': return (operand as unknown[]).some((item) => matchesCondition(actual, item));
      default: return !(operand as unknown[]).some((item) => matchesCondition(actual, item));
    }
  });
}

function matchesFilter(row: Record<string, unknown>, filter: Filter): boolean {
  return Object.entries(filter ?? {}).every(([field, condition]) => matchesCondition(row[field], condition));
}

function applySelect<T extends Record<string, unknown>>(row: T, spec: SelectSpec | undefined): Record<string, unknown> {
  if (!spec) return row;
  const entries = typeof spec === 'string'
    ? spec.split(/\s+/).filter(Boolean).map((field): [string, number] => (field.startsWith('-') ? [field.slice(1), 0] : [field, 1]))
    : Object.entries(spec);
  const included = entries.filter(([, flag]) => flag).map(([field]) => field);
  const excluded = new Set(entries.filter(([, flag]) => !flag).map(([field]) => field));
  if (included.length === 0) return Object.fromEntries(Object.entries(row).filter(([field]) => !excluded.has(field)));
  const picked: Record<string, unknown> = {};
  for (const field of ['_id', ...included]) if (field in row && !excluded.has(field)) picked[field] = row[field];
  return picked;
}

/** The query object find()/findOne() return: chainable populate/select/lean, awaitable as is. */
class PayoutTxQuery<Single extends boolean> implements PromiseLike<unknown> {
  #db: InMemoryPlatformDb;
  #filter: Filter;
  #single: Single;
  #populate: PopulateSpec | null = null;
  #select: SelectSpec | undefined;

  constructor(db: InMemoryPlatformDb, filter: Filter, single: Single) {
    this.#db = db;
    this.#filter = filter;
    this.#single = single;
  }
  populate(spec: PopulateSpec): this {
    const path = typeof spec === 'string' ? spec : spec.path;
    if (path !== 'order') throw new Error(`in-memory OrderPayoutTxs: populate('${path}') is not supported, only 'order'`);
    this.#populate = spec;
    return this;
  }
  select(spec: SelectSpec): this {
    this.#select = spec;
    return this;
  }
  /** Rows are always plain copies here, so lean() only has to keep the chain going. */
  lean(): this {
    return this;
  }
  exec(): Promise<unknown> {
    this.#db.operations.push(this.#single ? 'findOne' : 'find');
    const rows = this.#db.payoutTxs.filter((row) => matchesFilter(row, this.#filter)).map((row) => this.#view(row));
    return Promise.resolve(this.#single ? (rows[0] ?? null) : rows);
  }
  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.exec().then(onFulfilled, onRejected);
  }
  #view(row: StoredPayoutTx): Record<string, unknown> {
    const copy: Record<string, unknown> = structuredClone(row);
    if (this.#populate) {
      const order = this.#db.orders.get(row.order);
      const orderSelect = typeof this.#populate === 'string' ? undefined : this.#populate.select;
      copy.order = order ? applySelect(structuredClone(order), orderSelect) : null;
    }
    return applySelect(copy, this.#select);
  }
}

export interface HistoryCall {
  orderId: string; oldStatus?: string; status: string; payoutStatus?: string; orderNote?: string; comment?: string;
  outcome: 'applied' | 'refused';
}

export class InMemoryPlatformDb {
  orders = new Map<string, StoredOrder>();
  payoutTxs: StoredPayoutTx[] = [];
  history: HistoryCall[] = [];
  /** Names of the db operations the plugin performed, in order. */
  operations: string[] = [];

  addOrder(order: Partial<StoredOrder> & { uid: number; status: string }): StoredOrder {
    const stored = { ...order, _id: order._id ?? newObjectId() } as StoredOrder;
    this.orders.set(stored._id, stored);
    return stored;
  }

  addPayoutTx(tx: Omit<StoredPayoutTx, '_id' | 'createdAt' | 'active'> & Partial<StoredPayoutTx>): StoredPayoutTx {
    const stored = { active: true, createdAt: new Date(), ...tx, _id: tx._id ?? newObjectId() } as StoredPayoutTx;
    this.payoutTxs.push(stored);
    return stored;
  }

  /** What `require('../../../db')` returns to the plugin, and what initCron receives as `db`. */
  facade() {
    return {
      OrderPayoutTxs: {
        countDocuments: async (filter: Filter) => {
          this.operations.push('countDocuments');
          return this.payoutTxs.filter((row) => matchesFilter(row, filter)).length;
        },
        find: (filter: Filter) => new PayoutTxQuery(this, filter, false),
        findOne: (filter: Filter) => new PayoutTxQuery(this, filter, true),
        updateOne: async (filter: Filter, update: Record<string, unknown>) => {
          this.operations.push('updateOne');
          const unsupported = Object.keys(update).filter((key) => key !== '$set');
          if (unsupported.length) throw new Error(`in-memory OrderPayoutTxs: update ${unsupported.join(', ')} is not supported, only $set`);
          const row = this.payoutTxs.find((candidate) => matchesFilter(candidate, filter));
          if (!row) return { acknowledged: true, matchedCount: 0, modifiedCount: 0 };
          Object.assign(row, structuredClone(update.$set as object));
          return { acknowledged: true, matchedCount: 1, modifiedCount: 1 };
        },
      },
    };
  }

  /** updateHistory with the host's guard: the status moves only from the stated oldStatus. */
  updateHistory = async (entry: Omit<HistoryCall, 'outcome'>): Promise<void> => {
    const order = this.orders.get(String(entry.orderId));
    const refused = !order || (entry.oldStatus !== undefined && entry.oldStatus !== order.status);
    this.history.push({ ...entry, orderId: String(entry.orderId), outcome: refused ? 'refused' : 'applied' });
    if (refused) throw new Error(order ? `order ${entry.orderId} is ${order.status}, not ${entry.oldStatus}` : `no order ${entry.orderId}`);
    order.status = entry.status;
    if (entry.payoutStatus !== undefined) order.payoutStatus = entry.payoutStatus;
    if (entry.orderNote !== undefined) order.orderNote = entry.orderNote;
  };
}

// ---------------------------------------------------------------- i18n

/** No translations at all: `_t` returns '' so the plugin's own fallbacks show, as with an unknown key. */
export function i18nWithoutTranslations(_lang: string, _fallbackLang?: string) {
  return { _t: (_key: string, _vars?: Record<string, unknown>) => '' };
}

// ---------------------------------------------------------------- bluebird (the statics plugins use)

type Mapper = (item: unknown, index: number, length: number) => unknown;

export function createBluebirdShim() {
  const Bluebird = function Bluebird(executor: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => void) {
    return new Promise(executor);
  };
  const mapWithConcurrency = async (items: Iterable<unknown> | PromiseLike<Iterable<unknown>>, mapper: Mapper, concurrency: number) => {
    const list = await Promise.all([...(await items)]);
    const results = new Array<unknown>(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const index = next++;
        results[index] = await mapper(list[index], index, list.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, list.length)) }, worker));
    return results;
  };
  return Object.assign(Bluebird, {
    resolve: <T>(value: T) => Promise.resolve(value),
    reject: (reason: unknown) => Promise.reject(reason),
    all: (values: Iterable<unknown>) => Promise.all(values),
    race: (values: Iterable<unknown>) => Promise.race(values),
    allSettled: (values: Iterable<unknown>) => Promise.allSettled(values),
    delay: <T>(ms: number, value?: T) => new Promise<T | undefined>((resolve) => setTimeout(() => resolve(value), ms)),
    mapSeries: (items: Iterable<unknown> | PromiseLike<Iterable<unknown>>, mapper: Mapper) => mapWithConcurrency(items, mapper, 1),
    map: (items: Iterable<unknown> | PromiseLike<Iterable<unknown>>, mapper: Mapper, options?: { concurrency?: number }) =>
      mapWithConcurrency(items, mapper, options?.concurrency ?? Number.POSITIVE_INFINITY),
    each: async (items: Iterable<unknown> | PromiseLike<Iterable<unknown>>, iterator: Mapper) => {
      const list = await Promise.all([...(await items)]);
      for (let index = 0; index < list.length; index++) await iterator(list[index], index, list.length);
      return list;
    },
    props: async (object: Record<string, unknown>) => {
      const entries = await Promise.all(Object.entries(object).map(async ([key, value]) => [key, await value] as const));
      return Object.fromEntries(entries);
    },
  });
}
