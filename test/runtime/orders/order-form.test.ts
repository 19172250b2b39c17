// The order-create body under attack. Each case is named by the attack it stands for; every
// refusal must name the field as the merchant wrote it and say how to fix it, and nothing may be
// lost or polluted on the way.
import { afterEach, describe, expect, it } from 'vitest';
import {
  FORM_LIMITS, OrderFormError, normaliseLang, parseBoolean, parseFormBody, parseJsonBody, readOrderForm,
} from '../../../runtime/orders/order-form.ts';
import { computeOutAmount, parseAmount } from '../../../runtime/orders/amount.ts';
import { checkMerchantUrl, loopbackOriginSet, returnUrl } from '../../../runtime/orders/merchant-url.ts';

const ROUTE = '6560f0a1b2c3d4e5f6a7b8c9';
const BASE = `routeId=${ROUTE}&amount=100&agreement=true`;

function refusal(fn: () => unknown): OrderFormError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OrderFormError);
    return err as OrderFormError;
  }
  throw new Error('expected an OrderFormError, nothing was thrown');
}

function expectRefused(fn: () => unknown, field: string | null, message: RegExp, status = 400): OrderFormError {
  const e = refusal(fn);
  expect({ field: e.field, status: e.status }).toEqual({ field, status });
  expect(e.message).toMatch(message);
  return e;
}

const form = (body: string) => readOrderForm(parseFormBody(body));
const json = (body: string) => readOrderForm(parseJsonBody(body));

afterEach(() => {
  // Whatever a hostile body tried, Object.prototype must come out untouched.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
});

describe('the documented form is read completely', () => {
  it('bracket keys, as a browser encodes them, become lists; nothing is lost or re-ordered', () => {
    const body = new URLSearchParams([
      ['routeId', ROUTE], ['amount', '100.50'], ['agreement', 'on'], ['hideOutData', '1'], ['lang', 'rus'], ['partner', 'p-1'],
      ['toValues[0][key]', 'card_number'], ['toValues[0][value]', '4111 1111 1111 1111'],
      ['toValues[1][key]', 'note'], ['toValues[1][value]', 'a&b=c+d ü 😀'],
      ['fromValues[0][key]', '6560f0a1b2c3d4e5f6a7b8c9'], ['fromValues[0][value]', 'x'],
      ['routeValues[0][key]', 'r'], ['routeValues[0][value]', ''],
      ['clientCallbackUrl', 'https://shop.example/back?a=1'], ['ipnUrl', 'https://shop.example/ipn'], ['ipnSecret', 'SECRET123'],
    ]).toString();
    expect(body).toContain('toValues%5B0%5D%5Bkey%5D');
    expect(form(body)).toEqual({
      routeId: ROUTE, amount: '100.5', agreement: true, hideOutData: true, lang: 'ru', partner: 'p-1',
      toValues: [{ key: 'card_number', value: '4111 1111 1111 1111' }, { key: 'note', value: 'a&b=c+d ü 😀' }],
      fromValues: [{ key: '6560f0a1b2c3d4e5f6a7b8c9', value: 'x' }], routeValues: [{ key: 'r', value: '' }],
      clientCallbackUrl: 'https://shop.example/back?a=1', ipnUrl: 'https://shop.example/ipn', ipnSecret: 'SECRET123',
      idempotencyKey: null,
    });
  });

  it('unencoded brackets, as the API document writes them, work too; entries may come in any order', () => {
    const f = form(`${BASE}&toValues[1][value]=b&toValues[0][key]=k0&toValues[1][key]=k1&toValues[0][value]=a`);
    expect(f.toValues).toEqual([{ key: 'k0', value: 'a' }, { key: 'k1', value: 'b' }]);
  });

  it('JSON gives the same result', () => {
    expect(json(JSON.stringify({ routeId: ROUTE, amount: 100.5, agreement: 'true', toValues: [{ key: 'card_number', value: '4111' }] })))
      .toMatchObject({ amount: '100.5', agreement: true, toValues: [{ key: 'card_number', value: '4111' }], lang: 'en', hideOutData: false });
  });

  it('empty optional fields mean "not given"', () => {
    expect(form(`${BASE}&ipnUrl=&partner=&clientCallbackUrl=&lang=`)).toMatchObject({ ipnUrl: null, partner: null, clientCallbackUrl: null, lang: 'en' });
  });
});

