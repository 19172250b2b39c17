// Argument checks shared by every adapter, so SQLite and MongoDB refuse exactly the same inputs with
// the same words. Each check returns a clean copy holding only the known keys: nothing a caller adds
// (an `_id`, a `$`-key, a prototype trick) reaches a row or a document.
import { StoreInputError } from './errors.ts';
import { ATTEMPT_STATES, ORDER_STATUSES, PLUGIN_SOURCE_KINDS } from './types.ts';
import type {
  AttemptState, AuditQuery, FieldValue, NetworkGrant, NewAuditRecord, NewIpn, NewOrder, NewRoute,
  NewWebhookDelivery, OrderStatus, PayoutTx, PendingPluginUpdate, PluginCapabilitySet, PluginConfigEntry, PluginLogLine,
  PluginEngineChoice, PluginRecord, PluginVersion,
} from './types.ts';
import type { AttemptPatch, IpnResult, NewAttempt, OrderTransition } from './store.ts';

type Obj = Record<string, unknown>;
const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 60))}` : `${typeof v} ${String(v).slice(0, 60)}`;

export class Checker {
  readonly op: string;
  constructor(op: string) { this.op = op; }
  fail(message: string): never { throw new StoreInputError(this.op, message); }
  object(name: string, v: unknown): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`${name} must be an object, got ${describe(v)}`);
    return v as Obj;
  }
  text(name: string, v: unknown, opts: { empty?: boolean } = {}): string {
    if (typeof v !== 'string') this.fail(`${name} must be a string, got ${describe(v)}`);
    if (!opts.empty && v.length === 0) this.fail(`${name} must not be empty`);
    return v;
  }
  /** Null must be said: a missing field is more often a misspelt one than a deliberate null. */
  textOrNull(name: string, v: unknown): string | null {
    if (v === undefined) this.fail(`${name} must be a string or null, got undefined`);
    return v === null ? null : this.text(name, v, { empty: true });
  }
  bool(name: string, v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(`${name} must be true or false, got ${describe(v)}`);
    return v;
  }
  int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`${name} must be an integer from ${min} to ${max}, got ${describe(v)}`);
    }
    return v;
  }
  number(name: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${name} must be a finite number, got ${describe(v)}`);
    return v;
  }
  oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(`${name} must be one of ${allowed.join(', ')}; got ${describe(v)}`);
    }
    return v as T;
  }
  listOf<T>(name: string, v: unknown, each: (item: unknown, itemName: string) => T, opts: { nonEmpty?: boolean } = {}): T[] {
    if (!Array.isArray(v)) this.fail(`${name} must be an array, got ${describe(v)}`);
    if (opts.nonEmpty && v.length === 0) this.fail(`${name} must not be empty`);
    return v.map((item, i) => each(item, `${name}[${i}]`));
  }
  /** Times are stored as canonical ISO-8601 UTC strings so that string order is time order in both stores. */
  time(name: string, v: unknown): string {
    // Parsed once: new Date(string) parses exactly as Date.parse does.
    const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(ms)) this.fail(`${name} must be an ISO-8601 time, got ${describe(v)}`);
    const canonical = new Date(ms).toISOString();
    if (canonical.length !== 24) this.fail(`${name} is outside years 0000..9999: ${v}`);
    return canonical;
  }
  timeOrNull(name: string, v: unknown): string | null {
    if (v === undefined) this.fail(`${name} must be an ISO-8601 time or null, got undefined`);
    return v === null ? null : this.time(name, v);
  }
  stringMap(name: string, v: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(this.object(name, v))) out[k] = this.text(`${name}.${k}`, val, { empty: true });
    return out;
  }
  limit(v: unknown, fallback: number, max: number): number {
    return v === undefined ? fallback : this.int('limit', v, 1, max);
  }
  /** Only the keys listed may appear; an unknown key is a typo or an attack, and both deserve a loud refusal. */
  onlyKeys(name: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.fail(`${name} has unknown field ${JSON.stringify(k)}; allowed: ${allowed.join(', ')}`);
  }
}

