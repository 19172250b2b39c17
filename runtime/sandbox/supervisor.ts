// Owns one sandbox process: starts it with --no-node-snapshot and an empty environment, sends it
// requests, and watches every call with a deadline of its own. Some hangs survive both
// isolated-vm's timeout and dispose() (design.md §10), so a call that overruns its deadline plus
// a grace period gets the process SIGKILLed; the process is restarted and every call that was in
// flight fails with a clear error. The server keeps serving throughout.
// It also samples the process's resident memory and CPU time from the kernel: over its memory
// cap the process is killed (whatever allocated it: isolate heap, buffers, the engine itself),
// and the CPU time feeds the plugin's budget (sandbox-host.ts).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { FramedChannel } from './channel.ts';
import { childEntry } from './child-entry.ts';
import { SANDBOX_NICE, preferForOomKill, readUsage, setNice } from './process-usage.ts';
import type { ProcessUsage } from './process-usage.ts';
import { openSectionMarker } from './section-marker.ts';
import type { SectionMarkerFile } from './section-marker.ts';
import type { FromSandbox, SandboxFailure, ToSandbox, CallStats, FailureKind } from './protocol.ts';
import type { ConfigSnapshot } from '../../host-api/config-snapshot.ts';

const READY_TIMEOUT_MS = 15_000;

/**
 * The sandbox process's own V8 young generation, per semi-space (MB). A flood of host calls is a
 * burst of short-lived host objects (20 000 config.get in one webhook: the answers, the engine's
 * handles, the prelude's messages); V8 answers a burst by growing its young generation, and keeps
 * it: measured on QuickJS, new space grew 34 → 67 → 134 MB over five such deliveries while
 * live objects stayed at 7 MB after a full GC, the process's RSS 167 → 245 MB, past its 256 MB
 * cap on the third (SECURITY.md, "The QuickJS engine"). Capped, the same floods hold ≈145 MB.
 * Plugins' own memory is not here (isolates' heaps, QuickJS's linear memory): their limits are theirs.
 */
const MAX_SEMI_SPACE_MB = 8;

/**
 * Flags of every sandbox process. isolated-vm needs --no-node-snapshot. The semi-space cap bounds
 * the process's own young generation (above). The two others back the
 * prelude's removals (SECURITY.md, *Engine hardening*): V8 installs no SharedArrayBuffer in
 * contexts isolated-vm creates, and a WebAssembly memory cannot pass one 64 KiB page (the child
 * runs as plain JavaScript, child-entry.ts, so Node's own TypeScript stripper needs none).
 */
export const SANDBOX_NODE_FLAGS = ['--no-node-snapshot', '--enable-sharedarraybuffer-per-context', '--wasm-max-mem-pages=1', '--disable-warning=ExperimentalWarning', `--max-semi-space-size=${MAX_SEMI_SPACE_MB}`];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type SandboxRequest = DistributiveOmit<Exclude<ToSandbox, { t: 'hostResult' }>, 'id'>;
/** arrivedAt: when the reply's frame arrived (performance.now()), for a traced invoke only. */
export type SandboxReply =
  | { ok: true; value: unknown; stats?: CallStats; arrivedAt?: number }
  | { ok: false; error: SandboxFailure; stats?: CallStats; crash?: CrashInfo; arrivedAt?: number };

export interface SandboxEvents {
  onHostCall(msg: Extract<FromSandbox, { t: 'hostCall' }>): void;
  onLog(msg: Extract<FromSandbox, { t: 'log' }>): void;
  onRespond(msg: Extract<FromSandbox, { t: 'respond' }>): void;
  onFault(msg: Extract<FromSandbox, { t: 'fault' }>): void;
  /** The process died; `inFlight` lists the plugin calls that were running in it. */
  onCrash(info: CrashInfo): void;
  /**
   * A usage sample of the running process (every `sampleMs`): `cpuDeltaMs` of its own CPU time,
   * and `serverMs` this (server) process spent on its channel since the last sample.
   */
  onUsage?(usage: ProcessUsage, cpuDeltaMs: number, serverMs: number): void;
}

