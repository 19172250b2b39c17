// The guarded request engine shared by plugin requests (http.request) and server-originated ones
// (merchant IPN). Per hop: vet the URL, ask the gate (grants, rate caps), check the literal or every
// DNS answer, connect to a checked address only (pinned), re-check the socket's remote address,
// then send. Redirects are followed here, by hand, so every hop goes through the same checks.
//
// Plugin requests reuse keep-alive connections from their plugin's own pool (connection-pool.ts):
// a connection is reused only for the same origin and only while its address is among the answers
// this very request resolved and checked, and any socket it opens goes through the same pinned,
// checked connector. Server-originated requests (no pool owner) use one connection per hop,
// closed afterwards. The global dispatcher, with whatever proxy the environment configures, is
// never involved.

import { Client, buildConnector } from 'undici';
import type { Socket } from 'node:net';
import { PolicyDenied, CapabilityError } from '../capability.ts';
import { Connection, type ConnectionUse } from './connection-pool.ts';
import { parseTarget, hostForUrl, type Target, type AddressInfo, type Verdict } from './address-policy.ts';
import { Refusal, type Connector, type EgressCaps, type EgressEnv, type EgressRequest, type EgressResponse, type Gate, type Resolver } from './egress-types.ts';
import { abortable, checkRemote, literalPins, resolvePins } from './address-pins.ts';
import { headersForCrossOrigin, withoutBodyHeaders, flattenResponseHeaders } from './headers.ts';

// The types live in egress-types.ts, where-to-connect in address-pins.ts; callers import them here.
export { Refusal };
export type { Connector, EgressCaps, EgressEnv, EgressRequest, EgressResponse, Gate, Resolver };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function defaultResolver(): Resolver {
  return async (hostname) => {
    const { lookup } = await import('node:dns/promises');
    return lookup(hostname, { all: true, verbatim: true });
  };
}

export function defaultConnector(caps: Pick<EgressCaps, 'connectTimeoutMs'>): Connector {
  // HTTP/1.1 only: one request per connection is what the counting and pinning reason about.
  return buildConnector({ timeout: caps.connectTimeoutMs, allowH2: false });
}

export function toPolicyDenied(label: string, e: Refusal): PolicyDenied {
  return new PolicyDenied(e.rule, `${label} refused: ${e.reason}`);
}

/** Runs one guarded request, following redirects. Throws PolicyDenied or CapabilityError. */
export async function guardedRequest(env: EgressEnv, gate: Gate, req: EgressRequest): Promise<EgressResponse> {
  const first = parseTarget(req.url);
  if (!first.ok) throw new PolicyDenied(first.rule, `${gate.label} refused: ${first.reason}`);
  const budget = Math.min(req.timeoutMs, req.deadline - Date.now());
  if (!(budget > 0)) {
    throw new CapabilityError('deadline', `${gate.label}: the call's deadline has passed; no request was sent`);
  }
  const why = budget < req.timeoutMs ? "the call's deadline" : `the ${req.timeoutMs} ms request timeout`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('egress timeout')), budget);
  const signal = controller.signal;

  let target = first.value;
  let method = req.method;
  let headers = req.headers;
  let body = req.body;
  let from: Target | null = null;

  try {
    for (let hop = 0; ; hop++) {
      let res: HopResult;
      try {
        // Address literals first: "not granted" would be the wrong advice for 10.0.0.1, which no
        // grant can open. Names are looked up only after the grant check, so an ungranted name
        // costs no DNS query.
        const literal = literalPins(gate, target);
        gate.checkGrant(target, method);
        gate.admit(target);
        const pins = literal ?? (await resolvePins(env, gate, target, signal));
        if (gate.beforeSend) await gate.beforeSend();
        res = await sendHop(env, gate, target, pins, method, headers, body, req.maxResponseBytes, signal);
      } catch (e) {
        if (e instanceof Refusal && from) {
          throw new PolicyDenied(
            'http.redirect',
            `${gate.label} refused: redirect from ${shown(from)} to ${shown(target)} was not followed: ${e.reason} [${e.rule}]`,
          );
        }
        throw e;
      }

      if (!(REDIRECTS.has(res.status) && res.location !== undefined) || req.maxRedirects === 0) {
        return { status: res.status, statusText: res.statusText, headers: res.headers, body: res.body, url: target.href, redirected: hop > 0 };
      }
      if (hop >= req.maxRedirects) {
        throw new PolicyDenied(
          'http.redirect.max',
          `${gate.label} refused: more than ${req.maxRedirects} redirects (last: ${shown(target)} → ${shownLocation(res.location)})`,
        );
      }
      const next = redirectTarget(target, res.location);
      if (!next.ok) {
        throw new PolicyDenied(
          'http.redirect',
          `${gate.label} refused: redirect from ${shown(target)} to ${shownLocation(res.location)} was not followed: ${next.reason} [${next.rule}]`,
        );
      }
      // Fetch's method rewrite: 303 always becomes GET; 301/302 turn a POST into GET (what every
      // provider expects); 307/308 keep method and body.
      if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') {
        method = 'GET';
        body = null;
        headers = withoutBodyHeaders(headers);
      }
      if (next.value.origin !== target.origin) {
        if (body !== null) {
          // A 307/308 would replay the body (a signed payout order, say) to a server the plugin did
          // not address. The plugin can send it there itself if that is really meant.
          throw new PolicyDenied(
            'http.redirect',
            `${gate.label} refused: ${res.status} redirect from ${target.origin} to another origin (${next.value.origin}) would resend the request body; send it there explicitly if intended`,
          );
        }
        headers = headersForCrossOrigin(headers);
      }
      from = target;
      target = next.value;
    }
  } catch (e) {
    if (signal.aborted && !(e instanceof PolicyDenied)) {
      throw new CapabilityError('timeout', `${gate.label}: ${target.origin} did not complete within ${budget} ms (${why})`);
    }
    if (e instanceof Refusal) throw toPolicyDenied(gate.label, e);
    if (e instanceof PolicyDenied || e instanceof CapabilityError) throw e;
    throw networkError(gate.label, target, e);
  } finally {
    clearTimeout(timer);
  }
}

