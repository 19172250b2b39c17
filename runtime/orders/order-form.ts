// The order-create form: decoding the body (form-body.ts: JSON or bracket-keyed urlencoded, with
// hostile-input limits) and reading the fields the merchant API documents into typed values. What
// needs the route or the payout plugin (limits, rate, field patterns, URL hosts) is decided by
// OrderService; this file only answers "is this a well-formed order request".
import type { FieldValue } from '../store/types.ts';
import { parseAmount } from './amount.ts';
import { FORM_LIMITS, LIST_FIELDS, SCALAR_FIELDS } from './form-body.ts';
import type { ListField } from './form-body.ts';
import { OrderFormError } from './order-errors.ts';
import { IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_MIN } from '../store/validate.ts';

export { FORM_LIMITS, LIST_FIELDS, SCALAR_FIELDS, parseFormBody, parseJsonBody } from './form-body.ts';
export type { RawOrderBody } from './form-body.ts';
export { OrderFormError } from './order-errors.ts';
export type { FieldProblem } from './order-errors.ts';

export const ORDER_LANGS = ['en', 'ru', 'es'] as const;
export type OrderLang = (typeof ORDER_LANGS)[number];

// The API documents `lang` as "ru, ing" (es) and "рус, англ" (ru); platforms also send eng/rus.
const LANG_ALIASES: Record<string, OrderLang> = {
  en: 'en', eng: 'en', ing: 'en', english: 'en', 'англ': 'en',
  ru: 'ru', rus: 'ru', russian: 'ru', 'рус': 'ru',
  es: 'es', esp: 'es', spa: 'es', spanish: 'es',
};

/** en / ru / es for any spelling the platform uses, or null. */
export function normaliseLang(value: string): OrderLang | null {
  const key = value.trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(LANG_ALIASES, key) ? LANG_ALIASES[key] : null;
}

export const TEXT_LIMITS = Object.freeze({
  fieldKey: 64,
  fieldValue: 1024,
  partner: 64,
  url: 2048,
  ipnSecretMin: 8,
  ipnSecretMax: 256,
});

export interface OrderForm {
  routeId: string;
  partner: string | null;
  /** Normalised decimal string. */
  amount: string;
  fromValues: FieldValue[];
  toValues: FieldValue[];
  routeValues: FieldValue[];
  lang: OrderLang;
  agreement: boolean;
  hideOutData: boolean;
  clientCallbackUrl: string | null;
  ipnUrl: string | null;
  ipnSecret: string | null;
  /** The merchant's retry key (body field; the Idempotency-Key header is merged by OrderService). */
  idempotencyKey: string | null;
}

/** 16-128 visible ASCII characters: long enough that nobody guesses another merchant's key. */
export function readIdempotencyKey(where: string, value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') fail(where, `${where} must be a string`);
  if (value.length < IDEMPOTENCY_KEY_MIN || value.length > IDEMPOTENCY_KEY_MAX || !/^[\x21-\x7e]+$/.test(value)) {
    fail(where, `${where} must be ${IDEMPOTENCY_KEY_MIN} to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters without spaces; use a random value such as a UUID, one per order you mean to create`);
  }
  return value;
}

const KNOWN = new Set<string>([...SCALAR_FIELDS, ...LIST_FIELDS]);
const FIELD_NAMES = [...SCALAR_FIELDS, ...LIST_FIELDS].join(', ');
const POLLUTION = new Set(['__proto__', 'constructor', 'prototype']);
// C0 controls and DEL: no order field needs them, and they break logs, headers and pages.
const CONTROL = /[\u0000-\u001f\u007f]/;

function fail(field: string | null, message: string, status = 400): never {
  throw new OrderFormError(field, message, status);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function checkText(field: string, value: string, max: number): string {
  if (!value.isWellFormed()) fail(field, `${field} contains broken Unicode (a lone surrogate); send valid UTF-8 text`);
  if (CONTROL.test(value)) fail(field, `${field} contains control characters (such as a newline or NUL); remove them`);
  if (value.length > max) fail(field, `${field} is ${value.length} characters long; at most ${max} are accepted`);
  return value;
}

/** Optional text: absent, null and '' (an empty form field) all mean "not given". */
function optionalText(field: string, value: unknown, max: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') fail(field, `${field} must be a string`);
  return checkText(field, value, max);
}

/** The platform's forms send booleans as true/false, 1/0 or a checkbox's "on". */
export function parseBoolean(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'on') return true;
    if (v === 'false' || v === '0' || v === 'off') return false;
  }
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 20)) : typeof value;
  return fail(field, `${field} must be true or false (also accepted: 1/0, on/off); got ${shown}`);
}

