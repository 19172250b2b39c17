// Loads a platform-format payout plugin folder straight into this Node process — no sandbox, no
// isolation — with in-memory stand-ins for the platform modules it requires. Two uses: the
// benchmark baseline (the same plugin, minus isolation) and running the example plugin in tests.
// It must never be used by the server: the plugin gets real node:crypto and shares this process.
//
// Plugin files are CommonJS while this package is ESM, so each file is compiled here with
// vm.compileFunction and given its own `require`. That require is the only hook: nothing global
// (Module._resolveFilename, require.cache, process.env) is touched, so there is nothing to restore.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import * as nodeCrypto from 'node:crypto';
import * as nodeQuerystring from 'node:querystring';
import { createFetchAxios } from './fetch-axios.ts';
import { InMemoryPlatformDb, createBluebirdShim, i18nWithoutTranslations, type HistoryCall } from './platform-stubs.ts';

const requireFromHere = createRequire(import.meta.url);

export interface PlatformConfigure {
  type: string;
  title: string;
  name: string;
  required_npm: string[];
  allow_XML: string[];
  default_config: Record<string, string>;
  required_config: Record<string, number>;
}

export interface CallbackRequest {
  method?: string;
  headers?: Record<string, string>;
  rawBody?: string;
  query?: Record<string, string>;
  ip?: string;
}

export interface CallbackResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  ended: boolean;
  error: unknown;
}

export interface CronDefinition { callWhenInit?: boolean; schedule: string; fn: () => Promise<unknown> }

type CallbackHandler = (req: unknown, res: unknown, param: unknown) => Promise<unknown>;
interface PayoutPluginInstance {
  getFields(lang: string, xml: string): Promise<unknown>;
  transfer(order: unknown): Promise<unknown>;
  initCron?(deps: { db: unknown; updateHistory: unknown }): CronDefinition;
}

export interface LoadPlatformPluginOptions {
  pluginDir: string;
  /** What the plugin's config.get(key) answers; configure.js default_config fills the gaps. */
  config?: Record<string, string>;
  /** The whole of process.env as the plugin sees it (frozen), e.g. { API_URL: 'http://127.0.0.1:3000/' }. */
  env?: Record<string, string>;
  db?: InMemoryPlatformDb;
  fetch?: typeof fetch;
  /** How long call() waits for a callback to end its response. Default 10 s. */
  callbackDeadlineMs?: number;
  /**
   * Other implementations of the platform modules (e.g. backed by a real store, for the benchmark
   * baseline). Each one given replaces the in-memory stand-in; `db` is then unused for it.
   */
  platform?: PlatformModuleOverrides;
}

export interface PlatformModuleOverrides {
  /** `require('../../../modules/config/payout.config.js')(key)`. */
  config?: (key: string) => { get(name: string): Promise<unknown> };
  /** `require('../../../db')`: `{ OrderPayoutTxs }`. */
  db?: unknown;
  /** `require('../../../modules/updateHistory.js')`. */
  updateHistory?: unknown;
  /** `require('axios')`. */
  axios?: unknown;
}

export interface LoadedPlatformPlugin {
  key: string;
  dir: string;
  configure: PlatformConfigure;
  plugin: PayoutPluginInstance;
  callbacks: Record<string, CallbackHandler>;
  db: InMemoryPlatformDb;
  /** Every updateHistory call the plugin made (also visible as db.history). */
  history: HistoryCall[];
  /** Live config: change a value and the plugin's next config.get sees it. */
  config: Map<string, string>;
  /** Plugin files evaluated, in order (relative to the plugin folder). */
  filesLoaded: string[];
  call(callbackName: string, request?: CallbackRequest): Promise<CallbackResult>;
  cron(): CronDefinition | null;
}

// Paths as seen from the platform root (three levels above the plugin folder:
// <root>/pluginsExternal/payouts/<key>/).
const PLATFORM_MODULES: Record<string, 'config' | 'db' | 'history' | 'i18n'> = {
  'modules/config/payout.config.js': 'config',
  'modules/config/payout.config': 'config',
  'db': 'db',
  'db/index.js': 'db',
  'db/index': 'db',
  'modules/updateHistory.js': 'history',
  'modules/updateHistory': 'history',
  'modules/i18n': 'i18n',
  'modules/i18n.js': 'i18n',
  'modules/i18n/index.js': 'i18n',
};

