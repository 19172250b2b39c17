// The registry's approval check at load: a folder with no record is trusted on first use and
// recorded; a folder whose files changed since approval is refused (rejected / tampered) with a
// message saying what to do, until an administrator approves it; requireApproval refuses unknown
// folders instead of trusting them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalEvent } from '../../../runtime/install/approval.ts';
import { hashFolder } from '../../../runtime/install/content-hash.ts';
import { Installer } from '../../../runtime/installer/installer.ts';
import { PluginRegistry } from '../../../runtime/plugins/registry.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { startSandbox } from '../../helpers/sandbox.ts';
import { pluginPackage, tmpDir, writeFolder } from './install-helpers.ts';

let store: Store;
let sandbox: SandboxHost;
let work: string;
let pluginsDir: string;
const events: ApprovalEvent[] = [];
const registryWith = (requireApproval = false) =>
  new PluginRegistry({ sandbox, store, load: { apiUrl: 'http://127.0.0.1:9/' }, requireApproval, onApprovalEvent: (e) => events.push(e) });

beforeAll(async () => {
  store = await openStore('sqlite::memory:');
  sandbox = (await startSandbox()).host;
  work = tmpDir('tamper');
  pluginsDir = path.join(work, 'plugins');
});
afterAll(async () => {
  await sandbox.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('approval check when plugins load', () => {
  it('trusts a folder with no record on first use, records it, and says so', async () => {
    const dir = writeFolder(path.join(pluginsDir, 'handmade'), pluginPackage({ name: 'handmade', version: '0.3.0' }));
    const [entry] = await registryWith().loadAll(pluginsDir);
    expect(entry).toMatchObject({ key: 'handmade', status: 'active', error: null });
    expect(await store.getPluginRecord('handmade')).toMatchObject({
      revision: 1, previous: [], pending: null,
      current: { packageName: 'handmade', version: '0.3.0', contentHash: hashFolder(dir), approvedBy: 'trust-on-first-use', source: { kind: 'first-use', spec: dir } },
    });
    expect(events).toEqual([expect.objectContaining({
      kind: 'trusted_on_first_use', key: 'handmade',
      message: expect.stringMatching(/^plugin handmade: folder .*handmade had no approval record; trusted on first use and recorded \(content hash [0-9a-f]{12}…\)\. From now on it is refused if its files change, until `payout-sandbox approve handmade`/),
    })]);
    events.length = 0;
    // A second start: same files, no event, still one revision.
    expect((await registryWith().load(dir)).status).toBe('active');
    expect(events).toEqual([]);
    expect((await store.getPluginRecord('handmade'))!.revision).toBe(1);
  });

  it('refuses a folder whose files changed since approval — rejected, code tampered — until it is approved again', async () => {
    const dir = path.join(pluginsDir, 'handmade');
    fs.writeFileSync(path.join(dir, 'index.js'), fs.readFileSync(path.join(dir, 'index.js'), 'utf8').replace("name: 'Card'", "name: 'Card (edited on the server)'"));
    // What a server does at start: load every folder.
    const registry = registryWith();
    const entry = (await registry.loadAll(pluginsDir)).find((e) => e.key === 'handmade')!;
    expect(entry).toMatchObject({ status: 'rejected', plugin: null, error: { code: 'tampered' } });
    expect(entry.error!.message).toMatch(new RegExp(
      `^plugin folder ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} changed since it was approved: its files hash to [0-9a-f]{12}…, the approved handmade@0\\.3\\.0 to [0-9a-f]{12}… ` +
      '\\(approved by trust-on-first-use at .*\\)\\. It is not loaded\\. If the change is intended, review the files, then approve them with ' +
      '`payout-sandbox approve handmade` \\(or Approve in the admin page: POST /api/admin/plugins/handmade/approve\\)'));
    expect(registry.active('handmade')).toBeNull();
    expect(events).toEqual([expect.objectContaining({ kind: 'tampered', key: 'handmade', message: `plugin handmade refused: ${entry.error!.message}` })]);
    // An added file counts as much as an edited one.
    fs.writeFileSync(path.join(dir, 'extra.js'), '// new');
    expect((await registry.load(dir)).error?.code).toBe('tampered');

    const installer = new Installer({ pluginsDir, store });
    const preview = await installer.previewApproval('handmade');
    expect(preview).toMatchObject({ kind: 'changed_folder', contentHash: hashFolder(dir), widened: null, report: { key: 'handmade' } });
    const approved = await installer.approve('handmade', 'cli:alice', preview.contentHash);
    expect(approved.record).toMatchObject({ revision: 2, current: { contentHash: hashFolder(dir), approvedBy: 'cli:alice', source: { kind: 'approved-folder' }, packageName: 'handmade' } });
    const after = await registry.load(dir);
    expect(after).toMatchObject({ status: 'active', error: null });
    const fields = await sandbox.invoke('handmade', 'getFields', ['en', 'CARDUAH']);
    expect(fields.ok && (fields.value as { name: string }[])[0].name).toBe('Card (edited on the server)');
  });

  it('approve refuses when the files changed after they were reviewed', async () => {
    const dir = path.join(pluginsDir, 'handmade');
    const installer = new Installer({ pluginsDir, store });
    fs.writeFileSync(path.join(dir, 'extra.js'), '// second edit');
    const preview = await installer.previewApproval('handmade');
    fs.writeFileSync(path.join(dir, 'extra.js'), '// third edit, after the review');
    await expect(installer.approve('handmade', 'cli:alice', preview.contentHash)).rejects.toMatchObject({
      code: 'conflict', message: expect.stringMatching(/plugin handmade changed since it was reviewed \(reviewed [0-9a-f]{12}…, now [0-9a-f]{12}…\); review it again/),
    });
  });

  it('with requireApproval, refuses a folder that has no record, until it is approved', async () => {
    events.length = 0;
    const dir = writeFolder(path.join(pluginsDir, 'copied'), pluginPackage({ name: 'copied' }));
    const strict = registryWith(true);
    const entry = await strict.load(dir);
    expect(entry).toMatchObject({ status: 'rejected', error: { code: 'unapproved', message: expect.stringMatching(/has never been approved and this server refuses unknown folders \(requireApproval\)\. Install it with `payout-sandbox install`, or review the files, then approve them with `payout-sandbox approve copied`/) } });
    expect(await store.getPluginRecord('copied')).toBeNull();
    expect(events.map((e) => e.kind)).toEqual(['unapproved']);
    const installer = new Installer({ pluginsDir, store, requireApproval: true });
    expect((await installer.previewApproval('copied')).kind).toBe('unrecorded_folder');
    await installer.approve('copied', 'cli:alice');
    expect(await strict.load(dir)).toMatchObject({ status: 'active' });
  });
});
