// Installing from an npm registry (a fake one on 127.0.0.1 port 0): metadata → dist-tag or exact
// version → tarball → sha512 integrity, with the token sent as a Bearer header to the registry only.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Installer } from '../../../runtime/installer/installer.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { packTgz, pluginPackage, sri, startFakeRegistry, tmpDir } from './install-helpers.ts';
import type { FakeRegistry } from './install-helpers.ts';

const TOKEN = 'npm_deployTOKEN_0123456789abcdef';
let store: Store;
let work: string;
let pluginsDir: string;
let registry: FakeRegistry;
let installer: Installer;

beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  work = tmpDir('npm');
  pluginsDir = path.join(work, 'plugins');
  registry = await startFakeRegistry({ token: TOKEN });
  // The fake registry is on 127.0.0.1: loopback must be allowed explicitly (install-egress.test.ts).
  installer = new Installer({ pluginsDir, store, registry: registry.url, egress: { allowLoopback: true } });
});
afterEach(async () => {
  await registry.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('install from an npm registry', () => {
  it('resolves the dist-tag, fetches the tarball with the token, verifies its integrity and installs it', async () => {
    const v1 = packTgz(pluginPackage({ name: '@acme/payout-nimbus', version: '1.0.0' }));
    registry.publish('@acme/payout-nimbus', '1.0.0', v1);
    registry.publish('@acme/payout-nimbus', '1.1.0-beta.1', packTgz(pluginPackage({ name: '@acme/payout-nimbus', version: '1.1.0-beta.1' })), { tag: 'beta' });
    const staged = await installer.stage({ source: '@acme/payout-nimbus', token: TOKEN, actor: 't' });
    expect(staged).toMatchObject({
      key: 'payout-nimbus',
      package: { name: '@acme/payout-nimbus', version: '1.0.0', integrity: sri(v1), source: { kind: 'npm', spec: '@acme/payout-nimbus', registry: registry.url, tarballUrl: `${registry.url}${registry.tarballPath('@acme/payout-nimbus', '1.0.0')}` } },
    });
    expect(registry.requests.map((r) => [r.url, r.authorization])).toEqual([
      ['/@acme%2fpayout-nimbus', `Bearer ${TOKEN}`],
      [registry.tarballPath('@acme/payout-nimbus', '1.0.0'), `Bearer ${TOKEN}`],
    ]);
    await installer.confirm(staged.stagingId, 'admin');
    const record = await store.getPluginRecord('payout-nimbus');
    expect(record!.current).toMatchObject({ packageName: '@acme/payout-nimbus', version: '1.0.0', integrity: sri(v1) });
    // The token is used, never kept: not in the record, not in the staging area.
    expect(JSON.stringify(record)).not.toContain(TOKEN);

    const beta = await installer.stage({ source: '@acme/payout-nimbus@beta', key: 'nimbus_beta', token: TOKEN, actor: 't' });
    expect(beta.package.version).toBe('1.1.0-beta.1');
    expect(fs.readFileSync(path.join(pluginsDir, '.staging', beta.stagingId, 'stage.json'), 'utf8')).not.toContain(TOKEN);
    const exact = await installer.stage({ source: '@acme/payout-nimbus@1.0.0', key: 'nimbus_exact', token: TOKEN, actor: 't' });
    expect(exact.package.version).toBe('1.0.0');
  });

  it('refuses without the token, or with a wrong one, saying what to do', async () => {
    registry.publish('payout-private', '1.0.0', packTgz(pluginPackage({ name: 'payout-private' })));
    await expect(installer.stage({ source: 'payout-private', actor: 't' })).rejects.toMatchObject({
      code: 'unauthorized', message: expect.stringMatching(/refused the registry entry of payout-private \(HTTP 401\): it needs a token: pass --registry-token-env VAR/),
    });
    const refused = installer.stage({ source: 'payout-private', token: 'npm_wrong', actor: 't' });
    await expect(refused).rejects.toThrow(/HTTP 401\): the token was not accepted/);
    await expect(refused).rejects.not.toThrow(/npm_wrong/);
    await expect(installer.stage({ source: 'payout-private', token: 'has space', actor: 't' })).rejects.toThrow(/the registry token has spaces, non-ASCII or control characters.*\(it is not shown\)/);
  });

  it('refuses a tarball that does not match the registry integrity, and installs nothing', async () => {
    const real = packTgz(pluginPackage({ name: 'payout-swapped' }));
    registry.publish('payout-swapped', '2.0.0', real, { integrity: sri(Buffer.from('what the author published')) });
    await expect(installer.stage({ source: 'payout-swapped', token: TOKEN, actor: 't' })).rejects.toMatchObject({
      code: 'integrity_mismatch',
      message: expect.stringMatching(/^the tarball of payout-swapped@2\.0\.0 does not match its registry integrity: expected sha512-.{24}…, got sha512-.{24}…\. The download was altered or the registry entry is wrong; nothing was installed$/),
    });
    registry.publish('payout-sha1', '1.0.0', real, { integrity: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    await expect(installer.stage({ source: 'payout-sha1', token: TOKEN, actor: 't' })).rejects.toThrow(/has no sha512 dist\.integrity .*installs only tarballs it can verify with sha512/);
    expect(fs.existsSync(path.join(pluginsDir, 'payout-swapped'))).toBe(false);
    expect(fs.readdirSync(path.join(pluginsDir, '.staging'))).toEqual([]);
  });

  it('names the missing package, tag or version', async () => {
    registry.publish('payout-x', '1.0.0', packTgz(pluginPackage({ name: 'payout-x' })));
    await expect(installer.stage({ source: 'payout-missing', token: TOKEN, actor: 't' })).rejects.toThrow(/the registry entry of payout-missing not found at http:\/\/127\.0\.0\.1:\d+\/payout-missing \(HTTP 404\)/);
    await expect(installer.stage({ source: 'payout-x@next', token: TOKEN, actor: 't' })).rejects.toThrow(/payout-x has no dist-tag 'next' in http:\/\/127\.0\.0\.1:\d+; its tags: latest/);
    await expect(installer.stage({ source: 'payout-x@9.9.9', token: TOKEN, actor: 't' })).rejects.toThrow(/payout-x@9\.9\.9 is not in .*; newest versions: 1\.0\.0/);
  });

  it('sends the token to the registry origin only, never to a tarball host elsewhere', async () => {
    const cdn = await startFakeRegistry();
    try {
      const data = packTgz(pluginPackage({ name: 'payout-cdn' }));
      registry.publish('payout-cdn', '1.0.0', data, { tarballBase: cdn.url });
      cdn.serveTarball(registry.tarballPath('payout-cdn', '1.0.0'), data);
      const withCdn = new Installer({ pluginsDir, store, registry: registry.url, egress: { allowLoopback: true, tarballOrigins: [cdn.url] } });
      await withCdn.stage({ source: 'payout-cdn', token: TOKEN, actor: 't' });
      expect(cdn.requests).toHaveLength(1);
      expect(cdn.requests[0].authorization).toBeUndefined();
    } finally {
      await cdn.close();
    }
  });

  it('refuses plain http registries and tarball URLs other than loopback', async () => {
    const remote = new Installer({ pluginsDir, store, registry: 'http://registry.example.com' });
    await expect(remote.stage({ source: 'payout-x', token: TOKEN, actor: 't' })).rejects.toThrow(
      /the registry URL http:\/\/registry\.example\.com\/ must use https:\/\/ \(plain http:\/\/ only for a registry on this machine, 127\.0\.0\.1 or \[::1\], allowed with --allow-loopback-registry \/ npmAllowLoopback\)/);
    await expect(installer.stage({ source: 'http://10.0.0.5/x.tgz', actor: 't' })).rejects.toThrow(/the tarball http:\/\/10\.0\.0\.5\/x\.tgz must use https:\/\//);
  });

  it('installs from a tarball URL and records its computed integrity', async () => {
    const open = await startFakeRegistry();
    try {
      const data = packTgz(pluginPackage({ name: 'payout-url', version: '3.1.4' }));
      open.serveTarball('/dl/payout-url.tgz', data);
      const typed = new Installer({ pluginsDir, store, registry: registry.url, egress: { allowLoopback: true, tarballOrigins: [open.url] } });
      const staged = await typed.stage({ source: `${open.url}/dl/payout-url.tgz?sig=secret`, actor: 't' });
      expect(staged.package).toMatchObject({ name: 'payout-url', version: '3.1.4', integrity: sri(data), source: { kind: 'url', spec: `${open.url}/dl/payout-url.tgz` } });
    } finally {
      await open.close();
    }
  });
});
