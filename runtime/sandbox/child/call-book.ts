// The engine-independent half of a plugin's engine: the calls in flight and their limits (CPU
// budget across a call's timed sections, wall-clock deadline), the budget check around the three
// callbacks the prelude holds (what they do, and their limits on timers, host calls, log lines and
// result size, is prelude-callbacks.ts), and what a breach does (dispose the engine, fail every
// call in it; the server reloads it on the next call). An engine (plugin-isolate.ts,
// quickjs-engine.ts) supplies only: set up the context with the prelude and bundle, enter the
// prelude with a CPU budget, its CPU clock, what a breach looks like, memory stats, release.
// What a breach means for the call (kind, reason, the machine's fault or the plugin's) is
// section-breach.ts.
import { loadCpuMs } from '../protocol.ts';
import type {
  CallStats, EngineName, FailureKind, IsolateSetup, LoadResult, PluginLimits, SandboxFailure,
} from '../protocol.ts';
import type { CallOutcome, IsolateHooks, PluginEngine } from './engine.ts';
import type { LiveCall } from './live-call.ts';
import { LoadFailure } from './load-failure.ts';
import { freshnessMs, processCpu, processCpuMsSince } from './overload.ts';
import { breachFailure } from './section-breach.ts';
import { engineClosed, engineOpened, enterSection, leaveSection } from '../section-marker.ts';
import type { Breach } from './section-breach.ts';
import type { LibrarySource } from './library-script.ts';
import { normaliseDescription, normaliseThrown } from './plugin-reports.ts';
import { PreludeCallbacks, replyJson } from './prelude-callbacks.ts';

/** The prelude's entry points (bridge.isolate.js / plugin-calls.isolate.js). */
export type EntryName = 'load' | 'invoke' | 'resume' | 'forget';
/** Only strings, numbers and booleans cross into the prelude. */
export type EntryArg = string | number | boolean;
export type { Breach } from './section-breach.ts';

/**
 * Thrown into a section that would start after its call spent its budget: each section's timer is
 * the budget left but at least 1 ms, so work that comes in shorter sections (timer callbacks,
 * resumptions after host calls) met no timer and ran on until the call's deadline.
 */
const OVER_BUDGET = new Error('the call had spent its CPU budget before this section');
const OVER_BUDGET_REPLY = replyJson({ ok: false, error: { code: 'CPU_LIMIT', message: 'the call has spent its CPU budget' } });

export abstract class CallBook implements PluginEngine {
  readonly key: string;
  abstract readonly engine: EngineName;
  protected readonly limits: PluginLimits;
  protected readonly hooks: IsolateHooks;
  private readonly calls = new Map<string, LiveCall>();
  /** What the prelude's callbacks do once `charged` lets them run (prelude-callbacks.ts). */
  private readonly prelude: PreludeCallbacks;
  private loaded = false;
  private disposed = false;
  /**
   * The timed section running now: a call that ends inside it is charged its CPU so far.
   * `call`: the call it was entered for, kept even once that call has settled inside it (the rest
   * of the entry's microtasks still run plugin code, and their callbacks still spend its budget).
   * `callbackMs`: time spent in the prelude's callbacks, charged on top of the engine's clock
   * where that clock stops while they run; `cut`: a callback was refused for the budget.
   */
  private section: { callId: string | null; call: LiveCall | undefined; before: number; callbackMs: number; cut: boolean } | null = null;
  /**
   * Whether the engine's CPU clock runs while the prelude's callbacks run in this process. Not on
   * isolated-vm: its cpuTime and its timeout both stop (measured: 200 ms spent in Callbacks read
   * 0.36 ms of cpuTime, and a 300 ms timeout let 2 s of them through), so the call book times the
   * callbacks and charges them to the call itself. QuickJS's clock is the wall clock.
   */
  protected readonly clockCountsCallbacks: boolean = false;

  /** Wall-clock ms of each part of the last load (LoadResult.phases: the bench's start-up trace). */
  private phases: Record<string, number> = {};
  private phaseStarted = 0;

  constructor(key: string, limits: PluginLimits, hooks: IsolateHooks) {
    this.key = key;
    this.limits = limits;
    this.hooks = hooks;
    this.prelude = new PreludeCallbacks({
      owner: this, calls: this.calls, limits, hooks,
      finishCall: (call, outcome) => this.finishCall(call, outcome),
      statsOf: (call) => this.statsOf(call),
    });
    engineOpened();
  }

