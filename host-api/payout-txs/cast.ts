// Mongoose's casting rules for the platform's OrderPayoutTxs schema, applied by the façade before a
// query reaches the store. A platform plugin is written against mongoose, which turns the value a
// plugin writes into the type its schema path holds (an epoch-ms number into a Date, a 24-hex string
// into an ObjectId, 'false' into false, 5 into '5') and refuses what it cannot cast with a CastError.
// The store keeps every value in one canonical form (dates as ISO-8601 UTC strings, ids as lowercase
// 24-hex strings), so a cast value is that form: both stores then compare the same things.
//
// Values reach the host as JSON. Two tagged forms carry what JSON loses (the in-isolate db shim writes
// them; MongoDB Extended JSON spells them the same way): {$date: <epoch ms> | <ISO string> | null}
// for a Date object (null: an invalid Date) and {$oid: '<hex>'} for an ObjectId-like value. A plugin
// that writes a tag by hand gets exactly what passing the Date or ObjectId would give it: nothing more.
import { inspect } from 'node:util';
import { PolicyDenied } from '../capability.ts';
import type { TxField } from '../../runtime/store/store.ts';

export const MODEL_NAME = 'OrderPayoutTxs';

export type SchemaType = 'ObjectId' | 'String' | 'Boolean' | 'Date';

/**
 * The platform schema's type of each path a plugin may name. `amount` is a String path (a decimal
 * string as the provider reported it), so a number cast to it becomes its decimal text, and ranges
 * on it compare text, as mongoose does on a String path.
 */
export const TX_SCHEMA: Readonly<Record<TxField | 'payoutModule', SchemaType>> = Object.freeze({
  _id: 'ObjectId', order: 'ObjectId', transaction: 'String', payoutModule: 'String', active: 'Boolean',
  amount: 'String', currency: 'String', to: 'String', note: 'String', createdAt: 'Date', updatedAt: 'Date',
});

/** An ObjectId the plugin passed (an object with `_bsontype: 'ObjectId'`, sent as {$oid}). */
export class ObjectIdValue {
  readonly hex: string;
  constructor(hex: string) { this.hex = hex; }
  toString(): string { return this.hex; }
  [inspect.custom](): string { return `new ObjectId(${JSON.stringify(this.hex)})`; }
  get [Symbol.toStringTag](): string { return 'ObjectId'; }
}

/** The tagged form of a Date or an ObjectId, or null when `v` is not one. */
export function fromWire(v: unknown): Date | ObjectIdValue | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const keys = Object.keys(v);
  if (keys.length !== 1) return null;
  const o = v as Record<string, unknown>;
  if (keys[0] === '$date') {
    const t = o.$date;
    if (t === null) return new Date(NaN);
    if (typeof t === 'number' || typeof t === 'string') return new Date(t);
    return null;
  }
  if (keys[0] === '$oid' && typeof o.$oid === 'string') return new ObjectIdValue(o.$oid);
  return null;
}

/** The value as mongoose's CastError shows it: util.inspect, with strings in double quotes. */
function shown(value: unknown): string {
  let text = inspect(value, { depth: 2, breakLength: Infinity, maxStringLength: 80, maxArrayLength: 10 });
  text = text.replace(/^'|'$/g, '"');
  if (!text.startsWith('"')) text = `"${text}"`;
  return text.length > 160 ? `${text.slice(0, 157)}…"` : text;
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return typeof value;
  if (value instanceof ObjectIdValue) return 'ObjectId';
  const ctor = (value as { constructor?: unknown }).constructor;
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'Object';
}

