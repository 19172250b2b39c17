// Orders from the merchant's side: create (validated against the route and, inside the plugin's
// isolate, against the payout plugin's own fields), look up by uid + secret, move through the
// status table, and the view a merchant or customer may see. Money moves belong to the payout flow;
// this service refuses an admin settlement while a payout attempt is live.
import crypto from 'node:crypto';
import type { AuditLog } from '../../host-api/audit.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { SandboxHost } from '../sandbox/sandbox-host.ts';
import { NOT_DISPATCHED } from '../sandbox/protocol.ts';
import type { IdempotencyKey, Store, TransitionResult } from '../store/store.ts';
import { ORDER_STATUSES } from '../store/types.ts';
import type { FieldValue, NewIpn, NewOrder, Order, OrderStatus, Route } from '../store/types.ts';
import { compareAmounts, computeOutAmount, isPositiveDecimal } from './amount.ts';
import { checkMerchantUrl, loopbackOriginSet, returnUrl } from './merchant-url.ts';
import { OrderFormError } from './order-errors.ts';
import type { FieldProblem } from './order-errors.ts';
import { normaliseLang, readIdempotencyKey, readOrderForm } from './order-form.ts';
import type { OrderForm, OrderLang } from './order-form.ts';
import { allowedNext, canTransition, finalOutcome, isPayoutSettlement } from './transitions.ts';

export interface OrderServiceDeps {
  store: Store;
  sandbox: Pick<SandboxHost, 'invoke'>;
  /** The loaded, active plugin for a key (PluginRegistry.active), or null. */
  activePlugin(key: string): LoadedPlugin | null;
  audit: Pick<AuditLog, 'record'>;
  /** The order's IPN for a status (buildIpn from runtime/ipn with the server's maxAttempts), or null. */
  buildIpn(order: Order, status: OrderStatus): NewIpn | null;
  /** Called after an order entered inProgressPayout (the orchestrator starts the payout). */
  onEnteredPayout?(order: Order): void | Promise<void>;
  /** Called after a transition enqueued an IPN (the IPN dispatcher sends it now instead of at its next poll). */
  onIpnEnqueued?(): void;
  /** Wall-clock budget of the plugin's field validation at create time (ServerOptions.getFieldsWallMs). */
  getFieldsWallMs: number;
  /** Loopback origins clientCallbackUrl/ipnUrl may use (demo, tests): ServerOptions.ipnLoopbackOrigins. */
  allowLoopbackOrigins?: string[];
  /** Where failures of onEnteredPayout are reported; they never undo the transition. */
  logError?(message: string, err: unknown): void;
}

export interface OrderLinks { payment: string; order: string }

export interface PublicOrderView {
  orderId: string;
  uid: number;
  status: OrderStatus;
  /** 'success' | 'error' once the order is final, else null. */
  final: 'success' | 'error' | null;
  inAmount: string;
  outAmount: string;
  fromXml: string;
  toXml: string;
  outSymbol: string;
  lang: OrderLang;
  hideOutData: boolean;
  /** Null when the merchant asked to hide the recipient's details. */
  toValues: { key: string; name: string; value: string }[] | null;
  /** clientCallbackUrl with ?status=success|error, only once the order is final. */
  returnUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TransitionOptions {
  actor: 'admin' | 'system';
  comment?: string | null;
  /** The status the caller saw; the move is refused (409) if the order has moved on since. */
  expectStatus?: OrderStatus;
  /** Set by the hold resolution (POST …/resolve), the one admin path past a payout under review. */
  resolving?: boolean;
}

const SECRET_BYTES = 24; // 32 url-safe characters
const MAX_COMMENT = 1000;
const FIELD_KINDS_UNAVAILABLE: Record<string, string> = {
  cpu_limit: 'its field check ran out of time', deadline: 'its field check ran out of time',
  circuit_open: 'it is paused after repeated faults', not_loaded: 'it is not loaded',
  sandbox_crashed: 'its sandbox restarted', memory_limit: 'it ran out of memory',
  throttled: 'it is busy', sandbox_unavailable: 'its sandbox is restarting', load_failed: 'it could not be loaded',
};

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text, 'utf8').digest();
}
// Compared against when the uid does not exist, so both failures cost the same work.
const DUMMY_SECRET_DIGEST = digest(crypto.randomBytes(SECRET_BYTES).toString('base64url'));

