// A webhook delivery whose turn is spent loading its plugin again (routes/payout-call.ts, the wait
// bound of SandboxHost.invoke): the wait covers the reload, so a delivery still waiting for it when
// webhookQueueWaitMs passes is answered 429 with Retry-After and never runs afterwards, even though
// it held the plugin's only slot and the load it waited for completes. Against a real server
// (SQLite, sandbox processes) and a provider that is a real HTTP server on 127.0.0.1 counting what
// the plugin's callback sent it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { startTestHost } from '../../../helpers/test-host.ts';
import type { TestHost } from '../../../helpers/test-host.ts';

const LOAD_MS = 800;
const QUEUE_WAIT_MS = 200;

// Loading takes LOAD_MS of wall time (its constructor spins), well inside the load's CPU budget.
const INDEX = `
class SlowToLoad {
  constructor() { const end = Date.now() + ${LOAD_MS}; while (Date.now() < end) {} }
  async getFields() { return []; }
  async transfer() { return null; }
}
module.exports = SlowToLoad;`;

const callbacks = (providerUrl: string) => `const axios = require('axios');
module.exports = {
  ping: async (req, res, param) => { await axios.get('${providerUrl}/ran?i=' + param.post.i); res.end('ran ' + param.post.i); },
  spin: async () => { for (;;) {} },
};`;

let provider: http.Server;
let providerUrl = '';
const ran: string[] = [];
let t: TestHost;

beforeAll(async () => {
  provider = http.createServer((req, res) => {
    ran.push(new URL(req.url ?? '/', 'http://x').searchParams.get('i') ?? '?');
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  t = await startTestHost({ callbackWallMs: 10_000, webhookQueueWaitMs: QUEUE_WAIT_MS, pluginMaxConcurrentCalls: 1 });
  await t.host.store.upsertGrant({ plugin: 'reloads', origin: providerUrl, pathPrefix: null, methods: null, requested: false, approved: true, approvedBy: 'test', approvedAt: new Date().toISOString() });
  const entry = await t.host.registry.load(writePlugin('reloads', { 'index.js': INDEX, 'callbacks.js': callbacks(providerUrl) }));
  expect(entry.status, entry.error?.message).toBe('active');
}, 60_000);
afterAll(async () => {
  await t?.close();
  provider?.closeAllConnections();
  await new Promise((resolve) => provider?.close(resolve));
});

async function deliver(callback: string, i: number) {
  const res = await fetch(`${t.baseUrl}/payout_call/reloads/${callback}/`, { method: 'POST', body: JSON.stringify({ i }), headers: { 'content-type': 'application/json' } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

describe('a delivery whose turn goes to loading its plugin again', () => {
  it('control: with the plugin loaded, a delivery runs', async () => {
    expect(await deliver('ping', 1)).toMatchObject({ status: 200, text: 'ran 1' });
    expect(ran).toEqual(['1']);
  });

  it('is refused 429 when the reload outlasts webhookQueueWaitMs, and never runs once the load completes', async () => {
    // A delivery that breaches its CPU limit resets the plugin: the next call must load it again.
    expect((await deliver('spin', 2)).status).toBe(500);
    await t.waitFor('the plugin to be unloaded', async () => t.host.sandbox.health().plugins.reloads.loaded === false || null);
    const refused = await deliver('ping', 3);
    expect([refused.status, Number(refused.retryAfter) >= 1], refused.text).toEqual([429, true]);
    expect(JSON.parse(refused.text).code).toBe('CALLBACK_PLUGIN_BUSY');
    // The load it waited for completes and frees the slot; the refused delivery is not run on it.
    await t.waitFor('the reload to finish', async () => {
      const p = t.host.sandbox.health().plugins.reloads;
      return (p.loaded && p.runningCalls === 0) || null;
    });
    expect(await deliver('ping', 4)).toMatchObject({ status: 200, text: 'ran 4' });
    expect(ran).toEqual(['1', '4']);
    const rows = await t.host.store.listWebhooks({ plugin: 'reloads', limit: 10 });
    const row = rows.find((r) => JSON.parse(r.body).i === 3);
    expect(row).toMatchObject({ state: 'failed', responseStatus: 429, error: expect.stringMatching(/^throttled: .*nothing ran/) });
  });
});
