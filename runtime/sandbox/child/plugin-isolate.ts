// The isolated-vm engine: one plugin's V8 isolate inside the sandbox process. The calls in flight
// and their limits are the call book's (call-book.ts); this file creates the context, runs the
// prelude and the bundle with V8's code cache, and enters the prelude under isolated-vm's
// timeout. A memory breach is isolated-vm's own memoryLimit, which disposes the isolate.
import ivm from 'isolated-vm';
import type { PluginLimits } from '../protocol.ts';
import { CallBook } from './call-book.ts';
import type { Breach, EntryArg, EntryName } from './call-book.ts';
import type { IsolateHooks } from './engine.ts';
import { BRIDGE_FUNCTION_SOURCE, HARDEN_SOURCE, WEB_GLOBALS_SOURCE, compilePrelude } from './prelude-scripts.ts';
import { loadWrapped } from './load-failure.ts';
import { compileLibrary } from './library-script.ts';
import type { LibrarySource } from './library-script.ts';

// Kept for the modules that imported them from here before the engine interface existed.
export type { CallOutcome, IsolateHooks } from './engine.ts';

export class PluginIsolate extends CallBook {
  readonly engine = 'isolated-vm' as const;
  private isolate: ivm.Isolate;
  private context: ivm.Context | null = null;
  private entries: Record<EntryName, ivm.Reference> | null = null;

  constructor(key: string, limits: PluginLimits, hooks: IsolateHooks) {
    super(key, limits, hooks);
    this.isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb });
  }

  protected setUp(callId: string, code: string, cachedData: string | null, setupJson: string, library: LibrarySource | null): { cachedData: string | null; cacheAccepted: boolean } {
    const context = this.isolate.createContextSync();
    this.context = context;
    this.phase('context');
    const callbacks = [
      new ivm.Callback((name: string, argsJson: string) => this.callbacks.syncCall(name, argsJson)),
      new ivm.Callback((cid: string, name: string, argsJson: string) => this.callbacks.startAsync(cid, name, argsJson)),
      new ivm.Callback((kind: string, cid: string, json: string) => this.callbacks.report(kind, cid, json)),
      setupJson,
    ];
    const harden = compilePrelude(this.isolate, 'harden', HARDEN_SOURCE);
    this.timed(callId, () => harden.runSync(context, { timeout: this.remainingCpu(callId) }));
    harden.release();
    const bridge = compilePrelude(this.isolate, 'bridge', BRIDGE_FUNCTION_SOURCE);
    const entries = this.timed(callId, () => {
      const factory = bridge.runSync(context, { timeout: this.remainingCpu(callId), reference: true }) as ivm.Reference;
      try {
        return factory.applySync(undefined, callbacks, { timeout: this.remainingCpu(callId), result: { reference: true } });
      } finally {
        factory.release();
      }
    }) as ivm.Reference;
    bridge.release();
    const get = (name: string) => entries.getSync(name, { reference: true }) as ivm.Reference;
    this.entries = { load: get('load'), invoke: get('invoke'), resume: get('resume'), forget: get('forget') };
    const webGlobals = compilePrelude(this.isolate, 'web-globals', WEB_GLOBALS_SOURCE);
    this.timed(callId, () => webGlobals.runSync(context, { timeout: this.remainingCpu(callId) }));
    webGlobals.release();
    this.phase('prelude');

    // The shared library: this context's own evaluation of it, before any plugin code runs here,
    // compiled from this process's code cache (a never-seen plugin compiles only its own code).
    if (library) {
      const libraryScript = compileLibrary(this.isolate, library, `plugin:///${this.key}/library.js`);
      this.timed(callId, () => libraryScript.runSync(context, { timeout: this.remainingCpu(callId) }));
      libraryScript.release();
    }
    this.phase('library');
    // The bundle runs inside a trusted try/catch so that a value it throws at load time is
    // described by the prelude inside a timed call, never copied out by isolated-vm.
    const script = this.isolate.compileScriptSync(loadWrapped(code), {
      filename: `plugin:///${this.key}/bundle.js`,
      ...(cachedData ? { cachedData: new ivm.ExternalCopy(toArrayBuffer(Buffer.from(cachedData, 'base64'))) } : { produceCachedData: true }),
    }) as ivm.Script & { cachedDataRejected?: boolean; cachedData?: ivm.ExternalCopy<ArrayBuffer> };
    this.phase('compile');
    const cacheAccepted = cachedData !== null && script.cachedDataRejected !== true;
    const produced = script.cachedData ? Buffer.from(script.cachedData.copy()).toString('base64') : null;
    this.timed(callId, () => script.runSync(context, { timeout: this.remainingCpu(callId) }));
    script.release();
    this.phase('run');
    return { cachedData: produced, cacheAccepted };
  }

  protected enter(entry: EntryName, args: EntryArg[], cpuMs: number): string | undefined {
    if (!this.entries) return undefined;
    return this.entries[entry].applySync(undefined, args, { timeout: cpuMs }) as string | undefined;
  }

  /** isolated-vm's CPU time of the isolate. */
  protected cpuClockMs(): number {
    return Number(this.isolate.cpuTime) / 1e6;
  }

  protected breachOf(err: unknown): Breach | null {
    const message = String((err as Error)?.message ?? err);
    // isolated-vm's timeout counts wall-clock time (call-book.ts tells an overloaded machine apart).
    if (/timed out/i.test(message)) return 'cpu_limit';
    if (/memory limit/i.test(message) || this.isolate.isDisposed) return 'memory_limit';
    return null;
  }

  protected engineAlive(): boolean {
    return !this.isolate.isDisposed;
  }

  heapStats(): { used: number; limit: number; external: number } {
    if (this.isDisposed) return { used: 0, limit: 0, external: 0 };
    const h = this.isolate.getHeapStatisticsSync();
    return { used: h.used_heap_size, limit: h.heap_size_limit, external: h.externally_allocated_size };
  }

  protected release(): void {
    this.entries = null;
    this.context = null;
    try {
      this.isolate.dispose();
    } catch {
      // already disposed by isolated-vm after a memory-limit breach
    }
  }
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}
