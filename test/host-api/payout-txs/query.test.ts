// The façade's reading of filters, sorts and updates (host-api/payout-txs/query.ts and cast.ts),
// without a sandbox: what each value casts to, the store conditions it becomes, and that casting
// never lets a query out of the plugin's scope or past the operator list.
import { describe, expect, it } from 'vitest';
import { PolicyDenied } from '../../../host-api/capability.ts';
import { TX_SCHEMA, TxCastError, castValue } from '../../../host-api/payout-txs/cast.ts';
import { conditionsOf, patchOf, sortOf } from '../../../host-api/payout-txs/query.ts';
import { TX_FILTER_FIELDS } from '../../../runtime/store/store.ts';

const ID = '6560f0a1b2c3d4e5f6a7b8c9';
const T = Date.UTC(2026, 11, 1, 12, 0, 0);
const ISO = new Date(T).toISOString();
const refusal = (f: () => unknown): { rule: string; message: string } => {
  try {
    f();
  } catch (e) {
    if (e instanceof PolicyDenied) return { rule: e.rule, message: e.message };
    return { rule: 'not a refusal', message: String(e) };
  }
  return { rule: 'accepted', message: '' };
};

describe('casting values by the schema type of their path', () => {
  it('knows a type for every field a filter may name', () => {
    for (const f of TX_FILTER_FIELDS) expect(TX_SCHEMA[f], f).toBeDefined();
  });

  it('Date paths take Dates (tagged), epoch ms, numeric strings past the year range and date strings', () => {
    for (const v of [{ $date: T }, { $date: ISO }, T, String(T), ISO, '2026-12-01T14:00:00+02:00']) {
      expect((castValue('createdAt', v) as Date).toISOString(), JSON.stringify(v)).toBe(ISO);
    }
    expect((castValue('createdAt', '2026') as Date).getUTCFullYear()).toBe(2026); // a year, not 2026 ms
    expect(castValue('createdAt', '')).toBeNull();
    expect(castValue('createdAt', null)).toBeNull();
  });

  it('ObjectId paths take 24-hex strings (any case), ObjectId tags and documents with such an _id', () => {
    for (const v of [ID, ID.toUpperCase(), { $oid: ID }, { _id: ID, uid: 7 }, { _id: { $oid: ID } }, [ID]]) {
      expect(castValue('order', v), JSON.stringify(v)).toBe(ID);
    }
  });

  it('Boolean and String paths cast as mongoose does', () => {
    expect([true, 'true', 1, '1', 'yes'].map((v) => castValue('active', v))).toEqual([true, true, true, true, true]);
    expect([false, 'false', 0, '0', 'no'].map((v) => castValue('active', v))).toEqual([false, false, false, false, false]);
    expect([5, 1.5, true, 'x', { _id: 'abc' }, { $oid: ID }].map((v) => castValue('transaction', v))).toEqual(['5', '1.5', 'true', 'x', 'abc', ID]);
  });

  it('refuses what mongoose cannot cast, with its CastError text', () => {
    const cases: [Parameters<typeof castValue>[0], unknown, string][] = [
      ['createdAt', 'abc', 'Cast to date failed for value "abc" (type string) at path "createdAt" for model "OrderPayoutTxs"'],
      ['createdAt', { $date: null }, 'Cast to date failed for value "Invalid Date" (type Date) at path "createdAt" for model "OrderPayoutTxs"'],
      ['createdAt', false, 'Cast to date failed for value "false" (type boolean) at path "createdAt" for model "OrderPayoutTxs"'],
      ['_id', 'abc', 'Cast to ObjectId failed for value "abc" (type string) at path "_id" for model "OrderPayoutTxs" because of "BSONError"'],
      ['_id', { $oid: 'zz' }, 'Cast to ObjectId failed for value "new ObjectId("zz")" (type ObjectId) at path "_id" for model "OrderPayoutTxs" because of "BSONError"'],
      ['order', { uid: 7 }, 'Cast to ObjectId failed for value "{ uid: 7 }" (type Object) at path "order" for model "OrderPayoutTxs" because of "BSONError"'],
      ['active', 'maybe', 'Cast to Boolean failed for value "maybe" (type string) at path "active" for model "OrderPayoutTxs"'],
      ['note', ['a'], 'Cast to string failed for value "[ \'a\' ]" (type Array) at path "note" for model "OrderPayoutTxs"'],
    ];
    for (const [field, value, message] of cases) {
      expect(refusal(() => castValue(field, value)), JSON.stringify(value)).toEqual({ rule: 'payoutTxs.cast', message });
    }
    expect(refusal(() => castValue('transaction', 'x'.repeat(5000))).rule).toBe('accepted');
    expect(refusal(() => castValue('createdAt', 'y'.repeat(5000))).message.length).toBeLessThan(300);
    expect(() => castValue('active', 'maybe')).toThrow(TxCastError);
  });
});

