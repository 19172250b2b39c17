// The order-create body off the wire, before any meaning is read into it: JSON, or
// x-www-form-urlencoded with the merchant API's bracket keys (`toValues[0][key]=card_number`).
// Both decoders enforce the same hostile-input limits — size, number of keys, array indexes
// (dense, bounded), depth, key length, duplicate keys, prototype-pollution names — and both produce
// the same plain shape: scalars as they came, lists as arrays of {key, value}. A refusal names the
// field in bracket form and says how to fix it. Nothing is dropped silently: an unknown or repeated
// key is an error, never "the last one wins".
import { OrderFormError } from './order-errors.ts';

export const FORM_LIMITS = Object.freeze({
  /** Bytes of body; a real order is well under 4 KiB. */
  maxBodyBytes: 64 * 1024,
  /** Keys in the whole body (form pairs, or JSON keys + array elements). */
  maxKeys: 200,
  /** Entries per list: indexes 0..49. */
  maxItems: 50,
  /** toValues[0][key] is the deepest the API goes. */
  maxDepth: 2,
  /** Characters of a key, after percent-decoding. */
  maxKeyLength: 100,
});

export const SCALAR_FIELDS = [
  'routeId', 'partner', 'amount', 'lang', 'agreement', 'hideOutData', 'clientCallbackUrl', 'ipnUrl', 'ipnSecret',
  'idempotencyKey',
] as const;
export const LIST_FIELDS = ['fromValues', 'toValues', 'routeValues'] as const;
export type ListField = (typeof LIST_FIELDS)[number];
const SCALARS = new Set<string>(SCALAR_FIELDS);
const LISTS = new Set<string>(LIST_FIELDS);
const ENTRY_PROPS = new Set(['key', 'value']);

/** Names that reach Object.prototype through a naive `obj[a][b] = v` merge. Refused everywhere. */
const POLLUTION = new Set(['__proto__', 'constructor', 'prototype']);

const FIELD_LIST = [...SCALAR_FIELDS, ...LIST_FIELDS].join(', ');

/** A raw body: scalars as sent, lists as {key, value} pairs. Only known field names are set. */
export type RawOrderBody = Record<string, unknown>;

function fail(field: string | null, message: string, status = 400): never {
  throw new OrderFormError(field, message, status);
}

function printable(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}

function checkSize(body: string): void {
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > FORM_LIMITS.maxBodyBytes) {
    fail(null, `the body is ${bytes} bytes; an order may be at most ${FORM_LIMITS.maxBodyBytes} bytes`, 413);
  }
}

function refusePollution(name: string, where: string): void {
  if (POLLUTION.has(name)) {
    fail(where, `${where}: the name ${JSON.stringify(name)} is refused (it is used for prototype pollution); no order field has that name`);
  }
}

function checkIndex(list: string, segment: string): number {
  if (segment === '') fail(`${list}[]`, `${list}[] has no index; number the entries explicitly: ${list}[0][key]=…&${list}[0][value]=…`);
  if (!/^(0|[1-9]\d{0,3})$/.test(segment)) {
    fail(`${list}[${segment}]`, `${list}[${segment}]: the index must be a whole number 0..${FORM_LIMITS.maxItems - 1} without leading zeros`);
  }
  const index = Number(segment);
  if (index >= FORM_LIMITS.maxItems) {
    fail(`${list}[${segment}]`, `${list}[${segment}]: at most ${FORM_LIMITS.maxItems} entries are accepted (indexes 0..${FORM_LIMITS.maxItems - 1})`);
  }
  return index;
}

/** Splits `toValues[0][key]` into `toValues`, `['0', 'key']`; refuses anything else. */
function splitKey(key: string): { name: string; segments: string[] } {
  if (key.length > FORM_LIMITS.maxKeyLength) fail(printable(key), `the key ${printable(key)} is ${key.length} characters long; keys are at most ${FORM_LIMITS.maxKeyLength}`);
  const open = key.indexOf('[');
  const name = open === -1 ? key : key.slice(0, open);
  const segments: string[] = [];
  let i = open;
  while (i !== -1 && i < key.length) {
    if (key[i] !== '[') fail(key, `the key ${printable(key)} has text after a closing bracket; write keys like toValues[0][key]`);
    const close = key.indexOf(']', i);
    if (close === -1) fail(key, `the key ${printable(key)} has an unclosed bracket; write keys like toValues[0][key]`);
    const segment = key.slice(i + 1, close);
    if (segment.includes('[')) fail(key, `the key ${printable(key)} has a bracket inside brackets; write keys like toValues[0][key]`);
    segments.push(segment);
    if (segments.length > FORM_LIMITS.maxDepth) {
      fail(key, `the key ${printable(key)} is nested ${segments.length}+ levels deep; order fields go at most ${FORM_LIMITS.maxDepth} levels (toValues[0][key])`);
    }
    i = close + 1;
  }
  if (key.includes(']') && open === -1) fail(key, `the key ${printable(key)} has a closing bracket without an opening one`);
  return { name, segments };
}

function decode(part: string, what: string, key: string | null): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return fail(key, `${what} ${printable(part)} is not valid percent-encoded UTF-8; encode the form as application/x-www-form-urlencoded in UTF-8`);
  }
}

interface ListBuilder { entries: Map<number, { key?: string; value?: string }> }

