// http.request — everything a plugin can do with the network, and the same guard for requests the
// server makes on its own (merchant IPN).
//
// What a plugin may do:
//   * Send HTTP/1.1 requests (GET HEAD POST PUT PATCH DELETE OPTIONS) to origins an administrator
//     granted to that plugin: scheme + host + port exactly, optionally narrowed to a path prefix and
//     a list of methods. Nothing else: no raw sockets, no CONNECT, no proxy, no other scheme.
//   * Only to public addresses. An IP literal, every DNS answer for a name, and the address the
//     socket actually connected to must all be global unicast; the connection goes to the address
//     that was checked (pinned), never to a fresh lookup.
//   * Loopback only at an origin granted by its loopback literal (http://127.0.0.1:PORT, for a local
//     fake provider), on exactly that port, and only while the host allows loopback grants
//     (allowLoopbackGrants; production servers should turn it off). `localhost` is never looked
//     up; it works only when granted by that very name, and then means 127.0.0.1.
//   * Redirects: followed here (at most 5), each hop checked as above; a redirect to an ungranted
//     or non-public origin is refused and the error says so. Across origins only harmless headers
//     follow (no Authorization, cookies, API-key headers), and a request body never does.
//   * Bounded: connect and total timeouts (and the call's deadline), request and response sizes,
//     requests per call and per minute. Every request handed to a socket is counted in
//     ctx.counters.outboundRequests, which the orchestrator reads to decide whether a payout may
//     have left.
//   * The plugin cannot set framing, Host, proxy or method-override headers, nor the User-Agent.

import type { Capability, HostCallContext, CallCounters } from './capability.ts';
import { PolicyDenied, CapabilityError } from './capability.ts';
import { parseTarget, type AddressInfo } from './http/address-policy.ts';
import { parseHttpRequestArgs, ALLOWED_METHODS, type HttpRequestArgs } from './http/args.ts';
import { sanitiseRequestHeaders, decodeBody, validHeaderName, validHeaderValue } from './http/headers.ts';
import { describeSecretUse, secretHeadersFor, secretKeysOf } from './http/signing.ts';
import { Scrubber } from '../runtime/secrets/scrubber.ts';
import {
  guardedRequest,
  defaultResolver,
  defaultConnector,
  connectionClient,
  Refusal,
  type EgressCaps,
  type EgressEnv,
  type EgressResponse,
  type Gate,
  type Resolver,
  type Connector,
} from './http/egress.ts';
import { ConnectionPools, DEFAULT_POOL_LIMITS, type PoolLimits } from './http/connection-pool.ts';
import { checkPluginGrant, checkSecretBinding, toNormalGrant, type Grant, type NormalGrant } from './http/grants.ts';

export type { HttpRequestArgs, EgressCaps, EgressResponse, Resolver, Connector, PoolLimits };
export { DEFAULT_POOL_LIMITS };
export { ALLOWED_METHODS };
export { classifyAddress, parseTarget } from './http/address-policy.ts';
export { normaliseGrant, type Grant } from './http/grants.ts';

export interface HttpResponseResult {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  url: string;
  redirected: boolean;
}

export const DEFAULT_HTTP_CAPS: Readonly<EgressCaps> = Object.freeze({
  connectTimeoutMs: 5_000,
  totalTimeoutMs: 30_000,
  maxRequestBodyBytes: 1024 * 1024,
  maxResponseBytes: 2 * 1024 * 1024,
  maxRequestsPerCall: 20,
  maxRequestsPerMinute: 120,
  maxRedirects: 5,
});

/** IPN is one POST: a redirect is a misconfigured receiver, not something to chase with signed data. */
export const DEFAULT_SERVER_CAPS: Readonly<EgressCaps> = Object.freeze({ ...DEFAULT_HTTP_CAPS, maxRedirects: 0 });

export const DEFAULT_USER_AGENT = 'payout-sandbox/0.1';

