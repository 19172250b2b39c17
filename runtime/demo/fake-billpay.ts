// A stand-in for the fictional BillPay API that plugins/billpay (the SDK-format example) talks to.
// Real node:http on 127.0.0.1, so the plugin's requests cross the real egress guard. It checks
// what the host adds on the plugin's behalf — the bearer token and the request signature — so a
// test passing here proves the secrets were applied host-side.
//
// The API: every answer is an envelope {success, data?, message?}; amounts are integers in minor
// units (kopecks); a bill goes PENDING → PAID → DONE, or ends AMOUNT_MISMATCH (paid, but not the
// amount asked for) or FAILED.
//   POST /v1/bills                     {external_id, amount, currency, card_number, callback_url?}
//   GET  /v1/bills/:bill_id            → {bill_id, external_id, status, bill_info: {bill_status, amount}}
//   GET  /v1/bills?external_id=…       → {bills: [...]}
// Requests carry Authorization: Bearer <apiKey>, X-BillPay-Timestamp (unix seconds) and
// X-BillPay-Signature = hex(HMAC-SHA256(apiSecret, timestamp \n METHOD \n path?query \n body)).
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type BillStatus = 'PENDING' | 'PAID' | 'DONE' | 'AMOUNT_MISMATCH' | 'FAILED';

export interface BillBehaviour {
  /** How POST /v1/bills is answered. 'hang' records the bill (money moves) but never answers; 'fail' answers 500 without recording. */
  create?: 'answer' | 'refuse' | 'hang' | 'fail';
  refuseStatus?: number;
  refuseMessage?: string;
  /** Where the bill ends. Default DONE. */
  final?: 'DONE' | 'AMOUNT_MISMATCH' | 'FAILED';
  /** For AMOUNT_MISMATCH: what was actually paid, in minor units. Default: the amount asked minus 100. */
  paidAmount?: number;
  /** Status reads between steps (PENDING → PAID → final). Default 1; 0 reaches the final status at creation. */
  readsPerStep?: number;
  /** Advance one step every this many ms instead of on reads. */
  stepEveryMs?: number;
  /** POST {event, bill_id, external_id, status} to callback_url on every status change. */
  webhook?: boolean;
}

export interface FakeBill {
  billId: string;
  externalId: string;
  amount: number;
  currency: string;
  card: string;
  callbackUrl: string | null;
  status: BillStatus;
  paidAmount: number;
  reads: number;
  behaviour: BillBehaviour;
  createdAt: number;
}

export interface BillRequest { method: string; path: string; status: number; authenticated: boolean; at: number }
export interface BillWebhook { billId: string; url: string; body: string; status: number | null; error: string | null }

export interface FakeBillPay {
  url: string;
  credentials: { apiKey: string; apiSecret: string };
  readonly bills: readonly FakeBill[];
  readonly requests: readonly BillRequest[];
  readonly webhooks: readonly BillWebhook[];
  billsFor(externalId: string): FakeBill[];
  /** Behaviour of bills created from now on; with externalId, only for that order. */
  setBehaviour(b: BillBehaviour, scope?: { externalId?: string }): void;
  /** Moves a bill one step on (or to `status`) and sends its webhook when enabled. */
  advance(billId: string, status?: BillStatus): FakeBill;
  deliverWebhook(billId: string): Promise<BillWebhook>;
  close(): Promise<void>;
}

export const BILLPAY_HEADERS = { timestamp: 'x-billpay-timestamp', signature: 'x-billpay-signature' } as const;

