// The platform modules a platform-format plugin requires (config, db, updateHistory), implemented
// in this process over the host's own store — the benchmark baseline's "no isolation" plumbing.
// The façades are the very shim files the sandbox bundles (runtime/bundler/shims/*.cjs), evaluated
// here with a `__ps_host` that calls the host's capability implementations directly: the same
// query translation and the same store, but no sandbox process, no isolate, no JSON copies, no
// audit record and no dispatcher. Benchmarks only; the server never loads this.
import fs from 'node:fs';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import type { Capability, HostCallContext } from '../../host-api/capability.ts';
import { newCounters } from '../../host-api/capability.ts';
import { configCapability } from '../../host-api/config.ts';
import type { ConfigService } from '../../host-api/config.ts';
import { payoutTxCapabilities } from '../../host-api/payout-txs.ts';
import { historyCapability } from '../../host-api/history.ts';
import type { HistoryDeps } from '../../host-api/history.ts';
import type { Store } from '../../runtime/store/store.ts';
import type { PlatformModuleOverrides } from '../in-process/load-platform-plugin.ts';

const SHIMS = fileURLToPath(new URL('../../runtime/bundler/shims/', import.meta.url));

export interface StorePlatformDeps {
  store: Store;
  config: ConfigService;
  buildIpn: HistoryDeps['buildIpn'];
  settleAttempt?: HistoryDeps['settleAttempt'];
}

/** What the shims call: `call(capability, args)` → the capability's parse + invoke, in process. */
export interface DirectHost {
  pluginKey: string;
  /** Mutable: the stand-in invoke sets `method` and `deadline` for each call. */
  ctx: HostCallContext;
  call(name: string, args: unknown): Promise<unknown>;
}

export function directHost(deps: StorePlatformDeps, plugin: string): DirectHost {
  const capabilities: Capability[] = [
    configCapability(deps.config) as Capability,
    ...payoutTxCapabilities(deps.store),
    historyCapability({ store: deps.store, buildIpn: deps.buildIpn, settleAttempt: deps.settleAttempt }) as Capability,
  ];
  const byName = new Map(capabilities.map((c) => [c.name, c]));
  const ctx: HostCallContext = { plugin, callId: 'in-process', method: 'in-process', deadline: Number.MAX_SAFE_INTEGER, counters: newCounters() };
  return {
    pluginKey: plugin,
    ctx,
    async call(name, args) {
      const capability = byName.get(name);
      if (!capability) throw new Error(`in-process platform: no capability '${name}'`);
      const value = await capability.invoke(ctx, capability.parse(args));
      return value === undefined ? null : value;
    },
  };
}

function evaluateShim(file: string, host: DirectHost): unknown {
  const source = fs.readFileSync(SHIMS + file, 'utf8');
  // `globalThis` is a parameter here, so the shim's `globalThis.__ps_host` is our DirectHost and
  // nothing global is touched.
  const fn = vm.compileFunction(source, ['module', 'exports', 'require', 'globalThis'], { filename: SHIMS + file });
  const module = { exports: {} as unknown };
  fn(module, module.exports, () => { throw new Error(`in-process platform: ${file} may not require anything`); }, { __ps_host: host });
  return module.exports;
}

/** Platform modules for `loadPlatformPlugin({ platform })`, over the store. */
export function storePlatform(deps: StorePlatformDeps, plugin: string): { host: DirectHost; modules: PlatformModuleOverrides } {
  const host = directHost(deps, plugin);
  const config = evaluateShim('config.cjs', host) as (key: string) => { get(name: string): Promise<unknown> };
  return {
    host,
    modules: {
      config,
      db: evaluateShim('db.cjs', host),
      updateHistory: evaluateShim('update-history.cjs', host),
    },
  };
}
