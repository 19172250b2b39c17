// BillPay: the example plugin in the SDK format (card payouts in RUB and UAH). The provider is
// fictional; runtime/demo/fake-billpay.ts plays it. What it shows:
//  - the manifest in code, with the origin it needs and its two secrets;
//  - secrets used only host-side: the bearer token and the request signature are added by the
//    host (auth, sign), so neither secret ever enters the sandbox;
//  - amounts in minor units (kopecks) converted exactly, without floating point;
//  - ProviderRefused only when BillPay said no; anything else after a request left is unknown;
//  - status() for polling (PENDING → PAID → DONE, AMOUNT_MISMATCH, FAILED), and a webhook that
//    trusts nothing in the body but the bill id: it reads the status back from BillPay.
import { definePayoutPlugin, OutcomeUnknown, ProviderRefused } from 'payout-sandbox/sdk';
import type { PayoutContext, StatusResult } from 'payout-sandbox/sdk';

const manifest = {
  title: 'BillPay',
  currencies: ['CARDRUB', 'CARDUAH'],
  config: {
    apiUrl: { default: 'https://api.billpay.example', label: 'API base URL' },
    apiKey: { secret: true, label: 'API key (sent as a bearer token by the host)' },
    apiSecret: { secret: true, label: 'Signing secret (the host signs each request with it)' },
  },
  network: [{ origin: 'https://api.billpay.example', methods: ['GET', 'POST'], pathPrefix: '/v1' }],
} as const;

type Ctx = PayoutContext<typeof manifest>;

const CURRENCIES: Record<string, { code: string; decimals: number; label: string }> = {
  CARDRUB: { code: 'RUB', decimals: 2, label: 'RUB' },
  CARDUAH: { code: 'UAH', decimals: 2, label: 'UAH' },
};
const CARD_REGEXP = '^[0-9]{16,19}$';
const BILL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const REQUEST_TIMEOUT_MS = 20_000;

interface Bill {
  bill_id: string;
  external_id?: string;
  currency?: string;
  status: string;
  bill_info?: { bill_status?: string; amount?: number };
}
interface Envelope<T> { success?: boolean; data?: T; message?: string }

/** "400.5" → 40050 for 2 decimals. Refuses what cannot be paid exactly instead of rounding. */
export function toMinor(amount: string, decimals: number): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(amount);
  if (!m) throw new Error(`BillPay: amount ${JSON.stringify(amount)} is not a decimal number`);
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > decimals) throw new Error(`BillPay: ${amount} has more than ${decimals} decimals and cannot be paid exactly`);
  const minor = Number(m[1] + fraction.padEnd(decimals, '0'));
  if (!Number.isSafeInteger(minor) || minor <= 0) throw new Error(`BillPay: amount ${amount} is out of range`);
  return minor;
}