/** hex(HMAC-SHA256(apiSecret, timestamp \n METHOD \n pathWithQuery \n body)): what the host must produce. */
export function signBillPayRequest(apiSecret: string, timestamp: string, method: string, pathWithQuery: string, body: string): string {
  return createHmac('sha256', apiSecret).update(`${timestamp}\n${method.toUpperCase()}\n${pathWithQuery}\n${body}`).digest('hex');
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const STEPS: BillStatus[] = ['PENDING', 'PAID'];

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startFakeBillPay(options: { apiKey?: string; apiSecret?: string; behaviour?: BillBehaviour; toleranceS?: number } = {}): Promise<FakeBillPay> {
  const credentials = { apiKey: options.apiKey ?? 'bp-test-key-0123456789', apiSecret: options.apiSecret ?? 'bp-test-secret-0123456789' };
  let fallback: BillBehaviour = options.behaviour ?? {};
  const scoped = new Map<string, BillBehaviour>();
  const bills: FakeBill[] = [];
  const byId = new Map<string, FakeBill>();
  const requests: BillRequest[] = [];
  const webhooks: BillWebhook[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const view = (b: FakeBill) => ({
    bill_id: b.billId, external_id: b.externalId, currency: b.currency, status: b.status,
    bill_info: { bill_status: b.status === 'AMOUNT_MISMATCH' ? 'PAID' : b.status, amount: b.status === 'AMOUNT_MISMATCH' ? b.paidAmount : b.amount },
  });
  const send = (res: ServerResponse, status: number, payload: unknown) => {
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  };

  function move(b: FakeBill, to?: BillStatus): void {
    if (b.status === 'DONE' || b.status === 'AMOUNT_MISMATCH' || b.status === 'FAILED') return;
    const next = to ?? (b.status === 'PENDING' ? 'PAID' : b.behaviour.final ?? 'DONE');
    b.status = next;
    if (b.behaviour.webhook && b.callbackUrl) void deliverWebhook(b.billId);
  }

  async function deliverWebhook(billId: string): Promise<BillWebhook> {
    const b = byId.get(billId);
    if (!b) throw new Error(`fake BillPay: no bill ${billId}`);
    const body = JSON.stringify({ event: 'bill.status', bill_id: b.billId, external_id: b.externalId, status: b.status });
    const w: BillWebhook = { billId, url: b.callbackUrl ?? '', body, status: null, error: null };
    try {
      // The fake must never become a way to reach anything but this machine.
      if (!LOOPBACK.has(new URL(w.url).hostname)) throw new Error(`refused: ${w.url} is not a loopback address`);
      const r = await fetch(w.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
      w.status = r.status;
      await r.text();
    } catch (err) {
      w.error = (err as Error).message;
    }
    webhooks.push(w);
    return w;
  }

  function authenticate(req: IncomingMessage, pathWithQuery: string, body: string): string | null {
    const h = (n: string) => String(req.headers[n] ?? '');
    if (!same(h('authorization'), `Bearer ${credentials.apiKey}`)) return 'missing or wrong bearer token';
    const ts = h(BILLPAY_HEADERS.timestamp);
    if (!/^\d{9,11}$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > (options.toleranceS ?? 300)) return 'stale or missing timestamp';
    const expected = signBillPayRequest(credentials.apiSecret, ts, req.method ?? '', pathWithQuery, body);
    return same(h(BILLPAY_HEADERS.signature), expected) ? null : 'bad signature';
  }

  function create(req: IncomingMessage, res: ServerResponse, pathWithQuery: string, body: string): void {
    const record = (status: number) => requests.push({ method: 'POST', path: pathWithQuery, status, authenticated: true, at: Date.now() });
    let input: Record<string, unknown>;
    try { input = JSON.parse(body); } catch { record(400); return send(res, 400, { success: false, message: 'body must be JSON' }); }
    const externalId = typeof input.external_id === 'string' ? input.external_id : '';
    const amount = input.amount;
    if (!externalId || !Number.isSafeInteger(amount) || (amount as number) <= 0 || typeof input.currency !== 'string' || typeof input.card_number !== 'string') {
      record(400);
      return send(res, 400, { success: false, message: 'external_id, amount (integer minor units), currency and card_number are required' });
    }
    const existing = bills.find((b) => b.externalId === externalId);
    if (existing) { record(200); return send(res, 200, { success: true, data: view(existing) }); } // idempotent by external_id
    const behaviour = scoped.get(externalId) ?? fallback;
    if (behaviour.create === 'refuse') {
      const status = behaviour.refuseStatus ?? 422;
      record(status);
      return send(res, status, { success: false, message: behaviour.refuseMessage ?? 'insufficient funds on the merchant balance' });
    }
    if (behaviour.create === 'fail') { record(500); return send(res, 500, { success: false, message: 'internal error' }); }
    const b: FakeBill = {
      billId: `bp_${randomUUID().replaceAll('-', '')}`, externalId, amount: amount as number, currency: input.currency,
      card: input.card_number, callbackUrl: typeof input.callback_url === 'string' ? input.callback_url : null,
      status: 'PENDING', paidAmount: behaviour.paidAmount ?? (amount as number) - 100, reads: 0, behaviour, createdAt: Date.now(),
    };
    bills.push(b);
    byId.set(b.billId, b);
    if (behaviour.readsPerStep === 0) { move(b); move(b); }
    if (behaviour.stepEveryMs) {
      const tick = () => {
        const t = setTimeout(() => { timers.delete(t); if (closed) return; move(b); if (b.status === 'PAID') tick(); }, behaviour.stepEveryMs);
        timers.add(t);
      };
      tick();
    }
    if (behaviour.create === 'hang') { record(0); return; }
    record(200);
    send(res, 200, { success: true, data: view(b) });
  }

  function read(b: FakeBill): void {
    b.reads++;
    const per = b.behaviour.readsPerStep ?? 1;
    if (!b.behaviour.stepEveryMs && per > 0 && STEPS.includes(b.status) && b.reads >= per) {
      b.reads = 0;
      move(b);
    }
  }

  function route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const pathWithQuery = req.url ?? '/';
    const refused = authenticate(req, pathWithQuery, body);
    if (refused) {
      requests.push({ method: req.method ?? '', path: pathWithQuery, status: 401, authenticated: false, at: Date.now() });
      return send(res, 401, { success: false, message: `unauthorised: ${refused}` });
    }
    const url = new URL(pathWithQuery, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/v1/bills') return create(req, res, pathWithQuery, body);
    const ok = (status: number, payload: unknown) => {
      requests.push({ method: req.method ?? '', path: pathWithQuery, status, authenticated: true, at: Date.now() });
      send(res, status, payload);
    };
    if (req.method === 'GET' && url.pathname === '/v1/bills') {
      const ext = url.searchParams.get('external_id');
      if (!ext) return ok(400, { success: false, message: 'external_id can not be empty' });
      const found = bills.filter((b) => b.externalId === ext);
      found.forEach(read);
      return ok(200, { success: true, data: { bills: found.map(view) } });
    }
    const one = /^\/v1\/bills\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && one) {
      const b = byId.get(decodeURIComponent(one[1]));
      if (!b) return ok(404, { success: false, message: 'bill not found' });
      read(b);
      // As the provider documents it: a mismatch answers success false, with the data.
      return ok(200, { success: b.status !== 'AMOUNT_MISMATCH', data: view(b) });
    }
    ok(404, { success: false, message: `no route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, credentials, bills, requests, webhooks,
    billsFor: (externalId) => bills.filter((b) => b.externalId === externalId),
    setBehaviour(b, scope) {
      if (scope?.externalId) scoped.set(scope.externalId, b);
      else fallback = b;
    },
    advance(billId, status) {
      const b = byId.get(billId);
      if (!b) throw new Error(`fake BillPay: no bill ${billId}`);
      move(b, status);
      return b;
    },
    deliverWebhook,
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