describe('prototype pollution', () => {
  it.each([
    ['__proto__[polluted]=1', '__proto__[polluted]'],
    ['constructor[prototype][polluted]=1', 'constructor[prototype][polluted]'],
    ['toValues[0][__proto__]=1', 'toValues[0][__proto__]'],
    ['toValues[__proto__][polluted]=1', 'toValues[__proto__][polluted]'],
    ['toValues%5B0%5D%5Bconstructor%5D=1', 'toValues[0][constructor]'],
    ['prototype=1', 'prototype'],
  ])('form key %s is refused by name', (pair, field) => {
    expectRefused(() => form(`${BASE}&${pair}`), field, /prototype pollution/);
  });

  it.each([
    ['{"__proto__": {"polluted": 1}}', '__proto__'],
    ['{"toValues": [{"key": "k", "value": "v", "__proto__": {"polluted": 1}}]}', 'toValues[0][__proto__]'],
    ['{"toValues": [{"constructor": {"prototype": {"polluted": 1}}}]}', 'toValues[0][constructor]'],
    ['{"\\u005f_proto__": {"polluted": 1}}', '__proto__'],
  ])('JSON %s is refused by name', (body, field) => {
    expectRefused(() => parseJsonBody(body), field, /prototype pollution/);
  });

  it('an object built in code with an own __proto__ key is refused too', () => {
    const raw = JSON.parse('{"__proto__": {"polluted": 1}, "amount": "1"}') as unknown;
    expectRefused(() => readOrderForm(raw), '__proto__', /prototype pollution/);
  });
});

describe('parameter pollution: duplicate keys', () => {
  it('a repeated scalar is refused, not "last one wins"', () => {
    expectRefused(() => form(`${BASE}&amount=1000`), 'amount', /given twice/);
  });
  it('the same key spelt encoded and plain is still the same key', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=a&toValues%5B0%5D%5Bkey%5D=b`), 'toValues[0][key]', /given twice/);
  });
  it('JSON duplicate keys, which JSON.parse would silently merge, are refused', () => {
    expectRefused(() => parseJsonBody('{"amount": "1", "amount": "1000"}'), 'amount', /given twice/);
    expectRefused(() => parseJsonBody('{"amount": "1", "amo\\u0075nt": "1000"}'), 'amount', /given twice/);
    expectRefused(() => parseJsonBody('{"toValues": [{"key": "a", "value": "1", "value": "2"}]}'), 'toValues[0][value]', /given twice/);
  });
  it('the same recipient field twice in one list is refused, naming both places', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=card_number&toValues[0][value]=1&toValues[1][key]=card_number&toValues[1][value]=2`),
      'toValues[1][key]', /repeats "card_number" from toValues\[0\]\[key\]/);
  });
});

describe('array index attacks', () => {
  it('a huge index (memory exhaustion through a sparse array) is refused', () => {
    expectRefused(() => form(`${BASE}&toValues[999999999][key]=a`), 'toValues[999999999]', /0\.\.49/);
  });
  it(`index ${FORM_LIMITS.maxItems} is one too many`, () => {
    expectRefused(() => form(`${BASE}&toValues[50][key]=a&toValues[50][value]=b`), 'toValues[50]', /at most 50 entries/);
  });
  it.each(['01', '-1', '1e3', '0x1', ' 1', 'a'])('index %j (an alias of another index or not a number) is refused', (index) => {
    expectRefused(() => form(`${BASE}&toValues[${encodeURIComponent(index)}][key]=a`), `toValues[${index}]`, /whole number/);
  });
  it('a gap in the indexes is refused, naming the missing entry', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=a&toValues[0][value]=1&toValues[2][key]=c&toValues[2][value]=3`),
      'toValues[1]', /toValues\[1\] is missing but toValues\[2\] is given/);
  });
  it('push syntax toValues[][key] is refused with the explicit form to use', () => {
    expectRefused(() => form(`${BASE}&toValues[][key]=a`), 'toValues[]', /toValues\[0\]\[key\]/);
  });
  it('an entry without its value (or key) is refused, not dropped', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=card_number`), 'toValues[0][value]', /missing/);
    expectRefused(() => form(`${BASE}&toValues[0][value]=4111`), 'toValues[0][key]', /missing/);
  });
  it('JSON lists over 50 entries are refused while scanning', () => {
    const entries = Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    expectRefused(() => parseJsonBody(JSON.stringify({ toValues: entries })), 'toValues', /more than 50 entries/);
  });
  it('a sparse array built in code is refused', () => {
    const toValues: unknown[] = [];
    toValues[2] = { key: 'a', value: 'b' };
    expectRefused(() => readOrderForm({ routeId: ROUTE, amount: '1', agreement: true, toValues }), 'toValues[0]', /without gaps/);
  });
});

