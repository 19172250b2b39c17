// config: what a plugin may read of configuration — `config.get(key)` for keys its own manifest
// declares (default_config / required_config), for itself only. The plugin's identity comes from
// the call context, never from the arguments, so there is no way to name another plugin.
// Secret keys (required_config: 2) are stored only as AES-256-GCM envelopes bound to plugin and
// key, are write-only through every admin route (shown as "set"/"not set"), and their values are
// registered with the scrubber so they are removed from logs, audit records and errors.
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, PolicyDenied } from './capability.ts';
import type { Store } from '../runtime/store/store.ts';
import type { PluginManifest, ConfigScalar } from '../runtime/manifest/manifest.ts';
import { configKeys } from '../runtime/manifest/manifest.ts';
import type { SecretBox } from '../runtime/secrets/secret-box.ts';
import type { Scrubber } from '../runtime/secrets/scrubber.ts';
import { MIN_SCRUBBED_SECRET_LENGTH } from '../runtime/secrets/scrubber.ts';

export const MAX_CONFIG_VALUE_LENGTH = 8192;

/**
 * One line for a secret too short to be found again in a provider's echo or a log (the scrubber
 * matches pieces of half a secret's length, and shorter values would match ordinary text).
 */
export function secretTooShort(plugin: string, key: string, length: number): string {
  return `config key '${key}' of plugin '${plugin}' is a secret of ${length} characters; secrets must be at least ${MIN_SCRUBBED_SECRET_LENGTH} characters so they can be removed from provider responses and logs: set the full credential (or a longer one) in the plugin's settings`;
}

export interface ManifestSource {
  manifestOf(plugin: string): PluginManifest | undefined;
}

export interface ConfigEntryView {
  key: string;
  secret: boolean;
  /** For secrets: whether a value is stored. For shown keys: always true. */
  set: boolean;
  /** null for secrets, always: they are write-only. */
  value: ConfigScalar;
  updatedAt: string | null;
}

export class ConfigService {
  private readonly store: Pick<Store, 'getConfig' | 'listConfig' | 'setConfig'>;
  private readonly box: SecretBox;
  private readonly scrubber: Scrubber;
  private readonly manifests: ManifestSource;
  /** Bumped by every write of a plugin's config (config-snapshot.ts compares it). */
  private readonly versions = new Map<string, number>();
  private readonly listeners = new Set<(plugin: string, secret: boolean) => void>();
  /** Per `<plugin>.<key>`: the last envelope opened and its plaintext (see read()). */
  private readonly opened = new Map<string, { envelope: string; plain: string }>();
  /**
   * Per manifest: its declared keys, whether each is a secret. Worked out once per manifest (a
   * reload brings a new one; none is changed in place), not on every read.
   */
  private readonly declaredKeys = new WeakMap<PluginManifest, Map<string, boolean>>();

  constructor(deps: { store: Pick<Store, 'getConfig' | 'listConfig' | 'setConfig'>; box: SecretBox; scrubber: Scrubber; manifests: ManifestSource }) {
    this.store = deps.store;
    this.box = deps.box;
    this.scrubber = deps.scrubber;
    this.manifests = deps.manifests;
  }

  private declared(plugin: string, key: string): { secret: boolean; manifest: PluginManifest } {
    const manifest = this.manifests.manifestOf(plugin);
    if (!manifest) throw new PolicyDenied('config.unknown-plugin', `config: plugin '${plugin}' is not registered`);
    let keys = this.declaredKeys.get(manifest);
    if (!keys) this.declaredKeys.set(manifest, (keys = new Map(configKeys(manifest).map((k) => [k.key, k.secret]))));
    const secret = keys.get(key);
    if (secret === undefined) {
      throw new PolicyDenied('config.undeclared-key',
        `config.get('${key}') refused: '${key}' is not declared in ${plugin}'s configure.js (default_config or required_config)`);
    }
    return { secret, manifest };
  }