const fieldValues = (c: Checker, name: string, v: unknown): FieldValue[] =>
  c.listOf(name, v, (item, n) => {
    const o = c.object(n, item);
    const fv: FieldValue = { key: c.text(`${n}.key`, o.key), value: c.text(`${n}.value`, o.value, { empty: true }) };
    if (o.name !== undefined) fv.name = c.text(`${n}.name`, o.name, { empty: true });
    return fv;
  });

const NEW_ORDER_KEYS = [
  'secret', 'status', 'routeId', 'inAmount', 'outAmount', 'fromXml', 'toXml', 'outSymbol', 'fromValues', 'toValues',
  'routeValues', 'lang', 'agreement', 'hideOutData', 'clientCallbackUrl', 'ipnUrl', 'ipnSecret', 'partner', 'payoutModule',
  'payoutStatus', 'orderNote', 'holdReason',
] as const;

export function checkNewOrder(v: unknown): NewOrder {
  const c = new Checker('createOrder');
  const o = c.object('order', v);
  c.onlyKeys('order', o, NEW_ORDER_KEYS);
  return {
    secret: c.text('secret', o.secret), status: c.oneOf('status', o.status, ORDER_STATUSES),
    routeId: c.text('routeId', o.routeId, { empty: true }),
    inAmount: c.text('inAmount', o.inAmount), outAmount: c.text('outAmount', o.outAmount),
    fromXml: c.text('fromXml', o.fromXml), toXml: c.text('toXml', o.toXml), outSymbol: c.text('outSymbol', o.outSymbol, { empty: true }),
    fromValues: fieldValues(c, 'fromValues', o.fromValues), toValues: fieldValues(c, 'toValues', o.toValues),
    routeValues: fieldValues(c, 'routeValues', o.routeValues),
    lang: c.text('lang', o.lang), agreement: c.bool('agreement', o.agreement), hideOutData: c.bool('hideOutData', o.hideOutData),
    clientCallbackUrl: c.textOrNull('clientCallbackUrl', o.clientCallbackUrl), ipnUrl: c.textOrNull('ipnUrl', o.ipnUrl),
    ipnSecret: c.textOrNull('ipnSecret', o.ipnSecret), partner: c.textOrNull('partner', o.partner),
    payoutModule: c.textOrNull('payoutModule', o.payoutModule), payoutStatus: c.textOrNull('payoutStatus', o.payoutStatus),
    orderNote: c.textOrNull('orderNote', o.orderNote), holdReason: c.textOrNull('holdReason', o.holdReason),
  };
}

export function checkNewIpn(op: string, v: unknown): NewIpn {
  const c = new Checker(op);
  const o = c.object('ipn', v);
  c.onlyKeys('ipn', o, ['orderId', 'status', 'url', 'fields', 'maxAttempts']);
  return {
    orderId: c.text('ipn.orderId', o.orderId), status: c.oneOf('ipn.status', o.status, ORDER_STATUSES),
    url: c.text('ipn.url', o.url), fields: c.stringMap('ipn.fields', o.fields), maxAttempts: c.int('ipn.maxAttempts', o.maxAttempts, 1, 1000),
  };
}

export function checkTransition(v: unknown): OrderTransition {
  const c = new Checker('transitionOrder');
  const o = c.object('transition', v);
  c.onlyKeys('transition', o, ['orderId', 'expectStatus', 'expectPayoutModule', 'toStatus', 'patch', 'history', 'ipn']);
  const t: OrderTransition = {
    orderId: c.text('orderId', o.orderId),
    expectStatus: c.listOf('expectStatus', o.expectStatus, (s, n) => c.oneOf(n, s, ORDER_STATUSES), { nonEmpty: true }),
    toStatus: c.oneOf('toStatus', o.toStatus, ORDER_STATUSES),
    history: { actor: '', comment: null },
  };
  if (o.expectPayoutModule !== undefined) t.expectPayoutModule = c.text('expectPayoutModule', o.expectPayoutModule);
  if (o.patch !== undefined) {
    const p = c.object('patch', o.patch);
    const keys = ['payoutStatus', 'orderNote', 'holdReason', 'payoutModule'] as const;
    c.onlyKeys('patch', p, keys);
    t.patch = {};
    for (const k of keys) if (p[k] !== undefined) t.patch[k] = c.textOrNull(`patch.${k}`, p[k]);
  }
  const h = c.object('history', o.history);
  t.history = { actor: c.text('history.actor', h.actor), comment: c.textOrNull('history.comment', h.comment) };
  if (h.payoutStatus !== undefined) t.history.payoutStatus = c.textOrNull('history.payoutStatus', h.payoutStatus);
  if (o.ipn !== undefined && o.ipn !== null) {
    t.ipn = checkNewIpn('transitionOrder', o.ipn);
    // The IPN is the merchant's notice of this very transition; one for another order or status would lie to them.
    if (t.ipn.orderId !== t.orderId) c.fail(`ipn.orderId ${t.ipn.orderId} differs from orderId ${t.orderId}`);
    if (t.ipn.status !== t.toStatus) c.fail(`ipn.status ${t.ipn.status} differs from toStatus ${t.toStatus}`);
  }
  return t;
}