describe('key flooding, nesting and size', () => {
  it(`more than ${FORM_LIMITS.maxKeys} form fields are refused before any is read`, () => {
    const body = Array.from({ length: FORM_LIMITS.maxKeys + 1 }, (_, i) => `k${i}=1`).join('&');
    expectRefused(() => parseFormBody(body), null, /201 fields; an order has at most 200/);
  });
  it(`more than ${FORM_LIMITS.maxKeys} JSON keys are refused`, () => {
    const lists = ['fromValues', 'toValues', 'routeValues'].map((l) => `"${l}": [${Array.from({ length: 40 }, (_, i) => `{"key":"k${i}","value":"v"}`).join(',')}]`);
    expectRefused(() => parseJsonBody(`{${lists.join(',')}}`), null, /more than 200 keys/);
  });
  it('a form key nested deeper than toValues[0][key] is refused', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key][x]=1`), 'toValues[0][key][x]', /nested 3\+ levels/);
    expectRefused(() => parseFormBody('a[b][c][d][e][f]=1'), 'a[b][c][d][e][f]', /nested/);
  });
  it('deep JSON nesting (a stack-exhaustion attempt) is refused at the first level too deep', () => {
    expectRefused(() => parseJsonBody(`{"toValues": ${'['.repeat(5000)}${']'.repeat(5000)}}`), 'toValues[0][0]', /nested too deep/);
    expectRefused(() => parseJsonBody('{"toValues": [{"key": {"a": 1}}]}'), 'toValues[0][key]', /nested too deep/);
  });
  it('an overlong key is refused', () => {
    expectRefused(() => parseFormBody(`${'a'.repeat(FORM_LIMITS.maxKeyLength + 1)}=1`), expect.any(String) as unknown as string, /at most 100/);
  });
  it(`a body over ${FORM_LIMITS.maxBodyBytes} bytes is refused with 413`, () => {
    expectRefused(() => parseFormBody(`${BASE}&partner=${'x'.repeat(FORM_LIMITS.maxBodyBytes)}`), null, /at most 65536 bytes/, 413);
    expectRefused(() => parseJsonBody(`{"partner": "${'x'.repeat(FORM_LIMITS.maxBodyBytes)}"}`), null, /at most 65536 bytes/, 413);
  });
  it('unbalanced and stray brackets are refused', () => {
    expectRefused(() => parseFormBody('toValues[0=1'), 'toValues[0', /unclosed bracket/);
    expectRefused(() => parseFormBody('toValues[0]x[key]=1'), 'toValues[0]x[key]', /after a closing bracket/);
    expectRefused(() => parseFormBody('amount]=1'), 'amount]', /closing bracket without an opening/);
  });
});

describe('type confusion and smuggling', () => {
  it('an unknown field is refused with the list of fields (no silent drop, no mass assignment)', () => {
    expectRefused(() => form(`${BASE}&status=done`), 'status', /unknown field "status"; the order-create fields are routeId/);
    expectRefused(() => json(`{"routeId":"${ROUTE}","amount":"1","agreement":true,"secret":"mine"}`), 'secret', /unknown field/);
  });
  it('a scalar sent as a list, and a list sent as a scalar, are refused', () => {
    expectRefused(() => form(`${BASE}&partner[0][key]=x`), 'partner[0][key]', /single value/);
    expectRefused(() => form(`${BASE}&toValues=4111`), 'toValues', /list of \{key, value\}/);
    expectRefused(() => json(`{"routeId":"${ROUTE}","amount":"1","agreement":true,"toValues":{"card_number":"4111"}}`), 'toValues', /list of \{key, value\}/);
  });
  it('a JSON number as a field value is refused (a 19-digit card number would lose digits)', () => {
    expectRefused(() => json(`{"routeId":"${ROUTE}","amount":"1","agreement":true,"toValues":[{"key":"card_number","value":4111111111111111111}]}`),
      'toValues[0][value]', /quote it/);
  });
  it('a name smuggled into an entry is refused: names come from the payout method', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=a&toValues[0][value]=b&toValues[0][name]=Trusted`), 'toValues[0][name]', /only \[key\] and \[value\]/);
  });
  it('broken percent-encoding is refused, naming the key', () => {
    expectRefused(() => parseFormBody('partner=%E0%A4%A'), 'partner', /not valid percent-encoded UTF-8/);
    expectRefused(() => parseFormBody('partner=%ZZ'), 'partner', /not valid percent-encoded/);
  });
  it('control characters (NUL, CR/LF header injection) are refused', () => {
    expectRefused(() => form(`${BASE}&toValues[0][key]=card_number&toValues[0][value]=4111%00`), 'toValues[0][value]', /control characters/);
    expectRefused(() => form(`${BASE}&partner=a%0D%0ASet-Cookie:x`), 'partner', /control characters/);
  });
  it('a lone surrogate in JSON is refused', () => {
    expectRefused(() => json(`{"routeId":"${ROUTE}","amount":"1","agreement":true,"partner":"\\ud800"}`), 'partner', /broken Unicode/);
  });
  it('the body must be one JSON object', () => {
    expectRefused(() => parseJsonBody('[1,2]'), null, /JSON object/);
    expectRefused(() => parseJsonBody('{"amount": '), null, /not valid JSON/);
    expectRefused(() => parseJsonBody('  '), null, /empty/);
  });
});

