// Money in orders: the merchant's `amount` (a decimal string or a JSON number) and the payout amount
// `out = in × rate`. Everything goes through bignumber.js on strings; a float never touches money.
import BigNumber from 'bignumber.js';
import { OrderFormError } from './order-errors.ts';

// EXPONENTIAL_AT so that toString() never switches to 1e-7 notation in stored amounts.
const Money = BigNumber.clone({ EXPONENTIAL_AT: 1e9, DECIMAL_PLACES: 40, ROUNDING_MODE: BigNumber.ROUND_DOWN });

export const MAX_AMOUNT_DECIMALS = 18;
/** Integer digits: 10^20 of anything is beyond any real order; bigger is a typo or an attack. */
export const MAX_AMOUNT_INTEGER_DIGITS = 20;
const MAX_EXPONENT = 20;
const MAX_AMOUNT_TEXT = 64;

// Linear (no nested quantifiers) and applied to at most 64 characters.
const DECIMAL = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Parses a merchant amount; returns it normalised (`'1.50'` → `'1.5'`, `'1e2'` → `'100'`). */
export function parseAmount(field: string, value: unknown): string {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new OrderFormError(field, `${field} must be a finite number; send a decimal such as 100.5`);
    text = String(value); // shortest round-trip form: what the sender wrote, for any sane number
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new OrderFormError(field, `${field} must be a decimal number (a string such as "100.5" or a JSON number)`);
  }
  if (text === '') throw new OrderFormError(field, `${field} is empty; send a decimal such as 100.5`);
  if (text.length > MAX_AMOUNT_TEXT) throw new OrderFormError(field, `${field} is ${text.length} characters long; send a plain decimal such as 100.5`);
  if (text.startsWith('-')) throw new OrderFormError(field, `${field} ${text} is negative; send a positive amount`);
  if (/^[+-]?(nan|infinity|inf)$/i.test(text)) throw new OrderFormError(field, `${field} ${text} is not a number; send a decimal such as 100.5`);
  if (/^\d+,\d+$/.test(text)) throw new OrderFormError(field, `${field} ${text} uses a comma; use a dot as the decimal separator (${text.replace(',', '.')})`);
  const m = DECIMAL.exec(text);
  if (!m) throw new OrderFormError(field, `${field} ${JSON.stringify(text)} is not a decimal number; write digits with an optional dot, such as 100.5`);
  if (m[3] !== undefined && Math.abs(Number(m[3])) > MAX_EXPONENT) {
    throw new OrderFormError(field, `${field} ${text} has the exponent ${m[3]}; exponents beyond ±${MAX_EXPONENT} are refused, write the amount out in full`);
  }
  const n = new Money(text);
  if (!n.isFinite() || n.isNaN()) throw new OrderFormError(field, `${field} ${text} is not a number; send a decimal such as 100.5`);
  if (n.isZero()) throw new OrderFormError(field, `${field} must be greater than 0`);
  const decimals = n.decimalPlaces() ?? 0;
  if (decimals > MAX_AMOUNT_DECIMALS) throw new OrderFormError(field, `${field} ${text} has ${decimals} decimal places; at most ${MAX_AMOUNT_DECIMALS} are accepted`);
  if (n.integerValue(BigNumber.ROUND_DOWN).toFixed().length > MAX_AMOUNT_INTEGER_DIGITS) {
    throw new OrderFormError(field, `${field} ${text} is too large; at most ${MAX_AMOUNT_INTEGER_DIGITS} integer digits are accepted`);
  }
  return n.toFixed();
}

// Decimals a payout in this currency can actually carry. A card payout of 4150.123 UAH cannot be
// made, so the promised amount is cut to the currency's minor unit rather than to a fixed 8.
// ISO 4217 minor units for fiat; the token's on-chain precision (capped at 8) for crypto.
const OUT_DECIMALS: Record<string, number> = {
  USD: 2, EUR: 2, GBP: 2, UAH: 2, RUB: 2, KZT: 2, PLN: 2, CZK: 2, TRY: 2, BYN: 2, UZS: 2, GEL: 2, AZN: 2,
  AMD: 2, MDL: 2, CNY: 2, INR: 2, BRL: 2, ARS: 2, MXN: 2, CAD: 2, AUD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2,
  JPY: 0, KRW: 0, VND: 0, IDR: 2, CLP: 0, ISK: 0, HUF: 2,
  USDT: 6, USDC: 6, TRX: 6, TON: 8, BTC: 8, LTC: 8, BCH: 8, DOGE: 8, DASH: 8, ETH: 8, BNB: 8, XMR: 8,
};
/** For any currency we do not know: satoshi precision, the finest unit common payout rails carry. */
export const DEFAULT_OUT_DECIMALS = 8;

export function outDecimals(outSymbol: string): number {
  const key = outSymbol.toUpperCase();
  return Object.prototype.hasOwnProperty.call(OUT_DECIMALS, key) ? OUT_DECIMALS[key] : DEFAULT_OUT_DECIMALS;
}

/**
 * out = in × rate, rounded DOWN to the out currency's decimals: the customer is never promised
 * a fraction the payout rail cannot send, and the rounding never costs the exchanger.
 */
export function computeOutAmount(inAmount: string, rate: string, outSymbol: string): string {
  const r = new Money(rate);
  if (!r.isFinite() || r.lte(0)) throw new RangeError(`the route's rate ${JSON.stringify(rate)} is not a positive number`);
  return new Money(inAmount).times(r).decimalPlaces(outDecimals(outSymbol), BigNumber.ROUND_DOWN).toFixed();
}

/** -1, 0, 1 like a comparator; both sides are decimal strings. */
export function compareAmounts(a: string, b: string): number {
  return new Money(a).comparedTo(new Money(b)) ?? 0;
}

export function isPositiveDecimal(text: string): boolean {
  const n = new Money(text);
  return n.isFinite() && n.gt(0);
}
