// The server's handle on the sandbox: registers plugins, loads each into its own sandbox process
// (placement.ts; again after a crash or a breach), admits its calls through its CPU budget and
// queue (plugin-gate.ts), runs them with a deadline and a circuit breaker, and answers the host
// calls plugins make — through the HostCallHandler, which is where policy and audit live. A crash
// is charged to the plugin that caused it, never to a plugin whose call it merely cut. What a
// sandbox process sends besides replies (host calls, logs, answers, faults, crashes, usage) is
// handled in process-events.ts, against the tables kept here (host-tables.ts).
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import { newCounters } from '../../host-api/capability.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { PluginGate } from './plugin-gate.ts';
import { ProcessPlacement } from './placement.ts';
import { ConfigPush } from './config-push.ts';
import { ManifestReader } from './manifest-reader.ts';
import { requestProcess } from './process-request.ts';
import { attributeFailure } from './crash-attribution.ts';
import { newCallId } from './call-ids.ts';
import { runTimeAtTurn } from './call-turn.ts';
import { scrubAnswer, scrubFailure } from './result-scrub.ts';
import { ServerCallTrace } from './call-trace.ts';
import { CodeDelivery } from './code-delivery.ts';
import { DEFAULT_ENGINE, DEFAULT_LIMITS } from './protocol.ts';
import type {
  CallbackResponse, EngineName, FailureKind, IsolateSetup, LoadResult, PluginDescription, PluginLimits, SandboxFailure,
} from './protocol.ts';
import type { SandboxProcess } from './supervisor.ts';
import { processEvents } from './process-events.ts';
import type { CallInFlight, LoadOutcome, RegisteredPlugin } from './host-tables.ts';
import type { InvokeOptions, InvokeResult, PluginHealth, ProcessHealth, SandboxHostOptions } from './sandbox-host-types.ts';

export type { HostCallHandler, HostCallReply, InvokeOptions, InvokeResult, PluginHealth, ProcessHealth, SandboxHostOptions } from './sandbox-host-types.ts';

/** How often register() loads again a plugin whose load the machine was too busy to run. */
const LOAD_RETRIES_WHEN_OVERLOADED = 2;

/** Faults count against the circuit breaker; a plugin's own rejection does not. */
const FAULTS = new Set<FailureKind>(['cpu_limit', 'memory_limit', 'deadline', 'sandbox_crashed', 'load_failed', 'bad_result']);

export class SandboxHost {
  private readonly options: SandboxHostOptions;
  private readonly placement: ProcessPlacement;
  private readonly plugins = new Map<string, RegisteredPlugin>();
  private readonly calls = new Map<string, CallInFlight>();
  private readonly code = new CodeDelivery();
  private readonly manifests: ManifestReader;
  private readonly configPush: ConfigPush;
  /** Loads so far, of every plugin: each load gets its own number (RegisteredPlugin.loads). */
  private loadCount = 0;
  readonly limits: PluginLimits;

  constructor(options: SandboxHostOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.configPush = new ConfigPush(options.handler.configSnapshots, { enabled: options.localConfigReads ?? true, maxAgeMs: options.configSnapshotMaxAgeMs ?? 1000 }, (key) => {
      const plugin = this.plugins.get(key);
      if (!plugin) return null;
      const generation = plugin.process.generation;
      return { process: plugin.process, generation, loads: plugin.loads, loaded: plugin.loadedGeneration === generation && plugin.process.running };
    });
    this.placement = new ProcessPlacement({ groups: options.groups, supervisor: options.supervisor }, (self) => processEvents(self, {
      plugins: this.plugins, calls: this.calls, options, placement: () => this.placement,
    }));
    this.manifests = new ManifestReader(this.placement, this.limits.rssMb * 1024 * 1024, options.manifestCpuMs ?? 500);
  }

  /** Starts the process that evaluates configure.js; plugin processes start when they are registered. */
  async start(): Promise<void> {
    await this.manifests.process().ensureStarted();
  }

