// What a plugin may `require`, and what it gets instead. This table is the whole answer to
// "which modules can a payout plugin load": anything not matched here is refused at load time.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHIM_DIR = path.join(here, 'shims');
const requireFromHere = createRequire(import.meta.url);

export interface HostModule {
  /** Shim id, also the file name under shims/ (without .js), or a real library. */
  id: string;
  /** What a reviewer reads in `audit`: what the plugin gets. */
  provides: string;
  /** Host capabilities reachable through it. */
  capabilities: string[];
  /** Absolute path of the code bundled in its place. */
  file: string;
}

function shim(id: string, provides: string, capabilities: string[]): HostModule {
  return { id, provides, capabilities, file: path.join(SHIM_DIR, `${id}.cjs`) };
}

export const HOST_MODULES = {
  config: shim('config', "the plugin's own config (config.get)", ['config.get']),
  db: shim('db', "OrderPayoutTxs façade scoped to the plugin's own payout txs", ['payoutTxs.find', 'payoutTxs.count', 'payoutTxs.updateOne']),
  updateHistory: shim('update-history', 'updateHistory for the plugin\'s own orders (inProgressPayout → done | errorPayout)', ['history.update']),
  i18n: shim('i18n', 'i18n(lang, fallback)._t(key, vars) over the host\'s label tables', []),
  axios: shim('axios', 'axios-compatible client over the egress-guarded http.request', ['http.request']),
  bluebird: shim('bluebird', 'bluebird-compatible Promise (map, mapSeries, each, delay, props, …)', []),
  crypto: shim('crypto', 'host-backed createHmac, createHash, randomBytes, randomUUID, timingSafeEqual, createSign/createVerify', ['crypto']),
  querystring: shim('querystring', 'pure-JS querystring (parse, stringify, escape, unescape)', []),
  url: shim('url', 'URL and URLSearchParams', []),
  buffer: shim('buffer', 'pure-JS Buffer', []),
  sdk: shim('sdk', 'the payout-sandbox SDK runtime (definePayoutPlugin, ctx.http with host-side signing, ctx.config, ctx.webhook.verify, errors)', ['config.get', 'http.request', 'webhook.verify']),
  bignumber: {
    id: 'bignumber.js',
    provides: 'the real bignumber.js library, bundled',
    capabilities: [],
    file: requireFromHere.resolve('bignumber.js'),
  } satisfies HostModule,
} as const;
export type HostModuleId = keyof typeof HOST_MODULES;

/** npm package names a plugin may list in `required_npm` and `require()`. */
export const PROVIDED_PACKAGES: Record<string, HostModuleId> = {
  axios: 'axios',
  bluebird: 'bluebird',
  'bignumber.js': 'bignumber',
};

/** Node built-ins that have a sandbox version. Every other built-in is refused. */
const PROVIDED_BUILTINS: Record<string, HostModuleId> = {
  crypto: 'crypto',
  querystring: 'querystring',
  url: 'url',
  buffer: 'buffer',
};

// The platform's own modules, required by relative path from the plugin folder
// (pluginsExternal/payouts/<key>/ → ../../../modules/...). Matched on the path's tail so that
// the exact depth of `../` does not matter.
const PLATFORM_PATHS: { pattern: RegExp; module: HostModuleId }[] = [
  { pattern: /(^|\/)modules\/config\/payout\.config(\.js)?$/, module: 'config' },
  { pattern: /(^|\/)db(\/index(\.js)?)?$/, module: 'db' },
  { pattern: /(^|\/)modules\/updateHistory(\.js)?$/, module: 'updateHistory' },
  { pattern: /(^|\/)modules\/i18n(\/index)?(\.js)?$/, module: 'i18n' },
];

const NODE_BUILTINS = new Set(
  requireFromHere('node:module').builtinModules.map((m: string) => m.replace(/^node:/, '')),
);

export type RequireDecision =
  | { kind: 'host'; module: HostModule; moduleId: HostModuleId }
  | { kind: 'plugin-file' }
  | { kind: 'refused'; reason: string };

/**
 * Decides what `require(request)` from a plugin file gets. Relative requests that stay inside
 * the plugin folder are plugin files; the resolver checks containment after resolving them.
 */
export function decideRequire(request: string): RequireDecision {
  const bare = request.replace(/^node:/, '');
  if (request.startsWith('.') || request.startsWith('/')) {
    const normalised = path.posix.normalize(request);
    for (const { pattern, module } of PLATFORM_PATHS) {
      if (normalised.startsWith('..') && pattern.test(normalised)) {
        return { kind: 'host', module: HOST_MODULES[module], moduleId: module };
      }
    }
    if (request.startsWith('/')) {
      return { kind: 'refused', reason: `absolute path '${request}' is outside the plugin folder; require plugin files by relative path` };
    }
    return { kind: 'plugin-file' };
  }
  const builtinShim = PROVIDED_BUILTINS[bare];
  if (builtinShim && (NODE_BUILTINS.has(bare) || request.startsWith('node:'))) {
    return { kind: 'host', module: HOST_MODULES[builtinShim], moduleId: builtinShim };
  }
  if (NODE_BUILTINS.has(bare.split('/')[0]) || request.startsWith('node:')) {
    return {
      kind: 'refused',
      reason: `Node built-in '${request}' is not available to payout plugins: the sandbox has no file system, processes, sockets or VM access. ` +
        `Use the host API instead (config.get for settings, axios for HTTP to granted origins, the db façade for payout txs).`,
    };
  }
  if (request === 'payout-sandbox/sdk') return { kind: 'host', module: HOST_MODULES.sdk, moduleId: 'sdk' };
  const packageShim = PROVIDED_PACKAGES[request];
  if (packageShim) return { kind: 'host', module: HOST_MODULES[packageShim], moduleId: packageShim };
  return {
    kind: 'refused',
    reason: `npm package '${request}' is not provided to the sandbox. Available packages: ${Object.keys(PROVIDED_PACKAGES).join(', ')}. ` +
      `Vendor pure-JS code into the plugin folder and require it by relative path.`,
  };
}

/** Bundled for `Buffer` when plugin code uses the global. */
export const GLOBAL_INJECTS = [path.join(SHIM_DIR, 'globals.js')];

/** Library files from our own node_modules that shims may pull into a bundle. */
export function isAllowedLibraryFile(file: string): boolean {
  const allowed = ['bignumber.js', 'buffer', 'base64-js', 'ieee754'];
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = file.lastIndexOf(marker);
  if (at < 0) return false;
  const pkg = file.slice(at + marker.length).split(path.sep)[0];
  return allowed.includes(pkg);
}
