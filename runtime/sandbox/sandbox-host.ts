// The server's handle on the sandbox: registers plugins, loads them into sandbox processes (again
// after a crash or a breach), runs calls with a deadline and a circuit breaker, and answers the
// host calls plugins make — through the HostCallHandler, which is where policy and audit live.
import crypto from 'node:crypto';
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import { newCounters } from '../../host-api/capability.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { BreakerOptions } from './circuit-breaker.ts';
import { DEFAULT_LIMITS, loadCpuMs } from './protocol.ts';
import type {
  CallStats, CallbackResponse, FailureKind, IsolateSetup, LoadResult, PluginDescription, PluginLimits, SandboxFailure,
} from './protocol.ts';
import { SandboxProcess } from './supervisor.ts';
import type { SupervisorOptions } from './supervisor.ts';

export type HostCallReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { message: string; code?: string | number; rule?: string; response?: unknown } };

/** Policy, implementation and audit of host calls (host-api/dispatch.ts implements it). */
export interface HostCallHandler {
  handle(ctx: HostCallContext, capability: string, args: unknown): Promise<HostCallReply>;
  log(plugin: string, callId: string, level: 'debug' | 'info' | 'warn' | 'error', text: string): void;
  /** Sandbox-process services used during a call (crypto, timers), recorded with the call. */
  recordLocalCalls?(ctx: HostCallContext, localCalls: Record<string, number>): void;
  /** Removes secret values from text a plugin produced (its error messages). */
  scrub?(text: string): string;
  /**
   * Removes a plugin's own secret values from what it returns or answers (results, callback
   * responses): they reach the database, HTTP callers, merchants and pages.
   */
  scrubFor?<T>(plugin: string, value: T): T;
}

export type InvokeResult =
  | { ok: true; value: unknown; callId: string; ctx: HostCallContext; stats: CallStats | null }
  | { ok: false; error: SandboxFailure; callId: string; ctx: HostCallContext; stats: CallStats | null };

export interface InvokeOptions {
  wallMs?: number;
  /** CPU budget of this call (default: the plugin's cpuMsPerCall). */
  cpuMs?: number;
  /** Called as soon as a callback handler ends its response (the call itself may go on). */
  onRespond?: (response: CallbackResponse) => void;
}

export interface SandboxHostOptions {
  handler: HostCallHandler;
  processes?: number;
  limits?: Partial<PluginLimits>;
  supervisor?: Partial<SupervisorOptions>;
  breaker?: Partial<BreakerOptions>;
  /** CPU budget for evaluating configure.js. */
  manifestCpuMs?: number;
}

interface RegisteredPlugin {
  key: string;
  bundle: PluginBundle;
  setup: IsolateSetup;
  limits: PluginLimits;
  process: SandboxProcess;
  breaker: CircuitBreaker;
  loadedGeneration: number;      // generation of the process the isolate lives in; -1 = not loaded
  loading: Promise<LoadOutcome> | null;
  description: PluginDescription | null;
  lastLoad: LoadResult | null;
}
type LoadOutcome = { ok: true } | { ok: false; error: SandboxFailure };

/** Faults count against the circuit breaker; a plugin's own rejection does not. */
const FAULTS = new Set<FailureKind>(['cpu_limit', 'memory_limit', 'deadline', 'sandbox_crashed', 'load_failed', 'bad_result']);

export class SandboxHost {
  private readonly options: SandboxHostOptions;
  private readonly processes: SandboxProcess[];
  private readonly plugins = new Map<string, RegisteredPlugin>();
  private readonly calls = new Map<string, { ctx: HostCallContext; plugin: RegisteredPlugin; onRespond?: (r: CallbackResponse) => void }>();
  // V8 code cache, produced by our own sandbox processes only and keyed by the exact code and
  // engine versions: cached data is trusted input to V8 (design.md §10, CVE-2022-39266).
  private readonly codeCache = new Map<string, string>();
  private readonly manifestCache = new Map<string, unknown>();
  private nextProcess = 0;
  readonly limits: PluginLimits;

