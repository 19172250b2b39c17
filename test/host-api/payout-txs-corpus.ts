// The compatibility corpus of db.OrderPayoutTxs: every query shape the platform-format plugins of this
// repository (plugins/) and the plugin-format documentation (design.md §4.1, README) use, and the
// casting cases of mongoose, each with the result mongoose gives for it, written down by mongoose's
// rules (mongoose is not a dependency). Each case is the body of an async function run inside the
// plugin's isolate with `db`, `id_key` and `F` (the seeded txs: F.a._id, F.a.order, …) in scope; it
// returns plain data. `refused` cases expect the plugin to see an error with that rule and message.
//
// The seeded txs of plugin 'corpus' (one order each; ages at the time the corpus runs):
//   a: tx-a  active  amount '10'   USDT  to 'addr-1'  note null  30 minutes old
//   b: tx-b  idle    amount '20'   BTC   to null      note 'n2'  2 days old
//   c: tx-c  active  amount '9.5'  USDT  to 'addr-3'  note 'n3'  4 days old
//   d: tx-d  active  amount '100'  UAH   to 'addr-4'  note 'n4'  1 minute old
// and x: tx-x of plugin 'other' (active, 30 minutes old), which no case may see.

export interface CorpusCase {
  name: string;
  /** Where the shape comes from: a plugin file, design.md §4.1, README, or mongoose's casting rules. */
  source: string;
  code: string;
  expect?: unknown;
  refused?: { rule: string; message?: string | RegExp; name?: string };
}

/** Transactions of the rows, sorted when the query has no sort (mongoose promises no order then). */
const IDS = 'const ids = (rows) => rows.map((t) => t.transaction);\nconst set = (rows) => ids(rows).sort();\n';
const q = (name: string, source: string, code: string, expect: unknown): CorpusCase => ({ name, source, code: IDS + code, expect });
const no = (name: string, source: string, code: string, refused: CorpusCase['refused']): CorpusCase => ({ name, source, code: IDS + code, refused });
const cast = (kind: string, value: string, type: string, path: string, reason = '') =>
  `Cast to ${kind} failed for value ${value} (type ${type}) at path "${path}" for model "OrderPayoutTxs"${reason}`;

const NIMBUS = 'plugins/nimbuspay';
const DESIGN = 'design.md §4.1';
const MONGOOSE = 'mongoose casting';
const ACTIVE = ['tx-a', 'tx-c', 'tx-d'];
const ALL = ['tx-a', 'tx-b', 'tx-c', 'tx-d'];

