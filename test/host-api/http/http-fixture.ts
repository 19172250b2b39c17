// The fake providers the http.request suites under test/host-api/http/ talk to, and the ways they
// build and call the capability. Only loopback is ever contacted (design.md §9): the injected
// connector records a violation, and useLoopbackProviders fails the test, if it is handed
// anything else. Each suite file calls useLoopbackProviders() once; the servers are its own.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createHttpCapability, type EgressCaps, type Grant, type HttpCapabilityOptions } from '../../../host-api/http.ts';
import { PolicyDenied, newCounters, type HostCallContext } from '../../../host-api/capability.ts';
import { startTrap, testConnector, tableResolver, type Trap } from '../ssrf-cases.ts';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback HTTP server on port 0 that records every request it read in full. */
export async function listen(handler: (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type Fake = Awaited<ReturnType<typeof listen>>;

/** The granted fake provider: its paths answer as the suites need (see the switch below). */
export let provider: Fake;
/** A second loopback origin, granted in some tests: it echoes headers and body as JSON. */
export let other: Fake;
/** A loopback port never granted: any connection to it means a request got through. */
export let trap: Trap;
/** Non-loopback addresses the connector was handed; checked empty after every test. */
export const violations: string[] = [];
/** Names the injected resolver was asked for during the current test. */
export const lookups: string[] = [];
/** The ids (`?id=`) of /slow requests the provider has answered, late or not. */
export const slowAnswered: string[] = [];
export const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function answer(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  const q = (k: string) => u.searchParams.get(k);
  switch (u.pathname) {
    case '/json':
    case '/v1/ok':
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify({ ok: true, path: u.pathname }));
      return;
    case '/echo':
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-provider-id', 'p-1');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') }));
      return;
    case '/echo-bytes':
      res.setHeader('content-type', 'application/octet-stream');
      res.end(body);
      return;
    case '/status': {
      const n = Number(q('n'));
      res.writeHead(n, n === 402 ? 'Payment Required Here' : undefined, { 'content-type': 'text/plain' });
      res.end(n === 204 ? undefined : `status ${n}`);
      return;
    }
    case '/binary':
      res.setHeader('content-type', 'image/png');
      res.end(BYTES);
      return;
    case '/cp1251':
      res.setHeader('content-type', 'text/plain; charset=windows-1251');
      res.end(Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2])); // "Привет"
      return;
    case '/bad-utf8':
      res.setHeader('content-type', 'application/json');
      res.end(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      return;
    case '/to':
      res.writeHead(Number(q('s') ?? 302), { location: q('u') ?? '/json' });
      res.end();
      return;
    case '/hops': {
      const n = Number(q('n'));
      res.writeHead(n > 0 ? 302 : 200, n > 0 ? { location: `/hops?n=${n - 1}` } : { 'content-type': 'text/plain' });
      res.end(n > 0 ? undefined : 'arrived');
      return;
    }
    case '/loop':
      res.writeHead(302, { location: '/loop' });
      res.end();
      return;
    case '/big': {
      const n = Number(q('n'));
      if (q('chunked')) {
        res.setHeader('content-type', 'application/octet-stream');
        let sent = 0;
        const pump = () => {
          while (sent < n && !res.destroyed) {
            sent += 16 * 1024;
            if (!res.write(Buffer.alloc(16 * 1024, 0x61))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      } else {
        res.setHeader('content-length', String(n));
        res.end(Buffer.alloc(n, 0x61));
      }
      return;
    }
    case '/slow':
      setTimeout(() => {
        slowAnswered.push(q('id') ?? '');
        if (!res.destroyed) res.end('late');
      }, Number(q('ms')));
      return;
    case '/stall-body':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('partial');
      return;
    case '/reset':
      req.socket.destroy();
      return;
    default:
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain');
      res.end('no such path');
  }
}

/** Starts the provider, the other origin and the trap for this suite file, and checks the connector after each test. */
export function useLoopbackProviders(): void {
  beforeAll(async () => {
    trap = await startTrap();
    provider = await listen(answer);
    other = await listen((req, body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.headers, body: body.toString() }));
    });
  });

  afterAll(async () => {
    await provider.close();
    await other.close();
    await trap.close();
  });

  afterEach(() => {
    expect(violations, 'the guard handed a non-loopback address to the connector').toEqual([]);
    lookups.length = 0;
  });
}

/** A grant of a whole origin: every path, every method. */
export const open = (origin: string, extra: Partial<Grant> = {}): Grant => ({ origin, pathPrefix: null, methods: null, ...extra });

/** The capability with the recording resolver and the strict loopback-only connector. */
export function makeCap(grants: Grant[] | (() => Grant[]), options: Partial<HttpCapabilityOptions> & { caps?: Partial<EgressCaps> } = {}) {
  return createHttpCapability({
    grantsFor: async () => (typeof grants === 'function' ? grants() : grants),
    resolve: tableResolver(() => ({}), lookups),
    connect: testConnector({ mode: () => 'strict', trapPort: () => trap.port, violations }),
    ...options,
  });
}

export type Cap = ReturnType<typeof makeCap>;

export function ctxFor(deadlineInMs = 10_000, plugin = 'acme'): HostCallContext {
  return { plugin, callId: 'call-1', method: 'transfer', deadline: Date.now() + deadlineInMs, counters: newCounters() };
}

export type Req = { method?: string; url: string; headers?: Record<string, string>; body?: string | null; bodyEncoding?: 'utf8' | 'base64'; timeoutMs?: number; maxResponseBytes?: number };
/** http.request arguments as a plugin sends them, GET with no body unless told otherwise. */
export const args = (r: Req) => ({ method: 'GET', headers: {}, body: null, bodyEncoding: 'utf8' as const, ...r });

export async function call(cap: Cap, r: Req, ctx = ctxFor()) {
  return cap.invoke(ctx, cap.parse(args(r)));
}

/** The PolicyDenied the request ends in; anything else (an answer, another error) fails the test. */
export async function refusal(cap: Cap, r: Req, ctx = ctxFor()): Promise<PolicyDenied> {
  const e = await call(cap, r, ctx).then(
    (v) => v,
    (err) => err,
  );
  if (!(e instanceof PolicyDenied)) throw new Error(`expected a refusal, got ${e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e)}`);
  return e;
}
