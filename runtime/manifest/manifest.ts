// The manifest: what configure.js declares, checked field by field. configure.js itself is
// evaluated in a throwaway isolate (sandbox/child/manifest-isolate.ts); only its plain-data
// exports reach this file.
import { PluginRejected } from '../plugin-errors.ts';
import { PROVIDED_PACKAGES } from '../bundler/host-modules.ts';
import { webhookSignatureFromSdk } from './webhook-signature.ts';
import type { WebhookSignatureScheme } from './webhook-signature.ts';

export type { WebhookSignatureScheme, WebhookSignPart } from './webhook-signature.ts';

export type ConfigScalar = string | number | boolean | null;
export type ConfigVisibility = 1 | 2; // 1 = shown in the admin page, 2 = secret (write-only)

export interface NetworkRequest {
  origin: string;               // scheme://host:port
  methods: string[] | null;
  pathPrefix: string | null;
  /** Config keys the host may apply (auth, secretHeaders, sign) on requests to this origin only. */
  secrets?: string[];
}

export interface PluginManifest {
  /** platform: configure.js + index.js, reads its own secrets; sdk: definePayoutPlugin, secrets stay host-side. */
  format: 'platform' | 'sdk';
  type: 'payout';
  title: string;
  name: string;
  required_npm: string[];
  allow_XML: string[];
  default_config: Record<string, ConfigScalar>;
  required_config: Record<string, ConfigVisibility>;
  /** Our extension (optional in the platform format): origins the plugin asks to reach. */
  network: NetworkRequest[];
  /** Our extension: process.env keys the plugin would like; the administrator whitelists them. */
  env: string[];
  /** Fields configure.js exported that we do not know; kept for the report. */
  extra: string[];
  /** SDK format: how the provider signs webhooks, verified host-side (manifest.webhook.signature). */
  webhookSignature?: WebhookSignatureScheme | null;
}

const KNOWN = new Set(['type', 'title', 'name', 'required_npm', 'allow_XML', 'default_config', 'required_config', 'network', 'env']);
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const CURRENCY_CODE = /^[A-Za-z0-9_.-]{1,40}$/;
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function reject(field: string, problem: string): never {
  throw new PluginRejected('manifest_invalid', `configure.js: ${field} ${problem}`);
}

function text(raw: Record<string, unknown>, field: string, max: number): string {
  const v = raw[field];
  if (typeof v !== 'string' || v.trim() === '') reject(field, `must be a non-empty string (module.exports.${field} = '...'); got ${describe(v)}`);
  if (v.length > max) reject(field, `is longer than ${max} characters`);
  return v;
}

function stringList(raw: Record<string, unknown>, field: string, check: (s: string, i: number) => void): string[] {
  const v = raw[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) reject(field, `must be an array of strings; got ${describe(v)}`);
  return v.map((item, i) => {
    if (typeof item !== 'string') reject(`${field}[${i}]`, `must be a string; got ${describe(item)}`);
    check(item, i);
    return item;
  });
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v.slice(0, 40)}'` : typeof v;
}

function canonicalOrigin(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    reject(field, `'${value}' is not a URL; write an origin like https://api.provider.example`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') reject(field, `'${value}' must use http or https`);
  if (url.username || url.password) reject(field, `'${value}' must not contain credentials`);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname}:${port}`;
}

function networkRequests(raw: unknown): NetworkRequest[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) reject('network', `must be an array of {origin, methods?, pathPrefix?}; got ${describe(raw)}`);
  return raw.map((entry, i) => {
    const field = `network[${i}]`;
    const e = typeof entry === 'string' ? { origin: entry } : entry;
    if (!e || typeof e !== 'object') reject(field, `must be an origin string or {origin, methods?, pathPrefix?}`);
    const r = e as Record<string, unknown>;
    if (typeof r.origin !== 'string') reject(`${field}.origin`, `must be a string like https://api.provider.example`);
    let methods: string[] | null = null;
    if (r.methods !== undefined && r.methods !== null) {
      if (!Array.isArray(r.methods)) reject(`${field}.methods`, 'must be an array of HTTP methods');
      methods = r.methods.map((m, j) => {
        const up = String(m).toUpperCase();
        if (!HTTP_METHODS.has(up)) reject(`${field}.methods[${j}]`, `'${String(m)}' is not an HTTP method`);
        return up;
      });
    }
    let pathPrefix: string | null = null;
    if (r.pathPrefix !== undefined && r.pathPrefix !== null) {
      if (typeof r.pathPrefix !== 'string' || !r.pathPrefix.startsWith('/')) reject(`${field}.pathPrefix`, "must be a path starting with '/'");
      pathPrefix = r.pathPrefix;
    }
    let secrets: string[] | undefined;
    if (r.secrets !== undefined && r.secrets !== null) {
      if (!Array.isArray(r.secrets)) reject(`${field}.secrets`, 'must be an array of config keys the host may send to this origin');
      secrets = r.secrets.map((k, j) => {
        if (typeof k !== 'string' || !CONFIG_KEY.test(k)) reject(`${field}.secrets[${j}]`, `must be a config key; got ${describe(k)}`);
        return k;
      });
    }
    return { origin: canonicalOrigin(r.origin, `${field}.origin`), methods, pathPrefix, ...(secrets ? { secrets } : {}) };
  });
}