function withinFolder(folder: string, file: string): boolean {
  const relative = path.relative(folder, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function resolvePluginFile(candidate: string): string | null {
  for (const file of [candidate, candidate + '.js', candidate + '.json', path.join(candidate, 'index.js')]) {
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

function parseBody(rawBody: string, contentType: string): Record<string, unknown> {
  if (!rawBody) return {};
  if (contentType.includes('json')) {
    try {
      const parsed = JSON.parse(rawBody) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  if (contentType.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(rawBody));
  return {};
}

export function loadPlatformPlugin(options: LoadPlatformPluginOptions): LoadedPlatformPlugin {
  const dir = path.resolve(options.pluginDir);
  const key = path.basename(dir);
  const platformRoot = path.resolve(dir, '../../..');
  const db = options.db ?? new InMemoryPlatformDb();
  const overrides = options.platform ?? {};
  const axios = overrides.axios ?? createFetchAxios(options.fetch);
  const bluebird = createBluebirdShim();
  const pluginProcess = Object.freeze({ env: Object.freeze({ ...(options.env ?? {}) }), nextTick: process.nextTick });
  const moduleCache = new Map<string, { exports: unknown }>();
  const filesLoaded: string[] = [];
  const config = new Map<string, string>();

  const configFor = (requestedKey: string) => {
    // The sandbox hands a plugin its own config only; the baseline keeps the same rule.
    if (requestedKey !== key) throw new Error(`in-process loader: plugin ${key} asked for the config of ${requestedKey}`);
    return { get: async (name: string) => config.get(name) ?? '' };
  };
  const platformModules = {
    config: overrides.config ?? configFor,
    db: overrides.db ?? db.facade(),
    history: overrides.updateHistory ?? db.updateHistory,
    i18n: i18nWithoutTranslations,
  };

  function requireFrom(fromFile: string, specifier: string): unknown {
    if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
      const absolute = path.resolve(path.dirname(fromFile), specifier);
      if (withinFolder(dir, absolute)) {
        const file = resolvePluginFile(absolute);
        if (!file) throw new Error(`in-process loader: ${specifier} (required from ${path.relative(dir, fromFile)}) does not exist`);
        return loadFile(file);
      }
      const platformPath = path.relative(platformRoot, absolute).split(path.sep).join('/');
      const stub = PLATFORM_MODULES[platformPath];
      if (stub) return platformModules[stub];
      throw new Error(`in-process loader: ${specifier} (required from ${path.relative(dir, fromFile)}) is not a platform module`);
    }
    switch (specifier) {
      case 'axios': return axios;
      case 'bluebird': return bluebird;
      case 'bignumber.js': return requireFromHere('bignumber.js');
      case 'crypto': case 'node:crypto': return nodeCrypto;
      case 'querystring': case 'node:querystring': return nodeQuerystring;
      default:
        // Same refusal the sandbox gives, so a baseline never measures something the sandbox cannot run.
        throw new Error(`in-process loader: module '${specifier}' (required from ${path.relative(dir, fromFile)}) is not available to payout plugins`);
    }
  }

  function loadFile(file: string): unknown {
    const cached = moduleCache.get(file);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    moduleCache.set(file, module); // before running, so require cycles see the partial exports
    filesLoaded.push(path.relative(dir, file));
    const source = readFileSync(file, 'utf8');
    if (file.endsWith('.json')) {
      module.exports = JSON.parse(source);
      return module.exports;
    }
    const compiled = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname', 'process'], { filename: file });
    const localRequire = (specifier: string) => requireFrom(file, specifier);
    compiled.call(module.exports, module.exports, localRequire, module, file, path.dirname(file), pluginProcess);
    return module.exports;
  }

  const configure = loadFile(path.join(dir, 'configure.js')) as PlatformConfigure;
  for (const [name, value] of Object.entries({ ...configure.default_config, ...options.config })) config.set(name, String(value));
  const PluginClass = loadFile(path.join(dir, 'index.js')) as new () => PayoutPluginInstance;
  const plugin = new PluginClass();
  const callbacksFile = ['callbacks.js', 'callback.js'].map((name) => path.join(dir, name)).find((file) => existsSync(file));
  const callbacks = (callbacksFile ? loadFile(callbacksFile) : {}) as Record<string, CallbackHandler>;

  async function call(callbackName: string, request: CallbackRequest = {}): Promise<CallbackResult> {
    const handler = Object.hasOwn(callbacks, callbackName) ? callbacks[callbackName] : undefined;
    if (typeof handler !== 'function') throw new Error(`in-process loader: plugin ${key} has no callback ${callbackName}`);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
    const rawBody = request.rawBody ?? '';
    const result: CallbackResult = { status: 200, headers: {}, body: '', ended: false, error: undefined };

    const res = {
      set(name: string, value: string) { result.headers[name.toLowerCase()] = String(value); },
      writeHead(status: number, extraHeaders?: Record<string, string>) {
        result.status = status;
        for (const [name, value] of Object.entries(extraHeaders ?? {})) result.headers[name.toLowerCase()] = String(value);
      },
      end(body?: string) {
        if (result.ended) return;
        result.body = body === undefined ? '' : String(body);
        result.ended = true;
      },
    };
    const req = { METHOD: (request.method ?? 'POST').toUpperCase(), IP_ADDRESS: request.ip ?? '127.0.0.1', headers };
    const param = { post: parseBody(rawBody, headers['content-type'] ?? 'application/json'), get: request.query ?? {}, rawBody };

    const deadlineMs = options.callbackDeadlineMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const handlerDone = Promise.resolve()
      .then(() => handler(req, res, param))
      .catch((error: unknown) => {
        result.error = error;
        if (!result.ended) res.writeHead(500);
      });
    await Promise.race([
      handlerDone,
      new Promise<void>((resolve) => { timer = setTimeout(resolve, deadlineMs); }),
    ]);
    clearTimeout(timer);
    // A handler that never ended its response comes back with ended:false; the host would
    // answer for it at its own deadline.
    return result;
  }

  return {
    key,
    dir,
    configure,
    plugin,
    callbacks,
    db,
    history: db.history,
    config,
    filesLoaded,
    call,
    cron: () => plugin.initCron?.({ db: overrides.db ?? db.facade(), updateHistory: overrides.updateHistory ?? db.updateHistory }) ?? null,
  };
}