  /** Evaluates configure.js in a throwaway isolate and returns its plain-data exports. */
  readManifest(bundle: PluginBundle): Promise<{ ok: true; value: unknown } | { ok: false; error: SandboxFailure }> {
    return this.manifests.read(bundle);
  }

  /** Registers (or replaces) a plugin and loads it, so that load errors surface now. */
  async register(bundle: PluginBundle, setup: IsolateSetup, limits: Partial<PluginLimits> = {}, engine: EngineName = this.options.engine ?? DEFAULT_ENGINE): Promise<{ ok: true; description: PluginDescription; load: LoadResult } | { ok: false; error: SandboxFailure }> {
    const previous = this.plugins.get(bundle.key);
    const plugin: RegisteredPlugin = {
      key: bundle.key, bundle, setup, limits: { ...this.limits, ...limits },
      process: previous?.process ?? this.placement.place(bundle.key),
      breaker: previous?.breaker ?? new CircuitBreaker(this.options.breaker),
      gate: previous?.gate ?? new PluginGate(this.options.gate),
      loadedGeneration: -1, loading: null, description: null, lastLoad: null, engine, loads: 0,
    };
    this.plugins.set(bundle.key, plugin);
    this.updateRssLimit(plugin.process);
    let outcome = await this.ensureLoaded(plugin);
    // A load cut because the machine was too busy to run it says nothing about the plugin: try
    // again (a plugin refused at start stays refused until someone reloads it).
    for (let retry = 0; retry < LOAD_RETRIES_WHEN_OVERLOADED && !outcome.ok && outcome.error.overloaded; retry++) {
      outcome = await this.ensureLoaded(plugin);
    }
    if (!outcome.ok) return outcome;
    return { ok: true, description: plugin.description as PluginDescription, load: plugin.lastLoad as LoadResult };
  }

  async unregister(key: string): Promise<void> {
    const plugin = this.plugins.get(key);
    if (!plugin) return;
    this.plugins.delete(key);
    this.configPush.forget(key);
    plugin.gate.close();
    if (plugin.loadedGeneration === plugin.process.generation && plugin.process.running) {
      await requestProcess(plugin.process, { t: 'unload', plugin: key }, 5000, `${key} unload`, null);
    }
    await this.placement.remove(key, plugin.process);
    this.updateRssLimit(plugin.process);
  }

  /** A process's memory cap is the sum of the caps of the plugins placed in it. */
  private updateRssLimit(proc: SandboxProcess): void {
    let mb = 0;
    for (const key of this.placement.pluginsIn(proc)) mb += this.plugins.get(key)?.limits.rssMb ?? this.limits.rssMb;
    proc.setRssLimit(mb * 1024 * 1024);
  }

  has(key: string): boolean {
    return this.plugins.has(key);
  }

  description(key: string): PluginDescription | null {
    return this.plugins.get(key)?.description ?? null;
  }

  /** A request to a process that may be starting, restarting or unable to start. */
  private ensureLoaded(plugin: RegisteredPlugin): Promise<LoadOutcome> {
    if (plugin.loadedGeneration !== -1 && plugin.loadedGeneration === plugin.process.generation && plugin.process.running) return Promise.resolve({ ok: true });
    if (plugin.loading) return plugin.loading;
    plugin.loading = (async (): Promise<LoadOutcome> => {
      try {
        await plugin.process.ensureStarted();
      } catch (err) {
        return { ok: false, error: { kind: 'sandbox_unavailable', message: `${plugin.key}: its sandbox process could not be started (${(err as Error)?.message ?? err}); nothing ran` } };
      }
      const callId = newCallId();
      const ctx = this.openContext(plugin, callId, 'load', plugin.limits.wallMsPerCall);
      try {
        const reply = await this.code.load(plugin, callId);
        if (!reply.ok) return { ok: false, error: scrubFailure(this.options.handler, attributeFailure(plugin.key, this.placement.pluginsIn(plugin.process), reply, ctx.counters.requestsStarted)) };
        const result = reply.value as LoadResult;
        plugin.lastLoad = result;
        plugin.description = result.description;
        plugin.loadedGeneration = plugin.process.generation;
        // The load dropped whatever config values the process held for the plugin.
        plugin.loads = ++this.loadCount;
        this.configPush.forget(plugin.key);
        return { ok: true };
      } finally {
        ctx.ended = true;
        this.calls.delete(ctx.callId);
      }
    })().finally(() => { plugin.loading = null; });
    return plugin.loading;
  }

