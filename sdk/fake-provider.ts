// A scripted fake payment provider for plugin tests and `dev`: a real node:http server on
// 127.0.0.1 whose routes the test writes. The plugin reaches it through the real egress guard
// (the test kit grants its origin), so signing, headers and error paths are the production ones.
//
//   const provider = await startFakeProvider({
//     'POST /v1/payouts': (req) => ({ status: 201, json: { id: 'p_1', amount: req.json.amount } }),
//     'GET /v1/payouts/:id': (req) => ({ json: { id: req.params.id, status: 'DONE' } }),
//   });
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: any;
  /** `:name` segments of the matched route. */
  params: Record<string, string>;
}

/**
 * How to answer. 'hang' never answers (the plugin's request times out: outcome unknown);
 * 'drop' cuts the connection after the request arrived.
 */
export type FakeReply =
  | { status?: number; json?: unknown; body?: string; headers?: Record<string, string>; delayMs?: number }
  | 'hang'
  | 'drop';

export type FakeHandler = (req: FakeRequest) => FakeReply | void | Promise<FakeReply | void>;
/** 'METHOD /path/:param' → handler. '*' answers anything no other route matched. */
export type FakeRoutes = Record<string, FakeHandler>;

export interface RecordedFakeRequest extends FakeRequest {
  /** The route key that answered, or null (404). */
  route: string | null;
  status: number | 'hang' | 'drop';
  at: number;
}

export interface FakeProvider {
  url: string;
  origin: string;
  port: number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedFakeRequest[];
  /** Requests whose route key is `route` (e.g. 'POST /v1/payouts'). */
  requestsTo(route: string): RecordedFakeRequest[];
  /** Adds or replaces a route while the server runs. */
  route(key: string, handler: FakeHandler): void;
  close(): Promise<void>;
}

/**
 * A fake provider as a reusable script (the default export of a scaffold's test/fake-provider.ts):
 * the test kit starts it with `provider:`, and `payout-sandbox dev --fake-provider` runs it next to
 * the dev server.
 */
export interface FakeProviderScript {
  /** Fresh routes, and fresh state inside them, for one running fake. */
  routes: FakeRoutes | (() => FakeRoutes);
  /** The plugin's config key that receives the fake's URL (e.g. 'apiUrl'). */
  urlConfigKey?: string;
  /** Config values the plugin needs to talk to this fake (test credentials). */
  config?: Record<string, string | number | boolean | null>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function isScript(v: FakeRoutes | FakeProviderScript): v is FakeProviderScript {
  return typeof (v as FakeProviderScript).routes === 'function' || (typeof (v as FakeProviderScript).routes === 'object' && (v as FakeProviderScript).routes !== null);
}

export function routesOf(script: FakeProviderScript): FakeRoutes {
  return typeof script.routes === 'function' ? script.routes() : script.routes;
}

interface CompiledRoute { key: string; method: string; pattern: RegExp; names: string[]; handler: FakeHandler }

function compile(key: string, handler: FakeHandler): CompiledRoute {
  if (key === '*') return { key, method: '*', pattern: /^.*$/, names: [], handler };
  const m = /^([A-Z]+)\s+(\/\S*)$/.exec(key.trim());
  if (!m) throw new Error(`fake provider route '${key}': write it as 'METHOD /path' (e.g. 'GET /v1/payouts/:id') or '*'`);
  const names: string[] = [];
  const source = m[2].split('/').map((seg) => {
    if (seg.startsWith(':')) {
      names.push(seg.slice(1));
      return '([^/]+)';
    }
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/');
  return { key, method: m[1], pattern: new RegExp(`^${source}$`), names, handler };
}

export async function startFakeProvider(routesOrScript: FakeRoutes | FakeProviderScript = {}): Promise<FakeProvider> {
  const routes = isScript(routesOrScript) ? routesOf(routesOrScript) : routesOrScript;
  const compiled = new Map<string, CompiledRoute>();
  for (const [k, h] of Object.entries(routes)) compiled.set(k, compile(k, h));
  const requests: RecordedFakeRequest[] = [];

  const find = (method: string, pathname: string): { route: CompiledRoute; params: Record<string, string> } | null => {
    let fallback: CompiledRoute | null = null;
    for (const r of compiled.values()) {
      if (r.key === '*') { fallback = r; continue; }
      if (r.method !== method) continue;
      const hit = r.pattern.exec(pathname);
      if (hit) return { route: r, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(hit[i + 1])])) };
    }
    return fallback ? { route: fallback, params: {} } : null;
  };

  async function answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let json: unknown;
    try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
    const base = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body, json };
    const match = find(base.method, url.pathname);
    const record: RecordedFakeRequest = { ...base, params: match?.params ?? {}, route: match?.route.key ?? null, status: 404, at: Date.now() };
    requests.push(record);
    if (!match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: `the fake provider has no route for ${base.method} ${url.pathname}` }));
      return;
    }
    let reply: FakeReply | void;
    try {
      reply = await match.route.handler({ ...base, params: record.params });
    } catch (err) {
      record.status = 500;
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'handler_threw', message: String((err as Error)?.message ?? err) }));
      return;
    }
    if (reply === 'hang') { record.status = 'hang'; return; }
    if (reply === 'drop') { record.status = 'drop'; req.socket.destroy(); return; }
    const r = reply ?? { status: 204 };
    if (r.delayMs) await new Promise((done) => setTimeout(done, r.delayMs));
    const status = r.status ?? 200;
    record.status = status;
    const text = r.json !== undefined ? JSON.stringify(r.json) : r.body ?? '';
    const type = r.json !== undefined ? 'application/json' : 'text/plain; charset=utf-8';
    if (!res.destroyed) res.writeHead(status, { 'content-type': type, ...r.headers }).end(status === 204 ? undefined : text);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => void answer(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: origin, origin, port, requests,
    requestsTo: (route) => requests.filter((r) => r.route === route),
    route(k, handler) { compiled.set(k, compile(k, handler)); },
    async close() {
      // Hung requests would keep close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