interface FieldDef { _id: string; name: string; required: boolean }
interface FieldCheck { supported: boolean; fields: FieldDef[]; errors: { key: string; message: string }[] }

/** The isolate's answer crosses as JSON from a trusted prelude; still, read it without trusting its shape. */
function readFieldCheck(v: unknown): FieldCheck | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.supported !== 'boolean' || !Array.isArray(o.fields) || !Array.isArray(o.errors)) return null;
  const fields: FieldDef[] = [];
  for (const f of o.fields as unknown[]) {
    const r = f as Record<string, unknown> | null;
    if (!r || typeof r._id !== 'string') return null;
    fields.push({ _id: r._id, name: typeof r.name === 'string' ? r.name : r._id, required: r.required === true });
  }
  const errors: FieldCheck['errors'] = [];
  for (const e of o.errors as unknown[]) {
    const r = e as Record<string, unknown> | null;
    if (!r || typeof r.key !== 'string' || typeof r.message !== 'string') return null;
    errors.push({ key: r.key, message: r.message });
  }
  return { supported: o.supported, fields, errors };
}

export class OrderService {
  private readonly deps: OrderServiceDeps;
  private readonly loopback: Set<string>;

  constructor(deps: OrderServiceDeps) {
    this.deps = deps;
    this.loopback = loopbackOriginSet(deps.allowLoopbackOrigins);
  }

  /**
   * Creates an order in status `new` from a decoded body (parseJsonBody / parseFormBody output, or
   * an object). Throws OrderFormError: 400 malformed, 404 unknown route, 409 route closed,
   * 422 refused (agreement, limits, the plugin's field checks), 503 payout method unavailable.
   */
  async create(body: unknown, meta: { ip: string; idempotencyKey?: string | null }): Promise<{ order: Order; links: OrderLinks; replayed: boolean }> {
    const started = performance.now();
    const form = readOrderForm(body);
    const idempotency = idempotencyOf(form, meta.idempotencyKey);
    if (idempotency) {
      // The same key answers the same order, even if the direction has closed since: checked first.
      const known = await this.deps.store.findOrderByIdempotencyKey(idempotency.key);
      if (known) return this.replay(known.fingerprint === idempotency.fingerprint ? known.order : null, meta.ip, started);
    }
    if (!form.agreement) {
      throw new OrderFormError('agreement', 'agreement must be true: the customer has to accept the exchange terms before the order is created', 422);
    }
    const clientCallbackUrl = form.clientCallbackUrl && checkMerchantUrl('clientCallbackUrl', form.clientCallbackUrl, this.loopback);
    const ipnUrl = form.ipnUrl && checkMerchantUrl('ipnUrl', form.ipnUrl, this.loopback);
    if (ipnUrl && !form.ipnSecret) {
      throw new OrderFormError('ipnSecret', 'ipnSecret is required with ipnUrl: a random string of at least 8 characters that signs each IPN (the hash field)');
    }

    const route = await this.deps.store.getRoute(form.routeId);
    if (!route) throw new OrderFormError('routeId', `no exchange direction has the id ${form.routeId}; check the routeId`, 404);
    if (!route.active) throw new OrderFormError('routeId', `the direction ${route.fromXml} → ${route.toXml} is not taking orders right now; try later or choose another direction`, 409);
    const outAmount = this.checkAmount(route, form.amount);

    const pluginKey = route.payoutPlugin;
    if (!pluginKey || !this.deps.activePlugin(pluginKey)) {
      throw new OrderFormError(null, `the payout method for ${route.toXml} is unavailable right now; try again later or choose another direction`, 503);
    }
    const toValues = await this.checkPayoutFields(route, pluginKey, form, meta.ip);

    const newOrder: NewOrder = {
      secret: crypto.randomBytes(SECRET_BYTES).toString('base64url'),
      status: 'new', routeId: route._id, inAmount: form.amount, outAmount,
      fromXml: route.fromXml, toXml: route.toXml, outSymbol: route.outSymbol,
      fromValues: form.fromValues, toValues, routeValues: form.routeValues,
      lang: form.lang, agreement: true, hideOutData: form.hideOutData,
      clientCallbackUrl, ipnUrl, ipnSecret: form.ipnSecret, partner: form.partner,
      payoutModule: pluginKey, payoutStatus: null, orderNote: null, holdReason: null,
    };
    let order: Order;
    if (idempotency) {
      const once = await this.deps.store.createOrderOnce(newOrder, idempotency);
      // A concurrent request with the key won the race: its order is the answer.
      if (once.outcome !== 'created') return this.replay(once.outcome === 'replayed' ? once.order : null, meta.ip, started);
      order = once.order;
    } else {
      order = await this.deps.store.createOrder(newOrder);
    }
    this.deps.audit.record({
      plugin: null, actor: 'merchant', callId: null, capability: 'merchant.order.create', decision: 'allowed', rule: null,
      summary: `order ${order.uid} (${order._id}): ${order.inAmount} ${order.fromXml} → ${order.outAmount} ${order.toXml} on route ${route._id}` +
        `${form.partner ? `, partner ${form.partner}` : ''}, from ${meta.ip}`,
      durationMs: performance.now() - started,
    });
    return { order, links: this.links(order), replayed: false };
  }

