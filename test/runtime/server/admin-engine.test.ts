// The engine a plugin runs on, chosen by the administrator: POST /api/admin/plugins/:key/engine.
// Precedence admin choice > pluginEngines option > engine option; every switch is audited; an
// unknown name is refused in the one error shape; a switch to an engine the plugin does not load on
// keeps it running where it was (payouts must not stop because of a switch). The plugin list, its
// health and /metrics name the engine.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

// Loads on isolated-vm and is refused on quickjs for a real reason (it needs Intl while loading).
const V8_ONLY_PLUGIN = path.resolve(import.meta.dirname, '../../fixtures/plugins/intl-amounts');
let t: TestHost;

beforeAll(async () => {
  t = await startTestHost({ engine: 'isolated-vm' });
  expect(await t.host.registry.load(V8_ONLY_PLUGIN)).toMatchObject({ status: 'active' });
});
afterAll(async () => { await t?.close(); });

async function auditOf(capability: string) {
  await t.host.hostApi.audit.flush();
  return (await t.admin('GET', `/api/admin/audit?plugin=nimbuspay&capability=${capability}`)).json.records as { decision: string; summary: string; actor: string }[];
}

describe('engine per plugin on the admin API', () => {
  it('shows the engine, where it came from and the engines there are; health and metrics name it', async () => {
    const p = (await t.admin('GET', '/api/admin/plugins/nimbuspay')).json;
    expect(p.engine).toEqual({ name: 'isolated-vm', source: 'engine', ignored: null, available: ['isolated-vm', 'quickjs'] });
    expect(p.health.engine).toBe('isolated-vm');
    const list = (await t.admin('GET', '/api/admin/plugins')).json.plugins as { key: string; engine: { name: string } }[];
    expect(list.find((x) => x.key === 'nimbuspay')?.engine.name).toBe('isolated-vm');
    const metrics = await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/payout_sandbox_plugin_engine\{plugin="nimbuspay",engine="isolated-vm"\} 1/);
  });

  it('refuses an engine that does not exist in one line naming the engines, audited, nothing changed', async () => {
    const r = await t.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: 'v8' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'ENGINE_UNKNOWN', message: 'no engine has this name; the engines are isolated-vm, quickjs', error: { field: 'engine' } });
    expect(await t.host.store.getPluginEngineChoice('nimbuspay')).toBeNull();
    expect((await auditOf('admin.plugin.engine'))[0]).toMatchObject({ decision: 'denied', actor: 'admin', summary: 'v8: no such engine' });
    const other = await t.admin('POST', '/api/admin/plugins/nope/engine', { engine: 'quickjs' });
    expect(other).toMatchObject({ status: 404, json: { code: 'NOT_FOUND' } });
    const unauthenticated = await t.api('POST', '/api/admin/plugins/nimbuspay/engine', { engine: 'isolated-vm' });
    expect(unauthenticated.status).toBe(401);
  });

  it('an admin choice is stored, reloads the plugin, outranks the options, and can be cleared', async () => {
    const before = t.host.registry.get('nimbuspay')!.loadedAt;
    const r = await t.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: 'isolated-vm' });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'admin' } });
    expect(t.host.registry.get('nimbuspay')!.loadedAt >= before).toBe(true);
    expect(await t.host.store.getPluginEngineChoice('nimbuspay')).toMatchObject({ engine: 'isolated-vm', chosenBy: 'admin' });
    expect((await auditOf('admin.plugin.engine'))[0]).toMatchObject({ decision: 'allowed', summary: 'isolated-vm -> isolated-vm' });
    const cleared = await t.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: null });
    expect(cleared.json).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'engine' } });
    expect(await t.host.store.getPluginEngineChoice('nimbuspay')).toBeNull();
  });

  it('a switch to an engine the plugin does not load on is refused and the plugin keeps running where it was', async () => {
    const key = 'intl-amounts';
    const r = await t.admin('POST', `/api/admin/plugins/${key}/engine`, { engine: 'quickjs' });
    expect(r.status, r.text).toBe(422);
    expect(r.json.code).toBe('ENGINE_LOAD_FAILED');
    // The real reason, from the engine that refused it.
    expect(r.json.message).toMatch(/^the plugin did not load on engine quickjs; it keeps running on isolated-vm: .*'Intl' is not defined/);
    expect(t.host.registry.get(key)).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'engine' } });
    expect(t.host.sandbox.engineOf(key)).toBe('isolated-vm');
    expect(await t.host.store.getPluginEngineChoice(key)).toBeNull();
    await t.host.hostApi.audit.flush();
    const audit = (await t.admin('GET', `/api/admin/audit?plugin=${key}&capability=admin.plugin.engine`)).json.records as { decision: string; summary: string }[];
    expect(audit[0]).toMatchObject({ decision: 'denied', summary: expect.stringMatching(/^isolated-vm -> quickjs refused, kept on isolated-vm: .*Intl/) });
    // Still serves: getFields runs on the engine it was kept on.
    expect(await t.host.sandbox.invoke(key, 'getFields', ['en', 'CARDUAH'])).toMatchObject({ ok: true, value: [{ _id: 'card_number' }] });
  });

  it('a refused switch puts back an earlier admin choice, not the options', async () => {
    const key = 'intl-amounts';
    expect((await t.admin('POST', `/api/admin/plugins/${key}/engine`, { engine: 'isolated-vm' })).status).toBe(200);
    expect((await t.admin('POST', `/api/admin/plugins/${key}/engine`, { engine: 'quickjs' })).status).toBe(422);
    expect(await t.host.store.getPluginEngineChoice(key)).toMatchObject({ engine: 'isolated-vm', chosenBy: 'admin' });
    expect(t.host.registry.get(key)).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'admin' } });
    await t.admin('POST', `/api/admin/plugins/${key}/engine`, { engine: null });
  });

  it('switching to quickjs reloads the plugin there and it serves', async () => {
    const r = await t.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: 'quickjs' });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ status: 'active', engine: { name: 'quickjs', source: 'admin' }, health: { engine: 'quickjs' } });
    expect((await t.host.sandbox.invoke('nimbuspay', 'getFields', ['en', 'CARDUAH'])).ok).toBe(true);
    await t.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: null });
    expect(t.host.sandbox.engineOf('nimbuspay')).toBe('isolated-vm');
  });
});

describe('engine options', () => {
  it('pluginEngines outranks engine, and the admin choice outranks both', async () => {
    const h = await startTestHost({ engine: 'quickjs', pluginEngines: { nimbuspay: 'isolated-vm' } });
    try {
      expect(h.host.registry.get('nimbuspay')).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'pluginEngines' } });
      // billpay has no entry of its own: the engine option decides.
      expect(h.host.registry.get('billpay')?.engine).toMatchObject({ name: 'quickjs', source: 'engine' });
      await h.host.store.setPluginEngineChoice({ plugin: 'billpay', engine: 'isolated-vm', chosenBy: 'admin' });
      const reloaded = await h.host.registry.load(h.host.registry.get('billpay')!.dir);
      expect(reloaded).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'admin' } });
    } finally {
      await h.close();
    }
  });
});
