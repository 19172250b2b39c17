// The QuickJS engine: one plugin in QuickJS compiled to WebAssembly, with a WebAssembly module
// instance of its own (runtimes of one module share one linear memory, so a module is never shared
// between plugins). The calls in flight and their limits are the call book's (call-book.ts); this
// file supplies the engine part. Limits, as measured (SECURITY.md, "The QuickJS engine"):
//  - memory: the linear memory has a hard maximum (memoryMb + ENGINE_BASE_MB). QuickJS's own
//    setMemoryLimit is NOT enforced by this build (a 64 MB limit let 200 MB of strings through;
//    without a maximum a loop of 1 MB appends grew the memory to 1.1 GB), so the maximum is the
//    bound: an allocation past it fails, and the engine counts a refused growth as a breach;
//  - CPU: the interrupt handler cuts a section when the call's remaining budget has passed on
//    the wall clock, as isolated-vm's timeout does (so a cut is bounded in wall time, and one on a
//    machine too busy to run the plugin is told apart by the call book's overload rule); the call
//    is charged its sections' time on the same clock, as isolated-vm's cpuTime runs on while the
//    process is not scheduled;
//  - a trap, an abort or a host stack overflow inside the module fails this plugin only.
import fs from 'node:fs';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import type { newVariant } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule, VmCallResult } from 'quickjs-emscripten';
import type { PluginLimits } from '../protocol.ts';
import { CallBook } from './call-book.ts';
import type { Breach, EntryArg, EntryName } from './call-book.ts';
import type { IsolateHooks } from './engine.ts';
import { BRIDGE_FUNCTION_SOURCE, HARDEN_SOURCE, WEB_GLOBALS_SOURCE } from './prelude-scripts.ts';
import { LoadFailure, loadWrapped } from './load-failure.ts';
import type { LibrarySource } from './library-script.ts';

const PAGE_BYTES = 65536;
/** The module's declared initial memory (16 MB): its static data, C stack and first heap. */
const INITIAL_PAGES = 256;
/** Linear memory QuickJS needs besides the plugin's own data (runtime, prelude, intrinsics ≈ 1.5 MB, stack). */
const ENGINE_BASE_MB = 16;
/**
 * QuickJS's own stack limit. The module's recursion also uses the host's native stack, which
 * overflows first at QuickJS's default (deep recursion then throws out of the module, measured):
 * at 256 KB plain JavaScript recursion (≈1300 frames) ends in QuickJS's catchable "stack
 * overflow". Native recursion (JSON of deeply nested values, parsing) may still overflow the
 * host's stack: that is a trap and fails the plugin (never the process).
 */
const MAX_STACK_BYTES = 256 * 1024;

const ENTRY_NAMES: readonly EntryName[] = ['load', 'invoke', 'resume', 'forget'];
/** Promise jobs run between two looks at the budget (a job is a few hundred ns to a few µs). */
const JOBS_PER_BATCH = 256;

// The host's WebAssembly API (the project's TypeScript lib has no DOM types for it).
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
type WasmModule = Parameters<typeof newVariant>[1] extends { wasmModule?: infer M } ? Exclude<M, () => unknown> : never;
const wasm = (globalThis as unknown as {
  WebAssembly: { Memory: { new (d: { initial: number; maximum: number }): WasmMemory; prototype: WasmMemory }; compile(bytes: Uint8Array): Promise<WasmModule> };
}).WebAssembly;

/**
 * quickjs-emscripten, imported by the first QuickJS plugin of the process: a process that runs only
 * isolated-vm plugins (the default) never loads it, which saves each of them ≈1.5 MB of private
 * memory and its start-up (bench/: density).
 */
let library: Promise<typeof import('quickjs-emscripten')> | null = null;