export interface HttpCapabilityOptions {
  /** The approved grants (manifest request ∩ admin approval) of a plugin, looked up per call. */
  grantsFor(plugin: string): Promise<Grant[]>;
  caps?: Partial<EgressCaps>;
  /** Default: node:dns lookup with all:true. Tests inject one so no real lookup happens. */
  resolve?: Resolver;
  /** undici `buildConnector`-compatible; called only with an already checked address as `hostname`. */
  connect?: Connector;
  userAgent?: string;
  /** Clock for the per-minute window. */
  now?: () => number;
  /**
   * Honour grants of loopback origins (local fake providers). Default true. A production server
   * should pass false: an approved `http://127.0.0.1:3000` would otherwise point a plugin at the
   * host's own services.
   */
  allowLoopbackGrants?: boolean;
  /** Reads one of the calling plugin's secrets for host-side auth/signing (SDK format). */
  readSecret?: (plugin: string, key: string) => Promise<string>;
  /**
   * The plugin's manifest network entries: `secrets` on an entry binds those config keys to that
   * origin (host-side secrets go nowhere else). See checkSecretBinding.
   */
  networkOf?: (plugin: string) => readonly { origin: string; secrets?: readonly string[] }[] | undefined;
  /**
   * Removes what the plugin must not read from text going back into its isolate (for SDK-format
   * plugins: their own secrets, which they never read, even when a provider echoes them).
   */
  scrubForPlugin?: (plugin: string, text: string) => string;
  /** Requests one call may make; defaults to caps.maxRequestsPerCall (cron sweeps need more). */
  requestsPerCall?: (ctx: HostCallContext) => number;
  /**
   * Keep-alive connections, one pool per plugin (host-api/http/connection-pool.ts), within these
   * bounds (DEFAULT_POOL_LIMITS for what is left out). false: one connection per request.
   */
  pool?: Partial<PoolLimits> | false;
}

/** Scrubs every text of a response on its way into the isolate; base64 bodies are scrubbed as bytes. */
function scrubResult(result: HttpResponseResult, scrub: (text: string) => string): HttpResponseResult {
  let body = result.body;
  if (result.bodyEncoding === 'base64') {
    const bytes = Buffer.from(body, 'base64').toString('latin1');
    const scrubbed = scrub(bytes);
    if (scrubbed !== bytes) body = Buffer.from(scrubbed, 'latin1').toString('base64');
  } else {
    body = scrub(body);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers)) headers[k] = scrub(v);
  return { ...result, statusText: scrub(result.statusText), headers, body, url: scrub(result.url) };
}

/**
 * Sliding 60-second window of request starts per key. Starts are kept oldest first and expired ones
 * dropped from the front, so a request costs O(1) however many the window holds (a filter over
 * every start of the last minute made each request of a large sweep cost more than the one before).
 */
export class RequestWindow {
  private readonly hits = new Map<string, { starts: number[]; head: number }>();
  private readonly limit: number;
  private readonly now: () => number;
  constructor(limit: number, now: () => number) {
    this.limit = limit;
    this.now = now;
  }
  take(key: string): boolean {
    const t = this.now();
    // Server mode keys by destination origin, so keys come and go; drop idle ones now and then.
    if (this.hits.size > 10_000) {
      for (const [k, v] of this.hits) if (v.head === v.starts.length || t - v.starts[v.starts.length - 1] >= 60_000) this.hits.delete(k);
    }
    let w = this.hits.get(key);
    if (!w) {
      w = { starts: [], head: 0 };
      this.hits.set(key, w);
    }
    while (w.head < w.starts.length && t - w.starts[w.head] >= 60_000) w.head++;
    if (w.head > 1024 && w.head * 2 > w.starts.length) {
      w.starts = w.starts.slice(w.head);
      w.head = 0;
    }
    if (w.starts.length - w.head >= this.limit) return false;
    w.starts.push(t);
    return true;
  }
}

function buildEnv(caps: EgressCaps, o: { resolve?: Resolver; connect?: Connector; userAgent?: string }): EgressEnv {
  for (const [k, v] of Object.entries(caps)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`http caps: ${k} must be a non-negative integer`);
  }
  const userAgent = o.userAgent ?? DEFAULT_USER_AGENT;
  if (!validHeaderValue(userAgent)) throw new Error('http: userAgent is not a valid header value');
  // Our own connector and resolver: the global dispatcher, HTTP_PROXY and friends are never consulted.
  return { caps, resolve: o.resolve ?? defaultResolver(), connect: o.connect ?? defaultConnector(caps), userAgent };
}