export const LEASE_MS_MAX = 7 * 24 * 3600_000;

export function checkNewAttempt(v: unknown): NewAttempt {
  const c = new Checker('createAttempt');
  const o = c.object('attempt', v);
  c.onlyKeys('attempt', o, ['orderId', 'plugin', 'owner', 'leaseMs']);
  return {
    orderId: c.text('orderId', o.orderId), plugin: c.text('plugin', o.plugin), owner: c.text('owner', o.owner),
    leaseMs: c.int('leaseMs', o.leaseMs, 1, LEASE_MS_MAX),
  };
}

export function checkAttemptStates(op: string, name: string, v: unknown): AttemptState[] {
  const c = new Checker(op);
  return c.listOf(name, v, (s, n) => c.oneOf(n, s, ATTEMPT_STATES), { nonEmpty: true });
}

export function checkAttemptPatch(v: unknown): AttemptPatch {
  const c = new Checker('updateAttempt');
  const o = c.object('patch', v);
  const out: AttemptPatch = {};
  c.onlyKeys('patch', o, ['state', 'requestsSent', 'transaction', 'reportedAmount', 'reportedCurrency', 'reason', 'reviewDeadline', 'leaseUntil']);
  if (o.state !== undefined) out.state = c.oneOf('patch.state', o.state, ATTEMPT_STATES);
  if (o.requestsSent !== undefined) out.requestsSent = c.int('patch.requestsSent', o.requestsSent, 0);
  for (const k of ['transaction', 'reportedAmount', 'reportedCurrency', 'reason'] as const) {
    if (o[k] !== undefined) out[k] = c.textOrNull(`patch.${k}`, o[k]);
  }
  if (o.reviewDeadline !== undefined) out.reviewDeadline = c.timeOrNull('patch.reviewDeadline', o.reviewDeadline);
  if (o.leaseUntil !== undefined) out.leaseUntil = c.timeOrNull('patch.leaseUntil', o.leaseUntil);
  return out;
}

export function checkNewTx(v: unknown): Omit<PayoutTx, '_id' | 'createdAt' | 'updatedAt'> {
  const c = new Checker('insertPayoutTx');
  const o = c.object('tx', v);
  c.onlyKeys('tx', o, ['order', 'transaction', 'payoutModule', 'active', 'amount', 'currency', 'to', 'note', 'attemptId']);
  return {
    order: c.text('order', o.order), transaction: c.text('transaction', o.transaction, { empty: true }),
    payoutModule: c.text('payoutModule', o.payoutModule), active: c.bool('active', o.active),
    amount: c.text('amount', o.amount), currency: c.text('currency', o.currency),
    to: c.textOrNull('to', o.to), note: c.textOrNull('note', o.note), attemptId: c.textOrNull('attemptId', o.attemptId),
  };
}

export function checkConfigEntry(v: unknown): Omit<PluginConfigEntry, 'updatedAt'> {
  const c = new Checker('setConfig');
  const o = c.object('entry', v);
  c.onlyKeys('entry', o, ['plugin', 'key', 'value', 'secret']);
  return { plugin: c.text('plugin', o.plugin), key: c.text('key', o.key), value: c.text('value', o.value, { empty: true }), secret: c.bool('secret', o.secret) };
}