/** Compiled once per sandbox process: code is shared, memory never is. */
let compiled: Promise<WasmModule> | null = null;
function compiledQuickJS(): Promise<WasmModule> {
  compiled ??= wasm.compile(fs.readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
  return compiled;
}

/**
 * The process's cap on WebAssembly memories (supervisor.ts starts sandbox processes with
 * --wasm-max-mem-pages=1, a second layer under the prelude's removal of WebAssembly from
 * isolated-vm contexts). A QuickJS plugin's own memory needs more: the cap is raised to the largest
 * QuickJS maximum in this process, never further (SECURITY.md, "The QuickJS engine").
 */
let wasmPageCap = (() => {
  const flag = process.execArgv.map((a) => /^--wasm-max-mem-pages=(\d+)$/.exec(a)).find(Boolean);
  return flag ? Number(flag[1]) : Infinity;
})();
function allowWasmPages(pages: number): void {
  if (pages <= wasmPageCap) return;
  v8.setFlagsFromString(`--wasm-max-mem-pages=${pages}`);
  wasmPageCap = pages;
}

/** A limit breached inside the module, noticed by the interrupt handler or after an entry. */
class QuickJSBreach extends Error {
  readonly breach: Breach;
  constructor(breach: Breach) {
    super(breach === 'cpu_limit' ? 'CPU budget spent' : 'linear memory exhausted');
    this.breach = breach;
  }
}

export class QuickJSEngine extends CallBook {
  readonly engine = 'quickjs' as const;
  /** The clock is the wall clock: time in the prelude's callbacks is already counted, and cut by shouldInterrupt there. */
  protected override readonly clockCountsCallbacks = true;
  private module: QuickJSWASMModule | null;
  private runtime: QuickJSRuntime | null;
  private context: QuickJSContext | null;
  private readonly memory: WasmMemory;
  private readonly maxBytes: number;
  private entries: Record<EntryName, QuickJSHandle> | null = null;
  /** performance.now() at which the running section is interrupted; null outside sections. */
  private cutAt: number | null = null;
  private breach: Breach | null = null;
  /** The module refused to grow past its maximum: the plugin wanted more memory than it may have. */
  private growthRefused = false;

  static async create(key: string, limits: PluginLimits, hooks: IsolateHooks): Promise<QuickJSEngine> {
    const maxPages = Math.max(INITIAL_PAGES, Math.ceil(((limits.memoryMb + ENGINE_BASE_MB) * 1024 * 1024) / PAGE_BYTES));
    allowWasmPages(maxPages);
    const memory = new wasm.Memory({ initial: INITIAL_PAGES, maximum: maxPages });
    const { RELEASE_SYNC, newQuickJSWASMModuleFromVariant, newVariant } = await (library ??= import('quickjs-emscripten'));
    const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule: compiledQuickJS, wasmMemory: memory as never }));
    return new QuickJSEngine(key, limits, hooks, module, memory, maxPages * PAGE_BYTES);
  }

  private constructor(key: string, limits: PluginLimits, hooks: IsolateHooks, module: QuickJSWASMModule, memory: WasmMemory, maxBytes: number) {
    super(key, limits, hooks);
    this.module = module;
    this.memory = memory;
    this.maxBytes = maxBytes;
    // The module's allocator grows the memory through this object's grow(); a refusal is the
    // only sign that an allocation failed for want of memory (the plugin may catch the error).
    const grow = wasm.Memory.prototype.grow;
    Object.defineProperty(memory, 'grow', {
      value: (pages: number) => {
        try {
          return grow.call(memory, pages);
        } catch (err) {
          this.growthRefused = true;
          throw err;
        }
      },
    });
    this.runtime = module.newRuntime();
    this.runtime.setMaxStackSize(MAX_STACK_BYTES);
    this.runtime.setInterruptHandler(() => this.shouldInterrupt());
    this.context = this.runtime.newContext();
  }

  protected setUp(callId: string, code: string, _cachedData: string | null, setupJson: string, library: LibrarySource | null): { cachedData: string | null; cacheAccepted: boolean } {
    const ctx = this.context!;
    this.phase('context');
    this.timed(callId, () => this.budgeted(this.remainingCpu(callId), () => this.evaluate(HARDEN_SOURCE, 'prelude:///harden.js')));
    const entries = this.timed(callId, () => this.budgeted(this.remainingCpu(callId), () => {
      const factory = this.unwrap(ctx.evalCode(BRIDGE_FUNCTION_SOURCE, 'prelude:///bridge.js'));
      // After a breach nothing the plugin still runs reaches the host: QuickJS turns the
      // interruption into a rejection inside async code, which the prelude would report as the
      // plugin's own failure (measured), or the plugin could go on calling the host. Each
      // callback also looks at the budget: the interrupt handler runs every few thousand
      // operations, and a loop of host calls (8 MB hashed per call) is few operations.
      const refused = JSON.stringify({ ok: false, error: { message: 'the plugin breached a limit' } });
      const args = [
        ctx.newFunction('syncCall', (name, argsJson) => ctx.newString(this.shouldInterrupt() ? refused : this.callbacks.syncCall(this.text(name), this.text(argsJson)))),
        ctx.newFunction('startAsync', (cid, name, argsJson) => ctx.newString(this.shouldInterrupt() ? refused : this.callbacks.startAsync(this.text(cid), this.text(name), this.text(argsJson)))),
        ctx.newFunction('report', (kind, cid, json) => { if (!this.shouldInterrupt()) this.callbacks.report(this.text(kind), this.text(cid), this.text(json)); }),
        ctx.newString(setupJson),
      ];
      try {
        return this.unwrap(ctx.callFunction(factory, ctx.undefined, ...args));
      } finally {
        factory.dispose();
        for (const handle of args) handle.dispose();
      }
    }));
    if (!entries) throw new LoadFailure('load_failed', `the prelude of plugin '${this.key}' could not be set up`);
    this.entries = Object.fromEntries(ENTRY_NAMES.map((name) => [name, ctx.getProp(entries, name)])) as Record<EntryName, QuickJSHandle>;
    entries.dispose();
    this.timed(callId, () => this.budgeted(this.remainingCpu(callId), () => this.evaluate(WEB_GLOBALS_SOURCE, 'prelude:///web-globals.js')));
    this.phase('prelude');
    // The shared library, evaluated anew in this plugin's own runtime (QuickJS has no code cache).
    if (library) this.timed(callId, () => this.budgeted(this.remainingCpu(callId), () => this.evaluate(library.source, `plugin:///${this.key}/library.js`)));
    this.phase('library');
    // Wrapped as on isolated-vm: what the bundle throws goes to the prelude, read in a timed entry.
    this.timed(callId, () => this.budgeted(this.remainingCpu(callId), () => this.evaluate(loadWrapped(code), `plugin:///${this.key}/bundle.js`)));
    // QuickJS compiles and runs in one step.
    this.phase('run');
    // A code cache is V8's: QuickJS compiles the bundle each load.
    return { cachedData: null, cacheAccepted: false };
  }

  protected enter(entry: EntryName, args: EntryArg[], cpuMs: number): string | undefined {
    const fn = this.entries?.[entry];
    const ctx = this.context;
    if (!fn || !ctx) return undefined;
    return this.budgeted(cpuMs, () => {
      const handles = args.map((a) => (typeof a === 'string' ? ctx.newString(a) : typeof a === 'number' ? ctx.newNumber(a) : a ? ctx.true : ctx.false));
      let result: VmCallResult<QuickJSHandle>;
      try {
        result = ctx.callFunction(fn, ctx.undefined, ...handles);
      } finally {
        for (const handle of handles) if (handle !== ctx.true && handle !== ctx.false && handle.alive) handle.dispose();
      }
      const value = this.unwrap(result);
      const text = ctx.typeof(value) === 'string' ? ctx.getString(value) : undefined;
      value.dispose();
      this.runJobs();
      return text;
    });
  }

  /**
   * Promise continuations the entry queued run now, inside the same budget, as V8's microtasks
   * run before isolated-vm's applySync returns. In batches, with the budget checked between them:
   * a reaction job swallows QuickJS's interruption as a rejection, so a chain of jobs that
   * rejects into itself would otherwise never end.
   */
  private runJobs(): void {
    for (;;) {
      if (!this.runtime || this.shouldInterrupt()) return;
      const jobs = this.runtime.executePendingJobs(JOBS_PER_BATCH);
      if (jobs.error) {
        jobs.error.dispose();
        if (!this.breach) throw new Error('a promise job failed outside the prelude');
        return;
      }
      if (jobs.value < JOBS_PER_BATCH) return;
    }
  }

  /** Runs `section` with the interrupt handler set to cut it once `cpuMs` have passed. */
  private budgeted<T>(cpuMs: number, section: () => T): T {
    const outer = this.cutAt;
    const cut = performance.now() + cpuMs;
    // A section entered from inside another (the prelude's `forget` from a report) keeps the outer cut.
    this.cutAt = outer === null ? cut : Math.min(outer, cut);
    if (outer === null) this.breach = null;
    try {
      const value = section();
      if (this.growthRefused) throw new QuickJSBreach('memory_limit');
      if (this.breach) throw new QuickJSBreach(this.breach);
      return value;
    } catch (err) {
      if (err instanceof QuickJSBreach) throw err;
      if (this.breach) throw new QuickJSBreach(this.breach);
      if (this.growthRefused) throw new QuickJSBreach('memory_limit');
      // A trap (unreachable, out-of-bounds), an abort, or the host's stack overflowing inside the
      // module: its state is unknown, so the call book disposes it; no other plugin shares it.
      throw new Error(`the QuickJS engine failed (${String((err as Error)?.message ?? err)})`);
    } finally {
      this.cutAt = outer;
    }
  }

  /** The interrupt handler: whether the running section is over its budget or memory (sets `breach`). */
  private shouldInterrupt(): boolean {
    if (this.isDisposed) return true;
    if (this.cutAt === null) return false;
    if (this.growthRefused) this.breach = 'memory_limit';
    else if (performance.now() >= this.cutAt) this.breach = 'cpu_limit';
    return this.breach !== null;
  }

  private evaluate(source: string, filename: string): void {
    this.unwrap(this.context!.evalCode(source, filename)).dispose();
  }

  /** The value of a call into the module, or the reason it failed (read inside the budget). */
  private unwrap(result: VmCallResult<QuickJSHandle>): QuickJSHandle {
    if (!result.error) return result.value;
    if (this.breach) {
      result.error.dispose();
      throw new QuickJSBreach(this.breach);
    }
    const ctx = this.context!;
    const message = ctx.getProp(result.error, 'message');
    const text = ctx.typeof(message) === 'string' ? ctx.getString(message) : 'a value that is not an Error';
    message.dispose();
    result.error.dispose();
    throw new Error(`uncaught in the prelude: ${text.slice(0, 500)}`);
  }

  /** Only strings cross from the prelude; anything else becomes '' (the call book refuses it). */
  private text(handle: QuickJSHandle | undefined): string {
    const ctx = this.context;
    return handle && ctx && ctx.typeof(handle) === 'string' ? ctx.getString(handle) : '';
  }

  /**
   * What a call is charged: its sections' time on the clock the cut above uses. Not the thread's
   * CPU time: the kernel counts it in ticks, so sections shorter than a tick were charged next to
   * nothing (300 sections of 0.3 ms read 8 ms, not 90), and a plugin whose work came in short
   * sections (timer callbacks, resumptions) was never charged its budget. A busy machine is told
   * apart by the call book's overload rule, from the kernel's count of the whole process.
   */
  protected cpuClockMs(): number {
    return performance.now();
  }

  protected breachOf(err: unknown): Breach | null {
    return err instanceof QuickJSBreach ? err.breach : null;
  }

  protected engineAlive(): boolean {
    return this.module !== null;
  }

  /** `used` is the plugin's linear memory (what the process holds for it), `limit` its maximum. */
  heapStats(): { used: number; limit: number; external: number } {
    if (this.isDisposed) return { used: 0, limit: 0, external: 0 };
    return { used: this.memory.buffer.byteLength, limit: this.maxBytes, external: 0 };
  }

  /**
   * Drops the module without calling into it: after a trap its state is unknown, and nothing
   * else references its memory. The memory is returned when V8 collects the Memory object.
   */
  protected release(): void {
    this.entries = null;
    this.context = null;
    this.runtime = null;
    this.module = null;
  }
}