describe('filters become store conditions with MongoDB meaning', () => {
  it('the real-world cron window', () => {
    expect(conditionsOf({ active: true, payoutModule: 'p', createdAt: { $lt: T, $gt: new Date(T - 3 * 86400000).toISOString() } }, 'p')).toEqual([
      { field: 'active', op: 'eq', value: true },
      { field: 'createdAt', op: 'lt', value: ISO },
      { field: 'createdAt', op: 'gt', value: new Date(T - 3 * 86400000).toISOString() },
    ]);
  });

  it('null, booleans and dates outside the stored years in ranges', () => {
    expect(conditionsOf({ createdAt: { $lt: null, $lte: null } }, 'p')).toEqual([
      { field: 'createdAt', op: 'in', value: [] }, { field: 'createdAt', op: 'eq', value: null },
    ]);
    expect(conditionsOf({ active: { $gt: false, $lte: false, $lt: false } }, 'p')).toEqual([
      { field: 'active', op: 'in', value: [true] }, { field: 'active', op: 'in', value: [false] }, { field: 'active', op: 'in', value: [] },
    ]);
    expect(conditionsOf({ createdAt: { $lt: 8.64e15, $gte: 8.64e15, $gt: -8.64e15, $eq: -8.64e15, $ne: 8.64e15, $in: [8.64e15, T] } }, 'p')).toEqual([
      { field: 'createdAt', op: 'ne', value: null }, { field: 'createdAt', op: 'in', value: [] }, { field: 'createdAt', op: 'ne', value: null },
      { field: 'createdAt', op: 'in', value: [] }, { field: 'createdAt', op: 'nin', value: [] }, { field: 'createdAt', op: 'in', value: [ISO] },
    ]);
  });

  it('arrays are $in, a single $in value is wrapped, a document is its _id', () => {
    expect(conditionsOf({ transaction: ['a', 'b'], currency: { $nin: 'BTC' }, order: { _id: ID.toUpperCase(), status: 'x' } }, 'p')).toEqual([
      { field: 'transaction', op: 'in', value: ['a', 'b'] }, { field: 'currency', op: 'nin', value: ['BTC'] }, { field: 'order', op: 'eq', value: ID },
    ]);
  });

  it('casting widens nothing: payoutModule, operators, fields and tags are read as before', () => {
    const attacks: [unknown, string][] = [
      [{ payoutModule: { $oid: ID } }, 'payoutTxs.foreign-module'],
      [{ payoutModule: ['p'] }, 'payoutTxs.foreign-module'],
      [{ payoutModule: { $in: ['p'] } }, 'payoutTxs.foreign-module'],
      [{ $date: T }, 'payoutTxs.operator'],
      [{ $oid: ID }, 'payoutTxs.operator'],
      [{ $or: [{ active: true }] }, 'payoutTxs.operator'],
      [{ note: { $exists: true } }, 'payoutTxs.operator'],
      [{ createdAt: { $date: T, $gt: T } }, 'payoutTxs.operator'],
      [{ 'order.payoutModule': 'q' }, 'payoutTxs.field'],
      [{ ipnSecret: { $date: T } }, 'payoutTxs.field'],
      [{ __proto__: null, constructor: { prototype: 1 } }, 'payoutTxs.field'],
      [{ transaction: { $in: Array.from({ length: 1001 }, (_, i) => String(i)) } }, 'payoutTxs.filter'],
    ];
    for (const [filter, rule] of attacks) expect(refusal(() => conditionsOf(filter, 'p')).rule, JSON.stringify(filter)).toBe(rule);
    // Positive control: the same shapes on the plugin's own key and known fields pass.
    expect(conditionsOf({ payoutModule: 'p', createdAt: { $date: T } }, 'p')).toEqual([{ field: 'createdAt', op: 'eq', value: ISO }]);
  });
});

describe('sort values and updates', () => {
  it("reads 1/-1, 'asc'/'desc', '-field' and [field, dir] pairs, and refuses other values", () => {
    expect(sortOf({ createdAt: 'desc', _id: 'ascending' })).toEqual([{ field: 'createdAt', direction: -1 }, { field: '_id', direction: 1 }]);
    expect(sortOf('-createdAt amount')).toEqual([{ field: 'createdAt', direction: -1 }, { field: 'amount', direction: 1 }]);
    expect(sortOf([['createdAt', -1]])).toEqual([{ field: 'createdAt', direction: -1 }]);
    expect(refusal(() => sortOf({ createdAt: 2 }))).toMatchObject({ rule: 'payoutTxs.sort', message: expect.stringContaining('Invalid sort value: { createdAt: 2 }') });
    expect(refusal(() => sortOf({ ipnSecret: 1 })).rule).toBe('payoutTxs.field');
  });

  it('casts $set values and keeps the read-only fields read-only', () => {
    expect(patchOf({ $set: { active: 'false', note: 42 } })).toEqual({ active: false, note: '42' });
    expect(patchOf({ active: 1 })).toEqual({ active: true });
    expect(refusal(() => patchOf({ $set: { active: 'maybe' } })).rule).toBe('payoutTxs.cast');
    expect(() => patchOf({ $set: { active: null } })).toThrow(/\$set\.active must be true or false/);
    expect(refusal(() => patchOf({ $set: { createdAt: T } })).rule).toBe('payoutTxs.readonly-field');
    expect(refusal(() => patchOf({ $set: { active: true }, $inc: { amount: 1 } })).rule).toBe('payoutTxs.update-operator');
  });
});