// Queries often carry API keys and signatures; messages end up in the audit log and the plugin.
function shown(t: Target): string {
  return `${t.origin}${t.pathname}`;
}

function shownLocation(location: string): string {
  return JSON.stringify(location.split(/[?#]/)[0].slice(0, 200));
}

function redirectTarget(current: Target, location: string): Verdict<Target> {
  // Absolute and scheme-relative locations are vetted as written, like a plugin's own URL.
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location)) return parseTarget(location);
  if (location.startsWith('//') || location.startsWith('\\')) return parseTarget(`${current.scheme}:${location}`);
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(location)) return parseTarget(location);
  let resolved: string;
  try {
    resolved = new URL(location, current.href).href;
  } catch {
    return { ok: false, rule: 'http.url', reason: 'the Location does not parse' };
  }
  const next = parseTarget(resolved);
  // A relative Location must stay on the host; `/\\host` and friends only look relative, and
  // their raw spelling was never vetted.
  if (next.ok && next.value.origin !== current.origin) {
    return { ok: false, rule: 'http.url', reason: 'a relative Location that leaves the origin' };
  }
  return next;
}

interface HopResult {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Buffer;
  location?: string;
}

async function sendHop(
  env: EgressEnv,
  gate: Gate,
  t: Target,
  pins: AddressInfo[],
  method: string,
  headers: Record<string, string>,
  body: Buffer | null,
  maxResponseBytes: number,
  signal: AbortSignal,
): Promise<HopResult> {
  const use: ConnectionUse = {
    pins,
    signal,
    counted: false,
    onSocket: (pin, remote) => {
      const refusal = checkRemote(gate, t, pin, remote);
      if (refusal) return refusal;
      if (signal.aborted) return new Error('aborted');
      countSent(use, gate);
      return null;
    },
  };
  const owner = gate.poolOwner;
  const pools = owner === undefined ? undefined : env.pools;
  const conn = pools ? await pools.acquire(owner!, t, use) : new Connection(t.origin, use, (c) => connectionClient(env, gate.label, t, c, false));
  // A kept connection is already connected and checked: the request is handed to it now. (Should
  // its socket be gone, the connector opens a new one to the same, just re-checked, address.)
  if (conn.address !== null) countSent(use, gate);
  let reusable = false;
  try {
    const res = await conn.client.request({
      path: `${t.pathname}${t.search}`,
      method: method as 'GET',
      headers: { ...headers, 'user-agent': env.userAgent, 'accept-encoding': 'identity' },
      body,
      signal,
      reset: !pools,
    });
    const flat = flattenResponseHeaders(res.headers);
    if (REDIRECTS.has(res.statusCode) && flat.location !== undefined) {
      discard(res.body);
      return { status: res.statusCode, statusText: res.statusText ?? '', headers: flat, body: Buffer.alloc(0), location: flat.location };
    }
    const declared = Number(flat['content-length']);
    if (Number.isFinite(declared) && declared > maxResponseBytes) {
      discard(res.body);
      throw new Refusal('http.response-size', `the response from ${t.origin} declares ${declared} bytes, over the ${maxResponseBytes}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length;
      if (total > maxResponseBytes) {
        discard(res.body);
        throw new Refusal('http.response-size', `the response from ${t.origin} passed the ${maxResponseBytes}-byte limit; reading stopped`);
      }
      chunks.push(chunk as Buffer);
    }
    // Only a response read to its end leaves the connection ready for the next request.
    reusable = !signal.aborted;
    return { status: res.statusCode, statusText: res.statusText ?? '', headers: flat, body: Buffer.concat(chunks, total) };
  } finally {
    if (pools) pools.release(owner!, conn, reusable);
    else conn.destroy();
  }
}

/** Counts the request once as handed to a connected, checked socket. */
function countSent(use: ConnectionUse, gate: Gate): void {
  if (use.counted) return;
  use.counted = true;
  gate.onSent();
}

/** The undici Client behind one connection: HTTP/1.1, one request at a time, our pinned connector. */
export function connectionClient(env: EgressEnv, label: string, t: Target, conn: Connection, keepAlive: boolean, idleMs = 4_000): Client {
  return new Client(`${t.scheme}://${hostForUrl(t.host, t.hostKind)}:${t.port}`, {
    connect: pinnedConnector(env, label, t, conn),
    allowH2: false,
    pipelining: 1,
    ...(keepAlive ? { keepAliveTimeout: idleMs, keepAliveMaxTimeout: idleMs } : {}),
  });
}

/**
 * Wraps the connector so it is only ever asked for an address the current request checked (a
 * pinned connection: only its own address, and only if the request checked it again), then
 * verifies where the socket actually went before undici may write to it. The second check is the
 * one that holds if anything below us (a connector that resolves again, an OS-level rewrite)
 * disobeys the pin.
 */
function pinnedConnector(env: EgressEnv, label: string, t: Target, conn: Connection): Connector {
  const timeoutMs = env.caps.connectTimeoutMs;
  return (opts, callback) => {
    const use = conn.use;
    const pins = conn.candidates();
    if (!use || pins.length === 0) {
      callback(new Refusal('http.remote-address', `${t.origin}: a kept connection may reconnect only to its own address, checked again by the request using it; nothing was sent`), null);
      return;
    }
    const signal = use.signal;
    let i = 0;
    const attempt = (): void => {
      const pin = pins[i];
      let settled = false;
      const guard = setTimeout(() => finish(new CapabilityError('connect_timeout', `${label}: connecting to ${t.origin} (${pin.address}) timed out after ${timeoutMs} ms`), null), timeoutMs);
      guard.unref();
      const finish = (err: Error | null, socket: Socket | null): void => {
        if (settled) {
          socket?.destroy();
          return;
        }
        settled = true;
        clearTimeout(guard);
        if (err || !socket) {
          if (!(err instanceof Refusal) && !signal.aborted && ++i < pins.length) return attempt();
          callback(err ?? new Error('connector returned no socket'), null);
          return;
        }
        const refusal = use.onSocket(pin, socket.remoteAddress);
        if (refusal) {
          socket.destroy();
          callback(refusal, null);
          return;
        }
        conn.address = pin.address;
        callback(null, socket);
      };
      try {
        env.connect(
          {
            hostname: pin.address,
            host: opts.host,
            protocol: opts.protocol,
            port: String(t.port),
            // SNI and certificate checks use the name the plugin asked for, not the pinned address.
            servername: t.scheme === 'https' && t.hostKind === 'name' ? t.host : undefined,
            localAddress: null,
          },
          (err, socket) => finish(err, socket),
        );
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)), null);
      }
    };
    attempt();
  };
}

/** Drops a response body we will not read; undici reports the abort as an 'error' nobody needs. */
function discard(body: { on(event: 'error', fn: () => void): unknown; destroy(): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

function networkError(label: string, t: Target, e: unknown): CapabilityError {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new CapabilityError('connect_timeout', `${label}: connecting to ${t.origin} timed out`);
  // OpenSSL verification failures carry their own codes (DEPTH_ZERO_SELF_SIGNED_CERT, ...).
  if (/^ERR_(TLS|SSL)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO|HOSTNAME_MISMATCH/.test(code)) {
    return new CapabilityError('tls', `${label}: TLS with ${t.origin} failed: ${code} ${msg}`);
  }
  return new CapabilityError('network', `${label}: request to ${t.origin} failed: ${code ? `${code} ` : ''}${msg}`);
}