export function checkGrant(v: unknown): Omit<NetworkGrant, 'updatedAt'> {
  const c = new Checker('upsertGrant');
  const o = c.object('grant', v);
  c.onlyKeys('grant', o, ['plugin', 'origin', 'pathPrefix', 'methods', 'requested', 'approved', 'approvedBy', 'approvedAt']);
  return {
    plugin: c.text('plugin', o.plugin), origin: c.text('origin', o.origin), pathPrefix: c.textOrNull('pathPrefix', o.pathPrefix),
    methods: o.methods === null ? null : c.listOf('methods', o.methods, (m, n) => c.text(n, m)),
    requested: c.bool('requested', o.requested), approved: c.bool('approved', o.approved),
    approvedBy: c.textOrNull('approvedBy', o.approvedBy), approvedAt: c.timeOrNull('approvedAt', o.approvedAt),
  };
}

// Batches from hot paths (audit, plugin log): unknown keys are dropped rather than refused, because
// one refused record fails its whole batch, and callers keep a failed batch to retry it.
export function checkAuditRecords(v: unknown): NewAuditRecord[] {
  const c = new Checker('appendAudit');
  return c.listOf('records', v, (item, n) => {
    const o = c.object(n, item);
    return {
      at: c.time(`${n}.at`, o.at), plugin: c.textOrNull(`${n}.plugin`, o.plugin), actor: c.text(`${n}.actor`, o.actor),
      callId: c.textOrNull(`${n}.callId`, o.callId), capability: c.text(`${n}.capability`, o.capability),
      decision: c.oneOf(`${n}.decision`, o.decision, ['allowed', 'denied', 'error'] as const),
      rule: c.textOrNull(`${n}.rule`, o.rule), summary: c.text(`${n}.summary`, o.summary, { empty: true }),
      durationMs: c.number(`${n}.durationMs`, o.durationMs),
    };
  });
}

export function checkAuditQuery(v: unknown): Required<Pick<AuditQuery, 'limit'>> & AuditQuery {
  const c = new Checker('queryAudit');
  const o = c.object('query', v);
  const q: Required<Pick<AuditQuery, 'limit'>> & AuditQuery = { limit: c.limit(o.limit, 100, 10_000) };
  if (o.plugin !== undefined) q.plugin = c.text('plugin', o.plugin);
  if (o.capability !== undefined) q.capability = c.text('capability', o.capability);
  if (o.decision !== undefined) q.decision = c.oneOf('decision', o.decision, ['allowed', 'denied', 'error'] as const);
  if (o.callId !== undefined) q.callId = c.text('callId', o.callId);
  if (o.since !== undefined) q.since = c.time('since', o.since);
  if (o.until !== undefined) q.until = c.time('until', o.until);
  return q;
}

export function checkIpnResult(v: unknown): IpnResult {
  const c = new Checker('completeIpn');
  const o = c.object('result', v);
  const r: IpnResult = { state: c.oneOf('state', o.state, ['sent', 'failed', 'pending'] as const), lastError: c.textOrNull('lastError', o.lastError) };
  if (r.state === 'pending') r.nextAttemptAt = c.time('nextAttemptAt (required when state is pending)', o.nextAttemptAt);
  if (o.attempt !== undefined) r.attempt = c.int('attempt', o.attempt, 1);
  return r;
}

export function checkWebhook(v: unknown): NewWebhookDelivery {
  const c = new Checker('recordWebhook');
  const o = c.object('delivery', v);
  c.onlyKeys('delivery', o, ['plugin', 'callback', 'receivedAt', 'method', 'ip', 'headers', 'query', 'body', 'bodyEncoding']);
  return {
    plugin: c.text('plugin', o.plugin), callback: c.text('callback', o.callback), receivedAt: c.time('receivedAt', o.receivedAt),
    method: c.text('method', o.method), ip: c.text('ip', o.ip, { empty: true }), headers: c.stringMap('headers', o.headers),
    query: c.stringMap('query', o.query), body: c.text('body', o.body, { empty: true }),
    bodyEncoding: c.oneOf('bodyEncoding', o.bodyEncoding, ['utf8', 'base64'] as const),
  };
}

