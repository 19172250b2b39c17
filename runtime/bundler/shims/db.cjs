// require('../../../db') → { OrderPayoutTxs }: the mongoose-like façade platform plugins use,
// over host-api/payout-txs.ts. The server ANDs every query with payoutModule = this plugin, so a
// plugin sees, counts and updates its own payout txs only.
//
// Arguments cross to the host as JSON, which would turn a Date into a string that no longer says it
// was a date, and drop keys whose value is undefined. So before a call, values are written in the
// tagged forms the host reads (host-api/payout-txs/cast.ts): a Date as {$date: epoch ms} (null for
// an invalid Date), an ObjectId-like value as {$oid: hex}, and undefined in a filter as null (what
// mongoose 8 sends: {transaction: undefined} matches no tx, not every tx). In an update, undefined
// keys are left out, as mongoose strips them. The host casts the rest and is the only judge: this
// shim only keeps the information JSON would lose.
//
// A refused call names the plugin's file:line that made it: the bundle carries a small table from
// its lines to the plugin's (runtime/bundler/call-sites.ts), and the shim notes the caller's stack
// position when the call is made.
'use strict';
const host = globalThis.__ps_host;
const getTime = Date.prototype.getTime;
const objectToString = Object.prototype.toString;
const MAX_DEPTH = 64;

function isDate(v) {
  if (objectToString.call(v) !== '[object Date]') return false;
  try {
    getTime.call(v);
    return true;
  } catch (e) {
    return false;
  }
}

// Values as the host reads them (see the comment at the top). Past MAX_DEPTH the value is passed on
// as it is: the host refuses what it cannot read.
function toWire(v, inFilter, depth) {
  if (v === undefined) return inFilter ? null : undefined;
  // JSON would drop a function, and a dropped condition matches every tx; mongoose casts its text.
  if (typeof v === 'function') return inFilter ? String(v) : undefined;
  if (v === null || typeof v !== 'object') return v;
  if (depth > MAX_DEPTH) return v;
  if (isDate(v)) {
    const t = getTime.call(v);
    return { $date: t === t ? t : null };
  }
  if ((v._bsontype === 'ObjectId' || v._bsontype === 'ObjectID') && typeof v.toHexString === 'function') return { $oid: String(v.toHexString()) };
  if (Array.isArray(v)) return v.map((x) => toWire(x, inFilter, depth + 1));
  if (typeof v.toJSON === 'function') return v;
  // A null-prototype copy: a '__proto__' key stays a key the host can refuse, not a prototype.
  const out = Object.create(null);
  for (const k of Object.keys(v)) {
    const w = toWire(v[k], inFilter, depth + 1);
    if (w !== undefined) out[k] = w;
  }
  return out;
}

// ---- where the plugin made the call --------------------------------------------------------------
const STACK_POSITION = /bundle\.js:(\d+):(\d+)/;
const STACK_POSITIONS = /bundle\.js:(\d+):(\d+)/g;
const ErrorCtor = Error;

// V8 (isolated-vm) cuts the stack at `fn`, so its first frame is the caller. QuickJS has no
// Error.captureStackTrace: the whole stack is kept (`whole`), and whereIs takes its first frame
// that is one of the plugin's own lines (the shim's frames are not in the table).
function callerOf(fn) {
  const holder = {};
  try {
    if (typeof ErrorCtor.captureStackTrace === 'function') ErrorCtor.captureStackTrace(holder, fn);
    else {
      holder.stack = new ErrorCtor().stack;
      holder.whole = true;
    }
  } catch (e) {
    // No position: the refusal is still reported, without file:line.
  }
  return holder;
}

