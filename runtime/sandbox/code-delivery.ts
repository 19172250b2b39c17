// How a plugin's code reaches its sandbox process (design.md §5): the shared library script and the
// plugin's own code are each sent once per process generation, and named by their sha256 after
// that; a process that no longer holds them answers `bundleMissing` and is sent both. The V8 code
// cache of each load is kept here, produced by our own sandbox processes only and keyed by the
// exact code, engine and versions: cached data is trusted input to V8 (design.md §10,
// CVE-2022-39266).
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import { requestProcess } from './process-request.ts';
import { loadCpuMs } from './protocol.ts';
import type { EngineName, IsolateSetup, LoadResult, PluginLimits } from './protocol.ts';
import type { SandboxProcess, SandboxReply } from './supervisor.ts';

/** What a load needs to know of a registered plugin. */
export interface LoadablePlugin {
  key: string;
  bundle: PluginBundle;
  setup: IsolateSetup;
  limits: PluginLimits;
  process: SandboxProcess;
  engine: EngineName;
}

export class CodeDelivery {
  private readonly codeCache = new Map<string, string>();
  /**
   * The bundles (sha256 of the code) each sandbox process was sent in its current generation: a
   * reload of the same code sends only the hash, not ~200 KB of JSON-escaped code again.
   */
  private readonly sent = new WeakMap<SandboxProcess, { generation: number; shas: Set<string> }>();

  /** Loads the plugin into its (running) process as call `callId`; the reply is the process's. */
  async load(plugin: LoadablePlugin, callId: string): Promise<SandboxReply> {
    const proc = plugin.process;
    const versions = proc.versions;
    // The engine is part of the key: V8's cached data is of no use to QuickJS (which makes none).
    const cacheKey = `${plugin.engine}:${plugin.bundle.sha256}:${versions?.node}:${versions?.isolatedVm}`;
    let sent = this.sent.get(proc);
    if (!sent || sent.generation !== proc.generation) this.sent.set(proc, (sent = { generation: proc.generation, shas: new Set() }));
    const { library } = plugin.bundle;
    const load = (withCode: boolean, withLibrary: boolean) => requestProcess(proc, {
      t: 'load', plugin: plugin.key, callId, code: withCode ? plugin.bundle.ownCode : null, codeSha256: plugin.bundle.sha256,
      library: library ? { source: withLibrary ? library.source : null, sha256: library.sha256 } : null,
      cachedData: this.codeCache.get(cacheKey) ?? null, setup: plugin.setup, limits: plugin.limits, engine: plugin.engine,
    }, loadCpuMs(plugin.limits) + 2000, `${plugin.key} load`, plugin.key);
    const librarySent = library ? sent.shas.has(library.sha256) : true;
    let reply = await load(!sent.shas.has(plugin.bundle.sha256), !librarySent);
    if (!reply.ok && reply.error.bundleMissing) {
      sent.shas.delete(plugin.bundle.sha256);
      if (library) sent.shas.delete(library.sha256);
      reply = await load(true, true);
    }
    if (reply.ok) {
      sent.shas.add(plugin.bundle.sha256);
      if (library) sent.shas.add(library.sha256);
      const result = reply.value as LoadResult;
      if (result.cachedData) this.codeCache.set(cacheKey, result.cachedData);
    }
    return reply;
  }
}