export function createHttpCapability(options: HttpCapabilityOptions): Capability<HttpRequestArgs, HttpResponseResult> {
  const caps: EgressCaps = { ...DEFAULT_HTTP_CAPS, ...options.caps };
  const env = buildEnv(caps, options);
  if (options.pool !== false) {
    const limits: PoolLimits = { ...DEFAULT_POOL_LIMITS, ...options.pool };
    env.pools = new ConnectionPools(limits, (t, conn) => connectionClient(env, 'http.request', t, conn, true, limits.idleMs));
  }
  const perMinute = new RequestWindow(caps.maxRequestsPerMinute, options.now ?? Date.now);
  // Keyed by the call's counters object: it lives exactly as long as the call.
  const startedPerCall = new WeakMap<CallCounters, number>();
  // The call's one beforeFirstRequest: concurrent requests of a call all wait for the same one.
  const firstRequestMarked = new WeakMap<CallCounters, Promise<void>>();
  const beforeFirstRequest = async (ctx: HostCallContext): Promise<void> => {
    const hook = ctx.beforeFirstRequest;
    if (!hook) return;
    let marked = firstRequestMarked.get(ctx.counters);
    if (!marked) {
      marked = hook();
      firstRequestMarked.set(ctx.counters, marked);
    }
    try {
      await marked;
    } catch (e) {
      throw new Refusal('http.not-recorded', `http.request refused: ${(e as Error)?.message ?? e}; the request was not sent`);
    }
    // The call may have ended while the mark was written: its outcome may already be judged.
    if (ctx.ended) throw new Refusal('http.call-ended', `the call of plugin '${ctx.plugin}' this request belongs to has ended`);
  };

  return {
    name: 'http.request',

    parse: (raw) => parseHttpRequestArgs(raw),

    summarize(args) {
      let where: string;
      const t = parseTarget(args.url);
      if (t.ok) where = `${t.value.origin}${t.value.pathname}`;
      else {
        try {
          const u = new URL(args.url);
          where = `${u.protocol}//${u.host}${u.pathname} (refusable: ${t.rule})`;
        } catch {
          where = '(unparseable url)';
        }
      }
      const size = args.body === null ? 0 : Buffer.byteLength(args.body, args.bodyEncoding);
      const { stripped } = sanitiseRequestHeaders(args.headers);
      return `${args.method} ${where} body=${size}B${stripped.length ? ` stripped-headers=${stripped.join(',')}` : ''}${describeSecretUse(args.secrets)}`;
    },

    // The provider's answer in the audit record (`… → 201`): what `dev` shows for each request.
    summarizeResult: (r: HttpResponseResult) => ` → ${r.status}`,

    async invoke(ctx: HostCallContext, args: HttpRequestArgs): Promise<HttpResponseResult> {
      let grants: NormalGrant[];
      try {
        grants = (await options.grantsFor(ctx.plugin)).map(toNormalGrant);
      } catch (e) {
        throw new CapabilityError('grants', `http.request: the network grants of plugin '${ctx.plugin}' are invalid: ${(e as Error)?.message ?? e}`);
      }
      const body = args.body === null ? null : Buffer.from(args.body, args.bodyEncoding);
      if (body && body.length > caps.maxRequestBodyBytes) {
        throw new PolicyDenied('http.request-size', `http.request refused: the request body is ${body.length} bytes, over the ${caps.maxRequestBodyBytes}-byte limit`);
      }
      const loopbacks = new Map(
        options.allowLoopbackGrants === false ? [] : grants.filter((g) => g.loopback).map((g) => [g.origin, g.loopback as AddressInfo]),
      );

      const gate: Gate = {
        label: 'http.request',
        poolOwner: ctx.plugin,
        loopbackFor: (t) => loopbacks.get(t.origin) ?? null,
        loopbackOrigins: () => [...loopbacks.keys()],
        checkGrant: (t, method) => checkPluginGrant(ctx.plugin, grants, t, method),
        admit: () => {
          // The call ended (transfer() returned, failed or was cut off): its payout may already be
          // judged; nothing more may leave for it, not even the next hop of a redirect.
          if (ctx.ended) throw new Refusal('http.call-ended', `the call of plugin '${ctx.plugin}' this request belongs to has ended`);
          const started = startedPerCall.get(ctx.counters) ?? 0;
          const perCall = options.requestsPerCall?.(ctx) ?? caps.maxRequestsPerCall;
          if (Math.max(started, ctx.counters.outboundRequests) >= perCall) {
            throw new Refusal('http.rate.call', `plugin '${ctx.plugin}' has used all ${perCall} requests allowed in one call`);
          }
          if (!perMinute.take(ctx.plugin)) {
            throw new Refusal('http.rate.minute', `plugin '${ctx.plugin}' has used all ${caps.maxRequestsPerMinute} requests allowed per minute`);
          }
          startedPerCall.set(ctx.counters, started + 1);
        },
        beforeSend: () => beforeFirstRequest(ctx),
        onSent: () => {
          ctx.counters.outboundRequests++;
        },
      };

      let headers = sanitiseRequestHeaders(args.headers).headers;
      // Header values the host made from the plugin's secrets: they must not come back to it.
      const derived = new Scrubber();
      if (args.secrets) {
        const readSecret = options.readSecret;
        if (!readSecret) throw new PolicyDenied('http.secrets', 'http.request refused: host-side secrets (auth, secretHeaders, sign) are not available on this host');
        const target = parseTarget(args.url);
        if (target.ok) checkSecretBinding(ctx.plugin, secretKeysOf(args.secrets), target.value.origin, grants, options.networkOf?.(ctx.plugin));
        const added = await secretHeadersFor(args.secrets, { method: args.method, url: args.url, headers, body }, (key) => readSecret(ctx.plugin, key));
        for (const [name, value] of Object.entries(added)) {
          if (name === args.secrets.sign?.timestampHeader?.toLowerCase()) continue;
          derived.add(value, 'host-side secret');
          derived.add(value.replace(/^(Bearer|Basic) /, ''), 'host-side secret');
        }
        headers = { ...headers, ...added };
      }
      const res = await guardedRequest(env, gate, {
        method: args.method,
        url: args.url,
        headers,
        body,
        maxResponseBytes: Math.min(caps.maxResponseBytes, args.maxResponseBytes ?? Infinity),
        timeoutMs: Math.min(caps.totalTimeoutMs, args.timeoutMs ?? Infinity),
        deadline: ctx.deadline,
        maxRedirects: caps.maxRedirects,
      });
      let result: HttpResponseResult = {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
        ...decodeBody(res.headers['content-type'], res.body),
        url: res.url,
        redirected: res.redirected,
      };
      // A provider that echoes requests (many error pages do) must not hand a plugin the secret
      // the host applied for it, nor a signature it could replay elsewhere.
      if (derived.size > 0) result = scrubResult(result, (text) => derived.scrub(text));
      const forPlugin = options.scrubForPlugin;
      if (forPlugin) result = scrubResult(result, (text) => forPlugin(ctx.plugin, text));
      return result;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server-originated requests (merchant IPN to an ipnUrl the merchant chose)

export interface ServerEgressOptions {
  /** Starts error messages: 'ipn'. */
  label?: string;
  /**
   * Loopback origins that may be reached (tests, the demo's local merchant): exact
   * `http://127.0.0.1:PORT` style origins. Nothing else non-public is ever reachable: a merchant
   * must not be able to make the server call its own network.
   */
  allowLoopbackOrigins?: string[];
  caps?: Partial<EgressCaps>;
  resolve?: Resolver;
  connect?: Connector;
  userAgent?: string;
  now?: () => number;
}

export interface ServerEgressRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | null;
  /** Epoch ms; default now + totalTimeoutMs. */
  deadline?: number;
  /** Incremented when the request is handed to a socket. */
  counters?: { outboundRequests: number };
}

export interface ServerEgress {
  /** Throws PolicyDenied (refused) or CapabilityError (network, timeout). */
  request(req: ServerEgressRequest): Promise<EgressResponse>;
}

export function createServerEgress(options: ServerEgressOptions = {}): ServerEgress {
  const caps: EgressCaps = { ...DEFAULT_SERVER_CAPS, ...options.caps };
  const env = buildEnv(caps, options);
  const label = options.label ?? 'egress';
  const perMinute = new RequestWindow(caps.maxRequestsPerMinute, options.now ?? Date.now);
  const loopbacks = new Map<string, AddressInfo>();
  for (const o of options.allowLoopbackOrigins ?? []) {
    const g = toNormalGrant({ origin: o, pathPrefix: null, methods: null });
    if (!g.loopback) throw new Error(`allowLoopbackOrigins: ${o} is not a loopback origin`);
    loopbacks.set(g.origin, g.loopback);
  }

  return {
    async request(req) {
      const method = String(req.method).toUpperCase();
      if (!ALLOWED_METHODS.includes(method)) throw new TypeError(`${label}: method ${req.method} is not allowed`);
      const raw = req.headers ?? {};
      for (const [k, v] of Object.entries(raw)) {
        if (!validHeaderName(k) || typeof v !== 'string' || !validHeaderValue(v)) throw new TypeError(`${label}: invalid header ${JSON.stringify(k)}`);
      }
      const body = req.body === undefined || req.body === null ? null : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : Buffer.from(req.body);
      if (body && body.length > caps.maxRequestBodyBytes) {
        throw new PolicyDenied('http.request-size', `${label} refused: the request body is ${body.length} bytes, over the ${caps.maxRequestBodyBytes}-byte limit`);
      }
      let hops = 0;
      const gate: Gate = {
        label,
        loopbackFor: (t) => loopbacks.get(t.origin) ?? null,
        loopbackOrigins: () => [...loopbacks.keys()],
        checkGrant: () => {},
        admit: (t) => {
          if (++hops > caps.maxRequestsPerCall) throw new Refusal('http.rate.call', `more than ${caps.maxRequestsPerCall} requests for one delivery`);
          if (!perMinute.take(t.origin)) throw new Refusal('http.rate.minute', `more than ${caps.maxRequestsPerMinute} requests per minute to ${t.origin}`);
        },
        onSent: () => {
          if (req.counters) req.counters.outboundRequests++;
        },
      };
      return guardedRequest(env, gate, {
        method,
        url: req.url,
        headers: sanitiseRequestHeaders(raw).headers,
        body,
        maxResponseBytes: caps.maxResponseBytes,
        timeoutMs: caps.totalTimeoutMs,
        deadline: req.deadline ?? Date.now() + caps.totalTimeoutMs,
        maxRedirects: caps.maxRedirects,
      });
    },
  };
}
