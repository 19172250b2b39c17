// payout-sandbox/sdk/testkit — run a plugin, in either format, in the real sandbox from your own
// vitest: a whole host (createHost + buildApp on 127.0.0.1) with an in-memory store and only your
// plugin loaded. Payouts go through the real orchestrator, webhooks arrive over real HTTP, and
// every host call is policed and audited exactly as on a server.
//
//   const kit = await startPluginTestKit({ dir: 'plugins/acmepay', config: { apiKey: 'k' } });
//   const provider = await kit.fakeProvider({ 'POST /payouts': () => ({ json: { id: 'p1' } }) }, { urlConfigKey: 'apiUrl' });
//   const payout = await kit.payout({ currency: 'CARDUAH', amount: '100', values: { card_number: '4111111111111111' } });
//   expect(payout.attempt?.state).toBe('ACCEPTED');
//   await kit.close();
import crypto from 'node:crypto';
import pino from 'pino';
import { openPluginHost } from './harness.ts';
import type { PluginHost } from './harness.ts';
import { routesOf, startFakeProvider } from './fake-provider.ts';
import type { FakeProvider, FakeProviderScript, FakeRoutes } from './fake-provider.ts';
import { sendWebhook, signFor } from './testkit-webhook.ts';
import type { SignInput, WebhookAnswer, WebhookInput, WebhookSender } from './testkit-webhook.ts';
import type { Host } from '../runtime/server/host.ts';
import type { ServerOptions } from '../runtime/server/options.ts';
import type { LoadedPlugin } from '../runtime/plugins/load-plugin.ts';
import type { PayoutEvent } from '../runtime/payouts/payout-steps.ts';
import type { CronRunOutcome } from '../runtime/cron/scheduler.ts';
import type { EngineName, SandboxFailure } from '../runtime/sandbox/protocol.ts';
import type {
  AuditDecision, AuditRecord, OrderHistoryEntry, Order, OrderStatus, PayoutAttempt, PayoutTx, PluginLogLine, WebhookDelivery,
} from '../runtime/store/types.ts';

export { typecheckPlugin, typecheckPluginSync } from './typecheck.ts';
export type { TypecheckResult } from './typecheck.ts';
export type { SignInput, WebhookAnswer, WebhookInput, WebhookVerdict } from './testkit-webhook.ts';
export type { FakeProvider, FakeProviderScript, FakeRoutes, FakeRequest, FakeReply, FakeHandler } from './fake-provider.ts';
export type { AuditRecord, Order, OrderStatus, PayoutAttempt, PayoutTx, PluginLogLine, OrderHistoryEntry, WebhookDelivery } from '../runtime/store/types.ts';

export type ConfigInput = Record<string, string | number | boolean | null>;
export type GrantInput = string | { origin: string; pathPrefix?: string | null; methods?: string[] | null };

export interface PluginTestKitOptions {
  /** The plugin folder; its name is the plugin key. */
  dir: string;
  /** Config values, set through the host's ConfigService (secrets are sealed as on a server). */
  config?: ConfigInput;
  /** Origins the plugin may reach, approved (e.g. 'http://127.0.0.1:8080'). */
  grants?: GrantInput[];
  /**
   * A scripted fake provider started with the kit: its origin is granted, its `config` is set and
   * its URL goes into `urlConfigKey`. Pass a scaffold's test/fake-provider.ts default export here.
   */
  provider?: FakeProviderScript;
  /** Host options (timeouts, review deadlines, …). The kit's defaults: transferWallMs 10 s, statusPollMs 0. */
  server?: Partial<ServerOptions>;
  /** pino level for the host's log on stderr; default 'silent' (or PAYOUT_SANDBOX_TESTKIT_LOG). */
  logLevel?: string;
  /**
   * 'manual' (default): the plugin's cron job runs only when the test calls runCron(), so a tick
   * never lands in the middle of a test. 'scheduled': it also runs on its own schedule.
   */
  cron?: 'manual' | 'scheduled';
  /**
   * The engine the plugin runs on: 'isolated-vm' or 'quickjs'. Default: the environment variable
   * PAYOUT_SANDBOX_ENGINE when set (run the suite once per engine), else the server's default.
   */
  engine?: EngineName;
}

export type CallResult =
  | { ok: true; value: any; callId: string; requestsSent: number }
  | { ok: false; error: SandboxFailure; callId: string; requestsSent: number };