export function validateManifest(raw: unknown): PluginManifest {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) reject('exports', `must be an object; got ${describe(raw)}`);
  const r = raw as Record<string, unknown>;
  if (r.type !== 'payout') reject('type', `must be 'payout' for a payout plugin; got ${describe(r.type)}`);
  const title = text(r, 'title', 200);
  const name = text(r, 'name', 200);
  const required_npm = stringList(r, 'required_npm', (pkg, i) => {
    if (!Object.hasOwn(PROVIDED_PACKAGES, pkg)) {
      reject(`required_npm[${i}]`, `lists '${pkg}', which the sandbox does not provide. Available packages: ${Object.keys(PROVIDED_PACKAGES).join(', ')}`);
    }
  });
  const allow_XML = stringList(r, 'allow_XML', (code, i) => {
    if (!CURRENCY_CODE.test(code)) reject(`allow_XML[${i}]`, `'${code}' is not a currency code (letters, digits, '_', '.', '-')`);
  });

  const default_config: Record<string, ConfigScalar> = {};
  if (r.default_config !== undefined) {
    if (!r.default_config || typeof r.default_config !== 'object' || Array.isArray(r.default_config)) reject('default_config', `must be an object; got ${describe(r.default_config)}`);
    for (const [key, value] of Object.entries(r.default_config as Record<string, unknown>)) {
      if (!CONFIG_KEY.test(key)) reject(`default_config.${key}`, 'is not a valid config key (letters, digits, _ . -, up to 64)');
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) reject(`default_config.${key}`, `must be a string, number, boolean or null; got ${describe(value)}`);
      default_config[key] = value as ConfigScalar;
    }
  }
  const required_config: Record<string, ConfigVisibility> = {};
  if (r.required_config !== undefined) {
    if (!r.required_config || typeof r.required_config !== 'object' || Array.isArray(r.required_config)) reject('required_config', `must be an object; got ${describe(r.required_config)}`);
    for (const [key, value] of Object.entries(r.required_config as Record<string, unknown>)) {
      if (!CONFIG_KEY.test(key)) reject(`required_config.${key}`, 'is not a valid config key (letters, digits, _ . -, up to 64)');
      if (value !== 1 && value !== 2) reject(`required_config.${key}`, `must be 1 (shown in the admin page) or 2 (secret, write-only); got ${describe(value)}${typeof value === 'number' ? ` ${value}` : ''}`);
      required_config[key] = value;
    }
  }
  const env = stringList(r, 'env', (k, i) => { if (!/^[A-Z_][A-Z0-9_]{0,63}$/.test(k)) reject(`env[${i}]`, `'${k}' is not an environment variable name`); });
  return {
    format: 'platform', type: 'payout', title, name, required_npm, allow_XML, default_config, required_config,
    network: networkRequests(r.network), env,
    extra: Object.keys(r).filter((k) => !KNOWN.has(k)),
  };
}

/** Every config key the plugin may read: declared in default_config or required_config. */
export function configKeys(m: PluginManifest): { key: string; secret: boolean }[] {
  const keys = new Set([...Object.keys(m.default_config), ...Object.keys(m.required_config)]);
  return [...keys].map((key) => ({ key, secret: m.required_config[key] === 2 }));
}

/**
 * The manifest of an SDK-format plugin, from `definePayoutPlugin({ manifest })`:
 * { title, name?, currencies, config: { key: { secret?, default?, label? } }, network: [...] }.
 * Checked with the same rules as configure.js, field names as the author wrote them.
 */
export function manifestFromSdk(raw: unknown): PluginManifest {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PluginRejected('manifest_invalid', 'definePayoutPlugin: manifest must be an object ({ title, currencies, config, network })');
  }
  const m = raw as Record<string, unknown>;
  const config = (m.config ?? {}) as Record<string, unknown>;
  if (typeof config !== 'object' || Array.isArray(config)) throw new PluginRejected('manifest_invalid', 'definePayoutPlugin: manifest.config must be an object of { key: { secret?, default? } }');
  const default_config: Record<string, ConfigScalar> = {};
  const required_config: Record<string, ConfigVisibility> = {};
  for (const [key, spec] of Object.entries(config)) {
    const s = (spec ?? {}) as { secret?: unknown; default?: unknown };
    if (typeof s !== 'object') throw new PluginRejected('manifest_invalid', `definePayoutPlugin: manifest.config.${key} must be an object like { secret: true }`);
    required_config[key] = s.secret === true ? 2 : 1;
    if (s.default !== undefined) default_config[key] = s.default as ConfigScalar;
  }
  try {
    const checked = validateManifest({
      type: 'payout', title: m.title, name: m.name ?? m.title, required_npm: [], allow_XML: m.currencies ?? [],
      default_config, required_config, network: m.network ?? [], env: m.env,
    });
    const secretKeys = new Set(Object.keys(required_config).filter((k) => required_config[k] === 2));
    return { ...checked, format: 'sdk', webhookSignature: webhookSignatureFromSdk(m.webhook, secretKeys) };
  } catch (err) {
    if (err instanceof PluginRejected) {
      throw new PluginRejected(err.code, err.message.replace('configure.js:', 'definePayoutPlugin manifest:').replace('allow_XML', 'currencies').replace(/default_config|required_config/, 'config'));
    }
    throw err;
  }
}
