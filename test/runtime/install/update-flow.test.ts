// Updates in a real sandbox and plugin registry: an update that widens what was approved waits for
// approval while the old version keeps serving; one that does not replaces it and keeps the old
// version for rollback; rollback restores files and record; only a few versions are kept.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Installer } from '../../../runtime/installer/installer.ts';
import { hashFolder } from '../../../runtime/install/content-hash.ts';
import { PluginRegistry } from '../../../runtime/plugins/registry.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { DEFAULT_CONFIGURE } from '../../helpers/plugin-fixture.ts';
import { startSandbox } from '../../helpers/sandbox.ts';
import { packTgz, pluginPackage, tmpDir } from './install-helpers.ts';

const WIDER_CONFIGURE = `${DEFAULT_CONFIGURE}
module.exports.default_config.webhookSecret = '';
module.exports.required_config.webhookSecret = 2;
module.exports.network = [{ origin: 'https://api.nimbus.example', methods: ['POST'] }];
`;

let store: Store;
let sandbox: SandboxHost;
let registry: PluginRegistry;
let installer: Installer;
let work: string;
let pluginsDir: string;
const events: string[] = [];

beforeAll(async () => {
  store = await openStore('sqlite::memory:');
  work = tmpDir('update');
  pluginsDir = path.join(work, 'plugins');
  sandbox = (await startSandbox()).host;
  registry = new PluginRegistry({ sandbox, store, load: { apiUrl: 'http://127.0.0.1:9/' }, onApprovalEvent: (e) => events.push(e.kind) });
  installer = new Installer({ pluginsDir, store, keepVersions: 2 });
});
afterAll(async () => {
  await sandbox.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function tarball(version: string, opts: { configure?: string } = {}): Promise<string> {
  const file = path.join(work, `nimbus-${version}.tgz`);
  fs.writeFileSync(file, packTgz(pluginPackage({ name: '@acme/nimbus', version, label: `Card v${version}`, configure: opts.configure })));
  return file;
}

async function servedLabel(): Promise<string> {
  const entry = await registry.load(path.join(pluginsDir, 'nimbus'));
  expect(entry.error).toBeNull();
  const result = await sandbox.invoke('nimbus', 'getFields', ['en', 'CARDUAH']);
  if (!result.ok) throw new Error(result.error.message);
  return (result.value as { name: string }[])[0].name;
}

describe('updates, approval and rollback', () => {
  it('installs v1 and serves it', async () => {
    const staged = await installer.stage({ source: await tarball('1.0.0'), actor: 'cli:test', allowLocal: true, key: 'nimbus' });
    expect((await installer.confirm(staged.stagingId, 'cli:alice')).status).toBe('installed');
    expect(await servedLabel()).toBe('Card v1.0.0');
    expect(events).toEqual([]); // installed with a record: no trust-on-first-use
  });

  it('a widened update waits for approval, staged, while the old version keeps serving', async () => {
    const staged = await installer.stage({ source: await tarball('2.0.0', { configure: WIDER_CONFIGURE }), key: 'nimbus', actor: 'cli:test', allowLocal: true });
    expect(staged.action).toBe('update-needs-approval');
    expect(staged.widened).toEqual({
      network: ['new origin https://api.nimbus.example:443'], config: ['new config key webhookSecret (secret)'], capabilities: [],
    });
    expect(staged.replaces).toMatchObject({ packageName: '@acme/nimbus', version: '1.0.0', approvedBy: 'cli:alice' });
    const result = await installer.confirm(staged.stagingId, 'cli:bob');
    expect(result.status).toBe('pending_approval');
    const record = (await store.getPluginRecord('nimbus'))!;
    expect(record.current.version).toBe('1.0.0');
    expect(record.pending).toMatchObject({ stagingId: staged.stagingId, version: { version: '2.0.0', approvedBy: null }, widened: staged.widened, stagedBy: 'cli:test' });
    // The old version is what runs — after a reload, or a restart, too.
    expect(await servedLabel()).toBe('Card v1.0.0');
    expect(hashFolder(path.join(pluginsDir, 'nimbus'))).toBe(record.current.contentHash);
    expect(fs.existsSync(path.join(pluginsDir, '.staging', staged.stagingId, 'plugin', 'nimbus', 'index.js'))).toBe(true);
  });

  it('approve installs the waiting update; the approved version is kept for rollback', async () => {
    const preview = await installer.previewApproval('nimbus');
    expect(preview).toMatchObject({ kind: 'pending_update', widened: { network: ['new origin https://api.nimbus.example:443'] }, report: { key: 'nimbus' } });
    const approved = await installer.approve('nimbus', 'admin', preview.contentHash);
    expect(approved.record).toMatchObject({ current: { version: '2.0.0', approvedBy: 'admin' }, pending: null, previous: [{ version: '1.0.0', keptAt: expect.stringMatching(/^\.versions\/nimbus\/[0-9a-f]{24}$/) }] });
    expect(await servedLabel()).toBe('Card v2.0.0');
    // The new origin is requested, not granted: the registry records it as waiting for a grant.
    expect(await store.listGrants('nimbus')).toMatchObject([{ origin: 'https://api.nimbus.example:443', requested: true, approved: false }]);
    await expect(installer.approve('nimbus', 'admin')).rejects.toThrow(/plugin nimbus is approved as it is \(content hash [0-9a-f]{12}…\) and no update is pending; nothing to approve/);
  });

  it('an update that asks for nothing new replaces the running version directly; at most keepVersions are kept', async () => {
    for (const v of ['3.0.0', '4.0.0']) {
      const staged = await installer.stage({ source: await tarball(v, { configure: WIDER_CONFIGURE }), key: 'nimbus', actor: 'cli:test', allowLocal: true });
      expect([staged.action, staged.widened]).toEqual(['update', null]);
      expect((await installer.confirm(staged.stagingId, 'cli:carol')).status).toBe('updated');
      expect(await servedLabel()).toBe(`Card v${v}`);
    }
    const record = (await store.getPluginRecord('nimbus'))!;
    expect([record.current.version, ...record.previous.map((p) => p.version)]).toEqual(['4.0.0', '3.0.0', '2.0.0']);
    // v1's kept folder went with it.
    expect(fs.readdirSync(path.join(pluginsDir, '.versions', 'nimbus')).sort()).toEqual(record.previous.map((p) => path.basename(p.keptAt!)).sort());
  });

  it('rollback restores the previous version and its record, one step at a time', async () => {
    const before = (await store.getPluginRecord('nimbus'))!;
    const back = await installer.rollback('nimbus');
    expect(back.restored).toEqual({ ...before.previous[0], keptAt: null });
    const record = (await store.getPluginRecord('nimbus'))!;
    expect(record).toMatchObject({ current: { version: '3.0.0', approvedBy: 'cli:carol', contentHash: before.previous[0].contentHash }, previous: [{ version: '2.0.0' }] });
    expect(await servedLabel()).toBe('Card v3.0.0');
    await installer.rollback('nimbus');
    expect(await servedLabel()).toBe('Card v2.0.0');
    expect((await store.getPluginRecord('nimbus'))!.current).toMatchObject({ version: '2.0.0', approvedBy: 'admin' });
    await expect(installer.rollback('nimbus')).rejects.toMatchObject({ code: 'nothing_to_do', message: expect.stringMatching(/plugin nimbus has no previous version kept; nothing to roll back to/) });
  });

  it('refuses to restore a kept copy whose files changed', async () => {
    const staged = await installer.stage({ source: await tarball('5.0.0', { configure: WIDER_CONFIGURE }), key: 'nimbus', actor: 't', allowLocal: true });
    await installer.confirm(staged.stagingId, 't');
    const kept = (await store.getPluginRecord('nimbus'))!.previous[0].keptAt!;
    fs.appendFileSync(path.join(pluginsDir, kept, 'index.js'), '\n// edited while kept\n');
    await expect(installer.rollback('nimbus')).rejects.toMatchObject({ code: 'tampered', message: expect.stringMatching(/the kept copy of nimbus 2\.0\.0 at .* changed since it was approved .*; it is not restored/) });
    expect(await servedLabel()).toBe('Card v5.0.0');
  });
});
