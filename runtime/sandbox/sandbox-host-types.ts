// The types of SandboxHost's interface: what the server hands it (options, the host-call handler)
// and what it answers (call results, health).
import type { HostCallContext } from '../../host-api/capability.ts';
import type { BreakerOptions, CircuitBreaker } from './circuit-breaker.ts';
import type { GateOptions } from './plugin-gate.ts';
import type { CallStats, CallbackResponse, FailureKind, PluginLimits, SandboxFailure } from './protocol.ts';
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
  /** Named groups of plugins that share one sandbox process; every other plugin runs alone. */
  groups?: Record<string, string[]>;
  /** CPU budget and queue limits of each plugin. */
  gate?: Partial<GateOptions>;
  /** Told once per plugin call refused for its budget or queue (e.g. to audit it). */
  onThrottled?: (plugin: string, method: string, message: string) => void;
  /** Told when a crash is charged to a plugin (memory cap, watchdog, engine abort). */
  onCrashCharged?: (plugin: string, kind: FailureKind, reason: string) => void;
  limits?: Partial<PluginLimits>;
  supervisor?: Partial<SupervisorOptions>;
  breaker?: Partial<BreakerOptions>;
  /** CPU budget for evaluating configure.js. */
  manifestCpuMs?: number;
}

export interface ProcessHealth { name: string; pid: number | null; restarts: number; rssBytes: number | null; plugins: string[] }
export type PluginHealth = ReturnType<CircuitBreaker['snapshot']> & {
  loaded: boolean; process: string; cpuMsInWindow: number; runningCalls: number; queuedCalls: number;
};
