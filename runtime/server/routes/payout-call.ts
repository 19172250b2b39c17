// `/payout_call/:payoutKey/:callback/` — where payment providers deliver webhooks to a plugin's
// callbacks.js handler (platform format: `(req, res, param)`).
//
// A delivery goes: 404 for an unknown plugin or callback (before the body is read) → per-plugin
// rate limit (429) → body limit (413) → the plugin's inbox quota (429 rows, 413 bytes; nothing
// stored) → the raw body is written to the webhook inbox → the delivery waits for the plugin's
// turn, at most queueWaitMs (else 429 with Retry-After, and it never runs) → the plugin runs in its
// sandbox with its whole deadline, counted from its turn → its response is sent as soon as it calls
// res.end → the inbox row is finished with what was sent, or with the error.
//
// - Every content type is accepted and kept raw (our own parser, encapsulated in this plugin):
//   param.post is the parsed JSON or form body, or the text itself for anything else;
//   param.rawBody is the exact bytes as utf8 for signature checks; the inbox keeps utf8, or
//   base64 when the bytes are not utf8.
// - req.IP_ADDRESS is Fastify's request.ip: the socket peer, unless the server was created with
//   `trustProxy` (e.g. Fastify({ trustProxy: '10.0.0.0/8' }) behind a load balancer), in which
//   case X-Forwarded-For is believed from those proxies only. Plugins that allow-list provider
//   IPs depend on this being set right.
// - One 404, the same bytes, for a plugin that does not exist, one that exists but is not active
//   (refused, tampered, unapproved), and a callback the plugin does not have: all three are decided
//   by one in-memory lookup before the body is read, so neither the answer nor its cost tells an
//   outside caller which plugins a host runs or what their callbacks are called.
// - Duplicate deliveries are harmless: each is kept in the inbox, and a plugin's updateHistory
//   is compare-and-set, so a replayed "done" changes nothing the second time.
// - Plugin responses pass through only a short header allowlist (never Set-Cookie or Location),
//   and are served with a sandboxing CSP: a plugin echoing input cannot script the host's origin.
import type http from 'node:http';
import querystring from 'node:querystring';
import { isUtf8 } from 'node:buffer';
import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallbackResponse } from '../../sandbox/protocol.ts';
import type { Store } from '../../store/store.ts';
import { crashPoint } from '../../testing-seams/crash-hook.ts';
import { webhookBytes, webhookResultBytes } from '../../store/records.ts';
import type { Admission, QuotaLimit } from '../../retention/webhook-quota.ts';
import { codeForStatus, errorBody, errorMessage, isErrorCode } from '../../errors.ts';
import type { ErrorBody, ErrorCode } from '../../errors.ts';
import { loggableError } from '../http-errors.ts';
import { pathParam } from './request-data.ts';

export type CallbackInvokeResult =
  | { ok: true; callId?: string; value?: unknown }
  | { ok: false; error: { kind: string; message: string; retryInMs?: number }; callId?: string };
export type CallbackInvoke = (
  key: string, method: string, args: unknown,
  opts: { wallMs: number; waitMs: number; onStart: () => void; signal: AbortSignal; onRespond: (r: CallbackResponse) => void },
) => Promise<CallbackInvokeResult>;

export interface PayoutCallOptions {
  store: Pick<Store, 'recordWebhook' | 'finishWebhook'>;
  invoke: CallbackInvoke;
  /** The active plugin's callbacks; null when no such plugin is active. */
  pluginInfo: (key: string) => { callbacks: string[] } | null;
  /** The plugin must answer within this once it runs (the call's deadline too). */
  wallMs: number;
  /**
   * How long a delivery may wait for the plugin's turn (its queue, a reload) before it is refused
   * with 429 and Retry-After, nothing run; waiting never shortens `wallMs`. Default: `wallMs`.
   */
  queueWaitMs?: number;
  bodyLimitBytes: number;
  /** Deliveries per plugin per minute, all callers together. */
  ratePerMinute: number;
  onEvent?: (event: WebhookEvent) => void;
  /**
   * Whether the plugin would refuse a call now without running it (paused, over its budget, queue
   * full): such a delivery is answered 503/429 before anything is stored (SandboxHost.refusesNow).
   */
  refusesNow?: (key: string, what: string) => { kind: string; message: string; retryInMs?: number } | null;
  /** The per-plugin inbox quota (retention/webhook-quota.ts); without it every delivery is stored. */
  quota?: { admit(plugin: string, bytes: number): Promise<Admission>; charge(plugin: string, bytes: number): void };
  /** A delivery refused by the quota (for the metric and the aggregated audit line). */
  onQuotaRefused?: (plugin: string, limit: QuotaLimit, message: string) => void;
  /** What the callback returned (SDK plugins return payout updates for the host to apply). */
  onResult?: (plugin: string, callback: string, value: unknown) => Promise<void>;
}