const ROUTE_KEYS = ['fromXml', 'toXml', 'outSymbol', 'rate', 'minAmount', 'maxAmount', 'payoutPlugin', 'autoPayout', 'active'] as const;
function routeField(c: Checker, k: (typeof ROUTE_KEYS)[number], v: unknown): string | boolean | null {
  if (k === 'payoutPlugin') return c.textOrNull(k, v);
  if (k === 'autoPayout' || k === 'active') return c.bool(k, v);
  return c.text(k, v, { empty: k === 'outSymbol' });
}
export function checkRoute(v: unknown): NewRoute {
  const c = new Checker('createRoute');
  const o = c.object('route', v);
  c.onlyKeys('route', o, ROUTE_KEYS);
  return Object.fromEntries(ROUTE_KEYS.map((k) => [k, routeField(c, k, o[k])])) as unknown as NewRoute;
}
export function checkRoutePatch(v: unknown): Partial<NewRoute> {
  const c = new Checker('updateRoute');
  const o = c.object('patch', v);
  c.onlyKeys('patch', o, ROUTE_KEYS);
  return Object.fromEntries(ROUTE_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, routeField(c, k, o[k])])) as Partial<NewRoute>;
}

export function checkLogLines(v: unknown): Omit<PluginLogLine, '_id'>[] {
  const c = new Checker('appendPluginLog');
  return c.listOf('lines', v, (item, n) => {
    const o = c.object(n, item);
    return {
      plugin: c.text(`${n}.plugin`, o.plugin), at: c.time(`${n}.at`, o.at),
      level: c.oneOf(`${n}.level`, o.level, ['debug', 'info', 'warn', 'error'] as const),
      callId: c.textOrNull(`${n}.callId`, o.callId), text: c.text(`${n}.text`, o.text, { empty: true }),
    };
  });
}

export function checkOrderStatus(op: string, v: unknown): OrderStatus {
  return new Checker(op).oneOf('status', v, ORDER_STATUSES);
}

// ---- plugin records -------------------------------------------------------------------------------

const textList = (c: Checker, name: string, v: unknown): string[] => c.listOf(name, v, (s, n) => c.text(n, s));

function checkCapabilitySet(c: Checker, name: string, v: unknown): PluginCapabilitySet {
  const o = c.object(name, v);
  c.onlyKeys(name, o, ['network', 'config', 'hostModules', 'capabilities', 'bridgeRequests', 'configOrigins', 'callbacks', 'cron']);
  const optionalList = (field: 'bridgeRequests' | 'configOrigins' | 'callbacks') => (o[field] === undefined ? {} : { [field]: textList(c, `${name}.${field}`, o[field]) });
  return {
    network: c.listOf(`${name}.network`, o.network, (item, n) => {
      const r = c.object(n, item);
      c.onlyKeys(n, r, ['origin', 'methods', 'pathPrefix']);
      return {
        origin: c.text(`${n}.origin`, r.origin), methods: r.methods === null ? null : textList(c, `${n}.methods`, r.methods),
        pathPrefix: c.textOrNull(`${n}.pathPrefix`, r.pathPrefix),
      };
    }),
    config: c.listOf(`${name}.config`, o.config, (item, n) => {
      const r = c.object(n, item);
      c.onlyKeys(n, r, ['key', 'secret']);
      return { key: c.text(`${n}.key`, r.key), secret: c.bool(`${n}.secret`, r.secret) };
    }),
    hostModules: textList(c, `${name}.hostModules`, o.hostModules),
    capabilities: textList(c, `${name}.capabilities`, o.capabilities),
    ...optionalList('bridgeRequests'), ...optionalList('configOrigins'), ...optionalList('callbacks'),
    ...(o.cron === undefined ? {} : { cron: c.textOrNull(`${name}.cron`, o.cron) }),
  };
}

const VERSION_KEYS = ['id', 'packageName', 'version', 'integrity', 'contentHash', 'capabilities', 'scriptsNotRun', 'source',
  'approvedBy', 'approvedAt', 'keptAt'] as const;