/** 40050 → "400.50" for 2 decimals. */
export function fromMinor(minor: number, decimals: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new OutcomeUnknown(`BillPay reported an amount that is not a whole number of minor units (${minor})`);
  const digits = String(minor).padStart(decimals + 1, '0');
  return decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const mask = (card: string) => card.slice(0, 6) + '*'.repeat(card.length - 10) + card.slice(-4);

/** One signed call. The host adds Authorization (apiKey) and the signature (apiSecret). */
async function api<T>(ctx: Ctx, method: 'GET' | 'POST', path: string, json?: unknown): Promise<{ status: number; envelope: Envelope<T> }> {
  const base = String((await ctx.config.get('apiUrl')) || manifest.config.apiUrl.default).replace(/\/+$/, '');
  const res = await ctx.http.request({
    method, url: base + path, json, timeoutMs: REQUEST_TIMEOUT_MS,
    auth: { bearer: 'apiKey' },
    sign: {
      key: 'apiSecret', header: 'x-billpay-signature', timestampHeader: 'x-billpay-timestamp', timestampUnit: 's',
      parts: ['timestamp', 'method', 'pathWithQuery', 'body'], separator: '\n',
    },
  });
  let envelope: Envelope<T>;
  try {
    envelope = JSON.parse(res.text) as Envelope<T>;
  } catch {
    throw new OutcomeUnknown(`BillPay answered ${method} ${path} with HTTP ${res.status} and a body that is not JSON`);
  }
  if (!envelope || typeof envelope !== 'object') throw new OutcomeUnknown(`BillPay answered ${method} ${path} with an empty envelope`);
  return { status: res.status, envelope };
}

/** BillPay's own word on a bill, as the host's payout states. */
function report(bill: Bill, decimals: number, expected: string): StatusResult {
  const paid = typeof bill.bill_info?.amount === 'number' ? fromMinor(bill.bill_info.amount, decimals) : undefined;
  switch (bill.status) {
    case 'DONE':
      return { status: 'paid', amount: paid };
    case 'AMOUNT_MISMATCH':
      // Paid, but not what was asked: reported with BillPay's amount so the host holds the order
      // for review. If BillPay claims a mismatch but reports the very amount asked, nobody can
      // say what happened: leave it pending and let the review deadline bring it to a person.
      if (paid !== undefined && paid !== expected) return { status: 'paid', amount: paid };
      return { status: 'pending', reason: 'BillPay reports AMOUNT_MISMATCH without a differing amount' };
    case 'FAILED':
      return { status: 'failed', reason: 'BillPay reports the bill FAILED' };
    default:
      // PENDING: not started; PAID: the money left BillPay but is not settled yet.
      return { status: 'pending' };
  }
}

async function billById(ctx: Ctx, billId: string): Promise<Bill> {
  const { status, envelope } = await api<Bill>(ctx, 'GET', `/v1/bills/${encodeURIComponent(billId)}`);
  // A mismatch answers success: false but still carries the bill.
  if (envelope.data && envelope.data.bill_id) return envelope.data;
  throw new OutcomeUnknown(`BillPay did not return bill ${billId} (HTTP ${status}: ${envelope.message ?? 'no message'})`);
}

export default definePayoutPlugin({
  manifest,

  fields(_ctx, { currency }) {
    const c = CURRENCIES[currency];
    if (!c) return null;
    return [{
      _id: 'card_number', name: `Card number (${c.label})`, placeholder: '0000000000000000',
      regexp: CARD_REGEXP, regexp_error: `Card number incorrect (${c.label})`, required: true,
    }];
  },

  async transfer(ctx, order) {
    const c = CURRENCIES[order.outXML];
    if (!c) throw new Error(`BillPay does not pay out ${order.outXML}`);
    const card = String(order.outValues.card_number ?? '').replace(/[\s-]/g, '');
    if (!new RegExp(CARD_REGEXP).test(card) || !passesLuhn(card)) throw new Error('BillPay: the card number is not valid');
    const amount = toMinor(order.outAmount, c.decimals);

    const { status, envelope } = await api<Bill>(ctx, 'POST', '/v1/bills', {
      external_id: order._id, amount, currency: c.code, card_number: card,
      ...(ctx.webhookUrl ? { callback_url: ctx.webhookUrl } : {}),
    });
    if (!envelope.success) {
      // BillPay answered and said no: nothing was paid. A 5xx, a timeout or a 409 (a bill with
      // this external_id may exist) says nothing about the money, so those stay unknown.
      if (status < 500 && ![408, 409, 425].includes(status) && envelope.message) {
        throw new ProviderRefused(`BillPay refused the payout (HTTP ${status}): ${envelope.message}`, { status });
      }
      throw new OutcomeUnknown(`BillPay answered HTTP ${status} without a usable bill${envelope.message ? `: ${envelope.message}` : ''}`);
    }
    const bill = envelope.data;
    if (!bill || typeof bill.bill_id !== 'string' || !BILL_ID.test(bill.bill_id)) throw new OutcomeUnknown('BillPay accepted the request but returned no bill id');
    if (bill.status === 'FAILED') throw new ProviderRefused(`BillPay declined bill ${bill.bill_id}`, { billId: bill.bill_id });
    ctx.log.info(`bill ${bill.bill_id} for order ${order.uid}: ${bill.status}`);
    const reported = typeof bill.bill_info?.amount === 'number' ? fromMinor(bill.bill_info.amount, c.decimals) : order.outAmount;
    return {
      status: bill.status === 'DONE' ? 'paid' : 'accepted', reference: bill.bill_id,
      amount: reported, currency: c.code, to: mask(card),
    };
  },

  async status(ctx, payout) {
    const c = Object.values(CURRENCIES).find((x) => x.code === payout.currency) ?? { decimals: 2 };
    let bill: Bill | undefined;
    if (payout.reference) {
      bill = await billById(ctx, payout.reference);
    } else {
      // transfer() never learnt the bill id (no answer): look it up by our order id. Not found is
      // not "failed": the request may still be on its way, so it stays pending for review.
      const { envelope } = await api<{ bills?: Bill[] }>(ctx, 'GET', `/v1/bills?external_id=${encodeURIComponent(payout.orderId)}`);
      bill = envelope.data?.bills?.[0];
      if (!bill) return { status: 'pending', reason: 'BillPay has no bill for this order yet' };
    }
    const r = report(bill, c.decimals, fromMinor(toMinor(payout.amount, c.decimals), c.decimals));
    ctx.log.info(`bill ${bill.bill_id}: ${bill.status} → ${r.status}`);
    return r;
  },

  async webhook(ctx, req) {
    const body = req.body as { bill_id?: unknown } | null;
    const billId = body && typeof body === 'object' && typeof body.bill_id === 'string' ? body.bill_id : '';
    if (!BILL_ID.test(billId)) return { response: { status: 400, body: 'no bill_id' } };
    let bill: Bill;
    try {
      bill = await billById(ctx, billId);
    } catch (err) {
      // Not 2xx, so BillPay delivers again; the status poll settles it meanwhile anyway.
      ctx.log.warn(`webhook for ${billId}: could not read the bill back: ${(err as Error).message}`);
      return { response: { status: 502, body: 'retry later' } };
    }
    // A mismatch is left to status(), which knows the amount the order asked for.
    if (bill.status !== 'DONE' && bill.status !== 'FAILED') return { response: { status: 200, body: 'ok' } };
    const c = Object.values(CURRENCIES).find((x) => x.code === bill.currency) ?? { decimals: 2 };
    const r = report(bill, c.decimals, '');
    return { response: { status: 200, body: 'ok' }, updates: [{ reference: bill.bill_id, status: r.status, amount: r.amount }] };
  },
});
