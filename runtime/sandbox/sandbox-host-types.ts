// The types of SandboxHost's interface: what the server hands it (options, the host-call handler)
// and what it answers (call results, health).
import type { HostCallContext, HostCallHandler } from '../../host-api/capability.ts';
import type { BreakerOptions, CircuitBreaker } from './circuit-breaker.ts';
import type { GateOptions } from './plugin-gate.ts';
import type { CallStats, CallbackResponse, EngineName, FailureKind, PluginLimits, SandboxFailure, TraceMark } from './protocol.ts';
import type { SupervisorOptions } from './supervisor.ts';

// The handler interface belongs to host-api, the layer below (design.md §2); named here too for
// the sandbox's callers.
export type { HostCallHandler, HostCallReply } from '../../host-api/capability.ts';

/** trace: the marks of a call invoked with `trace` (bench --trace), the server's and the sandbox process's. */
export type InvokeResult =
  | { ok: true; value: unknown; callId: string; ctx: HostCallContext; stats: CallStats | null; trace?: CallTrace }
  | { ok: false; error: SandboxFailure; callId: string; ctx: HostCallContext; stats: CallStats | null; trace?: CallTrace };

/** Each process's marks of one traced call, on its own clock (protocol.ts TraceMark). */
export interface CallTrace {
  server: TraceMark[];
  sandbox: TraceMark[];
}

export interface InvokeOptions {
  wallMs?: number;
  /**
   * How long the call may wait for its turn (the plugin's queue, and loading it if it must be
   * loaded again). Given, `wallMs` is the run's own deadline, counted from the moment the call is
   * sent to the sandbox, and a call still waiting after `waitMs` is refused (`throttled`, nothing
   * ran). Not given, `wallMs` counts from the call and covers the wait too (a payout's lease is
   * sized on its transfer deadline).
   */
  waitMs?: number;
  /** Called once, just before the call is sent to the sandbox (after its wait), with its deadline. */
  onStart?: (wallMs: number) => void;
  /** Aborted before the call is sent (the caller stopped waiting): it is refused, nothing runs. */
  signal?: AbortSignal;
  /** CPU budget of this call (default: the plugin's cpuMsPerCall). */
  cpuMs?: number;
  /** Called as soon as a callback handler ends its response (the call itself may go on). */
  onRespond?: (response: CallbackResponse) => void;
  /**
   * Awaited before the call's first outbound request is handed to a socket, with the call's id
   * (HostCallContext.beforeFirstRequest); a rejection refuses that request and every later one.
   */
  beforeFirstRequest?: (callId: string) => Promise<void>;
  /**
   * Mark where the call's time goes, in both processes (InvokeResult.trace): the bench's per-segment
   * breakdown (bench --trace). Marks are labels and times only.
   */
  trace?: boolean;
}

export interface SandboxHostOptions {
  handler: HostCallHandler;
  /** Named groups of plugins that share one sandbox process; every other plugin runs alone. */
  groups?: Record<string, string[]>;
  /** CPU budget and queue limits of each plugin. */
  gate?: Partial<GateOptions>;
  /** Told once per plugin call refused for its budget or queue (e.g. to audit it). */
  onThrottled?: (plugin: string, method: string, message: string) => void;
  /** Told when a crash is charged to a plugin (memory cap, watchdog, engine abort). */
  onCrashCharged?: (plugin: string, kind: FailureKind, reason: string) => void;
  limits?: Partial<PluginLimits>;
  /** Engine of a plugin registered without one of its own (default: DEFAULT_ENGINE). */
  engine?: EngineName;
  supervisor?: Partial<SupervisorOptions>;
  breaker?: Partial<BreakerOptions>;
  /** CPU budget for evaluating configure.js. */
  manifestCpuMs?: number;
  /**
   * Let each plugin's sandbox process answer its non-secret config reads from values the server
   * pushes (handler.configSnapshots; design.md §5). Default true; false sends every read to the
   * server (the bench measures both).
   */
  localConfigReads?: boolean;
  /**
   * How old pushed config values may be before a call reads them again from the store, in ms:
   * writes through this server are pushed at once, but a write by another server on the same
   * store is seen only by reading. Default 1000; 0 reads them before every call.
   */
  configSnapshotMaxAgeMs?: number;
}

export interface ProcessHealth { name: string; pid: number | null; restarts: number; rssBytes: number | null; plugins: string[] }
export type PluginHealth = ReturnType<CircuitBreaker['snapshot']> & {
  loaded: boolean; process: string; engine: EngineName; cpuMsInWindow: number; runningCalls: number; queuedCalls: number;
};