/** application/x-www-form-urlencoded with bracket keys, as the merchant API documents it. */
export function parseFormBody(body: string): RawOrderBody {
  checkSize(body);
  const pairs = body.split('&').filter((p) => p !== '');
  if (pairs.length > FORM_LIMITS.maxKeys) fail(null, `the form has ${pairs.length} fields; an order has at most ${FORM_LIMITS.maxKeys}`);
  const seen = new Set<string>();
  const scalars = new Map<string, string>();
  const lists = new Map<string, ListBuilder>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), 'the key', null);
    const { name, segments } = splitKey(key);
    refusePollution(name, key);
    for (const s of segments) refusePollution(s, key);
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1), `the value of ${key}`, key);
    if (!SCALARS.has(name) && !LISTS.has(name)) {
      fail(key, `unknown field ${printable(name)}; the order-create fields are ${FIELD_LIST}`);
    }
    let canonical: string;
    if (SCALARS.has(name)) {
      if (segments.length) fail(key, `${name} is a single value; send ${name}=… without brackets`);
      canonical = name;
    } else {
      if (segments.length !== 2) fail(key, `${name} is a list of {key, value} entries; send ${name}[0][key]=…&${name}[0][value]=…`);
      const index = checkIndex(name, segments[0]);
      if (!ENTRY_PROPS.has(segments[1])) fail(key, `${key}: each ${name} entry has only [key] and [value]`);
      canonical = `${name}[${index}][${segments[1]}]`;
    }
    // Decoded and canonical, so `toValues%5B0%5D%5Bkey%5D` and `toValues[0][key]` are one key.
    if (seen.has(canonical)) fail(canonical, `${canonical} is given twice; send each field once`);
    seen.add(canonical);
    if (SCALARS.has(name)) {
      scalars.set(name, value);
    } else {
      const list = lists.get(name) ?? { entries: new Map() };
      lists.set(name, list);
      const index = Number(segments[0]);
      const entry = list.entries.get(index) ?? {};
      if (segments[1] === 'key') entry.key = value;
      else entry.value = value;
      list.entries.set(index, entry);
    }
  }
  const out: RawOrderBody = {};
  for (const [name, value] of scalars) out[name] = value;
  for (const [name, list] of lists) {
    const items: { key: string; value: string }[] = [];
    for (let i = 0; i < list.entries.size; i++) {
      const entry = list.entries.get(i);
      if (!entry) {
        const given = Math.max(...list.entries.keys());
        fail(`${name}[${i}]`, `${name}[${i}] is missing but ${name}[${given}] is given; number the entries 0, 1, 2… without gaps`);
      }
      if (entry.key === undefined) fail(`${name}[${i}][key]`, `${name}[${i}][key] is missing; every entry needs a key and a value`);
      if (entry.value === undefined) fail(`${name}[${i}][value]`, `${name}[${i}][value] is missing; every entry needs a key and a value (it may be empty)`);
      items.push({ key: entry.key, value: entry.value });
    }
    out[name] = items;
  }
  return out;
}

interface JsonFrame { kind: 'object' | 'array'; keys: Set<string>; expectKey: boolean; index: number; current: string | number | null }

function jsonPath(stack: JsonFrame[]): string {
  let path = '';
  for (const f of stack) {
    if (f.current === null) break;
    path = path === '' ? String(f.current) : `${path}[${f.current}]`;
  }
  return path;
}

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

/**
 * JSON with the same limits as the form. JSON.parse keeps the last of two equal keys and happily
 * builds own `__proto__` properties, so after it has vouched for the syntax, one linear pass over
 * the text sees every key as written: duplicates, pollution names, depth, counts and indexes.
 */
export function parseJsonBody(body: string): unknown {
  checkSize(body);
  if (body.trim() === '') fail(null, 'the body is empty; send the order as a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    fail(null, `the body is not valid JSON (${(err as Error).message}); send a JSON object such as {"routeId": "…", "amount": "100"}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(null, 'the body must be a JSON object with the order fields ({"routeId": …, "amount": …})');
  }
  const stack: JsonFrame[] = [];
  let total = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      const end = stringEnd(body, i);
      if (top && top.kind === 'object' && top.expectKey) {
        const key = JSON.parse(body.slice(i, end + 1)) as string;
        const parent = jsonPath(stack.slice(0, -1));
        const where = parent === '' ? key : `${parent}[${key}]`;
        refusePollution(key, where);
        if (key.length > FORM_LIMITS.maxKeyLength) fail(printable(where), `the key ${printable(key)} is ${key.length} characters long; keys are at most ${FORM_LIMITS.maxKeyLength}`);
        if (top.keys.has(key)) fail(where, `${where} is given twice; send each field once`);
        top.keys.add(key);
        top.current = key;
        top.expectKey = false;
        if (++total > FORM_LIMITS.maxKeys) fail(null, `the body has more than ${FORM_LIMITS.maxKeys} keys; an order has far fewer`);
      }
      i = end;
    } else if (c === '{' || c === '[') {
      if (stack.length > FORM_LIMITS.maxDepth) {
        fail(jsonPath(stack), `${jsonPath(stack)} is nested too deep; order fields go at most ${FORM_LIMITS.maxDepth} levels (toValues[0].key)`);
      }
      stack.push({ kind: c === '{' ? 'object' : 'array', keys: new Set(), expectKey: c === '{', index: 0, current: c === '[' ? 0 : null });
      if (c === '[' && ++total > FORM_LIMITS.maxKeys) fail(null, `the body has more than ${FORM_LIMITS.maxKeys} keys; an order has far fewer`);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',' && top) {
      if (top.kind === 'object') {
        top.expectKey = true;
      } else {
        top.index++;
        top.current = top.index;
        if (top.index >= FORM_LIMITS.maxItems) {
          fail(jsonPath(stack.slice(0, -1)), `${jsonPath(stack.slice(0, -1))} has more than ${FORM_LIMITS.maxItems} entries; at most ${FORM_LIMITS.maxItems} are accepted`);
        }
        if (++total > FORM_LIMITS.maxKeys) fail(null, `the body has more than ${FORM_LIMITS.maxKeys} keys; an order has far fewer`);
      }
    }
  }
  return value;
}
