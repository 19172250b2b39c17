// A scriptable stand-in for the NimbusPay API, used by tests and by the server's demo mode.
// It is a real HTTP server on 127.0.0.1 so the plugin's requests go through the same sockets,
// signing and error paths as in production, including the awkward ones (no answer, dropped
// connection, an amount that differs from the one requested).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { loadProviderState, remainingMs, saveProviderState } from './provider-state.ts';
import BigNumber from 'bignumber.js';
import { NIMBUS_HEADERS, hexDigestsMatch, signNimbusRequest, signNimbusWebhook } from './nimbus-signing.ts';
import { waitForCount } from './wait-for-count.ts';

export type PayoutStatus = 'PENDING' | 'PROCESSING' | 'DONE' | 'FAILED' | 'CANCELED';
export type FinalStatus = 'DONE' | 'FAILED' | 'CANCELED';

/** How one payout plays out. Fields compose: e.g. `{response: 'hang', afterPolls: 2}` is a
 *  payout that is accepted, never answered, and shows DONE on the third status read. */
export interface PayoutBehaviour {
  /** How POST /v1/payouts is answered. 'reject' refuses before anything is recorded;
   *  'hang' and 'drop' record the payout (money moves) but never answer / cut the socket. */
  response?: 'answer' | 'reject' | 'hang' | 'drop';
  rejectStatus?: number;            // for 'reject'; default 422
  rejectMessage?: string;
  /** Where the payout ends up; 'NEVER' keeps it PROCESSING until settle() is called. */
  outcome?: FinalStatus | 'NEVER';
  /** Status reads answered PROCESSING before the outcome shows. 0 (default): it shows at once. */
  afterPolls?: number;
  /** Reach the outcome this many ms after creation instead (overrides afterPolls). */
  afterMs?: number;
  /** The create answer itself already carries the outcome (DONE there means the plugin's ok:1). */
  immediate?: boolean;
  /** Amount the provider reports everywhere instead of the requested one. */
  reportAmount?: string;
  failureReason?: string;
  /** 'auto': POST the signed webhook to callback_url when the outcome is reached. */
  webhook?: 'auto' | 'manual';
}

export interface FakeProviderOptions {
  apiKey?: string;
  apiSecret?: string;
  webhookSecret?: string;
  /** Starting balances per currency (decimal strings). */
  balances?: Record<string, string>;
  /** Behaviour for payouts with no reference-specific script. */
  behaviour?: PayoutBehaviour;
  /** Default for PayoutBehaviour.webhook. Default true. */
  autoWebhook?: boolean;
  /** Extra attempts after a failed automatic webhook delivery. Default: none. */
  webhookRetryDelaysMs?: number[];
  /** Accepted clock skew of X-Nimbus-Timestamp. Default 5 minutes. */
  timestampToleranceMs?: number;
  /** Added before every answer, to give benchmarks a realistic provider latency. */
  latencyMs?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Keep payouts and balances in this file across restarts (the demo's data folder). */
  stateFile?: string;
}

export interface FakePayout {
  id: string;
  merchantReference: string;
  amount: string;                   // as requested
  reportedAmount: string;           // as reported (differs when scripted with reportAmount)
  currency: string;
  network: string | null;
  destination: string;
  callbackUrl: string | null;
  status: PayoutStatus;
  polls: number;
  failureReason: string | null;
  txHash: string | null;
  createdAt: number;
  behaviour: PayoutBehaviour;
}

export interface RecordedRequest { method: string; path: string; status: number; authenticated: boolean; at: number }

export interface WebhookDelivery {
  payoutId: string;
  url: string;
  body: string;
  signature: string;
  status: number | null;            // null when no answer came
  responseBody: string | null;
  error: string | null;
  at: number;
}

export interface DeliverWebhookOptions {
  /** Sign with this secret instead of the configured one (to test rejection). */
  signWith?: string;
  /** Send this raw body instead of the payout's current state. */
  body?: string;
  /** Send somewhere other than the payout's callback_url (still loopback only). */
  url?: string;
}

export interface FakeProvider {
  url: string;
  port: number;
  credentials: { apiKey: string; apiSecret: string; webhookSecret: string };
  /** Every payout the provider accepted, in order. A double payout shows as two entries with one reference. */
  transfers: readonly FakePayout[];
  requests: readonly RecordedRequest[];
  webhooks: readonly WebhookDelivery[];
  transfersFor(merchantReference: string): FakePayout[];
  balance(currency: string): string;
  setBalance(currency: string, amount: string): void;
  /** Script payouts created from now on: all of them, or only those with this merchant_reference. */
  setBehaviour(behaviour: PayoutBehaviour, scope?: { reference?: string }): void;
  /** Force a payout to its final status now (sends the webhook when it is automatic). */
  settle(payoutId: string, status: FinalStatus, failureReason?: string): void;
  deliverWebhook(payoutId: string, options?: DeliverWebhookOptions): Promise<WebhookDelivery>;
  /** Resolves once `count` webhook deliveries have completed (answered or failed). */
  waitForWebhooks(count: number, timeoutMs?: number): Promise<WebhookDelivery[]>;
  close(): Promise<void>;
}

const DEFAULT_BALANCES: Record<string, string> = { UAH: '1000000.00', USDT: '50000', BTC: '2.5' };
const MAX_BODY_BYTES = 64 * 1024;
const WEBHOOK_TIMEOUT_MS = 5_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const credentials = {
    apiKey: options.apiKey ?? 'nimbus-test-key',
    apiSecret: options.apiSecret ?? 'nimbus-test-api-secret',
    webhookSecret: options.webhookSecret ?? 'nimbus-test-webhook-secret',
  };
  const tolerance = options.timestampToleranceMs ?? 5 * 60_000;
  const balances = new Map<string, BigNumber>();
  for (const [currency, amount] of Object.entries(options.balances ?? DEFAULT_BALANCES)) balances.set(currency, new BigNumber(amount));