  /**
   * The value a plugin sees: stored value, else its default_config value, else null. SDK-format
   * plugins never read secrets: the host applies them (http auth/sign) on their behalf.
   */
  async get(plugin: string, key: string): Promise<ConfigScalar> {
    const { secret, manifest } = this.declared(plugin, key);
    if (secret && manifest.format === 'sdk') {
      throw new PolicyDenied('config.secret-host-side', `config.get('${key}') refused: '${key}' is a secret and SDK-format plugins use secrets only through ctx.http (auth, secretHeaders, sign), never read them`);
    }
    return this.read(plugin, key, secret, manifest);
  }

  /** The host's own read of a plugin's value, secrets included (host-side signing). */
  async readForHost(plugin: string, key: string): Promise<string> {
    const { secret, manifest } = this.declared(plugin, key);
    const value = await this.read(plugin, key, secret, manifest);
    if (value === null || value === '') throw new PolicyDenied('config.unset', `config key '${key}' of plugin '${plugin}' is not set; the administrator sets it in the plugin's settings`);
    return String(value);
  }

  private async read(plugin: string, key: string, secret: boolean, manifest: PluginManifest): Promise<ConfigScalar> {
    const stored = await this.store.getConfig(plugin, key);
    if (!stored) return Object.hasOwn(manifest.default_config, key) ? manifest.default_config[key] : null;
    if (!secret) return stored.value;
    const field = `${plugin}.${key}`;
    // Opening an envelope (AES-GCM) cost more than the rest of a secret read. The last opening of
    // each field is kept with the exact envelope it came from: the store is still read every time,
    // and any other envelope (a new value, a re-seal, a tampered row) is opened, and checked, anew.
    const memo = this.opened.get(field);
    let plain: string;
    if (memo && memo.envelope === stored.value) plain = memo.plain;
    else {
      plain = this.box.open(stored.value, field);
      this.opened.set(field, { envelope: stored.value, plain });
    }
    this.scrubber.add(plain, field);
    // Stored before the minimum existed, or written straight into the store: not used, ever.
    if (plain !== '' && plain.length < MIN_SCRUBBED_SECRET_LENGTH) throw new PolicyDenied('config.secret-too-short', secretTooShort(plugin, key, plain.length));
    return plain;
  }