  /** The answer to a repeated key: the order it created, or a refusal when the request differs. */
  private replay(order: Order | null, ip: string, started: number): { order: Order; links: OrderLinks; replayed: boolean } {
    if (!order) {
      throw new OrderFormError('idempotencyKey', 'this Idempotency-Key was already used for a different order request; ' +
        'send exactly the same request to get that order back, or use a new key for a new order', 422);
    }
    this.deps.audit.record({
      plugin: null, actor: 'merchant', callId: null, capability: 'merchant.order.create', decision: 'allowed', rule: 'idempotency-key',
      summary: `order ${order.uid} (${order._id}) answered again for a repeated Idempotency-Key, from ${ip}`,
      durationMs: performance.now() - started,
    });
    return { order, links: this.links(order), replayed: true };
  }

  private checkAmount(route: Route, amount: string): string {
    if (!isPositiveDecimal(route.rate)) {
      throw new OrderFormError('routeId', `the direction ${route.fromXml} → ${route.toXml} has no valid rate configured; it cannot take orders until an administrator fixes it`, 503);
    }
    if (compareAmounts(amount, route.minAmount) < 0) {
      throw new OrderFormError('amount', `amount ${amount} is below this direction's minimum of ${route.minAmount} ${route.fromXml}; send at least ${route.minAmount}`, 422);
    }
    if (compareAmounts(amount, route.maxAmount) > 0) {
      throw new OrderFormError('amount', `amount ${amount} is above this direction's maximum of ${route.maxAmount} ${route.fromXml}; send at most ${route.maxAmount}`, 422);
    }
    const out = computeOutAmount(amount, route.rate, route.outSymbol);
    if (!isPositiveDecimal(out)) {
      throw new OrderFormError('amount', `amount ${amount} ${route.fromXml} buys less than the smallest payable unit of ${route.outSymbol}; send more`, 422);
    }
    return out;
  }

  /** Runs getFields and the plugin's patterns inside its isolate (a plugin regexp never runs here). */
  private async checkPayoutFields(route: Route, pluginKey: string, form: OrderForm, ip: string): Promise<FieldValue[]> {
    const values = Object.fromEntries(form.toValues.map((v) => [v.key, v.value]));
    const result = await this.deps.sandbox.invoke(pluginKey, 'validateFields', { lang: form.lang, xml: route.toXml, values }, { wallMs: this.deps.getFieldsWallMs });
    const check = result.ok ? readFieldCheck(result.value) : null;
    if (!check) {
      const kind = result.ok ? 'bad_result' : result.error.kind;
      this.deps.audit.record({
        plugin: pluginKey, actor: 'merchant', callId: result.callId, capability: 'merchant.order.validateFields', decision: 'error',
        rule: `plugin.${kind}`, summary: `field check for ${route.toXml} from ${ip} failed: ${result.ok ? 'malformed result' : result.error.message}`,
        durationMs: result.stats?.wallMs ?? 0,
      });
      // Refused before the plugin's check ran (paused, busy, restarting): says nothing about the
      // order, so the answer is "the same order again shortly", never a refusal of the order.
      if (!result.ok && NOT_DISPATCHED.has(result.error.kind)) {
        throw new OrderFormError(null, `the payout method for ${route.toXml} is briefly unavailable (${FIELD_KINDS_UNAVAILABLE[kind] ?? 'it is not taking calls right now'}); nothing was checked or created: send the same order again in a minute`, 503);
      }
      const why = FIELD_KINDS_UNAVAILABLE[kind] ?? 'its field check failed';
      throw new OrderFormError(null, `the payout method for ${route.toXml} is unavailable right now (${why}); try again later or choose another direction`, 503);
    }
    if (!check.supported) {
      throw new OrderFormError('routeId', `the payout method of this direction does not pay out ${route.toXml}; choose another direction`, 422);
    }
    const byId = new Map(check.fields.map((f) => [f._id, f]));
    const indexOf = new Map(form.toValues.map((v, i) => [v.key, i]));
    const problems: FieldProblem[] = [];
    const expected = check.fields.map((f) => `${f._id} (${f.name})`).join(', ') || 'no fields';
    form.toValues.forEach((v, i) => {
      if (!byId.has(v.key)) problems.push({ field: `toValues[${i}][key]`, message: `toValues[${i}][key]: unknown field ${JSON.stringify(v.key)} for ${route.toXml}; this direction takes ${expected}` });
    });
    for (const e of check.errors) {
      const i = indexOf.get(e.key);
      const name = byId.get(e.key)?.name ?? e.key;
      if (i === undefined) {
        const n = form.toValues.length;
        problems.push({ field: 'toValues', message: `${name} is required: add toValues[${n}][key]=${e.key} and toValues[${n}][value]=…` });
      } else {
        problems.push({ field: `toValues[${i}][value]`, message: `toValues[${i}][value] (${e.key}, ${name}): ${e.message}` });
      }
    }
    if (problems.length) throw new OrderFormError(problems[0].field, problems[0].message, 422, { details: problems });
    return form.toValues.map((v) => ({ key: v.key, value: v.value, name: byId.get(v.key)?.name ?? v.key }));
  }