  /** Ends the load part running since the last one (or since the load began) as `name`. */
  protected phase(name: string): void {
    const now = performance.now();
    this.phases[name] = Math.round((now - this.phaseStarted) * 1000) / 1000;
    this.phaseStarted = now;
  }

  // ---- what an engine supplies -------------------------------------------------------------
  /**
   * Creates the context, runs the prelude (harden, the bridge with `callbacks` and the setup JSON
   * as its $0..$3, web-globals) and the wrapped bundle, each through `this.timed(callId, …)`.
   */
  protected abstract setUp(callId: string, code: string, cachedData: string | null, setupJson: string, library: LibrarySource | null): { cachedData: string | null; cacheAccepted: boolean };
  /** Calls a prelude entry, its microtasks included, cut after `cpuMs` of CPU; returns a string result or undefined. */
  protected abstract enter(entry: EntryName, args: EntryArg[], cpuMs: number): string | undefined;
  /** The CPU clock a call is charged by, in ms. */
  protected abstract cpuClockMs(): number;
  /** Whether an error thrown out of a timed section is a limit's breach; anything else fails the plugin too. */
  protected abstract breachOf(err: unknown): Breach | null;
  /** Whether the engine itself is still usable (isolated-vm disposes an isolate on a memory breach). */
  protected abstract engineAlive(): boolean;
  /** Frees the engine; called once, after every call in flight was failed. */
  protected abstract release(): void;
  abstract heapStats(): { used: number; limit: number; external: number };

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The callbacks the prelude holds as $0..$2: sync local call, start a host call (answered at
   * once when the sandbox process can: a shown config read), report. Each is charged to the
   * section's call; past the call's budget none runs and the section is cut (charged).
   */
  protected readonly callbacks = {
    syncCall: (name: string, argsJson: string): string => this.charged(OVER_BUDGET_REPLY, () => this.prelude.syncCall(name, argsJson)),
    startAsync: (callId: string, name: string, argsJson: string): string => this.charged(OVER_BUDGET_REPLY, () => this.prelude.startAsync(callId, name, argsJson)),
    report: (kind: string, callId: string, json: string): void => this.charged(undefined, () => this.prelude.report(kind, callId, json)),
  };

  load(callId: string, code: string, cachedData: string | null, setup: IsolateSetup, library: LibrarySource | null = null): LoadResult {
    const started = performance.now();
    this.phases = {};
    this.phaseStarted = started;
    const call = this.openCall(callId, 'load', this.limits.wallMsPerCall, () => {});
    try {
      const cache = this.setUp(callId, code, cachedData, JSON.stringify(setup), library);
      this.loaded = true;
      const loaded = JSON.parse(this.timed(callId, () => this.enter('load', [callId], this.remainingCpu(callId))) ?? 'null');
      this.phase('construct');
      if (loaded?.ok !== true) throw new LoadFailure('load_failed', normaliseThrown(loaded?.error).message);
      return {
        description: normaliseDescription(loaded.value), cachedData: cache.cachedData, cacheAccepted: cache.cacheAccepted,
        loadMs: performance.now() - started, phases: this.phases,
      };
    } finally {
      this.closeCall(call);
    }
  }

  invoke(callId: string, method: string, args: unknown, wallMs: number, cpuMs?: number): Promise<CallOutcome> {
    return new Promise((settle) => {
      if (this.disposed || !this.loaded) {
        settle({ ok: false, error: { kind: 'not_loaded', message: `plugin '${this.key}' is not loaded` }, stats: emptyStats() });
        return;
      }
      if (this.calls.has(callId)) {
        settle({ ok: false, error: { kind: 'bad_result', message: `call ${callId} is already running` }, stats: emptyStats() });
        return;
      }
      let argsJson: string;
      try {
        argsJson = JSON.stringify(args ?? null);
      } catch (err) {
        // Arguments this process cannot re-serialise (nested deeper than its stack allows) fail
        // this call before it opens; thrown here they would leave a call open until its deadline.
        settle({ ok: false, error: { kind: 'bad_request', message: `the arguments could not be handed to the plugin (${(err as Error)?.message ?? err})` }, stats: emptyStats() });
        return;
      }
      this.openCall(callId, method, wallMs, settle, cpuMs);
      this.timed(callId, () => this.enter('invoke', [callId, method, argsJson], this.remainingCpu(callId)));
    });
  }