export type WebhookOutcome = 'answered' | 'no_answer' | 'timeout' | 'plugin_failed' | 'unavailable' | 'throttled' | 'not_recorded' | 'over_quota';
export interface WebhookEvent {
  kind: 'webhook';
  plugin: string;
  callback: string;
  inboxId: string | null;
  outcome: WebhookOutcome;
  status: number;
  durationMs: number;
}

interface Params { payoutKey: string; callback: string }
interface Answer { outcome: WebhookOutcome; status: number; headers: Record<string, string>; body: string }

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
// The host's own session must never reach plugin code or the inbox.
const NOT_FOR_PLUGINS = new Set(['cookie']);
const RESPONSE_HEADER_ALLOWLIST = new Set(['content-type', 'content-language', 'cache-control', 'retry-after', 'etag', 'x-request-id']);
const ALWAYS_ON_PLUGIN_RESPONSES = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
  'x-content-type-options': 'nosniff',
};
const INBOX_RESPONSE_MAX = 16 * 1024;
const NAME_SHOWN_MAX = 100;
/** The one answer for every name that does not lead to an active plugin's callback. */
export const NO_SUCH_CALLBACK = Object.freeze(errorBody('CALLBACK_NOT_FOUND'));
/** A full inbox frees up only as retention deletes old rows: ask the provider to come back much later. */
const QUOTA_RETRY_AFTER_S = '3600';

