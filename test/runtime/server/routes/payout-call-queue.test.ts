// Webhook deliveries that wait for their plugin's turn, against a real server (SQLite, sandbox
// processes) and a slow provider that is a real HTTP server on 127.0.0.1: a burst within the rate
// limit either runs, each delivery with its whole deadline however long it queued, or is refused
// up front or after a bounded wait with a retryable 429/503 and Retry-After — never a 504 for time
// spent in our queue, never a 500 for another delivery's fault — and the inbox says which. A flood
// is still held to the queue's bound and stored no further, while another plugin's webhook answers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { startTestHost } from '../../../helpers/test-host.ts';
import type { TestHost } from '../../../helpers/test-host.ts';
import type { ServerOptions } from '../../../../runtime/server/options.ts';
import type { WebhookDelivery } from '../../../../runtime/store/types.ts';

/** A provider that answers `/delay?ms=` after that long, and holds `/held` until released. */
interface SlowProvider {
  url: string;
  arrivals: { path: string; at: number }[];
  heldNow(): number;
  releaseHeld(): void;
  close(): Promise<void>;
}

async function startSlowProvider(): Promise<SlowProvider> {
  const arrivals: SlowProvider['arrivals'] = [];
  let held: http.ServerResponse[] = [];
  let holding = true;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    arrivals.push({ path: url.pathname, at: Date.now() });
    if (url.pathname === '/held') {
      if (holding) held.push(res);
      else res.end('{"ok":true}');
      return;
    }
    setTimeout(() => res.end('{"ok":true}'), Number(url.searchParams.get('ms') ?? 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    heldNow: () => held.length,
    releaseHeld() {
      holding = false;
      for (const res of held) res.end('{"ok":true}');
      held = [];
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const callbacks = (providerUrl: string) => `const axios = require('axios');
module.exports = {
  slow: async (req, res, param) => { await axios.get('${providerUrl}/delay?ms=' + param.post.ms); res.end('ok ' + param.post.i); },
  held: async (req, res, param) => { await axios.get('${providerUrl}/held'); res.end('ok ' + param.post.i); },
  hang: async () => { await new Promise(() => {}); },
};`;

async function startHostWith(provider: SlowProvider, options: Partial<ServerOptions>, keys: string[]): Promise<TestHost> {
  const t = await startTestHost(options);
  for (const key of keys) {
    await t.host.store.upsertGrant({ plugin: key, origin: provider.url, pathPrefix: null, methods: null, requested: false, approved: true, approvedBy: 'test', approvedAt: new Date().toISOString() });
    const entry = await t.host.registry.load(writePlugin(key, { 'callbacks.js': callbacks(provider.url) }));
    expect(entry.status, entry.error?.message).toBe('active');
  }
  return t;
}

interface Delivered { i: number; status: number; retryAfter: string | null; text: string }

async function deliver(t: TestHost, key: string, callback: string, post: Record<string, unknown>): Promise<Delivered> {
  const res = await fetch(`${t.baseUrl}/payout_call/${key}/${callback}/`, { method: 'POST', body: JSON.stringify(post), headers: { 'content-type': 'application/json' } });
  return { i: Number(post.i), status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

/** The plugin's inbox rows once none is still being processed, by the `i` each delivery carried. */
async function finishedRows(t: TestHost, key: string): Promise<Map<number, WebhookDelivery>> {
  const rows = await t.waitFor(`${key}'s inbox rows to be finished`, async () => {
    const all = await t.host.store.listWebhooks({ plugin: key, limit: 1000 });
    return all.every((r) => r.state !== 'received') && all;
  });
  return new Map(rows.map((r) => [Number(JSON.parse(r.body).i), r]));
}

const RETRYABLE = [429, 503];

/** Every answer ran or was refused retryably, and the inbox row (if any) says the same thing. */
function expectConsistent(results: Delivered[], rows: Map<number, WebhookDelivery>): void {
  for (const r of results) {
    const row = rows.get(r.i);
    if (r.status === 200) {
      expect(row, `delivery ${r.i}`).toMatchObject({ state: 'processed', responseStatus: 200, responseBody: `ok ${r.i}`, error: null });
      continue;
    }
    expect(RETRYABLE, `delivery ${r.i}: ${r.text}`).toContain(r.status);
    expect(Number(r.retryAfter), `delivery ${r.i} Retry-After`).toBeGreaterThanOrEqual(1);
    // Refused up front: nothing stored. Refused after it was stored: the row says so.
    if (row) expect(row, `delivery ${r.i}`).toMatchObject({ state: 'failed', responseStatus: r.status, error: expect.stringMatching(/nothing ran|isolate_reset/) });
  }
  expect(rows.size).toBe(results.filter((r) => rows.has(r.i)).length);
}

describe('a burst within the limits, on a plugin that runs 8 calls at once and queues 32', () => {
  const WALL_MS = 2000;
  const PROVIDER_MS = 500;
  let provider: SlowProvider;
  let t: TestHost;
  beforeAll(async () => {
    provider = await startSlowProvider();
    t = await startHostWith(provider, { callbackWallMs: WALL_MS, webhookQueueWaitMs: 15_000 }, ['burst', 'cut', 'flood']);
  }, 60_000);
  afterAll(async () => {
    provider?.releaseHeld();
    await t?.close();
    await provider?.close();
  });

  it('50 concurrent deliveries to a slow callback: each runs with its whole deadline or is refused retryably; no 504, no 500', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => deliver(t, 'burst', 'slow', { i, ms: PROVIDER_MS })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && !RETRYABLE.includes(s)), results.filter((r) => r.status !== 200).map((r) => r.text).join('\n')).toEqual([]);
    // What a burst of 50 against 8 running and 32 waiting looks like: those past the queue are
    // refused at once, the rest all run (more, if some arrived after others had finished).
    const ran = statuses.filter((s) => s === 200).length;
    expect(ran).toBeGreaterThanOrEqual(40);
    // Positive control: the queue really outlasted one callback deadline — the last deliveries
    // reached the provider more than WALL_MS after the first, so counting their wait against
    // their deadline would have cut them (504) or refused them.
    const slow = provider.arrivals.filter((a) => a.path === '/delay');
    expect(slow.length).toBe(ran);
    expect(slow[slow.length - 1].at - slow[0].at).toBeGreaterThan(WALL_MS);
    expectConsistent(results, await finishedRows(t, 'burst'));
    expect(t.host.sandbox.health().plugins.burst).toMatchObject({ recentFaults: 0, runningCalls: 0, queuedCalls: 0 });
  });

  it('deliveries cut because another delivery overran its deadline are answered 503 with Retry-After, not 500', async () => {
    // The hanging delivery starts first, so its deadline is the first to pass.
    const hanging = deliver(t, 'cut', 'hang', { i: 0 });
    await t.waitFor('the hanging call to run', async () => t.host.sandbox.health().plugins.cut.runningCalls === 1);
    const cut = [1, 2, 3].map((i) => deliver(t, 'cut', 'held', { i }));
    await t.waitFor('three calls at the provider', async () => provider.heldNow() === 3);
    const hung = await hanging;
    expect(hung.status).toBe(504); // its own deadline: the plugin did not answer
    const results = await Promise.all(cut);
    provider.releaseHeld();
    for (const r of results) {
      expect([r.status, Number(r.retryAfter) >= 1], r.text).toEqual([503, true]);
      expect(JSON.parse(r.text).code).toBe('CALLBACK_PLUGIN_UNAVAILABLE');
    }
    const rows = await finishedRows(t, 'cut');
    expect(rows.get(0)).toMatchObject({ state: 'failed', responseStatus: 504, error: expect.stringMatching(/^deadline:/) });
    for (const i of [1, 2, 3]) expect(rows.get(i)).toMatchObject({ state: 'failed', responseStatus: 503, error: expect.stringMatching(/^isolate_reset:/) });
  });

  it('a flood is still held to the queue bound, refused up front past it, and another plugin answers meanwhile', async () => {
    let deepest = 0;
    const sampling = setInterval(() => { deepest = Math.max(deepest, t.host.sandbox.health().plugins.flood.queuedCalls); }, 5);
    const flood = Array.from({ length: 120 }, (_, i) => deliver(t, 'flood', 'slow', { i, ms: 400 }));
    await t.waitFor('the flood to fill the queue', async () => t.host.sandbox.health().plugins.flood.queuedCalls === 32);
    // A neighbour's webhook gets its own answer (unsigned: 401), not a 429 or 503.
    expect((await t.api('POST', '/payout_call/nimbuspay/url_final/', { id: 'np_x', status: 'DONE' })).status).toBe(401);
    const results = await Promise.all(flood);
    clearInterval(sampling);
    expect(deepest).toBe(32);
    const ran = results.filter((r) => r.status === 200).length;
    expect(ran).toBeGreaterThanOrEqual(40);
    // Positive control: the flood went past the bound, and what went past was refused, retryably.
    expect(results.filter((r) => r.status === 429).length).toBe(120 - ran);
    expect(ran).toBeLessThan(120);
    const rows = await finishedRows(t, 'flood');
    expectConsistent(results, rows);
    // Refused up front, not stored: the inbox holds what ran and at most the few that raced the check.
    expect(rows.size).toBeLessThan(120);
  });
});

describe('the wait for a turn is bounded on its own', () => {
  let provider: SlowProvider;
  let t: TestHost;
  beforeAll(async () => {
    provider = await startSlowProvider();
    t = await startHostWith(provider, { callbackWallMs: 10_000, webhookQueueWaitMs: 500, pluginMaxConcurrentCalls: 1 }, ['waiter']);
  }, 60_000);
  afterAll(async () => {
    provider?.releaseHeld();
    await t?.close();
    await provider?.close();
  });

  it('a delivery still waiting after webhookQueueWaitMs is answered 429 with Retry-After long before the deadline, and never runs', async () => {
    let firstDone = false;
    const first = deliver(t, 'waiter', 'held', { i: 1 }).finally(() => { firstDone = true; });
    await t.waitFor('the first call at the provider', async () => provider.heldNow() === 1);
    const second = await deliver(t, 'waiter', 'held', { i: 2 });
    // Answered while the first still runs, i.e. well within callbackWallMs.
    expect(firstDone).toBe(false);
    expect([second.status, Number(second.retryAfter) >= 1]).toEqual([429, true]);
    expect(JSON.parse(second.text).code).toBe('CALLBACK_PLUGIN_BUSY');
    provider.releaseHeld();
    expect((await first).status).toBe(200);
    const rows = await finishedRows(t, 'waiter');
    expect(rows.get(2)).toMatchObject({ state: 'failed', responseStatus: 429, error: expect.stringMatching(/^throttled: .*nothing ran/) });
    expectConsistent([await first, second], rows);
    // It never ran later either: the turn it gave up was not used.
    const again = await deliver(t, 'waiter', 'held', { i: 3 });
    expect(again.status).toBe(200);
    expect(provider.arrivals.filter((a) => a.path === '/held').length).toBe(2);
  });
});