  private openContext(plugin: RegisteredPlugin, callId: string, method: string, wallMs: number, onRespond?: (r: CallbackResponse) => void, trace?: ServerCallTrace): HostCallContext {
    const ctx: HostCallContext = { plugin: plugin.key, callId, method, deadline: Date.now() + wallMs, counters: newCounters() };
    this.calls.set(callId, { ctx, plugin, onRespond, trace });
    return ctx;
  }

  /**
   * Runs one plugin method. `method` is one of describe, getFields, transfer, initCron, cron,
   * callback (args {name, req, param}). Never throws for plugin or sandbox failures: the result
   * says what happened, and `ctx.counters` says what the call did (e.g. requests sent).
   * Failures in NOT_DISPATCHED (protocol.ts) mean the plugin's code never started the call.
   */
  async invoke(key: string, method: string, args: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const plugin = this.plugins.get(key);
    const label = method === 'callback' ? `callback:${(args as { name?: string })?.name}` : method;
    const callId = newCallId();
    if (!plugin) {
      const ctx: HostCallContext = { plugin: key, callId, method: label, deadline: Date.now(), counters: newCounters() };
      return { ok: false, error: { kind: 'not_loaded', message: `no plugin '${key}' is registered` }, callId, ctx, stats: null };
    }
    const wallMs = options.wallMs ?? plugin.limits.wallMsPerCall;
    const waitMs = options.waitMs;
    const trace = options.trace ? new ServerCallTrace() : undefined;
    const arrived = Date.now();
    // With its own wait bound, the call's deadline is set again when it gets its turn (below).
    const ctx = this.openContext(plugin, callId, label, waitMs === undefined ? wallMs : waitMs + wallMs, options.onRespond, trace);
    const beforeFirstRequest = options.beforeFirstRequest;
    if (beforeFirstRequest) ctx.beforeFirstRequest = () => beforeFirstRequest(callId);
    let release: (() => void) | null = null;
    try {
      const admitted = plugin.breaker.admit();
      if (!admitted.ok) {
        const last = plugin.breaker.lastFault;
        return {
          ok: false, callId, ctx, stats: null,
          error: { kind: 'circuit_open', retryInMs: admitted.retryInMs, message: `plugin '${key}' is paused after repeated faults${last ? ` (last: ${last.kind}: ${last.message})` : ''}; the next trial call is allowed in ${Math.ceil(admitted.retryInMs / 1000)} s` },
        };
      }
      const gate = await plugin.gate.acquire(waitMs ?? wallMs);
      if (!gate.ok) {
        plugin.breaker.cancelTrial();
        this.options.onThrottled?.(key, label, gate.message);
        return { ok: false, callId, ctx, stats: null, error: { kind: 'throttled', retryInMs: gate.retryInMs, message: `plugin '${key}' is throttled: ${gate.message}; nothing ran, try again in ${Math.ceil(gate.retryInMs / 1000)} s` } };
      }
      release = gate.release;
      const loaded = await this.ensureLoaded(plugin);
      if (!loaded.ok) {
        // A trial call (half-open breaker) that ends without a verdict of its own must free the
        // trial, or the breaker would wait for it for ever.
        if (loaded.error.kind === 'sandbox_unavailable' || loaded.error.charged || loaded.error.overloaded) plugin.breaker.cancelTrial();
        else plugin.breaker.recordFault(loaded.error.kind, loaded.error.message);
        // Whatever broke the load (CPU, memory, a crash), the method itself never started.
        const kind = loaded.error.kind === 'sandbox_unavailable' ? 'sandbox_unavailable' : 'load_failed';
        return { ok: false, error: { ...loaded.error, kind, message: `${key}.${label} did not start: loading the plugin failed (${loaded.error.kind}: ${loaded.error.message})` }, callId, ctx, stats: null };
      }
      const busy = (why: string): InvokeResult => {
        plugin.breaker.cancelTrial();
        return { ok: false, callId, ctx, stats: null, error: { kind: 'throttled', retryInMs: 1000, message: `plugin '${key}' is busy: ${why}; nothing ran` } };
      };
      const turn = runTimeAtTurn({ call: `${key}.${label}`, wallMs, waitMs, calledAt: arrived, now: Date.now() });
      if (!turn.ok) return busy(turn.why);
      const remainingMs = turn.runMs;
      const pushing = this.configPush.beforeCall(key);
      const localReads = typeof pushing === 'boolean' ? pushing : await pushing;
      if (options.signal?.aborted) return busy(`the caller of ${key}.${label} stopped waiting for its turn`);
      // With a wait bound, the deadline host calls see is the run's, from now.
      if (waitMs !== undefined) ctx.deadline = Date.now() + wallMs;
      options.onStart?.(remainingMs);
      const minuteLeft = localReads ? this.options.handler.hostCallsLeftThisMinute?.(ctx) : undefined;
      trace?.mark('send');
      const reply = await requestProcess(plugin.process, {
        t: 'invoke', plugin: key, callId, method, args, wallMs: remainingMs, ...(options.cpuMs ? { cpuMs: options.cpuMs } : {}), ...(minuteLeft ? { minuteLeft } : {}), ...(trace ? { trace: true as const } : {}),
      }, remainingMs, `${key}.${label}`, key);
      trace?.replied(reply.arrivedAt, reply.stats);
      const traced = <T extends InvokeResult>(result: T): T => (trace ? trace.finish(result) : result);
      if (reply.stats) {
        if (reply.stats.configReads) this.options.handler.recordConfigReads?.(ctx, reply.stats.configReads);
        this.options.handler.recordLocalCalls?.(ctx, reply.stats.localCalls);
        if (!this.placement.exclusive(plugin.process)) plugin.gate.charge(reply.stats.cpuMs);
      }
      if (reply.ok) {
        const result = this.scrubResult(plugin, reply.value);
        if (!result.ok) {
          plugin.breaker.recordFault('bad_result', result.message);
          return traced({ ok: false, error: { kind: 'bad_result', message: result.message }, callId, ctx, stats: reply.stats ?? null });
        }
        plugin.breaker.recordSuccess();
        return traced({ ok: true, value: result.value, callId, ctx, stats: reply.stats ?? null });
      }
      const error = scrubFailure(this.options.handler, attributeFailure(plugin.key, this.placement.pluginsIn(plugin.process), reply, ctx.counters.requestsStarted));
      // Cut because the machine was too busy to give the plugin its CPU: the call failed, but the
      // plugin is not paused for it (no breaker fault).
      if (error.overloaded) error.charged = true;
      if (error.kind === 'sandbox_unavailable' || error.charged) plugin.breaker.cancelTrial();
      else if (FAULTS.has(error.kind) && !error.charged) plugin.breaker.recordFault(error.kind, error.message);
      else if (!FAULTS.has(error.kind) && error.kind !== 'bad_request') plugin.breaker.recordSuccess();
      if (error.kind !== 'plugin_error' && error.kind !== 'bad_result' && error.kind !== 'bad_request') plugin.loadedGeneration = -1;
      return traced({ ok: false, error, callId, ctx, stats: reply.stats ?? null });
    } finally {
      release?.();
      ctx.ended = true;
      this.calls.delete(callId);
    }
  }