  /** The order for a uid and its secret, or null; the secret is compared in constant time. */
  async findByUidAndSecret(uid: number | string, secret: string): Promise<Order | null> {
    const n = typeof uid === 'number' ? uid : /^[1-9]\d{0,15}$/.test(uid) ? Number(uid) : NaN;
    const order = Number.isSafeInteger(n) && n > 0 ? await this.deps.store.getOrderByUid(n) : null;
    const given = digest(typeof secret === 'string' ? secret : '');
    const same = crypto.timingSafeEqual(given, order ? digest(order.secret) : DUMMY_SECRET_DIGEST);
    return order && same ? order : null;
  }

  /**
   * Moves an order to `to` as `actor`, per the status table, with history and IPN in one store step.
   * Throws OrderFormError 400 (bad status), 404 (no order) or 409 (not allowed now; carries the
   * current status). Admin moves are audited, refused ones included.
   */
  async transition(orderId: string, to: OrderStatus, options: TransitionOptions): Promise<Order> {
    const started = performance.now();
    const actor = options.actor;
    if (!(ORDER_STATUSES as readonly string[]).includes(to)) {
      throw new OrderFormError('status', `unknown status ${JSON.stringify(String(to).slice(0, 40))}; the statuses are ${ORDER_STATUSES.join(', ')}`);
    }
    const comment = options.comment ? String(options.comment).slice(0, MAX_COMMENT) : null;
    const audit = (decision: 'allowed' | 'denied' | 'error', rule: string | null, summary: string): void => {
      if (actor !== 'admin') return;
      this.deps.audit.record({
        plugin: null, actor: 'admin', callId: null, capability: 'admin.order.status', decision, rule,
        summary: `order ${orderId}: ${summary}${comment ? ` (comment: ${comment})` : ''}`, durationMs: performance.now() - started,
      });
    };
    const refuse = (rule: string, field: string, message: string, status: number, current: OrderStatus | null): never => {
      audit('denied', rule, message);
      throw new OrderFormError(field, message, status, { currentStatus: current });
    };

    const order = typeof orderId === 'string' && orderId !== '' ? await this.deps.store.getOrder(orderId) : null;
    if (!order) return refuse('order.not-found', 'orderId', `no order has the id ${JSON.stringify(String(orderId).slice(0, 40))}`, 404, null);
    const from = order.status;
    if (options.expectStatus !== undefined && options.expectStatus !== from) {
      return refuse('order.status-changed', 'status', `order ${order.uid} is ${from}, not ${options.expectStatus}; reload it and decide again`, 409, from);
    }
    if (!canTransition(actor, from, to)) {
      const next = allowedNext(actor, from);
      return refuse('order.status-table', 'status', `order ${order.uid} cannot go from ${from} to ${to} (${actor}); allowed from ${from}: ${next.join(', ') || 'none, it is final'}`, 409, from);
    }
    if (actor === 'admin') {
      // While a payout is in flight an administrator may only pause it (→ hold); the sweep then
      // turns the attempt into one waiting for review, which is settled through the resolution.
      const live = await this.deps.store.getLiveAttempt(order._id);
      if (live && !(from === 'inProgressPayout' && to === 'hold')) {
        return refuse('order.live-attempt', 'status', `order ${order.uid} has a payout in progress (attempt ${live._id}, ${live.state}, ${live.plugin}); put it on hold and resolve the payout (POST /api/admin/orders/${order.uid}/resolve) instead of setting ${to} by hand`, 409, from);
      }
      if (!options.resolving && from === 'hold') {
        const review = (await this.deps.store.listAttempts(order._id)).find((a) => a.state === 'NEEDS_REVIEW');
        if (review) {
          return refuse('order.needs-review', 'status', `order ${order.uid} has a payout waiting for review (attempt ${review._id}: ${review.reason ?? 'no reason recorded'}); resolve it as paid, not_paid or retry (POST /api/admin/orders/${order.uid}/resolve)`, 409, from);
        }
      }
    }

    let result: TransitionResult;
    try {
      // The IPN describes the order as it will be after the move.
      const ipn = this.deps.buildIpn({ ...order, status: to }, to);
      result = await this.deps.store.transitionOrder({ orderId: order._id, expectStatus: [from], toStatus: to, history: { actor, comment }, ipn });
    } catch (err) {
      audit('error', 'order.store', `${from} → ${to} failed: ${(err as Error).message}`);
      throw err;
    }
    if (!result.ok) {
      if (result.reason === 'not_found') return refuse('order.not-found', 'orderId', `order ${order.uid} no longer exists`, 404, null);
      const current = result.current?.status ?? null;
      return refuse('order.status-changed', 'status', `order ${order.uid} moved to ${current} meanwhile; reload it and decide again`, 409, current);
    }
    audit('allowed', null, `${from} → ${to} (uid ${order.uid})`);
    if (result.ipn) this.deps.onIpnEnqueued?.();
    if (to === 'inProgressPayout') this.enteredPayout(result.order);
    return result.order;
  }

