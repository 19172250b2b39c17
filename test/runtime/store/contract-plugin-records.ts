// Contract: plugin records (what an administrator approved for each plugin folder) — round trip,
// compare-and-set on the revision, listing, and refusal of malformed records.
import { expect, test } from 'vitest';
import type { PluginRecord, PluginVersion } from '../../../runtime/store/types.ts';
import type { Fixture } from './contract-fixtures.ts';
import { T0, iso } from './contract-fixtures.ts';

export function sampleVersion(overrides: Partial<PluginVersion> = {}): PluginVersion {
  return {
    id: 'a'.repeat(24), packageName: '@acme/payout-nimbus', version: '1.2.0', integrity: `sha512-${'A'.repeat(86)}==`,
    contentHash: `sha256:${'0'.repeat(64)}`,
    capabilities: {
      network: [{ origin: 'https://api.nimbus.example:443', methods: ['POST'], pathPrefix: '/v1/' }],
      config: [{ key: 'apiKey', secret: false }, { key: 'apiSecret', secret: true }],
      hostModules: ['axios', 'config'], capabilities: ['config.get', 'http.request'],
    },
    scriptsNotRun: ['postinstall'],
    source: { kind: 'npm', spec: '@acme/payout-nimbus@latest', registry: 'https://registry.npmjs.org', tarballUrl: 'https://registry.npmjs.org/@acme/payout-nimbus/-/payout-nimbus-1.2.0.tgz' },
    approvedBy: 'cli:alice', approvedAt: iso(T0), keptAt: null, ...overrides,
  };
}

export function registerPluginRecordContract(f: Fixture): void {
  test('plugin records: create with revision 0, read back, list sorted by key', async () => {
    const store = await f.open();
    expect(await store.getPluginRecord('nimbus')).toBeNull();
    const saved = await store.putPluginRecord({ key: 'nimbus', revision: 0, current: sampleVersion(), previous: [], pending: null });
    expect(saved).toEqual({ key: 'nimbus', revision: 1, current: sampleVersion(), previous: [], pending: null, updatedAt: iso(T0) });
    expect(await store.getPluginRecord('nimbus')).toEqual(saved);
    await store.putPluginRecord({ key: 'alpha', revision: 0, current: sampleVersion({ source: { kind: 'first-use', spec: null, registry: null, tarballUrl: null } }), previous: [], pending: null });
    expect((await store.listPluginRecords()).map((r) => [r.key, r.revision])).toEqual([['alpha', 1], ['nimbus', 1]]);
    const other = await f.open();
    expect(await other.getPluginRecord('nimbus')).toEqual(saved);
  });

  test('plugin records: an update is a compare-and-set on the revision it read', async () => {
    const store = await f.open();
    const first = await store.putPluginRecord({ key: 'nimbus', revision: 0, current: sampleVersion(), previous: [], pending: null });
    f.clock.advance(1000);
    const pending: PluginRecord['pending'] = {
      stagingId: 'b'.repeat(24), version: sampleVersion({ id: 'c'.repeat(24), version: '1.3.0', approvedBy: null, approvedAt: null }),
      widened: { network: ['new origin https://evil.example:443'], config: [], capabilities: [] }, stagedBy: 'admin', stagedAt: iso(T0 + 1000),
    };
    const second = await store.putPluginRecord({ ...first, pending });
    expect(second).toMatchObject({ revision: 2, pending, updatedAt: iso(T0 + 1000) });
    // A writer that read revision 1 loses, and so does a second "create".
    await expect(store.putPluginRecord({ ...first, pending: null })).rejects.toThrow(/putPluginRecord: plugin record nimbus is at revision 2, not 1: it changed since it was read/);
    await expect(store.putPluginRecord({ ...first, revision: 0 })).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
    await expect(store.putPluginRecord({ ...first, key: 'ghost', revision: 4 })).rejects.toThrow(/plugin record ghost is at revision 0, not 4/);
    expect(await store.getPluginRecord('ghost')).toBeNull();
    const kept = { ...first.current, keptAt: `.versions/nimbus/${'a'.repeat(24)}` };
    const third = await store.putPluginRecord({ ...second, current: pending!.version, previous: [kept], pending: null });
    expect(await store.getPluginRecord('nimbus')).toEqual({ ...third, revision: 3, previous: [kept], pending: null });
  });

  test('plugin records: two writers racing on one revision, exactly one wins', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const base = await one.putPluginRecord({ key: 'race', revision: 0, current: sampleVersion(), previous: [], pending: null });
    const results = await Promise.allSettled([one, two, one, two].map((s, i) => s.putPluginRecord({ ...base, current: sampleVersion({ version: `9.${i}.0` }) })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await two.getPluginRecord('race'))?.revision).toBe(2);
  });

  test('plugin records: malformed records are refused before anything is written', async () => {
    const store = await f.open();
    const good = { key: 'nimbus', revision: 0, current: sampleVersion(), previous: [], pending: null };
    await expect(store.putPluginRecord({ ...good, current: { ...sampleVersion(), contentHash: 7 } as never })).rejects.toThrow(/putPluginRecord: current.contentHash must be a string, got number 7/);
    await expect(store.putPluginRecord({ ...good, current: { ...sampleVersion(), $where: 'x' } as never })).rejects.toThrow(/current has unknown field "\$where"/);
    await expect(store.putPluginRecord({ ...good, current: sampleVersion({ source: { kind: 'git' as never, spec: null, registry: null, tarballUrl: null } }) })).rejects.toThrow(/current.source.kind must be one of npm, tarball, url, folder, first-use, approved-folder/);
    await expect(store.putPluginRecord({ ...good, revision: -1 })).rejects.toThrow(/revision must be an integer from 0/);
    await expect(store.putPluginRecord({ key: 'nimbus', revision: 0, current: sampleVersion(), previous: [] } as never)).rejects.toThrow(/pending must be an object or null/);
    expect(await store.listPluginRecords()).toEqual([]);
  });
}