  constructor(options: SandboxHostOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    const count = Math.max(1, options.processes ?? 1);
    this.processes = Array.from({ length: count }, (_, i) => new SandboxProcess(`sandbox-${i}`, {
      onHostCall: (msg) => this.onHostCall(this.processes[i], msg),
      // As for host calls (onHostCall): a sandbox process speaks only for the plugins it hosts, so
      // a compromised process can neither write another plugin's log nor answer its webhooks.
      onLog: (msg) => {
        const call = this.calls.get(msg.callId);
        if (call && call.plugin.key === msg.plugin && call.plugin.process === this.processes[i]) options.handler.log(msg.plugin, msg.callId, msg.level, msg.text);
      },
      onRespond: (msg) => {
        const call = this.calls.get(msg.callId);
        if (!call || call.plugin.process !== this.processes[i] || !call.onRespond) return;
        call.onRespond(this.scrubOwn(call.plugin.key, msg.response));
      },
      onFault: (msg) => {
        const plugin = this.plugins.get(msg.plugin);
        if (plugin && plugin.process === this.processes[i]) plugin.loadedGeneration = -1;
      },
      onCrash: () => {
        for (const plugin of this.plugins.values()) if (plugin.process === this.processes[i]) plugin.loadedGeneration = -1;
      },
    }, options.supervisor));
  }