/** An order with everything the payout flow wrote about it. */
export interface PayoutState {
  order: Order;
  /** Oldest first. */
  attempts: PayoutAttempt[];
  /** The newest attempt, or null. */
  attempt: PayoutAttempt | null;
  txs: PayoutTx[];
  history: OrderHistoryEntry[];
}

export interface OrderInput {
  /** The currency code (XML) paid out; default: the plugin's first currency. */
  currency?: string;
  /** The payout amount (the kit's routes pay out 1:1). */
  amount: string;
  /** Answers to the plugin's fields, by field _id. */
  values?: Record<string, string>;
  /** Default: guessed from the currency (CARDUAH → UAH). */
  outSymbol?: string;
  lang?: string;
}

export interface PluginTestKit {
  key: string;
  format: 'platform' | 'sdk';
  plugin: LoadedPlugin;
  /** The engine the plugin runs on (options.engine, PAYOUT_SANDBOX_ENGINE, or the default). */
  engine: EngineName;
  /** http://127.0.0.1:<port> of the host (merchant API, /payout_call/…, admin API). */
  baseUrl: string;
  adminToken: string;
  /** The whole host, for anything the kit does not wrap. */
  host: Host;
  /** The provider started with `provider`, or null. */
  provider: FakeProvider | null;
  /** Payout events of the orchestrator, in order. */
  events: PayoutEvent[];

  call(method: string, args?: unknown): Promise<CallResult>;
  getFields(currency?: string, lang?: string): Promise<any>;
  /** transfer() called directly, outside the payout flow (no attempt, no tx). */
  transfer(order: Partial<PayoutOrderArg> & { outAmount: string }): Promise<CallResult>;
  /** SDK plugins: status() called directly. */
  status(payout: { reference: string | null; orderId?: string; amount?: string; currency?: string }): Promise<CallResult>;

  createOrder(input: OrderInput): Promise<Order>;
  /** Moves a new order to inProgressPayout, then waits until transfer() returned and the attempt left DISPATCHING. */
  pay(orderId: string): Promise<PayoutState>;
  /** createOrder + pay. */
  payout(input: OrderInput): Promise<PayoutState>;
  state(orderId: string): Promise<PayoutState>;
  waitFor(orderId: string, until: OrderStatus | ((s: PayoutState) => boolean), timeoutMs?: number): Promise<PayoutState>;

  /** One delivery over real HTTP; `signed: true` signs it as the manifest's webhook.signature says. */
  webhook(input?: WebhookInput): Promise<WebhookAnswer>;
  /** Headers for rawBody signed per the manifest's webhook.signature, with the secret the kit set. */
  signWebhook(rawBody: string, sign?: SignInput): Record<string, string>;
  /** The plugin's cron job now (host.cron.runNow), waiting out a run already going. */
  runCron(): Promise<CronRunOutcome>;
  /** One payout sweep (host.sweepNow): recovery, status polls of ACCEPTED/UNKNOWN payouts, deadlines. */
  sweep(): Promise<void>;

  /** Audit records of the plugin, oldest first. */
  audit(filter?: { capability?: string; callId?: string; decision?: AuditDecision }): Promise<AuditRecord[]>;
  /** The plugin's log lines, oldest first. */
  log(filter?: { callId?: string }): Promise<PluginLogLine[]>;

  setConfig(key: string, value: string | number | boolean | null): Promise<void>;
  grant(origin: GrantInput): Promise<void>;
  /** Starts a scripted fake provider, grants its origin, and sets the script's config and its URL (urlConfigKey). */
  fakeProvider(routes: FakeRoutes | FakeProviderScript, options?: { urlConfigKey?: string }): Promise<FakeProvider>;
  close(): Promise<void>;
}

/** The order transfer() receives. */
export interface PayoutOrderArg {
  _id: string; uid: number; status: string; inAmount: string; outAmount: string;
  inXML: string; outXML: string; outSymbol: string; outValues: Record<string, string>; createdAt: string;
}

const SETTLING = new Set(['PREPARED', 'DISPATCHING']);