function readList(name: ListField, value: unknown): FieldValue[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(name, `${name} must be a list of {key, value} entries: ${name}[0][key]=…&${name}[0][value]=… in a form, [{"key": …, "value": …}] in JSON`);
  if (value.length > FORM_LIMITS.maxItems) fail(name, `${name} has ${value.length} entries; at most ${FORM_LIMITS.maxItems} are accepted`);
  const out: FieldValue[] = [];
  const firstIndex = new Map<string, number>();
  for (let i = 0; i < value.length; i++) {
    const at = `${name}[${i}]`;
    if (!(i in value)) fail(at, `${at} is missing; number the entries 0, 1, 2… without gaps`);
    const entry: unknown = value[i];
    if (!isPlainObject(entry)) fail(at, `${at} must be an object with a key and a value`);
    for (const k of Object.keys(entry)) {
      if (POLLUTION.has(k)) fail(`${at}[${k}]`, `${at}[${k}]: the name ${JSON.stringify(k)} is refused (it is used for prototype pollution)`);
      if (k !== 'key' && k !== 'value') {
        const hint = k === 'name' ? '; field names come from the payout method' : '';
        fail(`${at}[${k}]`, `${at}[${k}] is not accepted: each entry has only a key and a value${hint}`);
      }
    }
    if (entry.key === undefined || entry.key === null || entry.key === '') fail(`${at}[key]`, `${at}[key] is missing; every entry needs a key`);
    if (typeof entry.key !== 'string') fail(`${at}[key]`, `${at}[key] must be a string`);
    const key = checkText(`${at}[key]`, entry.key, TEXT_LIMITS.fieldKey);
    if (entry.value === undefined || entry.value === null) fail(`${at}[value]`, `${at}[value] is missing; every entry needs a value`);
    if (typeof entry.value !== 'string') {
      // A 19-digit card number as a JSON number arrives rounded: refusing is the only way to lose nothing.
      fail(`${at}[value]`, `${at}[value] must be a string; quote it (numbers can lose digits, e.g. long card numbers)`);
    }
    const v = checkText(`${at}[value]`, entry.value, TEXT_LIMITS.fieldValue);
    const first = firstIndex.get(key);
    if (first !== undefined) fail(`${at}[key]`, `${at}[key] repeats ${JSON.stringify(key)} from ${name}[${first}][key]; give each key once`);
    firstIndex.set(key, i);
    out.push({ key, value: v });
  }
  return out;
}

/**
 * Reads a decoded body (parseJsonBody / parseFormBody output, or an object built in code) into
 * typed fields. Throws OrderFormError (400) naming the first bad field.
 */
export function readOrderForm(raw: unknown): OrderForm {
  if (!isPlainObject(raw)) fail(null, 'the order must be an object of fields (a JSON object, or a urlencoded form)');
  for (const k of Object.keys(raw)) {
    if (POLLUTION.has(k)) fail(k, `the name ${JSON.stringify(k)} is refused (it is used for prototype pollution); no order field has that name`);
    if (!KNOWN.has(k)) fail(k, `unknown field ${JSON.stringify(k.slice(0, 60))}; the order-create fields are ${FIELD_NAMES}`);
  }

  if (raw.routeId === undefined || raw.routeId === null || raw.routeId === '') fail('routeId', 'routeId is required: the id of the exchange direction (24 hex characters)');
  if (typeof raw.routeId !== 'string' || !/^[0-9a-fA-F]{24}$/.test(raw.routeId)) {
    fail('routeId', 'routeId must be the direction id: 24 hex characters such as 6560f0a1b2c3d4e5f6a7b8c9');
  }
  if (raw.amount === undefined || raw.amount === null || raw.amount === '') fail('amount', 'amount is required: the sum the customer sends, such as 100.5');
  if (raw.agreement === undefined || raw.agreement === null || raw.agreement === '') {
    fail('agreement', 'agreement is required: send agreement=true once the customer has accepted the exchange terms');
  }

  let lang: OrderLang = 'en';
  if (raw.lang !== undefined && raw.lang !== null && raw.lang !== '') {
    if (typeof raw.lang !== 'string') fail('lang', 'lang must be a string: en, ru or es');
    const l = normaliseLang(raw.lang.slice(0, 20));
    if (!l) fail('lang', `lang ${JSON.stringify(raw.lang.slice(0, 20))} is not supported; use en, ru or es (ing/eng, rus are accepted too)`);
    lang = l;
  }

  const ipnSecret = optionalText('ipnSecret', raw.ipnSecret, TEXT_LIMITS.ipnSecretMax);
  if (ipnSecret !== null && ipnSecret.length < TEXT_LIMITS.ipnSecretMin) {
    fail('ipnSecret', `ipnSecret is ${ipnSecret.length} characters long; use at least ${TEXT_LIMITS.ipnSecretMin} random characters (it signs your IPNs)`);
  }

  return {
    routeId: raw.routeId.toLowerCase(),
    partner: optionalText('partner', raw.partner, TEXT_LIMITS.partner),
    amount: parseAmount('amount', raw.amount),
    fromValues: readList('fromValues', raw.fromValues),
    toValues: readList('toValues', raw.toValues),
    routeValues: readList('routeValues', raw.routeValues),
    lang,
    agreement: parseBoolean('agreement', raw.agreement),
    hideOutData: raw.hideOutData === undefined || raw.hideOutData === null || raw.hideOutData === '' ? false : parseBoolean('hideOutData', raw.hideOutData),
    clientCallbackUrl: optionalText('clientCallbackUrl', raw.clientCallbackUrl, TEXT_LIMITS.url),
    ipnUrl: optionalText('ipnUrl', raw.ipnUrl, TEXT_LIMITS.url),
    ipnSecret,
    idempotencyKey: readIdempotencyKey('idempotencyKey', raw.idempotencyKey),
  };
}