  async start(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.ensureStarted()));
  }

  /** Evaluates configure.js in a throwaway isolate and returns its plain-data exports. */
  async readManifest(bundle: PluginBundle): Promise<{ ok: true; value: unknown } | { ok: false; error: SandboxFailure }> {
    // configure.js runs with no host access at all, so the same code always gives the same
    // exports: a reload of unchanged code skips the throwaway isolate.
    const key = crypto.createHash('sha256').update(bundle.configureCode).digest('hex');
    const cached = this.manifestCache.get(key);
    if (cached !== undefined) return { ok: true, value: structuredClone(cached) };
    const cpuMs = this.options.manifestCpuMs ?? 500;
    const reply = await this.processes[0].request({ t: 'manifest', code: bundle.configureCode, cpuMs }, cpuMs + 1000, `${bundle.key} configure.js`, null);
    if (!reply.ok) return { ok: false, error: reply.error };
    if (this.manifestCache.size > 500) this.manifestCache.clear();
    this.manifestCache.set(key, reply.value);
    return { ok: true, value: structuredClone(reply.value) };
  }

  /** Registers (or replaces) a plugin and loads it, so that load errors surface now. */
  async register(bundle: PluginBundle, setup: IsolateSetup, limits: Partial<PluginLimits> = {}): Promise<{ ok: true; description: PluginDescription; load: LoadResult } | { ok: false; error: SandboxFailure }> {
    const previous = this.plugins.get(bundle.key);
    const plugin: RegisteredPlugin = {
      key: bundle.key, bundle, setup, limits: { ...this.limits, ...limits },
      process: previous?.process ?? this.processes[this.nextProcess++ % this.processes.length],
      breaker: previous?.breaker ?? new CircuitBreaker(this.options.breaker),
      loadedGeneration: -1, loading: null, description: null, lastLoad: null,
    };
    this.plugins.set(bundle.key, plugin);
    const outcome = await this.ensureLoaded(plugin);
    if (!outcome.ok) return outcome;
    return { ok: true, description: plugin.description as PluginDescription, load: plugin.lastLoad as LoadResult };
  }

  async unregister(key: string): Promise<void> {
    const plugin = this.plugins.get(key);
    if (!plugin) return;
    this.plugins.delete(key);
    if (plugin.loadedGeneration === plugin.process.generation) {
      await plugin.process.request({ t: 'unload', plugin: key }, 5000, `${key} unload`, null);
    }
  }

  has(key: string): boolean {
    return this.plugins.has(key);
  }

  description(key: string): PluginDescription | null {
    return this.plugins.get(key)?.description ?? null;
  }

  private ensureLoaded(plugin: RegisteredPlugin): Promise<LoadOutcome> {
    if (plugin.loadedGeneration !== -1 && plugin.loadedGeneration === plugin.process.generation) return Promise.resolve({ ok: true });
    if (plugin.loading) return plugin.loading;
    plugin.loading = (async (): Promise<LoadOutcome> => {
      await plugin.process.ensureStarted();
      const versions = plugin.process.versions;
      const cacheKey = `${plugin.bundle.sha256}:${versions?.node}:${versions?.isolatedVm}`;
      const callId = newCallId();
      const ctx = this.openContext(plugin, callId, 'load', plugin.limits.wallMsPerCall);
      try {
        const reply = await plugin.process.request({
          t: 'load', plugin: plugin.key, callId, code: plugin.bundle.code, codeSha256: plugin.bundle.sha256,
          cachedData: this.codeCache.get(cacheKey) ?? null, setup: plugin.setup, limits: plugin.limits,
        }, loadCpuMs(plugin.limits) + 2000, `${plugin.key} load`, plugin.key);
        if (!reply.ok) return { ok: false, error: this.scrubFailure(reply.error) };
        const result = reply.value as LoadResult;
        if (result.cachedData) this.codeCache.set(cacheKey, result.cachedData);
        plugin.lastLoad = result;
        plugin.description = result.description;
        plugin.loadedGeneration = plugin.process.generation;
        return { ok: true };
      } finally {
        ctx.ended = true;
        this.calls.delete(ctx.callId);
      }
    })().finally(() => { plugin.loading = null; });
    return plugin.loading;
  }

  private openContext(plugin: RegisteredPlugin, callId: string, method: string, wallMs: number, onRespond?: (r: CallbackResponse) => void): HostCallContext {
    const ctx: HostCallContext = { plugin: plugin.key, callId, method, deadline: Date.now() + wallMs, counters: newCounters() };
    this.calls.set(callId, { ctx, plugin, onRespond });
    return ctx;
  }

  /**
   * Runs one plugin method. `method` is one of describe, getFields, transfer, initCron, cron,
   * callback (args {name, req, param}). Never throws for plugin or sandbox failures: the result
   * says what happened, and `ctx.counters` says what the call did (e.g. requests sent).
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
    const ctx = this.openContext(plugin, callId, label, wallMs, options.onRespond);
    try {
      const admitted = plugin.breaker.admit();
      if (!admitted.ok) {
        const last = plugin.breaker.lastFault;
        return {
          ok: false, callId, ctx, stats: null,
          error: { kind: 'circuit_open', message: `plugin '${key}' is paused after repeated faults${last ? ` (last: ${last.kind}: ${last.message})` : ''}; the next trial call is allowed in ${Math.ceil(admitted.retryInMs / 1000)} s` },
        };
      }
      const loaded = await this.ensureLoaded(plugin);
      if (!loaded.ok) {
        plugin.breaker.recordFault(loaded.error.kind, loaded.error.message);
        return { ok: false, error: loaded.error, callId, ctx, stats: null };
      }
      const reply = await plugin.process.request({ t: 'invoke', plugin: key, callId, method, args, wallMs, ...(options.cpuMs ? { cpuMs: options.cpuMs } : {}) }, wallMs, `${key}.${label}`, key);
      if (reply.stats) this.options.handler.recordLocalCalls?.(ctx, reply.stats.localCalls);
      if (reply.ok) {
        plugin.breaker.recordSuccess();
        return { ok: true, value: this.scrubOwn(key, reply.value), callId, ctx, stats: reply.stats ?? null };
      }
      const error = this.scrubFailure(reply.error);
      if (FAULTS.has(error.kind)) plugin.breaker.recordFault(error.kind, error.message);
      else if (error.kind !== 'bad_request') plugin.breaker.recordSuccess();
      if (error.kind !== 'plugin_error' && error.kind !== 'bad_result' && error.kind !== 'bad_request') plugin.loadedGeneration = -1;
      return { ok: false, error, callId, ctx, stats: reply.stats ?? null };
    } finally {
      ctx.ended = true;
      this.calls.delete(callId);
    }
  }

  /** A plugin's own secrets out of what it returned or answered (a careless plugin echoes them). */
  private scrubOwn<T>(plugin: string, value: T): T {
    return this.options.handler.scrubFor ? this.options.handler.scrubFor(plugin, value) : value;
  }

  /** A plugin's error text can carry any value it read, secrets included. */
  private scrubFailure(error: SandboxFailure): SandboxFailure {
    const scrub = this.options.handler.scrub;
    if (!scrub) return error;
    return { ...error, message: scrub(error.message), ...(error.thrown ? { thrown: { ...error.thrown, message: scrub(error.thrown.message) } } : {}) };
  }

  private onHostCall(from: SandboxProcess, msg: { hostCallId: number; plugin: string; callId: string; capability: string; args: unknown }): void {
    const call = this.calls.get(msg.callId);
    // The plugin identity comes from our own call table, checked against the process the message
    // came from: a sandbox process cannot speak for a plugin it does not host.
    if (!call || call.plugin.key !== msg.plugin || call.plugin.process !== from) {
      from.sendHostResult(msg.hostCallId, false, { message: `${msg.capability}: no call of this plugin is in progress`, code: 'NO_CALL' });
      return;
    }
    call.ctx.counters.hostCalls++;
    if (msg.capability === 'http.request') call.ctx.counters.requestsStarted++;
    this.options.handler.handle(call.ctx, msg.capability, msg.args).then(
      (reply) => from.sendHostResult(msg.hostCallId, reply.ok, reply.ok ? reply.value : reply.error),
      (err) => from.sendHostResult(msg.hostCallId, false, { message: `${msg.capability} failed: ${(err as Error).message}` }),
    );
  }

  health(): { processes: { name: string; pid: number | null; restarts: number }[]; plugins: Record<string, ReturnType<CircuitBreaker['snapshot']> & { loaded: boolean }> } {
    const plugins: Record<string, ReturnType<CircuitBreaker['snapshot']> & { loaded: boolean }> = {};
    for (const p of this.plugins.values()) plugins[p.key] = { ...p.breaker.snapshot(), loaded: p.loadedGeneration === p.process.generation };
    return { processes: this.processes.map((p) => ({ name: p.name, pid: p.pid, restarts: p.restarts })), plugins };
  }

  resetBreaker(key: string): void {
    this.plugins.get(key)?.breaker.reset();
  }

  /** Heap use per isolate and RSS per sandbox process. */
  async stats(): Promise<{ process: string; rss: number; isolates: { plugin: string; heapUsedBytes: number }[] }[]> {
    const out = [];
    for (const p of this.processes) {
      const reply = await p.request({ t: 'stats' }, 5000, 'stats', null);
      if (reply.ok) out.push({ process: p.name, ...(reply.value as { rss: number; isolates: { plugin: string; heapUsedBytes: number }[] }) });
    }
    return out;
  }

  /** The sandbox processes (for tests and the watchdog report). */
  get sandboxProcesses(): readonly SandboxProcess[] {
    return this.processes;
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close()));
  }
}

let callSeq = 0;
// Random bytes for call ids come from a pool refilled 4 KiB at a time: a randomBytes(4) per call
// cost more than the rest of the call's bookkeeping (bench/: per-call cost).
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;
function newCallId(): string {
  if (idPoolOffset + 4 > idPool.length) {
    idPool = crypto.randomBytes(ID_POOL_BYTES);
    idPoolOffset = 0;
  }
  const suffix = idPool.toString('hex', idPoolOffset, idPoolOffset + 4);
  idPoolOffset += 4;
  return `c${(++callSeq).toString(36)}${suffix}`;
}