  let defaultBehaviour: PayoutBehaviour = options.behaviour ?? {};
  const behaviourByReference = new Map<string, PayoutBehaviour>();
  const transfers: FakePayout[] = [];
  const payoutsById = new Map<string, FakePayout>();
  const requests: RecordedRequest[] = [];
  const webhooks: WebhookDelivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const webhookWaiters = new Set<() => void>();
  let closed = false;
  const saved = options.stateFile ? loadProviderState(options.stateFile) : null;
  if (saved) {
    for (const [currency, amount] of Object.entries(saved.balances)) balances.set(currency, new BigNumber(amount));
    for (const payout of saved.payouts) {
      transfers.push(payout);
      payoutsById.set(payout.id, payout);
    }
  }
  const save = () => {
    if (!options.stateFile) return;
    saveProviderState(options.stateFile, { payouts: transfers, balances: Object.fromEntries([...balances].map(([c, a]) => [c, a.toFixed()])) });
  };

  function later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => { timers.delete(timer); if (!closed) fn(); }, ms);
    timers.add(timer);
  }

  function wireView(payout: FakePayout) {
    return {
      id: payout.id,
      status: payout.status,
      amount: payout.reportedAmount,
      currency: payout.currency,
      network: payout.network,
      destination: payout.destination,
      merchant_reference: payout.merchantReference,
      failure_reason: payout.failureReason,
      tx_hash: payout.txHash,
      created_at: new Date(payout.createdAt).toISOString(),
    };
  }

  function wantsAutoWebhook(payout: FakePayout): boolean {
    return (payout.behaviour.webhook ?? (options.autoWebhook === false ? 'manual' : 'auto')) === 'auto';
  }

  function reachFinal(payout: FakePayout, status: FinalStatus, failureReason?: string): void {
    if (payout.status === 'DONE' || payout.status === 'FAILED' || payout.status === 'CANCELED') return;
    payout.status = status;
    if (status === 'DONE') {
      if (payout.network && payout.network !== 'CARD') payout.txHash = randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');
    } else {
      payout.failureReason = failureReason ?? payout.behaviour.failureReason ?? 'declined by the scripted behaviour';
      // Failed payouts give the money back, as a real provider would.
      balances.set(payout.currency, (balances.get(payout.currency) ?? new BigNumber(0)).plus(payout.amount));
    }
    save();
    if (wantsAutoWebhook(payout) && payout.callbackUrl) void sendWithRetries(payout, options.webhookRetryDelaysMs ?? []);
  }

  function reachScriptedOutcome(payout: FakePayout): void {
    const outcome = payout.behaviour.outcome ?? 'DONE';
    if (outcome !== 'NEVER') reachFinal(payout, outcome);
  }

  async function sendWithRetries(payout: FakePayout, retryDelays: number[]): Promise<void> {
    const delivery = await deliverWebhook(payout.id);
    const [nextDelay, ...rest] = retryDelays;
    if (!closed && nextDelay !== undefined && (delivery.status === null || delivery.status >= 300)) {
      later(nextDelay, () => void sendWithRetries(payout, rest));
    }
  }

  async function deliverWebhook(payoutId: string, deliverOptions: DeliverWebhookOptions = {}): Promise<WebhookDelivery> {
    const payout = payoutsById.get(payoutId);
    if (!payout) throw new Error(`fake NimbusPay: no payout ${payoutId}`);
    const url = deliverOptions.url ?? payout.callbackUrl ?? '';
    const body = deliverOptions.body ?? JSON.stringify({ event: 'payout.updated', ...wireView(payout) });
    const signature = signNimbusWebhook(deliverOptions.signWith ?? credentials.webhookSecret, body);
    const delivery: WebhookDelivery = { payoutId, url, body, signature, status: null, responseBody: null, error: null, at: Date.now() };
    try {
      // The fake must never become a way to reach anything but this machine.
      if (!LOOPBACK_HOSTS.has(new URL(url).hostname)) throw new Error(`refused: ${url} is not a loopback address`);
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [NIMBUS_HEADERS.signature]: signature, [NIMBUS_HEADERS.event]: 'payout.updated' },
        body,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      delivery.status = answer.status;
      delivery.responseBody = await answer.text();
    } catch (error) {
      delivery.error = error instanceof Error ? error.message : String(error);
    }
    webhooks.push(delivery);
    for (const wake of webhookWaiters) wake();
    return delivery;
  }

  function record(req: IncomingMessage, path: string, status: number, authenticated: boolean): void {
    requests.push({ method: req.method ?? '', path, status, authenticated, at: Date.now() });
  }

  function send(res: ServerResponse, status: number, payload: unknown): void {
    const body = JSON.stringify(payload);
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (options.latencyMs) later(options.latencyMs, answer);
    else answer();
  }

  function authenticate(req: IncomingMessage, pathWithQuery: string, body: string): string | null {
    const header = (name: string) => String(req.headers[name] ?? '');
    if (header(NIMBUS_HEADERS.key) !== credentials.apiKey) return 'unknown_key';
    const timestamp = header(NIMBUS_HEADERS.timestamp);
    if (!/^\d{10,16}$/.test(timestamp) || Math.abs(Date.now() - Number(timestamp)) > tolerance) return 'stale_timestamp';
    const expected = signNimbusRequest(credentials.apiSecret, timestamp, req.method ?? '', pathWithQuery, body);
    return hexDigestsMatch(expected, header(NIMBUS_HEADERS.signature)) ? null : 'bad_signature';
  }

  function createPayout(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body) as Record<string, unknown>;
      if (!input || typeof input !== 'object') throw new Error('not an object');
    } catch {
      record(req, path, 400, true);
      return send(res, 400, { error: 'invalid_json', message: 'body must be a JSON object' });
    }
    const text = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');
    const amount = text('amount');
    const currency = text('currency');
    const invalid =
      !/^\d+(\.\d+)?$/.test(amount) || new BigNumber(amount).lte(0) ? 'amount must be a positive decimal string'
        : !balances.has(currency) ? `unsupported currency ${currency || '(none)'}`
          : !text('destination') ? 'destination is required'
            : !text('merchant_reference') ? 'merchant_reference is required' : null;
    if (invalid) {
      record(req, path, 400, true);
      return send(res, 400, { error: 'invalid_request', message: invalid });
    }

    const reference = text('merchant_reference');
    const behaviour = behaviourByReference.get(reference) ?? defaultBehaviour;
    if (behaviour.response === 'reject') {
      const status = behaviour.rejectStatus ?? 422;
      record(req, path, status, true);
      return send(res, status, { error: 'rejected', message: behaviour.rejectMessage ?? 'payout rejected by the scripted behaviour' });
    }
    const available = balances.get(currency) ?? new BigNumber(0);
    if (available.lt(amount)) {
      record(req, path, 422, true);
      return send(res, 422, { error: 'insufficient_funds', message: `balance ${available.toFixed()} ${currency} is below ${amount}` });
    }

    balances.set(currency, available.minus(amount));
    const payout: FakePayout = {
      id: 'np_' + randomUUID().replaceAll('-', ''),
      merchantReference: reference,
      amount,
      reportedAmount: behaviour.reportAmount ?? amount,
      currency,
      network: text('network') || null,
      destination: text('destination'),
      callbackUrl: text('callback_url') || null,
      status: 'PENDING',
      polls: 0,
      failureReason: null,
      txHash: null,
      createdAt: Date.now(),
      behaviour,
    };
    transfers.push(payout);
    payoutsById.set(payout.id, payout);
    save();

    if (behaviour.immediate) reachScriptedOutcome(payout);
    else if (behaviour.afterMs !== undefined) later(behaviour.afterMs, () => reachScriptedOutcome(payout));
    // With no polls to wait for, the outcome is reached right after the answer goes out.
    else if ((behaviour.afterPolls ?? 0) === 0) later(0, () => reachScriptedOutcome(payout));

    if (behaviour.response === 'hang') {
      record(req, path, 0, true);
      return; // the request stays open until the client gives up or close() runs
    }
    if (behaviour.response === 'drop') {
      record(req, path, 0, true);
      req.socket.destroy();
      return;
    }
    record(req, path, 201, true);
    send(res, 201, wireView(payout));
  }

  function readPayout(req: IncomingMessage, res: ServerResponse, path: string, payoutId: string): void {
    const payout = payoutsById.get(payoutId);
    if (!payout) {
      record(req, path, 404, true);
      return send(res, 404, { error: 'not_found', message: `no payout ${payoutId}` });
    }
    if (payout.status === 'PENDING' || payout.status === 'PROCESSING') {
      payout.polls++;
      const pollBased = !payout.behaviour.immediate && payout.behaviour.afterMs === undefined;
      if (pollBased && payout.polls > (payout.behaviour.afterPolls ?? 0)) reachScriptedOutcome(payout);
      if (payout.status === 'PENDING') payout.status = 'PROCESSING';
    }
    record(req, path, 200, true);
    send(res, 200, wireView(payout));
  }

  function route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const pathWithQuery = req.url ?? '/';
    const failure = authenticate(req, pathWithQuery, body);
    if (failure) {
      record(req, pathWithQuery, 401, false);
      return send(res, 401, { error: failure, message: 'request signature or key rejected' });
    }
    const url = new URL(pathWithQuery, 'http://127.0.0.1');
    const payoutMatch = /^\/v1\/payouts\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/v1/balance') {
      record(req, pathWithQuery, 200, true);
      const view = Object.fromEntries([...balances].map(([currency, amount]) => [currency, amount.toFixed()]));
      return send(res, 200, { balances: view });
    }
    if (req.method === 'POST' && url.pathname === '/v1/payouts') return createPayout(req, res, pathWithQuery, body);
    if (req.method === 'GET' && url.pathname === '/v1/payouts') {
      const reference = url.searchParams.get('merchant_reference');
      record(req, pathWithQuery, 200, true);
      return send(res, 200, { payouts: transfers.filter((p) => reference === null || p.merchantReference === reference).map(wireView) });
    }
    if (req.method === 'GET' && payoutMatch) return readPayout(req, res, pathWithQuery, decodeURIComponent(payoutMatch[1]));
    record(req, pathWithQuery, 404, true);
    send(res, 404, { error: 'not_found', message: `no route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        record(req, req.url ?? '/', 413, false);
        send(res, 413, { error: 'too_large', message: `body over ${MAX_BODY_BYTES} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size <= MAX_BODY_BYTES) route(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Payouts open at the last save reach their outcome as scripted, counted from their creation.
  for (const payout of saved?.payouts ?? []) {
    const wait = remainingMs(payout, Date.now());
    if (wait !== null) later(wait, () => reachScriptedOutcome(payout));
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    credentials,
    transfers,
    requests,
    webhooks,
    transfersFor: (reference) => transfers.filter((payout) => payout.merchantReference === reference),
    balance: (currency) => (balances.get(currency) ?? new BigNumber(0)).toFixed(),
    setBalance: (currency, amount) => void balances.set(currency, new BigNumber(amount)),
    setBehaviour(behaviour, scope) {
      if (scope?.reference !== undefined) behaviourByReference.set(scope.reference, behaviour);
      else defaultBehaviour = behaviour;
    },
    settle(payoutId, status, failureReason) {
      const payout = payoutsById.get(payoutId);
      if (!payout) throw new Error(`fake NimbusPay: no payout ${payoutId}`);
      reachFinal(payout, status, failureReason);
    },
    deliverWebhook,
    waitForWebhooks(count, timeoutMs = 5_000) {
      return waitForCount(webhooks, webhookWaiters, count, timeoutMs, 'fake NimbusPay webhooks');
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Hung requests would otherwise keep close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