export const CORPUS: CorpusCase[] = [
  // ---- the platform plugins in plugins/ -----------------------------------------------------------
  q('cron: count the active txs', `${NIMBUS}/index.js`, 'return await db.OrderPayoutTxs.countDocuments({ active: true, payoutModule: id_key });', 3),
  q('cron: the active txs with their orders', `${NIMBUS}/index.js`,
    `const rows = await db.OrderPayoutTxs.find({ active: true, payoutModule: id_key }).populate('order').lean();
     return { txs: set(rows), orders: rows.every((t) => t.order && t.order.status === 'inProgressPayout' && String(t.order._id).length === 24) };`,
    { txs: ACTIVE, orders: true }),
  q('callback: findOne by transaction, awaited document with populate', `${NIMBUS}/callbacks.js`,
    `const t = await db.OrderPayoutTxs.findOne({ transaction: 'tx-a', active: true, payoutModule: id_key }).populate('order');
     return { tx: t.transaction, order: t.order.uid > 0, id: t.id === String(t._id), createdAt: t.createdAt instanceof Date };`,
    { tx: 'tx-a', order: true, id: true, createdAt: true }),
  q('settle: updateOne({_id}, {$set: {active: false}}), then back', `${NIMBUS}/index.js`,
    `const off = await db.OrderPayoutTxs.updateOne({ _id: F.a._id }, { $set: { active: false } });
     const on = await db.OrderPayoutTxs.updateOne({ _id: F.a._id }, { $set: { active: true } });
     return [off, on];`,
    [{ acknowledged: true, matchedCount: 1, modifiedCount: 1 }, { acknowledged: true, matchedCount: 1, modifiedCount: 1 }]),

  // ---- design.md §4.1 and README ------------------------------------------------------------------
  q('populate({path, select})', DESIGN,
    `const t = await db.OrderPayoutTxs.findOne({ transaction: 'tx-b' }).populate({ path: 'order', select: '_id uid status' }).lean();
     return Object.keys(t.order).sort();`, ['_id', 'status', 'uid']),
  q('.select({...})', DESIGN,
    `const t = await db.OrderPayoutTxs.findOne({ transaction: 'tx-c' }).select({ _id: 1, transaction: 1, order: 1 }).lean();
     return Object.keys(t).sort();`, ['_id', 'order', 'transaction']),
  q(".select('transaction -_id')", 'README', `return await db.OrderPayoutTxs.find({ transaction: 'tx-d' }, 'transaction -_id').lean();`, [{ transaction: 'tx-d' }]),
  q('awaiting find() without .lean(): documents', DESIGN,
    `const rows = await db.OrderPayoutTxs.find({ active: false });
     return rows.map((t) => [t.transaction, typeof t.toObject, t.id === t._id]);`, [['tx-b', 'function', true]]),
  q('findById', 'README', 'return (await db.OrderPayoutTxs.findById(F.c._id).lean()).transaction;', 'tx-c'),
  q('countDocuments() with no filter: own txs only', DESIGN, 'return await db.OrderPayoutTxs.countDocuments();', 4),
  q('$lt/$gt on createdAt with ISO strings', DESIGN,
    `return set(await db.OrderPayoutTxs.find({ createdAt: { $lt: new Date(Date.now() - 600000).toISOString(), $gt: new Date(Date.now() - 3 * 86400000).toISOString() } }).lean());`,
    ['tx-a', 'tx-b']),
  q('sort, skip and limit', 'README',
    `return ids(await db.OrderPayoutTxs.find({}).sort({ createdAt: -1 }).skip(1).limit(2).lean());`, ['tx-a', 'tx-b']),
  q('$in, $nin and $ne on strings', 'README',
    `return [set(await db.OrderPayoutTxs.find({ currency: { $in: ['BTC', 'UAH'] } }).lean()),
             set(await db.OrderPayoutTxs.find({ currency: { $nin: ['USDT'] }, note: { $ne: 'n2' } }).lean())];`,
    [['tx-b', 'tx-d'], ['tx-d']]),
  q('$and of plain conditions', 'README',
    `return set(await db.OrderPayoutTxs.find({ $and: [{ active: true }, { currency: 'USDT' }] }).lean());`, ['tx-a', 'tx-c']),
  q('updateOne of a tx of another plugin matches nothing', 'README',
    'return await db.OrderPayoutTxs.updateOne({ _id: F.x._id }, { $set: { active: false } });', { acknowledged: true, matchedCount: 0, modifiedCount: 0 }),

  // ---- mongoose: Date paths -----------------------------------------------------------------------
  q('the real-world cron window: epoch-ms numbers', MONGOOSE,
    `return await db.OrderPayoutTxs.countDocuments({ active: true, payoutModule: id_key, createdAt: { $lt: Date.now() - 600000, $gt: Date.now() - 3 * 86400000 } });`, 1),
  q('Date objects arrive as dates', MONGOOSE,
    `return set(await db.OrderPayoutTxs.find({ createdAt: { $gte: new Date(Date.now() - 3 * 86400000), $lte: new Date() } }).lean());`, ['tx-a', 'tx-b', 'tx-d']),
  q('a numeric string beyond the year range is epoch ms', MONGOOSE,
    `return set(await db.OrderPayoutTxs.find({ createdAt: { $lt: String(Date.now() - 600000) } }).lean());`, ['tx-a', 'tx-b', 'tx-c']),
  q('$in of epoch ms and Dates (equality)', MONGOOSE,
    `const a = await db.OrderPayoutTxs.findById(F.a._id).lean();
     return set(await db.OrderPayoutTxs.find({ createdAt: { $in: [a.createdAt.getTime(), new Date(0)] } }).lean());`, ['tx-a']),
  q("'' is null: matches no tx (every tx has a createdAt)", MONGOOSE, `return await db.OrderPayoutTxs.countDocuments({ createdAt: '' });`, 0),
  q('$gt: null and $lte: null match no createdAt', MONGOOSE,
    `return [await db.OrderPayoutTxs.countDocuments({ createdAt: { $gt: null } }), await db.OrderPayoutTxs.countDocuments({ createdAt: { $lte: null } })];`, [0, 0]),
  q('a date past every stored year', MONGOOSE,
    `return [await db.OrderPayoutTxs.countDocuments({ createdAt: { $lt: 8.64e15 } }), await db.OrderPayoutTxs.countDocuments({ createdAt: { $gt: 8.64e15 } }),
             await db.OrderPayoutTxs.countDocuments({ createdAt: new Date(8.64e15) }), await db.OrderPayoutTxs.countDocuments({ createdAt: { $ne: new Date(-8.64e15) } })];`,
    [4, 0, 0, 4]),
  no("'abc' is no date", MONGOOSE, `return await db.OrderPayoutTxs.countDocuments({ createdAt: { $lt: 'abc' } });`,
    { rule: 'payoutTxs.cast', name: 'CastError', message: cast('date', '"abc"', 'string', 'createdAt') }),
  no('true is no date', MONGOOSE, `return await db.OrderPayoutTxs.find({ updatedAt: { $gt: true } }).lean();`,
    { rule: 'payoutTxs.cast', message: cast('date', '"true"', 'boolean', 'updatedAt') }),
  no('an invalid Date', MONGOOSE, `return await db.OrderPayoutTxs.find({ createdAt: new Date('nope') }).lean();`,
    { rule: 'payoutTxs.cast', message: cast('date', '"Invalid Date"', 'Date', 'createdAt') }),
  no('an object is no date', MONGOOSE, `return await db.OrderPayoutTxs.find({ createdAt: { $lt: { when: 1 } } }).lean();`,
    { rule: 'payoutTxs.cast', message: cast('date', '"{ when: 1 }"', 'Object', 'createdAt') }),

  // ---- mongoose: ObjectId paths -------------------------------------------------------------------
  q('a 24-hex string, any case', MONGOOSE, 'return set(await db.OrderPayoutTxs.find({ _id: F.a._id.toUpperCase() }).lean());', ['tx-a']),
  q('an ObjectId-like value', MONGOOSE,
    `const oid = { _bsontype: 'ObjectId', toHexString: () => F.b._id };
     return set(await db.OrderPayoutTxs.find({ _id: oid }).lean());`, ['tx-b']),
  q('a populated order as the order filter (its _id)', MONGOOSE,
    `const t = await db.OrderPayoutTxs.findOne({ transaction: 'tx-c' }).populate('order').lean();
     return set(await db.OrderPayoutTxs.find({ order: t.order }).lean());`, ['tx-c']),
  q('an array on _id is $in', MONGOOSE, 'return set(await db.OrderPayoutTxs.find({ _id: [F.a._id, F.c._id, F.x._id] }).lean());', ['tx-a', 'tx-c']),
  q('findById(undefined) finds nothing', MONGOOSE, 'return await db.OrderPayoutTxs.findById(undefined).lean();', null),
  no('a short string is no ObjectId', MONGOOSE, `return await db.OrderPayoutTxs.findById('abc').lean();`,
    { rule: 'payoutTxs.cast', name: 'CastError', message: cast('ObjectId', '"abc"', 'string', '_id', ' because of "BSONError"') }),
  no('a number is no ObjectId', MONGOOSE, 'return await db.OrderPayoutTxs.find({ order: { $in: [12345] } }).lean();',
    { rule: 'payoutTxs.cast', message: cast('ObjectId', '"12345"', 'number', 'order', ' because of "BSONError"') }),

  // ---- mongoose: Boolean and String paths ----------------------------------------------------------
  q("'true', 1 and 'no' on a Boolean path", MONGOOSE,
    `return [await db.OrderPayoutTxs.countDocuments({ active: 'true' }), await db.OrderPayoutTxs.countDocuments({ active: 1 }),
             set(await db.OrderPayoutTxs.find({ active: 'no' }).lean()), await db.OrderPayoutTxs.countDocuments({ active: { $in: ['true', 0] } })];`,
    [3, 3, ['tx-b'], 4]),
  q('$gt: false on a Boolean path is true', MONGOOSE, 'return set(await db.OrderPayoutTxs.find({ active: { $gt: false } }).lean());', ACTIVE),
  no("'maybe' is no Boolean", MONGOOSE, `return await db.OrderPayoutTxs.countDocuments({ active: 'maybe' });`,
    { rule: 'payoutTxs.cast', message: cast('Boolean', '"maybe"', 'string', 'active') }),
  q('a number on a String path is its text', MONGOOSE,
    `return [set(await db.OrderPayoutTxs.find({ amount: 10 }).lean()), set(await db.OrderPayoutTxs.find({ amount: { $in: [10, 20] } }).lean())];`,
    [['tx-a'], ['tx-a', 'tx-b']]),
  q('ranges on a String path compare text, as mongoose does (amount is a String path)', MONGOOSE,
    `return set(await db.OrderPayoutTxs.find({ amount: { $gt: 9 } }).lean());`, ['tx-c']),
  q('$in with one value is wrapped; an array value is $in', MONGOOSE,
    `return [set(await db.OrderPayoutTxs.find({ transaction: { $in: 'tx-a' } }).lean()), set(await db.OrderPayoutTxs.find({ transaction: ['tx-b', 'tx-d'] }).lean())];`,
    [['tx-a'], ['tx-b', 'tx-d']]),
  q('undefined in a filter is null (mongoose 8): no tx, not every tx', MONGOOSE,
    'const id = undefined; return [await db.OrderPayoutTxs.findOne({ transaction: id }).lean(), await db.OrderPayoutTxs.countDocuments({ note: undefined })];', [null, 1]),
  q('a function in a filter is its text, not a dropped condition', MONGOOSE, 'return await db.OrderPayoutTxs.countDocuments({ transaction: () => 1 });', 0),
  no('an object is no string', MONGOOSE, 'return await db.OrderPayoutTxs.find({ transaction: { foo: 1 } }).lean();',
    { rule: 'payoutTxs.cast', message: cast('string', '"{ foo: 1 }"', 'Object', 'transaction') }),

  // ---- mongoose: updates and sort values -----------------------------------------------------------
  q("$set active: 'false' and 1, note: 42", MONGOOSE,
    `const r1 = await db.OrderPayoutTxs.updateOne({ _id: F.d._id }, { $set: { active: 'false', note: 42 } });
     const after = await db.OrderPayoutTxs.findById(F.d._id).lean();
     const r2 = await db.OrderPayoutTxs.updateOne({ _id: F.d._id }, { active: 1, note: 'n4', ignored: undefined });
     return [r1.modifiedCount, after.active, after.note, r2.modifiedCount];`, [1, false, '42', 1]),
  no("$set active: 'maybe'", MONGOOSE, `return await db.OrderPayoutTxs.updateOne({ _id: F.a._id }, { $set: { active: 'maybe' } });`,
    { rule: 'payoutTxs.cast', message: cast('Boolean', '"maybe"', 'string', 'active') }),
  q("sort values 'desc', '-field' and [field, 1] pairs", MONGOOSE,
    `return [ids(await db.OrderPayoutTxs.find({}).sort({ createdAt: 'desc' }).lean()), ids(await db.OrderPayoutTxs.find({}).sort('-createdAt').lean()),
             ids(await db.OrderPayoutTxs.find({}).sort([['createdAt', 1]]).lean())];`,
    [['tx-d', 'tx-a', 'tx-b', 'tx-c'], ['tx-d', 'tx-a', 'tx-b', 'tx-c'], ['tx-c', 'tx-b', 'tx-a', 'tx-d']]),
  no('sort value 2', MONGOOSE, 'return await db.OrderPayoutTxs.find({}).sort({ createdAt: 2 }).lean();', { rule: 'payoutTxs.sort', message: /Invalid sort value: \{ createdAt: 2 \}/ }),

  // ---- casting never widens: scope and operators stay as they were ---------------------------------
  no('another payoutModule', 'scope', `return await db.OrderPayoutTxs.find({ payoutModule: 'other' }).lean();`, { rule: 'payoutTxs.foreign-module' }),
  no('payoutModule as an array', 'scope', `return await db.OrderPayoutTxs.find({ payoutModule: [id_key, 'other'] }).lean();`, { rule: 'payoutTxs.foreign-module' }),
  no('$or', 'scope', `return await db.OrderPayoutTxs.find({ $or: [{ active: true }, { active: false }] }).lean();`, { rule: 'payoutTxs.operator' }),
  no('$regex', 'scope', `return await db.OrderPayoutTxs.find({ transaction: { $regex: '.*' } }).lean();`, { rule: 'payoutTxs.operator' }),
  // Listed among mongoose's cast operators, but no operator is added: $exists stays refused.
  no('$exists', 'scope', 'return await db.OrderPayoutTxs.find({ note: { $exists: true } }).lean();', { rule: 'payoutTxs.operator' }),
  no('a Date tag next to an operator is no value', 'scope', `return await db.OrderPayoutTxs.find({ createdAt: { $date: 0, $gt: 0 } }).lean();`, { rule: 'payoutTxs.operator' }),
  q('an ObjectId of another plugin\'s tx finds nothing', 'scope', 'return await db.OrderPayoutTxs.findById(F.x._id).lean();', null),
];