/** Mongoose's CastError, as a policy refusal (rule payoutTxs.cast) the plugin sees with name CastError. */
export class TxCastError extends PolicyDenied {
  readonly kind: string;
  readonly path: string;
  constructor(kind: string, value: unknown, path: string, reason?: string) {
    super('payoutTxs.cast', `Cast to ${kind} failed for value ${shown(value)} (type ${typeName(value)}) at path "${path}" for model "${MODEL_NAME}"${reason ? ` because of "${reason}"` : ''}`);
    this.name = 'CastError';
    this.kind = kind;
    this.path = path;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof ObjectIdValue);

// ---- one caster per schema type, each following mongoose's lib/cast/<type>.js -------------------

/** Mongoose castString: null stays null; `{_id: '<string>'}` gives the _id; anything with its own toString gives that. */
function castString(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value._id === 'string' && value._id) return value._id;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date || value instanceof ObjectIdValue) return value.toString();
  throw new TxCastError('string', value, path);
}

const TRUE_VALUES = new Set<unknown>([true, 'true', 1, '1', 'yes']);
const FALSE_VALUES = new Set<unknown>([false, 'false', 0, '0', 'no']);

/** Mongoose castBoolean: true/'true'/1/'1'/'yes' and false/'false'/0/'0'/'no'; nothing else. */
function castBoolean(value: unknown, path: string): boolean | null {
  if (TRUE_VALUES.has(value)) return true;
  if (FALSE_VALUES.has(value)) return false;
  if (value === null || value === undefined) return null;
  throw new TxCastError('Boolean', value, path);
}

const HEX_ID = /^[0-9a-fA-F]{24}$/;

/** Mongoose castObjectId: an ObjectId, a 24-hex string, or a document whose `_id` is one. */
function castObjectId(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  let text: string;
  if (value instanceof ObjectIdValue) text = value.hex;
  else if (isPlainObject(value) && value._id) {
    // A populated order, or any document: mongoose takes its _id (an ObjectId, or its toString()).
    const id = fromWire(value._id) ?? value._id;
    text = id instanceof ObjectIdValue ? id.hex : isPlainObject(id) ? '[object Object]' : String(id);
  } else if (isPlainObject(value)) text = '[object Object]';
  // Everything else goes through its toString, as `new ObjectId(value.toString())` does.
  else if (Array.isArray(value)) text = value.map((x) => (x === null || x === undefined ? '' : isPlainObject(x) ? '[object Object]' : String(x))).join(',');
  else text = String(value);
  if (HEX_ID.test(text)) return text.toLowerCase();
  throw new TxCastError('ObjectId', value, path, 'BSONError');
}

/** Mongoose castDate: Date, epoch-ms number, numeric string outside the year range, or a date string; '' is null. */
function castDate(value: unknown, path: string): Date | null {
  if (value === null || value === undefined || value === '') return null;
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'number') date = new Date(value);
  else if (typeof value === 'string') {
    // A string of digits counts as epoch ms only where it cannot be a year (mongoose's bounds).
    const n = Number(value);
    date = !Number.isNaN(n) && (n >= 275761 || n < -271820) ? new Date(n) : new Date(value);
  } else throw new TxCastError('date', value, path);
  if (Number.isNaN(date.getTime())) throw new TxCastError('date', value, path);
  return date;
}

export type CastValue = string | boolean | Date | null;

/** Casts one value to the type of `field`, as mongoose's castForQuery does for $eq and friends. */
export function castValue(field: TxField | 'payoutModule', value: unknown, path: string = field): CastValue {
  const wire = fromWire(value);
  const v = wire ?? value;
  switch (TX_SCHEMA[field]) {
    case 'String': return castString(v, path);
    case 'Boolean': return castBoolean(v, path);
    case 'ObjectId': return castObjectId(v, path);
    case 'Date': return castDate(v, path);
  }
}

/** Stored times are canonical ISO strings of years 0000..9999; a Date outside them equals none of them. */
export const EARLIEST_STORED = '0000-01-01T00:00:00.000Z';
export const LATEST_STORED = '9999-12-31T23:59:59.999Z';
export function storedTime(date: Date): { iso: string } | { outside: 'before' | 'after' } {
  const iso = date.toISOString();
  if (iso.length === 24 && !iso.startsWith('-') && !iso.startsWith('+')) return { iso };
  return { outside: date.getTime() < 0 ? 'before' : 'after' };
}