export async function payoutCallRoutes(app: FastifyInstance, opts: PayoutCallOptions): Promise<void> {
  const queueWaitMs = opts.queueWaitMs ?? opts.wallMs;
  for (const [k, v] of [['wallMs', opts.wallMs], ['queueWaitMs', queueWaitMs], ['bodyLimitBytes', opts.bodyLimitBytes], ['ratePerMinute', opts.ratePerMinute]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`payoutCallRoutes: ${k} must be a positive integer, got ${v}`);
  }
  const pending = new Set<Promise<void>>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(errorBody('CALLBACK_BODY_TOO_LARGE', errorMessage('CALLBACK_BODY_TOO_LARGE', { limit: opts.bodyLimitBytes })));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody(isErrorCode(err.code) ? err.code : codeForStatus(status), err.message, { status }));
    req.log.error({ err: loggableError(err) }, 'payout_call failed');
    return reply.code(500).send(errorBody('CALLBACK_PLUGIN_FAILED'));
  });

  // Runs before the rate limit (instance hooks precede route hooks) and before the body is read:
  // probing unknown names costs neither a body read nor another plugin's rate budget.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // Hooks run before the route's schema: read the router's parameters through a check.
    const info = opts.pluginInfo(pathParam(req, 'payoutKey'));
    if (!info?.callbacks.includes(pathParam(req, 'callback'))) return reply.code(404).send(NO_SUCH_CALLBACK);
  });

  await app.register(rateLimit, {
    global: true,
    max: opts.ratePerMinute,
    timeWindow: 60_000,
    // One budget per plugin, whoever calls: it protects the sandbox and the other plugins.
    keyGenerator: (req) => `payout_call:${pathParam(req, 'payoutKey')}`,
    errorResponseBuilder: (req, ctx) => Object.assign(
      new Error(errorMessage('CALLBACK_RATE_LIMITED', { plugin: shown(pathParam(req, 'payoutKey')), max: ctx.max, after: ctx.after })),
      { statusCode: ctx.statusCode, code: 'CALLBACK_RATE_LIMITED' },
    ),
  });

  app.addHook('onClose', async () => {
    await Promise.allSettled([...pending]);
  });

  const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const started = performance.now();
    const { payoutKey, callback } = req.params;
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = headersForPlugin(req.raw.headers);
    const query = parseQuery(req.url);
    const utf8 = isUtf8(raw);
    const emit = (inboxId: string | null, a: Pick<Answer, 'outcome' | 'status'>) => {
      try {
        opts.onEvent?.({ kind: 'webhook', plugin: payoutKey, callback, inboxId, outcome: a.outcome, status: a.status, durationMs: Math.round(performance.now() - started) });
      } catch {
        // metrics/logging must not break a delivery
      }
    };

    const delivery = {
      plugin: payoutKey, callback, receivedAt: new Date().toISOString(), method: req.method, ip: req.ip ?? '', headers,
      query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      body: utf8 ? raw.toString('utf8') : raw.toString('base64'), bodyEncoding: utf8 ? 'utf8' as const : 'base64' as const,
    };
    // A plugin refusing calls now would refuse this one too: answer as the call would be answered,
    // but before the body is stored, so an anonymous flood against it grows nothing.
    const refusing = opts.refusesNow?.(payoutKey, `callback:${callback}`) ?? null;
    if (refusing) {
      const a = refusalAnswer(refusing);
      emit(null, a);
      return reply.code(a.status).headers(a.headers).send(a.body);
    }
    let admission: Admission;
    try {
      admission = opts.quota ? await opts.quota.admit(payoutKey, webhookBytes(delivery)) : { ok: true, release: () => {} };
    } catch (err) {
      // The inbox's size could not be read: the delivery cannot be accounted for, as below.
      req.log.error({ err, plugin: payoutKey, callback }, 'payout_call: could not read the inbox quota');
      emit(null, { outcome: 'not_recorded', status: 503 });
      return reply.code(503).header('retry-after', '30').send(errorBody('CALLBACK_NOT_RECORDED'));
    }
    if (!admission.ok) {
      try {
        opts.onQuotaRefused?.(payoutKey, admission.limit, admission.message);
      } catch {
        // counting must not break the answer
      }
      const status = admission.limit === 'rows' ? 429 : 413;
      emit(null, { outcome: 'over_quota', status });
      return reply.code(status).header('retry-after', QUOTA_RETRY_AFTER_S)
        .send(quotaRefusal(admission.limit, admission.message));
    }

    let inboxId: string;
    try {
      inboxId = (await opts.store.recordWebhook(delivery))._id;
    } catch (err) {
      admission.release();
      // Without an inbox row the delivery would be unaccounted for: refuse, so the provider retries.
      req.log.error({ err, plugin: payoutKey, callback }, 'payout_call: could not record the delivery');
      emit(null, { outcome: 'not_recorded', status: 503 });
      return reply.code(503).header('retry-after', '30').send(errorBody('CALLBACK_NOT_RECORDED'));
    }

    crashPoint('webhook-after-inbox');
    const rawBody = raw.toString('utf8');
    const post = parsePost(headers['content-type'], raw, rawBody);
    const args = {
      name: callback,
      req: { method: req.method, ip: req.ip ?? '', url: req.url, path: req.url.split('?')[0], headers, query, body: post },
      param: { post, get: query, rawBody },
    };

    let answered: (a: Answer) => void = () => {};
    const firstAnswer = new Promise<Answer>((resolve) => { answered = resolve; });
    let sent: Answer | null = null;
    const answer = (a: Answer) => {
      if (sent) return;
      sent = a;
      answered(a);
    };
    // Two clocks: the wait for the plugin's turn (queue, reload), then its own deadline from the
    // moment it runs. A delivery still waiting is refused, retryable, and never runs afterwards.
    const waiting = new AbortController();
    let timer = setTimeout(() => {
      waiting.abort();
      answer(refusalAnswer({ kind: 'throttled' }));
    }, queueWaitMs);
    const onStart = () => {
      clearTimeout(timer);
      timer = setTimeout(() => answer(plain('timeout', 'CALLBACK_PLUGIN_TIMEOUT', `the plugin did not answer within ${opts.wallMs} ms`)), opts.wallMs);
    };
    const call = opts.invoke(payoutKey, 'callback', args, { wallMs: opts.wallMs, waitMs: queueWaitMs, onStart, signal: waiting.signal, onRespond: (r) => answer(fromPlugin(r)) })
      .catch((err): CallbackInvokeResult => ({ ok: false, error: { kind: 'invoke_failed', message: (err as Error)?.message ?? String(err) } }));
    const finished = call.then(async (result) => {
      clearTimeout(timer);
      if (result.ok) answer(plain('no_answer', 'CALLBACK_PLUGIN_FAILED', 'the plugin finished without answering'));
      else if (result.error.kind === 'deadline') answer(plain('timeout', 'CALLBACK_PLUGIN_TIMEOUT', `the plugin did not answer within ${opts.wallMs} ms`));
      else if (REFUSALS.has(result.error.kind)) answer(refusalAnswer(result.error));
      else answer(plain('plugin_failed', 'CALLBACK_PLUGIN_FAILED'));
      const a = sent!;
      const error = result.ok
        ? (a.outcome === 'answered' ? null : 'the plugin finished without answering')
        : `${result.error.kind}: ${result.error.message}`;
      if (!result.ok) req.log.warn({ plugin: payoutKey, callback, inbox: inboxId, kind: result.error.kind }, 'payout callback failed');
      if (result.ok && opts.onResult) await opts.onResult(payoutKey, callback, result.value);
      const kept = { responseBody: a.body.length > INBOX_RESPONSE_MAX ? `${a.body.slice(0, INBOX_RESPONSE_MAX)}… [truncated]` : a.body, error };
      await opts.store.finishWebhook(inboxId, { state: result.ok && a.outcome === 'answered' ? 'processed' : 'failed', responseStatus: a.status, ...kept });
      opts.quota?.charge(payoutKey, webhookResultBytes(kept));
    }).catch((err) => req.log.error({ err, plugin: payoutKey, callback, inbox: inboxId }, 'payout_call: could not finish the inbox row'));
    pending.add(finished);
    void finished.finally(() => pending.delete(finished));

    const a = await firstAnswer;
    emit(inboxId, a);
    return reply.code(a.status).headers(a.headers).send(a.body);
  };

  const urls = ['/payout_call/:payoutKey/:callback/'];
  const cfg = app.initialConfig as { ignoreTrailingSlash?: boolean; routerOptions?: { ignoreTrailingSlash?: boolean } };
  // Providers differ on the trailing slash; with ignoreTrailingSlash the router already maps both.
  if (!cfg.ignoreTrailingSlash && !cfg.routerOptions?.ignoreTrailingSlash) urls.push('/payout_call/:payoutKey/:callback');
  for (const url of urls) {
    app.route<{ Params: Params }>({ method: ['GET', 'POST'], url, bodyLimit: opts.bodyLimitBytes, exposeHeadRoute: false, handler });
  }
}