function guessSymbol(currency: string): string {
  const card = /^CARD([A-Z]{3})$/.exec(currency);
  if (card) return card[1];
  const token = /^(USDT|USDC|TRX|ETH|BTC|LTC|TON|BNB|DOGE)/.exec(currency);
  return token ? token[1] : currency;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPluginTestKit(options: PluginTestKitOptions): Promise<PluginTestKit> {
  const events: PayoutEvent[] = [];
  const started: PluginHost = await openPluginHost({
    dir: options.dir, approvedBy: 'testkit', engine: options.engine,
    logger: pino({ level: options.logLevel ?? process.env.PAYOUT_SANDBOX_TESTKIT_LOG ?? 'silent' }),
    server: { transferWallMs: 10_000, callbackWallMs: 5_000, statusPollMs: 0, ...options.server },
    onPayoutEvent: (e) => events.push(e),
  });
  const { host, key } = started;
  const providers: FakeProvider[] = [];
  const routes = new Map<string, string>();
  const format = started.plugin.manifest.format;

  const state = async (orderId: string): Promise<PayoutState> => {
    const order = await host.store.getOrder(orderId);
    if (!order) throw new Error(`testkit: no order ${orderId}`);
    const attempts = await host.store.listAttempts(orderId);
    const txs = await host.store.findPayoutTxs({ plugin: key, conditions: [{ field: 'order', op: 'eq', value: orderId }] });
    return { order, attempts, attempt: attempts.at(-1) ?? null, txs, history: await host.store.getOrderHistory(orderId) };
  };

  const waitFor = async (orderId: string, until: OrderStatus | ((s: PayoutState) => boolean), timeoutMs = 15_000): Promise<PayoutState> => {
    const test = typeof until === 'string' ? (s: PayoutState) => s.order.status === until : until;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await state(orderId);
      if (test(s)) return s;
      if (Date.now() > deadline) {
        throw new Error(`testkit: order ${s.order.uid} did not reach ${typeof until === 'string' ? until : 'the expected state'} within ${timeoutMs} ms ` +
          `(status ${s.order.status}, attempts ${s.attempts.map((a) => `${a.state}${a.reason ? ` (${a.reason})` : ''}`).join(', ') || 'none'})`);
      }
      await sleep(25);
    }
  };

  const call = async (method: string, args: unknown = []): Promise<CallResult> => {
    const r = await host.sandbox.invoke(key, method, args);
    const requestsSent = r.ctx.counters.outboundRequests;
    return r.ok ? { ok: true, value: r.value, callId: r.callId, requestsSent } : { ok: false, error: r.error, callId: r.callId, requestsSent };
  };
  const valueOf = (r: CallResult, what: string) => {
    if (!r.ok) throw new Error(`testkit: ${what} failed (${r.error.kind}): ${r.error.message}`);
    return r.value;
  };

  const routeFor = async (currency: string, outSymbol: string): Promise<string> => {
    const known = routes.get(`${currency}:${outSymbol}`);
    if (known) return known;
    const route = await host.store.createRoute({
      fromXml: 'USDTTRC20', toXml: currency, outSymbol, rate: '1', minAmount: '0.000001', maxAmount: '1000000000',
      payoutPlugin: key, autoPayout: false, active: true,
    });
    routes.set(`${currency}:${outSymbol}`, route._id);
    return route._id;
  };
  const currencyOf = (c: string | undefined): string => {
    const currency = c ?? started.plugin.manifest.allow_XML[0];
    if (!currency) throw new Error(`testkit: plugin ${key} declares no currencies; pass currency`);
    return currency;
  };

  const createOrder = async (input: OrderInput): Promise<Order> => {
    const currency = currencyOf(input.currency);
    const routeId = await routeFor(currency, input.outSymbol ?? guessSymbol(currency));
    const { order } = await host.orders.create({
      routeId, amount: input.amount, agreement: true, lang: input.lang ?? 'en',
      toValues: Object.entries(input.values ?? {}).map(([k, value]) => ({ key: k, value })),
    }, { ip: '127.0.0.1' });
    return order;
  };

  const pay = async (orderId: string): Promise<PayoutState> => {
    const before = (await host.store.listAttempts(orderId)).length;
    await host.orders.transition(orderId, 'inProgress', { actor: 'admin', comment: 'testkit: the customer paid', expectStatus: 'new' });
    await host.orders.transition(orderId, 'inProgressPayout', { actor: 'admin', comment: 'testkit: pay out', expectStatus: 'inProgress' });
    // The kit's routes have no autoPayout (so the sweep never starts payouts behind a test's
    // back): start it as an administrator would, then wait for the attempt to leave DISPATCHING.
    host.payouts.kick(orderId);
    return waitFor(orderId, (s) => s.attempts.length > before && s.attempt !== null && !SETTLING.has(s.attempt.state),
      host.options.transferWallMs + 10_000);
  };

  const grant = (g: GrantInput) => started.grant(g);
  // What the kit set, so it can sign test webhooks with the secret the host verifies with.
  const configSet = new Map<string, string>();
  const setConfig = async (k: string, v: string | number | boolean | null) => {
    await host.hostApi.config.set(key, k, v);
    if (v === null) configSet.delete(k); else configSet.set(k, String(v));
  };
  const sender: WebhookSender = { host, key, baseUrl: started.baseUrl, plugin: () => started.plugin, configValue: (k) => configSet.get(k) };
  const fakeProvider = async (r: FakeRoutes | FakeProviderScript, o: { urlConfigKey?: string } = {}): Promise<FakeProvider> => {
    const script: FakeProviderScript = typeof (r as FakeProviderScript).routes === 'object' || typeof (r as FakeProviderScript).routes === 'function'
      ? r as FakeProviderScript : { routes: r as FakeRoutes };
    const p = await startFakeProvider(routesOf(script));
    providers.push(p);
    await grant(p.origin);
    for (const [k, v] of Object.entries(script.config ?? {})) await setConfig(k, v);
    const urlKey = o.urlConfigKey ?? script.urlConfigKey;
    if (urlKey) await setConfig(urlKey, p.url);
    return p;
  };

  let provider: FakeProvider | null = null;
  try {
    const cron = started.plugin.cron;
    // Same job, same lease rules for runNow; only the timer is moved out of any test's way.
    if (cron && (options.cron ?? 'manual') === 'manual') host.cron.schedule(key, { schedule: '0 0 1 1 *', callWhenInit: false });
    for (const [k, v] of Object.entries(options.config ?? {})) await setConfig(k, v);
    for (const g of options.grants ?? []) await grant(g);
    if (options.provider) provider = await fakeProvider(options.provider);
  } catch (err) {
    await started.close();
    await Promise.all(providers.map((p) => p.close()));
    throw err;
  }

  return {
    key, format, baseUrl: started.baseUrl, adminToken: started.adminToken, host, provider, events,
    get plugin() { return started.plugin; },
    get engine() { return started.plugin.engine; },
    call,
    async getFields(currency, lang = 'en') {
      return valueOf(await call('getFields', [lang, currencyOf(currency)]), 'getFields');
    },
    transfer(order) {
      const currency = currencyOf(order.outXML);
      const full: PayoutOrderArg = {
        _id: crypto.randomBytes(12).toString('hex'), uid: 1, status: 'inProgressPayout', inAmount: order.outAmount, inXML: 'USDTTRC20',
        outXML: currency, outSymbol: guessSymbol(currency), outValues: {}, createdAt: new Date().toISOString(), ...order,
      };
      return call('transfer', [full]);
    },
    status(p) {
      return call('status', [{ reference: p.reference, orderId: p.orderId ?? '000000000000000000000000', orderUid: 1, amount: p.amount ?? '0', currency: p.currency ?? '' }]);
    },
    createOrder,
    pay,
    async payout(input) { return pay((await createOrder(input))._id); },
    state,
    waitFor,
    webhook: (input = {}) => sendWebhook(sender, input),
    signWebhook: (rawBody, sign) => signFor(sender, rawBody, `/payout_call/${encodeURIComponent(key)}/webhook/`, sign),
    async runCron() {
      if (!started.plugin.cron) throw new Error(`testkit: plugin ${key} has no cron job (initCron)`);
      const deadline = Date.now() + host.options.cronWallMs;
      for (;;) {
        const outcome = await host.cron.runNow(key);
        if (outcome.ran || outcome.reason !== 'overlap' || Date.now() > deadline) return outcome;
        await sleep(20);
      }
    },
    sweep: () => host.sweepNow(),
    async audit(filter = {}) {
      await host.hostApi.audit.flush();
      return (await host.store.queryAudit({ plugin: key, limit: 10_000, ...filter })).reverse();
    },
    async log(filter = {}) {
      await host.hostApi.pluginLog.flush();
      const lines = (await host.store.queryPluginLog({ plugin: key, limit: 10_000 })).reverse();
      return filter.callId ? lines.filter((l) => l.callId === filter.callId) : lines;
    },
    setConfig,
    grant,
    fakeProvider,
    async close() {
      await started.close();
      await Promise.all(providers.map((p) => p.close()));
    },
  };
}
