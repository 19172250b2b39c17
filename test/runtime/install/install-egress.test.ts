// The installer's own downloads go through the egress guard with the installer's policy: metadata
// from the configured registry's origin only, tarballs from there or an allowed tarball origin,
// every redirect hop checked again, loopback only when allowed explicitly. Refusals happen before
// any socket opens: the resolver and connector are injected and record every use (design.md §9);
// only 127.0.0.1 is ever contacted.
import fs from 'node:fs';
import path from 'node:path';
import { buildConnector } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector, Resolver } from '../../../host-api/http/egress.ts';
import { Installer } from '../../../runtime/installer/installer.ts';
import type { InstallEgressOptions } from '../../../runtime/install/install-egress.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { packTgz, pluginPackage, startFakeRegistry, tmpDir } from './install-helpers.ts';
import type { FakeRegistry } from './install-helpers.ts';

const TOKEN = 'npm_deployTOKEN_egress_0123456789';
let store: Store;
let work: string;
let registry: FakeRegistry;
/** A second server on another loopback port: what a hostile registry entry points at. */
let other: FakeRegistry;
let connected: string[];
let lookups: string[];
let dns: Record<string, string[]>;

/** Private addresses the connector serves from the local registry, reporting the address asked for (no packet leaves). */
let internal: Record<string, FakeRegistry>;
const connector: Connector = (() => {
  const real = buildConnector({ timeout: 2000, allowH2: false });
  return ((o, cb) => {
    connected.push(`${o.hostname}:${o.port}`);
    const stand = internal[o.hostname];
    if (stand) {
      return real({ ...o, hostname: '127.0.0.1', port: port(stand), protocol: 'http:', servername: undefined }, (err, socket) => {
        if (err || !socket) return cb(err ?? new Error('no socket'), null);
        Object.defineProperty(socket, 'remoteAddress', { value: o.hostname, configurable: true });
        cb(null, socket);
      });
    }
    if (o.hostname !== '127.0.0.1') {
      cb(new Error(`test connector: refusing non-loopback ${o.hostname}`), null);
      return;
    }
    return real(o, cb);
  }) as Connector;
})();
const resolver: Resolver = async (hostname) => {
  lookups.push(hostname);
  const answers = dns[hostname];
  if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

function installer(egress: InstallEgressOptions = { allowLoopback: true }, registryUrl = registry.url): Installer {
  return new Installer({ pluginsDir: path.join(work, 'plugins'), store, registry: registryUrl, egress: { resolve: resolver, connect: connector, ...egress } });
}
const pkg = (name: string) => packTgz(pluginPackage({ name }));
const port = (r: FakeRegistry) => new URL(r.url).port;

beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  work = tmpDir('egress');
  registry = await startFakeRegistry({ token: TOKEN });
  other = await startFakeRegistry();
  connected = [];
  lookups = [];
  dns = {};
  internal = {};
});
afterEach(async () => {
  await registry.close();
  await other.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('installer downloads go through the egress guard', () => {
  it('refuses registry metadata whose dist.tarball points at another loopback port; nothing reaches it', async () => {
    const data = pkg('payout-pivot');
    registry.publish('payout-pivot', '1.0.0', data, { tarballBase: other.url });
    other.serveTarball(registry.tarballPath('payout-pivot', '1.0.0'), data);
    await expect(installer().stage({ source: 'payout-pivot', token: TOKEN, actor: 't' })).rejects.toMatchObject({
      code: 'bad_source',
      message: expect.stringMatching(new RegExp(`could not fetch the tarball of payout-pivot@1\\.0\\.0 http://127\\.0\\.0\\.1:${port(other)}/.*: plugin install refused: .*127\\.0\\.0\\.1:${port(other)}`)),
    });
    expect(other.requests).toEqual([]);
    expect(connected).not.toContain(`127.0.0.1:${port(other)}`);
    expect(fs.readdirSync(path.join(work, 'plugins', '.staging'))).toEqual([]);

    // Control: the same package with its tarball on the registry installs.
    registry.publish('payout-pivot', '1.0.1', pkg('payout-pivot'));
    const staged = await installer().stage({ source: 'payout-pivot@1.0.1', token: TOKEN, actor: 't' });
    expect(staged.package).toMatchObject({ name: 'payout-pivot', version: '1.0.1' });
    expect(connected.every((c) => c === `127.0.0.1:${port(registry)}`)).toBe(true);
  });

  it('an allowed tarball origin is fetched, without the token, also when the registry redirects there', async () => {
    const data = pkg('payout-cdn');
    registry.publish('payout-cdn', '1.0.0', data);
    const tarball = registry.tarballPath('payout-cdn', '1.0.0');
    registry.redirect(tarball, `${other.url}/cdn/payout-cdn.tgz`);
    other.serveTarball('/cdn/payout-cdn.tgz', data);
    await expect(installer().stage({ source: 'payout-cdn', token: TOKEN, actor: 't' })).rejects.toThrow(/redirect from .* to http:\/\/127\.0\.0\.1:\d+\/cdn\/payout-cdn\.tgz was not followed/);
    expect(other.requests).toEqual([]);
    const staged = await installer({ allowLoopback: true, tarballOrigins: [other.url] }).stage({ source: 'payout-cdn', token: TOKEN, actor: 't' });
    expect(staged.package.version).toBe('1.0.0');
    expect(other.requests).toEqual([{ url: '/cdn/payout-cdn.tgz', authorization: undefined }]);
  });

  it('does not follow a registry redirect to localhost, for metadata or tarball; a redirect within the registry is followed', async () => {
    registry.publish('payout-hop', '1.0.0', pkg('payout-hop'));
    const tarball = registry.tarballPath('payout-hop', '1.0.0');
    registry.redirect(tarball, `http://localhost:${port(other)}/steal.tgz`);
    await expect(installer().stage({ source: 'payout-hop', token: TOKEN, actor: 't' })).rejects.toThrow(
      new RegExp(`redirect from http://127\\.0\\.0\\.1:${port(registry)}/tarballs/payout-hop-1\\.0\\.0\\.tgz to http://localhost:${port(other)}/steal\\.tgz was not followed`));
    registry.redirect('/payout-meta', `http://localhost:${port(other)}/payout-meta`);
    await expect(installer().stage({ source: 'payout-meta', token: TOKEN, actor: 't' })).rejects.toThrow(/the registry entry of payout-meta .*redirect .* to http:\/\/localhost:\d+\/payout-meta was not followed/);
    expect(other.requests).toEqual([]);
    expect(lookups).toEqual([]);
    expect(connected.filter((c) => c !== `127.0.0.1:${port(registry)}`)).toEqual([]);

    // Control: a redirect that stays on the registry's origin is followed hop by hop.
    const data = pkg('payout-moved');
    registry.publish('payout-moved', '1.0.1', data);
    registry.redirect(registry.tarballPath('payout-moved', '1.0.1'), '/mirror/payout-moved-1.0.1.tgz');
    registry.serveTarball('/mirror/payout-moved-1.0.1.tgz', data);
    const staged = await installer().stage({ source: 'payout-moved@1.0.1', token: TOKEN, actor: 't' });
    expect(staged.package.version).toBe('1.0.1');
  });

  it('refuses a loopback registry unless loopback is allowed explicitly, before any socket opens', async () => {
    registry.publish('payout-local', '1.0.0', pkg('payout-local'));
    const refused = installer({}).stage({ source: 'payout-local', token: TOKEN, actor: 't' });
    await expect(refused).rejects.toMatchObject({ code: 'bad_source', message: expect.stringMatching(/is a loopback address.*must be allowed explicitly \(allowLoopback; npmAllowLoopback for the server, --allow-loopback-registry on the command line\)$/) });
    expect(connected).toEqual([]);
    expect(registry.requests).toEqual([]);
    const byName = installer({}, `http://localhost:${port(registry)}`).stage({ source: 'payout-local', token: TOKEN, actor: 't' });
    await expect(byName).rejects.toThrow(/the name localhost is not looked up/);
    expect([connected, lookups, registry.requests]).toEqual([[], [], []]);

    // Control: the same registry, allowed, through the same connector.
    const staged = await installer({ allowLoopback: true }).stage({ source: 'payout-local', token: TOKEN, actor: 't' });
    expect(staged.package.name).toBe('payout-local');
    expect(connected).toContain(`127.0.0.1:${port(registry)}`);
  });

  it('refuses registries and tarball origins that resolve to, or are, non-public addresses; no socket opens', async () => {
    dns['registry.example.test'] = ['10.0.0.5'];
    dns['mixed.example.test'] = ['93.184.216.34', '127.0.0.1'];
    await expect(installer({}, 'https://registry.example.test').stage({ source: 'payout-x', actor: 't' })).rejects.toThrow(/registry\.example\.test resolves to 10\.0\.0\.5, which is private/);
    await expect(installer({}, 'https://mixed.example.test').stage({ source: 'payout-x', actor: 't' })).rejects.toThrow(/resolves to 127\.0\.0\.1, which is loopback/);
    expect(lookups).toEqual(['registry.example.test', 'mixed.example.test']);

    // Listing an origin does not make a link-local address reachable.
    const data = pkg('payout-meta-ip');
    registry.publish('payout-meta-ip', '1.0.0', data, { tarballBase: 'https://169.254.169.254' });
    await expect(installer({ allowLoopback: true, tarballOrigins: ['https://169.254.169.254'] }).stage({ source: 'payout-meta-ip', token: TOKEN, actor: 't' }))
      .rejects.toThrow(/169\.254\.169\.254 is link-local/);
    // A redirect to a public origin that is not allowed is refused before its name is looked up.
    registry.publish('payout-away', '1.0.0', pkg('payout-away'));
    registry.redirect(registry.tarballPath('payout-away', '1.0.0'), 'https://downloads.example.test/payout-away.tgz');
    await expect(installer().stage({ source: 'payout-away', token: TOKEN, actor: 't' })).rejects.toThrow(/https:\/\/downloads\.example\.test is not the registry's origin or an allowed tarball origin/);
    expect(lookups).toEqual(['registry.example.test', 'mixed.example.test']);
    expect(connected.filter((c) => !c.startsWith('127.0.0.1:'))).toEqual([]);
  });

  it('an internal mirror on a private network is reachable only when allowed, and only at its configured origin', async () => {
    const MIRROR = 'https://npm.internal.example';
    dns['npm.internal.example'] = ['10.0.0.5'];
    dns['other.internal.example'] = ['10.0.0.6'];
    dns['meta.internal.example'] = ['169.254.169.254'];
    internal['10.0.0.5'] = registry;
    registry.publish('payout-mirror', '1.0.0', pkg('payout-mirror'), { tarballBase: MIRROR });
    await expect(installer({}, MIRROR).stage({ source: 'payout-mirror', token: TOKEN, actor: 't' })).rejects.toThrow(
      /resolves to 10\.0\.0\.5, which is private.*must be allowed explicitly \(allowPrivateNetwork; npmAllowPrivateNetwork for the server, --allow-private-registry on the command line\)$/);
    expect(connected).toEqual([]);

    // Control: allowed, the mirror serves metadata and tarball (the token goes with both: same origin).
    const staged = await installer({ allowPrivateNetwork: true }, MIRROR).stage({ source: 'payout-mirror', token: TOKEN, actor: 't' });
    expect(staged.package.name).toBe('payout-mirror');
    expect(connected).toEqual(['10.0.0.5:443', '10.0.0.5:443']);
    expect(registry.requests.map((r) => r.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);

    // Still refused: another private origin the entry points at, and link-local behind a configured name.
    registry.publish('payout-lateral', '1.0.0', pkg('payout-lateral'), { tarballBase: 'https://other.internal.example' });
    await expect(installer({ allowPrivateNetwork: true }, MIRROR).stage({ source: 'payout-lateral', token: TOKEN, actor: 't' })).rejects.toThrow(/https:\/\/other\.internal\.example is not the registry's origin/);
    await expect(installer({ allowPrivateNetwork: true }, 'https://meta.internal.example').stage({ source: 'payout-x', actor: 't' })).rejects.toThrow(/169\.254\.169\.254, which is link-local/);
    expect(lookups).not.toContain('other.internal.example');
    expect(connected.filter((c) => c !== '10.0.0.5:443')).toEqual([]);
  });

  it('a typed tarball URL may be any public https origin, but loopback only at a configured origin', async () => {
    other.serveTarball('/x.tgz', pkg('payout-typed'));
    await expect(installer().stage({ source: `${other.url}/x.tgz`, actor: 't' })).rejects.toThrow(/is a loopback address/);
    expect(other.requests).toEqual([]);
    dns['files.example.test'] = ['192.168.1.20'];
    await expect(installer().stage({ source: 'https://files.example.test/x.tgz', actor: 't' })).rejects.toThrow(/resolves to 192\.168\.1\.20, which is private/);
    // Control: once its origin is configured (and loopback allowed), it installs.
    const staged = await installer({ allowLoopback: true, tarballOrigins: [other.url] }).stage({ source: `${other.url}/x.tgz`, actor: 't' });
    expect(staged.package.name).toBe('payout-typed');
  });
});
