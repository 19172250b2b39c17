// The attack: an update whose code calls the host bridge (`__ps_host`) directly, for capabilities
// none of its required host modules grant (settlement, tx counts, HTTP). Approval used to come from
// the `require()` scan alone: such an update was staged as not widened, with an empty capability
// report, applied at once, and its bridge calls then worked live. Now the update is widened, and
// even if its files are forced live with no approval, every such call is refused at run time by the
// capability set and audited once per plugin call.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHostApi, storedGrants } from '../../../host-api/index.ts';
import type { HostApiParts } from '../../../host-api/index.ts';
import { stagedPluginDir } from '../../../runtime/install/install-dirs.ts';
import { Installer } from '../../../runtime/installer/installer.ts';
import { buildIpn } from '../../../runtime/ipn/ipn-message.ts';
import { PluginRegistry } from '../../../runtime/plugins/registry.ts';
import { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { Scrubber } from '../../../runtime/secrets/scrubber.ts';
import { keyId } from '../../../runtime/secrets/master-key.ts';
import { SecretBox } from '../../../runtime/secrets/secret-box.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { copyFolder } from './bridge-helpers.ts';
import { packTgz, pluginPackage, tmpDir } from './install-helpers.ts';
import crypto from 'node:crypto';

// Calls the bridge for three capabilities and reports, per call, 'ok' or the refusal's rule.
const BRIDGE_INDEX = `
const probes = [
  ['payoutTxs.count', { filter: {} }],
  ['history.update', { orderId: 'o-1', status: 'done', comment: 'x' }],
  ['http.request', { url: 'https://api.nimbus.example/v1/balance', method: 'GET' }],
];
class Sneaky {
  async getFields(lang, xml) {
    const out = [];
    for (const [name, args] of probes) {
      try { await globalThis.__ps_host.call(name, args); out.push(name + '=ok'); }
      catch (e) { out.push(name + '=' + (e.rule || e.code)); }
    }
    return [{ _id: 'card_number', name: out.join(' '), regexp: '^[0-9]{16}$', required: true }];
  }
  async transfer(order) { return { ok: 1, transaction: 't-' + order._id, amount: order.outAmount, currency: 'UAH', to: 'x' }; }
}
module.exports = Sneaky;
`;

// The positive control: the same tx count through the db module it requires.
const DB_INDEX = `
const db = require('../../../db');
class Counts {
  async getFields(lang, xml) {
    let n;
    try { n = 'count=' + await db.OrderPayoutTxs.countDocuments({}); } catch (e) { n = 'count=' + (e.rule || e.code); }
    return [{ _id: 'card_number', name: n, regexp: '^[0-9]{16}$', required: true }];
  }
  async transfer(order) { return { ok: 1, transaction: 't-' + order._id, amount: order.outAmount, currency: 'UAH', to: 'x' }; }
}
module.exports = Counts;
`;

let store: Store;
let sandbox: SandboxHost;
let registry: PluginRegistry;
let installer: Installer;
let parts: HostApiParts;
let work: string;
let pluginsDir: string;

beforeAll(async () => {
  store = await openStore('sqlite::memory:');
  work = tmpDir('bridge');
  pluginsDir = path.join(work, 'plugins');
  const key = crypto.randomBytes(32);
  const box = new SecretBox({ current: { id: keyId(key), key }, byId: new Map([[keyId(key), key]]), source: 'ephemeral' });
  parts = buildHostApi({
    store, scrubber: new Scrubber(), box,
    manifests: { manifestOf: (k) => registry.manifestOf(k) },
    capabilitySets: { capabilitySetOf: (k) => registry.capabilitySetOf(k) },
    grantsFor: storedGrants(store),
    http: { allowLoopbackGrants: true },
    buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1 }),
  });
  sandbox = new SandboxHost({ handler: parts.api });
  await sandbox.start();
  registry = new PluginRegistry({ sandbox, store, load: { apiUrl: 'http://127.0.0.1:9/' }, onApprovalEvent: () => {} });
  installer = new Installer({ pluginsDir, store });
});
afterAll(async () => {
  await parts.audit.flush({ final: true });
  await sandbox.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function tarball(version: string, index: string): Promise<string> {
  const file = path.join(work, `sneaky-${version}.tgz`);
  fs.writeFileSync(file, packTgz(pluginPackage({ name: '@acme/sneaky', version, index })));
  return file;
}

async function fieldName(key: string): Promise<string> {
  const entry = await registry.load(path.join(pluginsDir, key));
  expect(entry.error).toBeNull();
  const result = await sandbox.invoke(key, 'getFields', ['en', 'CARDUAH']);
  if (!result.ok) throw new Error(result.error.message);
  return (result.value as { name: string }[])[0].name;
}

describe('an update that calls the host bridge directly', () => {
  it('is staged as widened, and the report shows the bridge calls as requested', async () => {
    const v1 = await installer.stage({ source: await tarball('1.0.0', BRIDGE_INDEX.replace(/globalThis\.__ps_host\.call\(name, args\)/, 'Promise.resolve()')), key: 'sneaky', actor: 'cli:test', allowLocal: true });
    expect(v1.capabilities.capabilities).toEqual([]);
    await installer.confirm(v1.stagingId, 'cli:alice');

    const v2 = await installer.stage({ source: await tarball('2.0.0', BRIDGE_INDEX), key: 'sneaky', actor: 'cli:test', allowLocal: true });
    expect(v2.action).toBe('update-needs-approval');
    expect(v2.widened?.capabilities).toEqual([
      'history.update (called directly through the host bridge: refused at run time, no required host module grants it)',
      'http.request (called directly through the host bridge: refused at run time, no required host module grants it)',
      'payoutTxs.count (called directly through the host bridge: refused at run time, no required host module grants it)',
    ]);
    expect(v2.capabilities.capabilities).toEqual([]);
    expect(v2.capabilities.bridgeRequests).toEqual(['history.update', 'http.request', 'payoutTxs.count']);
    expect(v2.report.summary).toMatch(/calls the host bridge directly/);
    expect(v2.report.bridge.map((b) => b.capability)).toEqual(['payoutTxs.count', 'history.update', 'http.request']);
    expect((await installer.confirm(v2.stagingId, 'cli:bob')).status).toBe('pending_approval');
  });

  it('forced live with no approval, its bridge calls are refused and audited once per call', async () => {
    // What a path around approval would do: the staged files in place, their record marked current.
    const record = (await store.getPluginRecord('sneaky'))!;
    copyFolder(stagedPluginDir(pluginsDir, record.pending!.stagingId, 'sneaky'), path.join(pluginsDir, 'sneaky'));
    // The record even claims the three capabilities: a set is never wider than the modules the code requires.
    const claimed = { ...record.pending!.version.capabilities, capabilities: ['history.update', 'http.request', 'payoutTxs.count'] };
    await store.putPluginRecord({ ...record, current: { ...record.pending!.version, capabilities: claimed, approvedBy: 'forced', approvedAt: new Date().toISOString() }, pending: null });

    expect(await fieldName('sneaky')).toBe('payoutTxs.count=capability-set history.update=capability-set http.request=capability-set');
    await parts.audit.flush({ final: true });
    const audit = (await store.queryAudit({ plugin: 'sneaky', limit: 100 })).filter((r) => r.rule === 'capability-set');
    expect(audit).toHaveLength(2);
    expect(audit.map((r) => r.summary).join('\n')).toMatch(/payoutTxs\.count refused: .*not in the capability set approved for plugin 'sneaky'/);
    expect(audit.map((r) => r.summary).join('\n')).toMatch(/2 more host calls refused .*history\.update: 1, http\.request: 1/);
  });

  it('positive control: the same tx count through its required db module works', async () => {
    const v3 = await installer.stage({ source: await tarball('3.0.0', DB_INDEX), key: 'sneaky', actor: 'cli:test', allowLocal: true });
    expect(v3.capabilities.capabilities).toEqual(['payoutTxs.count', 'payoutTxs.find', 'payoutTxs.updateOne']);
    expect(v3.action).toBe('update-needs-approval');
    expect((await installer.confirm(v3.stagingId, 'cli:bob')).status).toBe('pending_approval');
    await installer.approve('sneaky', 'cli:alice');
    expect(await fieldName('sneaky')).toBe('count=0');
  });
});
