// configure.js of every plugin, evaluated in the one process the plugins' manifests share
// (ProcessPlacement.manifests), one at a time, with the plain-data exports cached by code.
import crypto from 'node:crypto';
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import type { ProcessPlacement } from './placement.ts';
import { requestProcess } from './process-request.ts';
import type { SandboxFailure } from './protocol.ts';
import type { SandboxProcess } from './supervisor.ts';

/** Distinct configure.js exports kept; past it the cache starts again (a reload then re-evaluates). */
const MAX_CACHED_MANIFESTS = 500;

export class ManifestReader {
  private readonly cache = new Map<string, unknown>();
  /** The configure.js evaluation in progress (read() sends one at a time). */
  private turn: Promise<unknown> = Promise.resolve();

  private readonly placement: ProcessPlacement;
  private readonly rssLimitBytes: number;
  private readonly cpuMs: number;

  constructor(placement: ProcessPlacement, rssLimitBytes: number, cpuMs: number) {
    this.placement = placement;
    this.rssLimitBytes = rssLimitBytes;
    this.cpuMs = cpuMs;
  }

  /**
   * The process shared by every plugin's configure.js. It gets the memory cap of one plugin: a
   * configure.js pushing small arrays passes its isolate's heap limit (as plugin code does,
   * design.md §5) and grew it past 1 GB before the watchdog's kill.
   */
  process(): SandboxProcess {
    const proc = this.placement.manifests();
    proc.setRssLimit(this.rssLimitBytes);
    return proc;
  }

  /** Evaluates configure.js in a throwaway isolate and returns its plain-data exports. */
  async read(bundle: PluginBundle): Promise<{ ok: true; value: unknown } | { ok: false; error: SandboxFailure }> {
    // configure.js runs with no host access at all, so the same code always gives the same
    // exports: a reload of unchanged code skips the throwaway isolate.
    const key = crypto.createHash('sha256').update(bundle.configureCode).digest('hex');
    const cached = this.cache.get(key);
    if (cached !== undefined) return { ok: true, value: structuredClone(cached) };
    const cpuMs = this.cpuMs;
    // One configure.js at a time: the process evaluates them one after another anyway, and a
    // crash or a watchdog kill cuts every request sent to it. Sent together, a hostile
    // configure.js (a loop the isolate's timeout misses, memory over the cap) failed the
    // configure.js of whichever plugin was being loaded beside it, which was then refused.
    const turn = this.turn.then(() => requestProcess(this.process(), { t: 'manifest', code: bundle.configureCode, cpuMs }, cpuMs + 1000, `${bundle.key} configure.js`, null));
    this.turn = turn;
    const reply = await turn;
    if (!reply.ok) return { ok: false, error: reply.error };
    if (this.cache.size > MAX_CACHED_MANIFESTS) this.cache.clear();
    this.cache.set(key, reply.value);
    return { ok: true, value: structuredClone(reply.value) };
  }
}