describe('fields', () => {
  it('routeId, amount and agreement are required, each by name', () => {
    expectRefused(() => form('amount=1&agreement=1'), 'routeId', /routeId is required/);
    expectRefused(() => form(`routeId=${ROUTE}&agreement=1`), 'amount', /amount is required/);
    expectRefused(() => form(`routeId=${ROUTE}&amount=1`), 'agreement', /agreement is required/);
    expectRefused(() => form('routeId=abc&amount=1&agreement=1'), 'routeId', /24 hex/);
  });

  it.each([
    [true, true], ['true', true], ['TRUE', true], ['1', true], [1, true], ['on', true],
    [false, false], ['false', false], ['0', false], [0, false], ['off', false],
  ])('boolean %j reads as %s', (value, expected) => {
    expect(parseBoolean('agreement', value)).toBe(expected);
  });
  it.each(['yes', '2', 'truee', ''])('boolean %j is refused with the accepted spellings', (value) => {
    expectRefused(() => parseBoolean('hideOutData', value), 'hideOutData', /true or false \(also accepted: 1\/0, on\/off\)/);
  });

  it.each([['ing', 'en'], ['eng', 'en'], ['EN', 'en'], ['англ', 'en'], ['rus', 'ru'], ['рус', 'ru'], ['es', 'es'], ['spa', 'es']])('lang %s is %s', (given, lang) => {
    expect(normaliseLang(given)).toBe(lang);
  });
  it('an unknown lang is refused with the choices', () => {
    expectRefused(() => form(`${BASE}&lang=de`), 'lang', /use en, ru or es/);
  });
  it('ipnSecret must be at least 8 characters', () => {
    expectRefused(() => form(`${BASE}&ipnSecret=short`), 'ipnSecret', /at least 8/);
  });
});

