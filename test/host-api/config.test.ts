// A secret too short for the scrubber to find again (in a provider's echo, in a log) is refused when
// it is set, and a short one already stored (set before the minimum, or written to the store
// directly) is refused when it is loaded: never handed to a plugin, never applied by the host.
import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigService } from '../../host-api/config.ts';
import { PolicyDenied } from '../../host-api/capability.ts';
import type { PluginManifest } from '../../runtime/manifest/manifest.ts';
import { keyId } from '../../runtime/secrets/master-key.ts';
import { SecretBox } from '../../runtime/secrets/secret-box.ts';
import { Scrubber, MIN_SCRUBBED_SECRET_LENGTH } from '../../runtime/secrets/scrubber.ts';
import { openStore } from '../../runtime/store/open-store.ts';
import type { Store } from '../../runtime/store/store.ts';

const manifest = (format: 'platform' | 'sdk'): PluginManifest => ({
  format, type: 'payout', title: 'Acme', name: 'acme', required_npm: [], allow_XML: [],
  default_config: { apiUrl: 'https://api.acme.example' }, required_config: { apiKey: 2, apiUrl: 1 }, network: [], env: [], extra: [],
});

let store: Store;
let box: SecretBox;
let scrubber: Scrubber;
let service: ConfigService;
beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  const k = crypto.randomBytes(32);
  box = new SecretBox({ current: { id: keyId(k), key: k }, byId: new Map([[keyId(k), k]]), source: 'test' });
  scrubber = new Scrubber();
  service = new ConfigService({ store, box, scrubber, manifests: { manifestOf: (p) => (p === 'acme' ? manifest('platform') : p === 'acmesdk' ? manifest('sdk') : undefined) } });
});
afterEach(async () => {
  await store.close();
});

describe('minimum secret length', () => {
  it('refuses a short secret at set time in one line: which key, the minimum, how to fix; nothing is stored', async () => {
    const short = 'k'.repeat(MIN_SCRUBBED_SECRET_LENGTH - 1);
    const err = await service.set('acme', 'apiKey', short).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyDenied);
    expect(err.message).toBe(
      `config key 'apiKey' of plugin 'acme' is a secret of ${MIN_SCRUBBED_SECRET_LENGTH - 1} characters; secrets must be at least ${MIN_SCRUBBED_SECRET_LENGTH} characters so they can be removed from provider responses and logs: set the full credential (or a longer one) in the plugin's settings`,
    );
    expect(err.message).not.toContain(short);
    expect(await store.getConfig('acme', 'apiKey')).toBeNull();
  });

  it('control: a long enough secret, an empty one (unset) and a short non-secret value are accepted', async () => {
    await expect(service.set('acme', 'apiKey', 'k'.repeat(MIN_SCRUBBED_SECRET_LENGTH))).resolves.toEqual({ secret: true });
    expect(await service.get('acme', 'apiKey')).toBe('k'.repeat(MIN_SCRUBBED_SECRET_LENGTH));
    await expect(service.set('acme', 'apiKey', '')).resolves.toEqual({ secret: true });
    await expect(service.set('acme', 'apiUrl', 'x')).resolves.toEqual({ secret: false });
  });

  it('refuses a short secret already in the store at load: not read by the plugin, not applied by the host, reported by primeScrubber', async () => {
    const short = 'short-key-12';
    for (const plugin of ['acme', 'acmesdk']) {
      await store.setConfig({ plugin, key: 'apiKey', secret: true, value: box.seal(short, `${plugin}.apiKey`) });
    }
    await expect(service.get('acme', 'apiKey')).rejects.toThrow(/config key 'apiKey' of plugin 'acme' is a secret of 12 characters; secrets must be at least 16/);
    await expect(service.readForHost('acmesdk', 'apiKey')).rejects.toMatchObject({ rule: 'config.secret-too-short' });
    expect(await service.primeScrubber(['acme', 'acmesdk'])).toEqual([
      expect.stringMatching(/^config key 'apiKey' of plugin 'acme' is a secret of 12 characters/),
      expect.stringMatching(/^config key 'apiKey' of plugin 'acmesdk' is a secret of 12 characters/),
    ]);
    // Still registered for log scrubbing, whole value: it must not leak while it is being replaced.
    expect(scrubber.scrub(`x ${short} y`)).toMatch(/^x \[redacted:acme(sdk)?\.apiKey\] y$/);
  });
});

describe('opened secrets are kept only with the envelope they came from', () => {
  const first = 'first-secret-value-0123456789';
  const second = 'second-secret-value-987654321';
  const countOpens = (): { n: number } => {
    const count = { n: 0 };
    const open = box.open.bind(box);
    box.open = (envelope: string, field: string) => {
      count.n++;
      return open(envelope, field);
    };
    return count;
  };

  it('reading the same stored secret again does not decrypt it again (positive control for what follows)', async () => {
    await service.set('acme', 'apiKey', first);
    const opens = countOpens();
    expect(await service.get('acme', 'apiKey')).toBe(first);
    expect(await service.get('acme', 'apiKey')).toBe(first);
    expect(opens.n).toBe(1);
  });

  it('a changed value is read anew at once, and is what the scrubber removes', async () => {
    await service.set('acme', 'apiKey', first);
    expect(await service.get('acme', 'apiKey')).toBe(first);
    await service.set('acme', 'apiKey', second);
    expect(await service.readForHost('acme', 'apiKey')).toBe(second);
    expect(scrubber.scrub(`echo ${second}`)).not.toContain(second);
  });

  it('an envelope replaced in the store behind the service (moved from another field) is opened, and refused, at the next read', async () => {
    await service.set('acme', 'apiKey', first);
    expect(await service.get('acme', 'apiKey')).toBe(first);
    await store.setConfig({ plugin: 'acme', key: 'apiKey', secret: true, value: box.seal(second, 'other.apiKey') });
    await expect(service.get('acme', 'apiKey')).rejects.toThrow(/could not be decrypted/);
  });
});

describe('declared keys', () => {
  it('follow the manifest the plugin has now: a reload that adds, drops or makes secret a key is obeyed at the next read', async () => {
    let current: PluginManifest = manifest('platform');
    const reloading = new ConfigService({ store, box, scrubber, manifests: { manifestOf: (p) => (p === 'acme' ? current : undefined) } });
    expect(await reloading.get('acme', 'apiUrl')).toBe('https://api.acme.example');
    await expect(reloading.get('acme', 'region')).rejects.toMatchObject({ rule: 'config.undeclared-key' });
    await store.setConfig({ plugin: 'acme', key: 'region', secret: false, value: 'eu' });
    current = { ...current, required_config: { apiKey: 2, region: 1 }, default_config: {} };
    expect(await reloading.get('acme', 'region')).toBe('eu');
    await expect(reloading.get('acme', 'apiUrl')).rejects.toMatchObject({ rule: 'config.undeclared-key' });
    // A key now declared secret is read as one: an envelope is expected, and plain text is refused.
    current = { ...current, required_config: { apiKey: 2, region: 2 } };
    await expect(reloading.get('acme', 'region')).rejects.toThrow(/secret acme.region is not an encrypted/);
  });
});