  /** Delivers a host call's result with a timed call, so the plugin's continuation is timed too. */
  resume(hostCallId: number, ok: boolean, value: unknown): void {
    const call = this.callOfHostCall(hostCallId);
    this.hooks.routeHostCall(hostCallId, null);
    if (!call || this.disposed || !this.loaded) return;
    call.hostCalls.delete(hostCallId);
    const payload = JSON.stringify(value ?? null);
    this.timed(call.callId, () => this.enter('resume', [hostCallId, ok, payload], this.remainingCpu(call.callId)));
  }

  dispose(kind: FailureKind, message: string, culprit: string | null = null, extra: Pick<SandboxFailure, 'overloaded'> = {}): void {
    if (this.disposed) return;
    this.disposed = true;
    engineClosed();
    for (const call of [...this.calls.values()]) {
      const failure: SandboxFailure = call.callId === culprit
        ? { kind, message, ...extra }
        : { kind: 'isolate_reset', message: `plugin '${this.key}' was reset because another call breached a limit (${message})` };
      this.finishCall(call, { ok: false, error: failure, stats: this.statsOf(call) });
    }
    this.loaded = false;
    this.release();
  }

  // ---- calls in flight ------------------------------------------------------------------------
  private openCall(callId: string, method: string, wallMs: number, settle: (o: CallOutcome) => void, cpuMs?: number): LiveCall {
    const call: LiveCall = {
      callId, method, cpuBudgetMs: method === 'load' ? loadCpuMs(this.limits) : cpuMs ?? this.limits.cpuMsPerCall, startedAt: performance.now(), cpuUsedMs: 0, processCpuAtStart: processCpu.recent(freshnessMs(cpuMs ?? this.limits.cpuMsPerCall)), deadline: null, settle,
      hostCalls: new Set(), timers: new Map(), localCalls: {}, logLines: 0, logDropped: 0,
    };
    call.deadline = setTimeout(() => {
      this.hooks.sendFault('deadline', `${method} exceeded its ${wallMs} ms deadline`);
      this.dispose('deadline', `${method} did not finish within its ${wallMs} ms deadline`, callId);
    }, wallMs);
    this.calls.set(callId, call);
    return call;
  }

  private finishCall(call: LiveCall, outcome: CallOutcome): void {
    if (!this.calls.has(call.callId)) return;
    this.closeCall(call);
    call.settledWith = outcome.stats;
    call.settle(outcome);
  }

  private closeCall(call: LiveCall): void {
    this.calls.delete(call.callId);
    if (call.deadline) clearTimeout(call.deadline);
    for (const t of call.timers.values()) clearTimeout(t);
    for (const id of call.hostCalls) this.hooks.routeHostCall(id, null);
    if (!this.disposed && this.loaded && call.hostCalls.size + call.timers.size > 0) {
      // Drop the plugin's waiters for this call without running any of its code.
      this.timed(null, () => this.enter('forget', [call.callId], 50));
    }
  }

  private callOfHostCall(hostCallId: number): LiveCall | undefined {
    for (const call of this.calls.values()) if (call.hostCalls.has(hostCallId)) return call;
    return undefined;
  }

  private statsOf(call: LiveCall): CallStats {
    // A call that reports its result inside a section (most do: the result is reported before the
    // entry returns) was charged nothing for that section yet.
    const running = this.section?.callId === call.callId && !this.disposed && this.engineAlive() ? this.cpuClockMs() - this.section.before + this.section.callbackMs : 0;
    return { cpuMs: call.cpuUsedMs + running, wallMs: performance.now() - call.startedAt, localCalls: call.localCalls, logLinesDropped: call.logDropped };
  }

  /** CPU the call may still use in its next timed section, in whole ms (at least 1). */
  protected remainingCpu(callId: string | null): number {
    const call = callId ? this.calls.get(callId) : undefined;
    const budget = call ? call.cpuBudgetMs : this.limits.cpuMsPerCall;
    const left = budget - (call ? call.cpuUsedMs : 0);
    return Math.max(1, Math.ceil(left));
  }

