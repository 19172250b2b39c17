// http.request and HostCallContext.beforeFirstRequest: the payout flow records durably that a
// request of transfer() may have left (design.md §6), so the hook must finish before any byte
// reaches a socket, run once per call however many requests race, and a hook that fails must
// stop the request. The provider is a real HTTP server on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHttpCapability } from '../../host-api/http.ts';
import { PolicyDenied, newCounters, type HostCallContext } from '../../host-api/capability.ts';

let server: http.Server;
let origin: string;
let received = 0;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    received++;
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const cap = () => createHttpCapability({ grantsFor: async () => [{ origin, pathPrefix: null, methods: null }] });
const ctxWith = (hook?: () => Promise<void>): HostCallContext => ({
  plugin: 'acme', callId: 'call-1', method: 'transfer', deadline: Date.now() + 10_000, counters: newCounters(), ...(hook ? { beforeFirstRequest: hook } : {}),
});
const get = (c: ReturnType<typeof cap>, ctx: HostCallContext) => c.invoke(ctx, c.parse({ method: 'GET', url: `${origin}/pay`, headers: {}, body: null, bodyEncoding: 'utf8' }));

it('the hook ends before the request reaches the provider, and runs once for all requests of the call', async () => {
  const c = cap();
  const seenByHook: number[] = [];
  let calls = 0;
  const ctx = ctxWith(async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 20)); // a store write takes a while; nothing may go meanwhile
    seenByHook.push(received);
  });
  const before = received;
  const results = await Promise.all([get(c, ctx), get(c, ctx), get(c, ctx)]);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
  expect(calls).toBe(1);
  expect(seenByHook).toEqual([before]);
  expect(received).toBe(before + 3);
  expect(ctx.counters.outboundRequests).toBe(3);
});

it('a hook that fails refuses the request: nothing reaches the provider, the reason says so', async () => {
  const c = cap();
  const before = received;
  const ctx = ctxWith(async () => { throw new Error('payout attempt a1 is no longer dispatched by this worker'); });
  const denied = await get(c, ctx).then(() => null, (e: unknown) => e);
  expect(denied).toBeInstanceOf(PolicyDenied);
  expect((denied as PolicyDenied).message).toMatch(/no longer dispatched by this worker; the request was not sent/);
  // Every later request of the call is refused too.
  await expect(get(c, ctx)).rejects.toBeInstanceOf(PolicyDenied);
  expect(received).toBe(before);
  expect(ctx.counters.outboundRequests).toBe(0);
  // Positive control: the same capability without a failing hook reaches the provider.
  expect((await get(c, ctxWith(async () => {}))).status).toBe(200);
  expect(received).toBe(before + 1);
});

it('a call that ended while the hook ran sends nothing', async () => {
  const c = cap();
  const before = received;
  const ctx: HostCallContext = ctxWith(async () => { ctx.ended = true; });
  await expect(get(c, ctx)).rejects.toBeInstanceOf(PolicyDenied);
  expect(received).toBe(before);
});