describe('amount', () => {
  it.each([
    ['100', '100'], ['100.50', '100.5'], [' 10 ', '10'], ['1e2', '100'], ['1.5E+3', '1500'], [100.5, '100.5'], [1e-7, '0.0000001'],
    ['0.000000000000000001', '0.000000000000000001'], ['99999999999999999999', '99999999999999999999'],
  ])('%j is %s', (given, expected) => {
    expect(parseAmount('amount', given)).toBe(expected);
  });
  it.each([
    ['NaN', /not a number/], ['Infinity', /not a number/], [Number.NaN, /finite/], ['-5', /negative/], ['0', /greater than 0/], ['0.000', /greater than 0/],
    ['1e400', /exponent/], ['1e-25', /exponent/], ['1,5', /use a dot/], ['0x10', /not a decimal/], ['.5', /not a decimal/], ['5.', /not a decimal/],
    ['0.0000000000000000001', /19 decimal places; at most 18/], ['100000000000000000000', /too large/], [true, /decimal number/], ['', /empty/],
  ])('%j is refused', (given, message) => {
    expectRefused(() => parseAmount('amount', given), 'amount', message);
  });

  it('out = in × rate, rounded down to the payout currency\'s unit', () => {
    expect(computeOutAmount('10.123456789', '41.5', 'UAH')).toBe('420.12');       // 420.1234567435 → 2 decimals (card)
    expect(computeOutAmount('1', '0.1234567', 'USDT')).toBe('0.123456');        // USDT: 6
    expect(computeOutAmount('1', '0.123456789123', 'XYZ')).toBe('0.12345678');   // unknown: 8
    expect(computeOutAmount('3', '0.1', 'BTC')).toBe('0.3');                      // exact, no float error
    expect(computeOutAmount('1', '0.999', 'JPY')).toBe('0');                       // the caller refuses a zero payout
  });
});

describe('merchant URLs', () => {
  const none = new Set<string>();
  it.each([
    ['ftp://shop.example/ipn', /scheme ftp/],
    ['javascript:alert(1)', /scheme javascript/],
    ['shop.example/ipn', /not absolute/],
    ['http://user:pass@shop.example/ipn', /credentials/],
    ['http://127.0.0.1:8080/ipn', /loopback/],
    ['http://10.1.2.3/ipn', /private/],
    ['http://169.254.169.254/latest/meta-data', /link-local/],
    ['http://[::1]/ipn', /loopback/],
    ['http://2130706433/ipn', /non-canonical IPv4/],
    ['http://localhost:3000/ipn', /this machine/],
    ['http://intranet/ipn', /single-label/],
    ['http://printer.local/ipn', /\.local/],
    ['http://shop.example/ip\nn', /whitespace or control/],
  ])('%s is refused with a reason', (url, reason) => {
    expectRefused(() => checkMerchantUrl('ipnUrl', url, none), 'ipnUrl', reason);
  });
  it('a public URL is kept exactly as given; an allowed loopback origin passes', () => {
    expect(checkMerchantUrl('ipnUrl', 'https://shop.example/ipn?x=1', none)).toBe('https://shop.example/ipn?x=1');
    expect(checkMerchantUrl('ipnUrl', 'http://93.184.216.34/ipn', none)).toBe('http://93.184.216.34/ipn');
    const allowed = loopbackOriginSet(['http://127.0.0.1:8080']);
    expect(checkMerchantUrl('ipnUrl', 'http://127.0.0.1:8080/ipn', allowed)).toBe('http://127.0.0.1:8080/ipn');
    expectRefused(() => checkMerchantUrl('ipnUrl', 'http://127.0.0.1:8081/ipn', allowed), 'ipnUrl', /loopback/);
  });
  it('the return link appends status and keeps the merchant\'s query and fragment as they were', () => {
    expect(returnUrl('https://shop.example/back', 'success')).toBe('https://shop.example/back?status=success');
    expect(returnUrl('https://shop.example/back?a=1&b=x%20y+z', 'error')).toBe('https://shop.example/back?a=1&b=x%20y+z&status=error');
    expect(returnUrl('https://shop.example/back?', 'success')).toBe('https://shop.example/back?status=success');
    expect(returnUrl('https://shop.example/back?a=1#top', 'success')).toBe('https://shop.example/back?a=1&status=success#top');
    expect(returnUrl('javascript:alert(1)', 'success')).toBeNull();
    expect(returnUrl(null, 'success')).toBeNull();
  });
});