let lineTable = null;
function sourceLines() {
  if (lineTable !== null) return lineTable;
  lineTable = false;
  const t = globalThis.__ps_source_lines;
  if (!t || typeof t.map !== 'string' || !Array.isArray(t.files)) return lineTable;
  const anchor = STACK_POSITION.exec(String(t.anchor));
  const entries = [];
  let line = 0;
  for (const part of t.map.split(';')) {
    if (!part) continue;
    const [dl, col, file, orig] = part.split(',').map(Number);
    line += dl;
    entries.push([line, col, file, orig]);
  }
  // The script the sandbox runs may start a few lines before the bundle: the anchor line says how many.
  lineTable = { offset: anchor ? Number(anchor[1]) - t.anchorLine : 0, files: t.files, entries };
  return lineTable;
}

function whereIs(holder) {
  let stack;
  try {
    stack = String(holder.stack);
  } catch (e) {
    return null;
  }
  const table = sourceLines();
  if (!table) return null;
  if (!holder.whole) {
    const m = STACK_POSITION.exec(stack);
    return m ? pluginLineAt(table, Number(m[1]), Number(m[2])) : null;
  }
  for (const m of stack.matchAll(STACK_POSITIONS)) {
    const where = pluginLineAt(table, Number(m[1]), Number(m[2]));
    if (where) return where;
  }
  return null;
}

/** The plugin's file:line at a bundle position, or null when the position is not the plugin's code. */
function pluginLineAt(table, bundleLine, bundleColumn) {
  const line = bundleLine - table.offset;
  const column = bundleColumn - 1;
  let found = null;
  for (const e of table.entries) {
    if (e[0] < line) continue;
    if (e[0] > line) break;
    // The last mapping at or before the column; the line's first one when the call starts before any.
    if (found === null || e[1] <= column) found = e;
  }
  if (!found) return null;
  return table.files[found[2]] + ':' + found[3];
}

// A refused call is also written to the plugin's log with its location: a plugin that catches the
// error (a cron looping over txs usually does) still leaves the reason where its author looks.
function located(holder) {
  return (err) => {
    if (err && typeof err === 'object' && err.code === 'HOST_DENIED' && typeof err.message === 'string') {
      const where = whereIs(holder);
      host.log('warn', 'db.OrderPayoutTxs refused a call' + (where ? ' at ' + where : '') + ': ' + err.message);
      if (where) err.message = where + ': ' + err.message;
      if (err.rule === 'payoutTxs.cast') err.name = 'CastError';
    }
    throw err;
  };
}

function call(name, args, holder) {
  return host.call(name, args).catch(located(holder));
}

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
      value: function save() {
        const update = toWire({ $set: { active: row.active, note: row.note === undefined ? null : row.note } }, false, 0);
        return call('payoutTxs.updateOne', { filter: toWire({ _id: row._id }, true, 0), update }, callerOf(save)).then(() => row);
      },
      enumerable: false,
    },
  });
  return row;
}

class Query {
  constructor(op, filter, projection, caller) {
    this._args = { op, filter: toWire(filter || {}, true, 0), populate: [], select: projection || null, sort: null, limit: null, skip: null };
    this._lean = false;
    this._caller = caller;
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
    return call('payoutTxs.find', this._args, this._caller).then((rows) => {
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
  find: function find(filter, projection) { return new Query('find', filter, projection, callerOf(find)); },
  findOne: function findOne(filter, projection) { return new Query('findOne', filter, projection, callerOf(findOne)); },
  // mongoose: findById(undefined) looks for _id null, never "any tx".
  findById: function findById(id, projection) { return new Query('findOne', { _id: id === undefined ? null : id }, projection, callerOf(findById)); },
  countDocuments: function countDocuments(filter) {
    return call('payoutTxs.count', { filter: toWire(filter || {}, true, 0) }, callerOf(countDocuments));
  },
  updateOne: function updateOne(filter, update) {
    return call('payoutTxs.updateOne', { filter: toWire(filter || {}, true, 0), update: toWire(update || {}, false, 0) }, callerOf(updateOne));
  },
  create: refused('create'),
  insertMany: refused('insertMany'),
  updateMany: refused('updateMany'),
  deleteOne: refused('deleteOne'),
  deleteMany: refused('deleteMany'),
  aggregate: refused('aggregate'),
});

module.exports = { OrderPayoutTxs };