  /** scrubAnswer of a call's result, its time charged to the plugin as the channel's is (onUsage). */
  private scrubResult(plugin: RegisteredPlugin, value: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
    const started = performance.now();
    try {
      return scrubAnswer(this.options.handler, plugin.key, value);
    } finally {
      if (this.placement.exclusive(plugin.process)) plugin.gate.charge(performance.now() - started);
    }
  }

  health(): { processes: ProcessHealth[]; plugins: Record<string, PluginHealth> } {
    const plugins: Record<string, PluginHealth> = {};
    for (const p of this.plugins.values()) {
      plugins[p.key] = {
        ...p.breaker.snapshot(), loaded: p.loadedGeneration === p.process.generation, process: p.process.name, engine: p.engine,
        cpuMsInWindow: Math.round(p.gate.usedMs()), runningCalls: p.gate.runningCalls, queuedCalls: p.gate.queuedCalls,
      };
    }
    const processes = this.placement.all().map((p) => ({
      name: p.name, pid: p.pid, restarts: p.restarts, rssBytes: p.usage?.rssBytes ?? null, plugins: [...this.placement.pluginsIn(p)],
    }));
    return { processes, plugins };
  }

  /**
   * Whether a call of `key` would be refused right now without running (paused, over its CPU
   * budget, queue full): a webhook route asks before it stores a delivery, so a flood against a
   * plugin that is refusing calls costs neither disk nor a sandbox turn.
   */
  refusesNow(key: string, what: string): SandboxFailure | null {
    const plugin = this.plugins.get(key);
    if (!plugin) return null;
    if (plugin.breaker.state === 'open') {
      const retryInMs = plugin.breaker.retryInMs();
      return { kind: 'circuit_open', retryInMs, message: `plugin '${key}' is paused after repeated faults; the next trial call is allowed in ${Math.ceil(retryInMs / 1000)} s` };
    }
    const refusal = plugin.gate.wouldRefuse();
    if (!refusal) return null;
    this.options.onThrottled?.(key, what, refusal.message);
    return { kind: 'throttled', retryInMs: refusal.retryInMs, message: `plugin '${key}' is throttled: ${refusal.message}; nothing ran` };
  }

