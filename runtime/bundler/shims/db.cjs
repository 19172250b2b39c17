// require('../../../db') → { OrderPayoutTxs }: the mongoose-like façade platform plugins use,
// over host-api/payout-txs.ts. The server ANDs every query with payoutModule = this plugin, so a
// plugin sees, counts and updates its own payout txs only.
'use strict';
const host = globalThis.__ps_host;

const DATE_FIELDS = ['createdAt', 'updatedAt'];

function reviveDates(doc) {
  if (!doc || typeof doc !== 'object') return doc;
  for (const f of DATE_FIELDS) if (typeof doc[f] === 'string') doc[f] = new Date(doc[f]);
  return doc;
}

function revive(row, lean) {
  if (!row || typeof row !== 'object') return row;
  reviveDates(row);
  if (row.order && typeof row.order === 'object') reviveDates(row.order);
  if (lean) return row;
  // A non-lean result behaves like a mongoose document for the calls plugins make on it.
  const plain = () => JSON.parse(JSON.stringify(row));
  Object.defineProperties(row, {
    id: { get: () => (row._id === undefined ? undefined : String(row._id)), enumerable: false },
    toObject: { value: plain, enumerable: false },
    toJSON: { value: () => Object.assign({}, row), enumerable: false },
    save: {
      value: () => host.call('payoutTxs.updateOne', { filter: { _id: row._id }, update: { $set: { active: row.active, note: row.note === undefined ? null : row.note } } }).then(() => row),
      enumerable: false,
    },
  });
  return row;
}

class Query {
  constructor(op, filter, projection) {
    this._args = { op, filter: filter || {}, populate: [], select: projection || null, sort: null, limit: null, skip: null };
    this._lean = false;
  }
  populate(arg) {
    if (typeof arg === 'string') arg.split(/\s+/).filter(Boolean).forEach((path) => this._args.populate.push({ path, select: null }));
    else if (arg && typeof arg === 'object') this._args.populate.push({ path: String(arg.path), select: arg.select === undefined ? null : arg.select });
    return this;
  }
  select(arg) { this._args.select = arg; return this; }
  lean() { this._lean = true; return this; }
  sort(arg) { this._args.sort = arg; return this; }
  limit(n) { this._args.limit = Number(n); return this; }
  skip(n) { this._args.skip = Number(n); return this; }
  exec() {
    const lean = this._lean;
    return host.call('payoutTxs.find', this._args).then((rows) => {
      if (this._args.op === 'findOne') return revive(rows, lean);
      return rows.map((r) => revive(r, lean));
    });
  }
  then(onFulfilled, onRejected) { return this.exec().then(onFulfilled, onRejected); }
  catch(onRejected) { return this.exec().catch(onRejected); }
  finally(onFinally) { return this.exec().finally(onFinally); }
}

function refused(name) {
  return () => Promise.reject(new Error('OrderPayoutTxs.' + name + ' is not available to plugins: the host records payout txs from transfer() results; a plugin may only read its own and update active/note'));
}

const OrderPayoutTxs = Object.freeze({
  find: (filter, projection) => new Query('find', filter, projection),
  findOne: (filter, projection) => new Query('findOne', filter, projection),
  findById: (id, projection) => new Query('findOne', { _id: id }, projection),
  countDocuments: (filter) => host.call('payoutTxs.count', { filter: filter || {} }),
  updateOne: (filter, update) => host.call('payoutTxs.updateOne', { filter: filter || {}, update: update || {} }),
  create: refused('create'),
  insertMany: refused('insertMany'),
  updateMany: refused('updateMany'),
  deleteOne: refused('deleteOne'),
  deleteMany: refused('deleteMany'),
  aggregate: refused('aggregate'),
});

module.exports = { OrderPayoutTxs };