function checkPluginVersion(c: Checker, name: string, v: unknown): PluginVersion {
  const o = c.object(name, v);
  c.onlyKeys(name, o, VERSION_KEYS);
  const s = c.object(`${name}.source`, o.source);
  c.onlyKeys(`${name}.source`, s, ['kind', 'spec', 'registry', 'tarballUrl']);
  return {
    id: c.text(`${name}.id`, o.id), packageName: c.textOrNull(`${name}.packageName`, o.packageName),
    version: c.textOrNull(`${name}.version`, o.version), integrity: c.textOrNull(`${name}.integrity`, o.integrity),
    contentHash: c.text(`${name}.contentHash`, o.contentHash),
    capabilities: checkCapabilitySet(c, `${name}.capabilities`, o.capabilities),
    scriptsNotRun: textList(c, `${name}.scriptsNotRun`, o.scriptsNotRun),
    source: {
      kind: c.oneOf(`${name}.source.kind`, s.kind, PLUGIN_SOURCE_KINDS), spec: c.textOrNull(`${name}.source.spec`, s.spec),
      registry: c.textOrNull(`${name}.source.registry`, s.registry), tarballUrl: c.textOrNull(`${name}.source.tarballUrl`, s.tarballUrl),
    },
    approvedBy: c.textOrNull(`${name}.approvedBy`, o.approvedBy), approvedAt: c.timeOrNull(`${name}.approvedAt`, o.approvedAt),
    keptAt: c.textOrNull(`${name}.keptAt`, o.keptAt),
  };
}

function checkPending(c: Checker, v: unknown): PendingPluginUpdate | null {
  if (v === null) return null;
  const o = c.object('pending', v);
  c.onlyKeys('pending', o, ['stagingId', 'version', 'widened', 'stagedBy', 'stagedAt']);
  const w = c.object('pending.widened', o.widened);
  c.onlyKeys('pending.widened', w, ['network', 'config', 'capabilities']);
  return {
    stagingId: c.text('pending.stagingId', o.stagingId), version: checkPluginVersion(c, 'pending.version', o.version),
    widened: {
      network: textList(c, 'pending.widened.network', w.network), config: textList(c, 'pending.widened.config', w.config),
      capabilities: textList(c, 'pending.widened.capabilities', w.capabilities),
    },
    stagedBy: c.text('pending.stagedBy', o.stagedBy), stagedAt: c.time('pending.stagedAt', o.stagedAt),
  };
}

export function checkPluginRecord(v: unknown): Omit<PluginRecord, 'updatedAt'> {
  const c = new Checker('putPluginRecord');
  const o = c.object('record', v);
  c.onlyKeys('record', o, ['key', 'revision', 'current', 'previous', 'pending', 'updatedAt']);
  if (o.pending === undefined) c.fail('pending must be an object or null, got undefined');
  return {
    key: c.text('key', o.key), revision: c.int('revision', o.revision, 0),
    current: checkPluginVersion(c, 'current', o.current),
    previous: c.listOf('previous', o.previous, (item, n) => checkPluginVersion(c, n, item)),
    pending: checkPending(c, o.pending),
  };
}

/** Length bounds of a merchant idempotency key: long enough to be unguessable, short enough to index. */
export const IDEMPOTENCY_KEY_MIN = 16;
export const IDEMPOTENCY_KEY_MAX = 128;
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]+$/;

export function checkIdempotencyKey(op: string, v: { key: string; fingerprint: string }): { key: string; fingerprint: string } {
  const c = new Checker(op);
  const key = c.text('key', v?.key);
  if (key.length < IDEMPOTENCY_KEY_MIN || key.length > IDEMPOTENCY_KEY_MAX || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new StoreInputError(op, `key must be ${IDEMPOTENCY_KEY_MIN}-${IDEMPOTENCY_KEY_MAX} visible ASCII characters`);
  }
  return { key, fingerprint: c.text('fingerprint', v?.fingerprint) };
}

/** An engine name: the store does not know the engines, only what a name may look like. */
const ENGINE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function checkEngineChoice(v: unknown): Omit<PluginEngineChoice, 'chosenAt'> {
  const c = new Checker('setPluginEngineChoice');
  const o = c.object('choice', v);
  c.onlyKeys('choice', o, ['plugin', 'engine', 'chosenBy', 'chosenAt']);
  const engine = c.text('engine', o.engine);
  if (!ENGINE_NAME_PATTERN.test(engine)) c.fail(`engine must be an engine name such as isolated-vm (lower-case letters, digits, '-'; at most 32), got ${JSON.stringify(engine.slice(0, 60))}`);
  return { plugin: c.text('plugin', o.plugin), engine, chosenBy: c.text('chosenBy', o.chosenBy) };
}