function fromPlugin(r: CallbackResponse): Answer {
  // The isolate hands over whatever writeHead was given; only a real final status goes out.
  const status = Number.isInteger(r.status) && r.status >= 200 && r.status <= 599 ? r.status : 500;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    const n = name.toLowerCase();
    if (RESPONSE_HEADER_ALLOWLIST.has(n) && typeof value === 'string' && value.length <= 1000 && !/[\u0000-\u001f\u007f]/.test(value)) headers[n] = value;
  }
  if (!headers['content-type']) headers['content-type'] = 'text/plain; charset=utf-8';
  return { outcome: 'answered', status, headers: { ...headers, ...ALWAYS_ON_PLUGIN_RESPONSES }, body: typeof r.body === 'string' ? r.body : '' };
}

/**
 * Failures that mean the plugin refused to run the call now, or that cut it for no fault of this
 * delivery (isolate_reset: another call breached a limit); the provider may retry later.
 */
const REFUSALS = new Set(['circuit_open', 'throttled', 'sandbox_unavailable', 'isolate_reset']);

function refusalAnswer(error: { kind: string; retryInMs?: number }): Answer {
  if (error.kind === 'throttled') return { ...plain('throttled', 'CALLBACK_PLUGIN_BUSY', 'the payout plugin is busy; try again later'), headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': retryAfter(error, 1) } };
  if (error.kind === 'circuit_open') return { ...plain('unavailable', 'CALLBACK_PLUGIN_UNAVAILABLE', 'the payout plugin is paused after repeated faults; try again later'), headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': retryAfter(error, 30) } };
  return { ...plain('unavailable', 'CALLBACK_PLUGIN_UNAVAILABLE', 'the payout plugin is restarting; try again later'), headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' } };
}

/** Retry-After in whole seconds: when the plugin said it may be called again, else `fallbackS`. */
function retryAfter(error: { retryInMs?: number }, fallbackS: number): string {
  return String(error.retryInMs ? Math.max(1, Math.ceil(error.retryInMs / 1000)) : fallbackS);
}

function plain(outcome: WebhookOutcome, code: ErrorCode, message?: string): Answer {
  const body = errorBody(code, message);
  return { outcome, status: body.statusCode, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

/** The inbox quota refused the delivery: too many rows waiting (429) or too many bytes (413). */
function quotaRefusal(limit: QuotaLimit, detail: string): ErrorBody {
  const code = limit === 'rows' ? 'CALLBACK_INBOX_FULL' : 'CALLBACK_INBOX_BYTES';
  return errorBody(code, errorMessage(code, { detail }));
}

function shown(name: string): string {
  const s = String(name);
  return JSON.stringify(s.length > NAME_SHOWN_MAX ? `${s.slice(0, NAME_SHOWN_MAX)}…` : s).replace(/^"|"$/g, "'");
}

function headersForPlugin(raw: http.IncomingHttpHeaders): Record<string, string> {
  const named = String(raw.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const n = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(n) || NOT_FOR_PLUGINS.has(n) || named.includes(n)) continue;
    out[n] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseQuery(url: string): Record<string, string | string[]> {
  const i = url.indexOf('?');
  if (i < 0) return {};
  return { ...querystring.parse(url.slice(i + 1)) } as Record<string, string | string[]>;
}

/** JSON and form bodies parsed (by their Content-Type), anything else as its text; {} when empty. */
function parsePost(contentType: string | undefined, raw: Buffer, text: string): unknown {
  if (raw.length === 0) return {};
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (type === 'application/x-www-form-urlencoded') return { ...querystring.parse(text) };
  return text;
}