  /** The engine this host was given for plugins registered without one; undefined: DEFAULT_ENGINE. */
  get configuredEngine(): EngineName | undefined {
    return this.options.engine;
  }

  /** The engine a registered plugin runs on; null when it is not registered. */
  engineOf(key: string): EngineName | null {
    return this.plugins.get(key)?.engine ?? null;
  }

  /** The breaker of one plugin (cheaper than health() on the payout path). */
  breakerOf(key: string): ReturnType<CircuitBreaker['snapshot']> | undefined {
    return this.plugins.get(key)?.breaker.snapshot();
  }

  resetBreaker(key: string): void {
    this.plugins.get(key)?.breaker.reset();
  }

  /** Heap use per isolate and RSS per sandbox process. */
  async stats(): Promise<{ process: string; rss: number; isolates: { plugin: string; heapUsedBytes: number }[] }[]> {
    const out = [];
    for (const p of this.placement.all()) {
      if (!p.running) continue;
      const reply = await requestProcess(p, { t: 'stats' }, 5000, 'stats', null);
      if (reply.ok) out.push({ process: p.name, ...(reply.value as { rss: number; isolates: { plugin: string; heapUsedBytes: number }[] }) });
    }
    return out;
  }

  /** The plugin sandbox processes (for tests, benchmarks and the watchdog report). */
  get sandboxProcesses(): readonly SandboxProcess[] {
    return this.placement.all();
  }

  /** The sandbox process a registered plugin runs in. */
  processOf(key: string): SandboxProcess | null {
    return this.plugins.get(key)?.process ?? null;
  }

  async close(): Promise<void> {
    this.configPush.close();
    for (const p of this.plugins.values()) p.gate.close();
    await this.placement.close();
  }
}