  /** Runs one section inside the engine, charges its CPU time to the call, and turns a breach into a disposal. */
  protected timed<T>(callId: string | null, section: () => T): T | undefined {
    if (this.disposed) return undefined;
    const before = this.cpuClockMs();
    // The process's own CPU count from the kernel: isolated-vm's cpuTime runs on while the
    // process is not scheduled, so only this one tells a busy machine from a busy plugin. A
    // reading from a moment ago serves (overload.ts): one syscall per section was its largest cost.
    const timedCall = callId ? this.calls.get(callId) : undefined;
    const processCpuBefore = processCpu.recent(freshnessMs(timedCall ? timedCall.cpuBudgetMs : this.limits.cpuMsPerCall));
    const outer = this.section;
    const running = { callId, call: timedCall, before, callbackMs: 0, cut: false };
    this.section = running;
    // Whose section this is, for a watchdog that fires while it holds a shared process.
    const markedBefore = enterSection(this.key);
    try {
      if (timedCall && timedCall.cpuUsedMs >= timedCall.cpuBudgetMs) throw OVER_BUDGET;
      const result = section();
      // A callback refused for the budget: the call is cut as if its timer had fired — a call
      // settled earlier in this section too, as its timer firing there would (its plugin reset).
      if (running.cut) throw OVER_BUDGET;
      return result;
    } catch (err) {
      const message = String((err as Error)?.message ?? err);
      const isLoad = callId !== null && this.calls.get(callId)?.method === 'load';
      // A section entered from inside this one (the prelude's `forget` from a report) breached and
      // disposed the engine already: its fault was reported once.
      if (this.disposed) {
        if (isLoad) throw new LoadFailure('load_failed', `plugin '${this.key}' was disposed while loading`);
        return undefined;
      }
      const failure = breachFailure(err === OVER_BUDGET ? 'cpu_limit' : this.breachOf(err), err === OVER_BUDGET, running.call, processCpuBefore, this.limits);
      if (!failure && isLoad) throw new LoadFailure('load_failed', message);
      const { kind, reason, overloaded } = failure ?? { kind: 'plugin_error' as const, reason: `sandbox bridge error: ${message}`, overloaded: false };
      // The cut section's CPU is the call's: dispose() reports the call's stats, and a disposed
      // engine no longer counts the section that was running, so a call cut at its budget
      // reported ≈0 ms and charged its plugin's CPU window (shared groups) nothing. The kernel's
      // count, not the engine's clock: a cut the machine caused charges what the plugin really got.
      const cutCall = callId ? this.calls.get(callId) : undefined;
      if (cutCall) cutCall.cpuUsedMs += processCpuMsSince(processCpuBefore);
      else if (running.call?.settledWith) running.call.settledWith.cpuMs = running.call.cpuUsedMs + processCpuMsSince(processCpuBefore);
      this.hooks.sendFault(kind, reason);
      this.dispose(kind, reason, callId, overloaded ? { overloaded: true } : {});
      if (isLoad) throw new LoadFailure(kind, reason, overloaded);
      return undefined;
    } finally {
      leaveSection(markedBefore);
      this.section = outer;
      if (!this.disposed && this.engineAlive()) {
        const call = callId ? this.calls.get(callId) : undefined;
        if (call) call.cpuUsedMs += this.cpuClockMs() - before + running.callbackMs;
        // Settled in this section: its reply leaves after it, with the whole section charged.
        else if (running.call?.settledWith) running.call.settledWith.cpuMs = running.call.cpuUsedMs + this.cpuClockMs() - before + running.callbackMs;
      }
    }
  }

  // ---- the three callbacks the prelude holds -------------------------------------------------
  /**
   * Runs a callback charged to the section's call (where the engine's clock does not count it).
   * Past the call's budget it is not run: the engine's own timer never sees time spent here, so
   * the section is cut when it returns, and until then nothing it does reaches the host (a
   * refusal to a host call; a report is dropped, or it would settle the call as the plugin's own
   * failure), as QuickJS's callbacks do once its interrupt handler fired.
   */
  private charged<T>(refused: T, run: () => T): T {
    const section = this.section;
    if (this.clockCountsCallbacks || !section) return run();
    // The section's call even if it has settled since: a result reported early must not free the
    // rest of the entry from the budget.
    const call = section.call;
    if (!section.cut && call && section.callbackMs > 0) {
      // Cut only when the callbacks' time is what passes the budget: past it on its own clock, the
      // engine's timer cuts the section itself, as before callbacks were charged.
      const engineMs = call.cpuUsedMs + this.cpuClockMs() - section.before;
      section.cut = engineMs < call.cpuBudgetMs && engineMs + section.callbackMs >= call.cpuBudgetMs;
    }
    if (section.cut) return refused;
    const started = performance.now();
    try {
      return run();
    } finally {
      section.callbackMs += performance.now() - started;
    }
  }
}


function emptyStats(): CallStats {
  return { cpuMs: 0, wallMs: 0, localCalls: {}, logLinesDropped: 0 };
}