  /** Admin write. Secrets are sealed before they reach the store. */
  async set(plugin: string, key: string, value: unknown): Promise<{ secret: boolean }> {
    const { secret } = this.declared(plugin, key);
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      throw new CapabilityArgumentError('set-config-payout', 'value', 'must be a string, number or boolean');
    }
    const text = value === null ? '' : String(value);
    if (text.length > MAX_CONFIG_VALUE_LENGTH) throw new CapabilityArgumentError('set-config-payout', 'value', `is longer than ${MAX_CONFIG_VALUE_LENGTH} characters`);
    if (secret && text !== '' && text.length < MIN_SCRUBBED_SECRET_LENGTH) {
      throw new PolicyDenied('config.secret-too-short', secretTooShort(plugin, key, text.length));
    }
    try {
      if (secret) {
        this.scrubber.add(text, `${plugin}.${key}`);
        await this.store.setConfig({ plugin, key, secret: true, value: this.box.seal(text, `${plugin}.${key}`) });
      } else {
        await this.store.setConfig({ plugin, key, secret: false, value: text });
      }
    } finally {
      // Even a write that failed may have reached the store: what was pushed is dropped either way.
      this.changed(plugin, secret);
    }
    return { secret };
  }

  /** How many times this plugin's config was written since the server started. */
  versionOf(plugin: string): number {
    return this.versions.get(plugin) ?? 0;
  }

  /**
   * Told right after each write of a plugin's config (the sandbox host drops what it pushed);
   * `secret` when a secret was written, which any plugin's shown value may hold.
   */
  onChange(listener: (plugin: string, secret: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(plugin: string, secret: boolean): void {
    this.versions.set(plugin, this.versionOf(plugin) + 1);
    for (const listener of this.listeners) listener(plugin, secret);
  }

  /**
   * How many secret values the scrubber knows. It grows when a secret becomes known by any path (a
   * write, a read, a plugin loaded with stored secrets), after which any plugin's pushed values may
   * hold one: the push stamp (config-snapshot.ts) includes it.
   */
  knownSecrets(): number {
    return this.scrubber.size;
  }

  /**
   * The non-secret values config.get would answer, read in one query: pushed to the plugin's
   * sandbox process (config-snapshot.ts). Left out, so that the server answers them as before: a
   * secret key, a key too long for config.get, a value the store keeps sealed (a key that was a
   * secret in an earlier version), and any value holding a known secret (an administrator who
   * pasted a credential into a shown field): the sandbox process never holds a secret.
   * Null for a plugin with no manifest.
   */
  async shownValues(plugin: string): Promise<Record<string, ConfigScalar> | null> {
    const manifest = this.manifests.manifestOf(plugin);
    if (!manifest) return null;
    const stored = new Map((await this.store.listConfig(plugin)).map((e) => [e.key, e]));
    const values: Record<string, ConfigScalar> = Object.create(null);
    for (const { key, secret } of configKeys(manifest)) {
      if (secret || key.length === 0 || key.length > 64) continue;
      const entry = stored.get(key);
      if (entry?.secret) continue;
      const value = entry ? entry.value : Object.hasOwn(manifest.default_config, key) ? manifest.default_config[key] : null;
      if (typeof value === 'string' && this.scrubber.scrub(value) !== value) continue;
      values[key] = value;
    }
    return values;
  }

  /** What the admin page may show: secrets masked, always. */
  async view(plugin: string): Promise<ConfigEntryView[]> {
    const manifest = this.manifests.manifestOf(plugin);
    if (!manifest) return [];
    const stored = new Map((await this.store.listConfig(plugin)).map((e) => [e.key, e]));
    return configKeys(manifest).map(({ key, secret }) => {
      const entry = stored.get(key);
      if (secret) return { key, secret, set: Boolean(entry && entry.value && this.box.open(entry.value, `${plugin}.${key}`) !== ''), value: null, updatedAt: entry?.updatedAt ?? null };
      return { key, secret, set: true, value: entry ? entry.value : manifest.default_config[key] ?? null, updatedAt: entry?.updatedAt ?? null };
    });
  }

  /**
   * Registers every stored secret with the scrubber, so a value read earlier is scrubbed after a
   * restart. Returns one line per stored secret too short to scrub safely (the load-time refusal:
   * such a secret is never handed out, see read()), for the caller to log.
   */
  async primeScrubber(plugins: string[]): Promise<string[]> {
    const refused: string[] = [];
    for (const plugin of plugins) {
      for (const entry of await this.store.listConfig(plugin)) {
        if (!entry.secret || !entry.value) continue;
        let plain: string;
        try {
          plain = this.box.open(entry.value, `${plugin}.${entry.key}`);
        } catch {
          continue; // An envelope we cannot open holds no value we could leak.
        }
        this.scrubber.add(plain, `${plugin}.${entry.key}`);
        if (plain !== '' && plain.length < MIN_SCRUBBED_SECRET_LENGTH) refused.push(secretTooShort(plugin, entry.key, plain.length));
      }
    }
    return refused;
  }
}

export function configCapability(service: ConfigService): Capability<{ key: string }, ConfigScalar> {
  return {
    name: 'config.get',
    parse(raw) {
      const key = (raw as { key?: unknown } | null)?.key;
      if (typeof key !== 'string' || key.length === 0 || key.length > 64) throw new CapabilityArgumentError('config.get', 'key', 'must be a non-empty string of at most 64 characters');
      return { key };
    },
    summarize: (args) => `key=${args.key}`,
    invoke: (ctx: HostCallContext, args) => service.get(ctx.plugin, args.key),
  };
}