  private enteredPayout(order: Order): void {
    const report = (err: unknown): void => this.deps.logError?.(`onEnteredPayout failed for order ${order.uid}`, err);
    try {
      Promise.resolve(this.deps.onEnteredPayout?.(order)).catch(report);
    } catch (err) {
      report(err);
    }
  }

  /** What the merchant and the customer may see: never the secrets, the IPN target or internals. */
  publicView(order: Order): PublicOrderView {
    const final = finalOutcome(order.status);
    return {
      orderId: order._id, uid: order.uid, status: order.status, final,
      inAmount: order.inAmount, outAmount: order.outAmount, fromXml: order.fromXml, toXml: order.toXml, outSymbol: order.outSymbol,
      lang: normaliseLang(order.lang) ?? 'en', hideOutData: order.hideOutData,
      toValues: order.hideOutData ? null : order.toValues.map((v) => ({ key: v.key, name: v.name ?? v.key, value: v.value })),
      returnUrl: final ? returnUrl(order.clientCallbackUrl, final) : null,
      createdAt: order.createdAt, updatedAt: order.updatedAt,
    };
  }

  /** The customer's pages, in the order's language unless another is asked for. */
  links(order: Order, lang?: OrderLang): OrderLinks {
    const l = lang ?? normaliseLang(order.lang) ?? 'en';
    const tail = `${order.uid}/${encodeURIComponent(order.secret)}`;
    return { payment: `/${l}/payment/${tail}`, order: `/${l}/order/${tail}` };
  }
}

/**
 * The key (header or body field; both must agree) and a digest of the request it guards. The digest
 * is over the decoded form, so the same order sent as JSON or as a form is the same request.
 */
function idempotencyOf(form: OrderForm, header: string | null | undefined): IdempotencyKey | null {
  const fromHeader = readIdempotencyKey('Idempotency-Key', header);
  if (fromHeader && form.idempotencyKey && fromHeader !== form.idempotencyKey) {
    throw new OrderFormError('idempotencyKey', 'the Idempotency-Key header and the idempotencyKey field differ; send the key once, or the same value in both');
  }
  const key = fromHeader ?? form.idempotencyKey;
  if (!key) return null;
  const { idempotencyKey: _key, ...request } = form;
  return { key, fingerprint: crypto.createHash('sha256').update(JSON.stringify(request)).digest('hex') };
}