export interface CrashInfo {
  reason: string;
  /** memory_limit (over its cap), deadline (the watchdog), sandbox_crashed (anything else). */
  kind: FailureKind;
  /** The plugin whose call the supervisor killed the process for, when it knows one. */
  culprit: string | null;
  /**
   * A watchdog kill only: the plugin whose timed section the process was in when the watchdog
   * fired, as the process marked it (section-marker.ts; shared processes only).
   */
  heldBy?: string | null;
  inFlight: { plugin: string; what: string }[];
}

interface KillReason {
  message: string;
  kind: FailureKind;
  culprit: string | null;
  heldBy?: string | null;
}

interface PendingRequest {
  resolve: (reply: SandboxReply) => void;
  watchdog: NodeJS.Timeout | null;
  plugin: string | null;
  what: string;
  /** A traced invoke: its reply says when it arrived. */
  traced: boolean;
}

export interface SupervisorOptions {
  /** Extra time past a call's own deadline before the watchdog kills the process. */
  graceMs: number;
  restartDelayMs: number;
  maxRestartDelayMs: number;
  /** Resident memory the process may hold, in bytes; 0 = no cap. */
  rssLimitBytes: number;
  /** How often memory and CPU time are read from the kernel. */
  sampleMs: number;
  /** Restart by itself after a crash (a plugin's process restarts on its next call instead). */
  restartOnCrash: boolean;
}

export const DEFAULT_SUPERVISOR: SupervisorOptions = {
  graceMs: 2000, restartDelayMs: 50, maxRestartDelayMs: 5000, rssLimitBytes: 0, sampleMs: 50, restartOnCrash: true,
};

export class SandboxProcess {
  readonly name: string;
  private readonly events: SandboxEvents;
  private readonly options: SupervisorOptions;
  private child: ChildProcess | null = null;
  private channel: FramedChannel<ToSandbox, FromSandbox> | null = null;
  private readonly pending = new Map<number, PendingRequest>();
  private requestSeq = 0;
  private starting: Promise<void> | null = null;
  private closing = false;
  private killReason: KillReason | null = null;
  private restartDelay: number;
  /** The running process's section record (section-marker.ts), null without one. */
  private marker: SectionMarkerFile | null = null;
  private sampler: NodeJS.Timeout | null = null;
  private lastCpuMs = 0;
  /** The newest usage sample, null before the first. */
  usage: ProcessUsage | null = null;
  /** Increments on every start; a plugin loaded in an older generation must be loaded again. */
  generation = 0;
  restarts = 0;
  pid: number | null = null;
  versions: { node: string; isolatedVm: string } | null = null;

  constructor(name: string, events: SandboxEvents, options: Partial<SupervisorOptions> = {}) {
    this.name = name;
    this.events = events;
    this.options = { ...DEFAULT_SUPERVISOR, ...options };
    this.restartDelay = this.options.restartDelayMs;
  }

  /** Starts the process if it is not running; resolves when it reported ready. */
  ensureStarted(): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`sandbox ${this.name} is shut down`));
    if (this.child && this.channel && !this.starting) return Promise.resolve();
    if (!this.starting) this.starting = this.spawn().finally(() => { this.starting = null; });
    return this.starting;
  }

  private async spawn(): Promise<void> {
    const entry = await childEntry();
    return new Promise((resolve, reject) => {
      // An empty environment: the sandbox process must not inherit the admin token, the master
      // key or database URLs from the server's environment.
      // PAYOUT_SANDBOX_CHILD_NODE_ARGS: extra node flags for profiling the sandbox process
      // (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); read from the server's environment.
      const extra = (process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
      // fd 4: the record of whose timed section the process is in (section-marker.ts).
      const marker = openSectionMarker();
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [...SANDBOX_NODE_FLAGS, ...extra, entry], {
          stdio: ['ignore', 'pipe', 'pipe', 'pipe', marker ? marker.fd : 'ignore'],
          env: { NODE_ENV: 'production' },
        });
      } catch (err) {
        marker?.close();
        throw err;
      }
      this.marker?.close();
      this.marker = marker;
      const channel = new FramedChannel<ToSandbox, FromSandbox>(child.stdio[3] as Duplex);
      this.child = child;
      this.channel = channel;
      this.killReason = null;
      const timer = setTimeout(() => {
        reject(new Error(`sandbox process did not report ready within ${READY_TIMEOUT_MS} ms`));
        child.kill('SIGKILL');
      }, READY_TIMEOUT_MS);
      let stderrTail = '';
      child.stderr?.on('data', (d: Buffer) => { stderrTail = (stderrTail + d.toString('utf8')).slice(-4000); });
      child.stdout?.on('data', () => {}); // plugin code cannot print; anything here is the runtime's own noise
      channel.onMessage = (msg) => {
        if (msg.t === 'ready') {
          clearTimeout(timer);
          this.generation++;
          this.pid = msg.pid;
          this.versions = { node: msg.node, isolatedVm: msg.isolatedVm };
          this.restartDelay = this.options.restartDelayMs;
          preferForOomKill(msg.pid);
          this.nice = setNice(msg.pid, SANDBOX_NICE) ? SANDBOX_NICE : 0;
          this.startSampling(msg.pid);
          resolve();
          return;
        }
        this.dispatch(msg);
      };
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        marker?.close();
        if (this.child !== child) return;
        this.marker = null;
        this.child = null;
        this.channel = null;
        this.pid = null;
        this.stopSampling();
        const killed = this.killReason ?? {
          message: `sandbox process exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${stderrTail ? `: ${lastLine(stderrTail)}` : ''}`,
          kind: 'sandbox_crashed' as const, culprit: null,
        };
        this.failAll(killed);
        reject(new Error(killed.message));
        if (!this.closing) {
          this.restarts++;
          if (this.options.restartOnCrash) this.scheduleRestart();
        }
      });
    });
  }

  /** Reads memory and CPU time from the kernel; a process over its memory cap is killed. */
  private startSampling(pid: number): void {
    this.stopSampling();
    this.lastCpuMs = 0;
    const sample = () => {
      const usage = readUsage(pid);
      if (!usage || this.pid !== pid) return;
      const delta = Math.max(0, usage.cpuMs - this.lastCpuMs);
      this.lastCpuMs = usage.cpuMs;
      this.usage = usage;
      const limit = this.options.rssLimitBytes;
      if (limit > 0 && usage.rssBytes > limit) {
        const owner = this.soleCaller();
        this.kill(`the sandbox process grew to ${Math.round(usage.rssBytes / 1048576)} MB of resident memory, over its ${Math.round(limit / 1048576)} MB cap; it was killed`, 'memory_limit', owner);
      }
      this.events.onUsage?.(usage, delta, this.channel?.takeBusyMs() ?? 0);
    };
    sample();
    this.sampler = setInterval(sample, this.options.sampleMs);
    this.sampler.unref();
  }

  private stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  /** The one plugin with calls in flight, if exactly one has: the only code that was running. */
  private soleCaller(): string | null {
    const plugins = new Set([...this.pending.values()].map((p) => p.plugin).filter((p): p is string => p !== null));
    return plugins.size === 1 ? [...plugins][0] : null;
  }

  /** The process's nice value as last set (0 until it is running). */
  nice = 0;

  /** Changes the process's scheduling priority (process-usage.ts setNice); false when refused. */
  renice(nice: number): boolean {
    if (this.pid === null || nice === this.nice) return nice === this.nice;
    if (!setNice(this.pid, nice)) return false;
    this.nice = nice;
    return true;
  }

  /** Changes the memory cap (a process's cap follows the plugins placed in it). */
  setRssLimit(bytes: number): void {
    this.options.rssLimitBytes = bytes;
  }

  private scheduleRestart(): void {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, this.options.maxRestartDelayMs);
    setTimeout(() => {
      if (!this.closing && !this.child) this.ensureStarted().catch(() => {});
    }, delay).unref();
  }

  private failAll(killed: KillReason): void {
    const inFlight = [...this.pending.values()].filter((p) => p.plugin).map((p) => ({ plugin: p.plugin as string, what: p.what }));
    const crash: CrashInfo = { reason: killed.message, kind: killed.kind, culprit: killed.culprit, ...(killed.heldBy ? { heldBy: killed.heldBy } : {}), inFlight };
    // Tell the host first: it decides whom the crash is charged to before the calls see it.
    this.events.onCrash(crash);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.watchdog) clearTimeout(p.watchdog);
      p.resolve({ ok: false, error: { kind: 'sandbox_crashed', message: `${p.what} failed: ${killed.message}` }, crash });
    }
  }

  private dispatch(msg: FromSandbox): void {
    switch (msg.t) {
      case 'reply': {
        // A callback's answer that rode with its call's reply: handled first, as if it had come alone.
        if (msg.respond && typeof msg.respond === 'object') this.events.onRespond(msg.respond);
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (p.watchdog) clearTimeout(p.watchdog);
        const arrived = p.traced ? { arrivedAt: this.arrivedAt } : {};
        p.resolve(msg.ok ? { ok: true, value: msg.value, stats: msg.stats, ...arrived } : { ok: false, error: msg.error, stats: msg.stats, ...arrived });
        return;
      }
      case 'hostCall': return this.events.onHostCall(msg);
      case 'log': return this.events.onLog(msg);
      case 'respond': return this.events.onRespond(msg);
      case 'fault': return this.events.onFault(msg);
      default: return;
    }
  }

  /**
   * Sends a request and resolves with the reply. `watchdogMs` bounds how long the process may
   * take before it is killed (the call's own deadline is enforced inside; this is the backstop).
   */
  async request(req: SandboxRequest, watchdogMs: number, what: string, plugin: string | null): Promise<SandboxReply> {
    await this.ensureStarted();
    const channel = this.channel;
    if (!channel) return { ok: false, error: { kind: 'sandbox_crashed', message: `${what} failed: the sandbox process is not running` } };
    const id = ++this.requestSeq;
    return new Promise<SandboxReply>((resolve) => {
      const watchdog = setTimeout(() => {
        // Read before the kill: a process blocked in a neighbour's section has not run this call.
        const heldBy = this.marker?.read() ?? null;
        this.kill(`${what} overran its deadline by more than ${this.options.graceMs} ms; the watchdog killed the sandbox process`, 'deadline', plugin, heldBy);
      }, watchdogMs + this.options.graceMs);
      this.pending.set(id, { resolve, watchdog, plugin, what, traced: req.t === 'invoke' && req.trace === true });
      try {
        channel.send({ ...req, id } as ToSandbox);
      } catch (err) {
        // The request could not be framed (arguments nested deeper than JSON.stringify goes — an
        // outside caller can send such a webhook body — or over the frame limit), so it never
        // reached the process. Fail this one call; before, the watchdog stayed armed and killed
        // the sandbox process, failing every other plugin's calls in it.
        clearTimeout(watchdog);
        this.pending.delete(id);
        resolve({ ok: false, error: { kind: 'bad_request', message: `${what}: the arguments could not be handed to the sandbox (${(err as Error)?.message ?? err}); nothing ran` } });
      }
    });
  }

  /** A plugin's config values to answer from (null: none); ordered before any later request. */
  sendConfig(plugin: string, snapshot: ConfigSnapshot | null): boolean {
    try {
      return this.channel?.send({ t: 'config', plugin, snapshot }) ?? false;
    } catch {
      // Too large to frame (values are capped far below the frame limit): answer none locally.
      return this.channel?.send({ t: 'config', plugin, snapshot: null }) ?? false;
    }
  }

  /** When the frame being handled arrived from this process (performance.now()): for traced calls. */
  get arrivedAt(): number {
    return this.channel?.arrivedAt ?? performance.now();
  }

  sendHostResult(hostCallId: number, ok: boolean, value: unknown): void {
    try {
      this.channel?.send({ t: 'hostResult', hostCallId, ok, value });
    } catch (err) {
      // A result that cannot be framed fails the plugin's host call instead of throwing here.
      this.channel?.send({ t: 'hostResult', hostCallId, ok: false, value: { message: `the host's answer could not be handed to the sandbox (${(err as Error)?.message ?? err})`, code: 'HOST_ERROR' } });
    }
  }

  /** SIGKILL: used by the watchdog; the exit handler fails the calls in flight and restarts. */
  kill(reason: string, kind: FailureKind = 'sandbox_crashed', culprit: string | null = null, heldBy: string | null = null): void {
    if (!this.child || this.killReason) return;
    this.killReason = { message: reason, kind, culprit, heldBy };
    this.child.kill('SIGKILL');
  }

  /** Whether the process is up and answering (not starting, not dead). */
  get running(): boolean {
    return this.child !== null && this.channel !== null && this.starting === null;
  }

  /** Calls in flight in this process. */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopSampling();
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      // Closing the channel lets the process dispose its isolates and end by itself.
      this.channel?.close();
    });
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1].slice(0, 300);
}
