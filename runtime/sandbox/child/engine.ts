// The engine a plugin runs on inside the sandbox process (design.md §5). sandbox-process.ts only
// knows this interface; both engines share the call book (call-book.ts: calls in flight,
// deadline, CPU budget; prelude-callbacks.ts: timers, host-call routing, reports, result limits)
// and supply only the engine part.
import type {
  CallStats, CallbackResponse, EngineName, FailureKind, IsolateSetup, LoadResult, PluginLimits, SandboxFailure,
} from '../protocol.ts';
import type { LibrarySource } from './library-script.ts';
import type { LocalAnswer } from './config-snapshot.ts';
import { PluginIsolate } from './plugin-isolate.ts';
import { QuickJSEngine } from './quickjs-engine.ts';

/** What a plugin's engine needs from its sandbox process: ids, routing and the channel to the server. */
export interface IsolateHooks {
  nextHostCallId(): number;
  routeHostCall(hostCallId: number, owner: PluginEngine | null): void;
  /**
   * Sends a host call to the server, or answers it here (a shown config read): then the answer,
   * and nothing was sent. Synchronous, no I/O, never enters an engine.
   */
  sendHostCall(hostCallId: number, callId: string, capability: string, args: unknown): LocalAnswer | null;
  sendLog(callId: string, level: 'debug' | 'info' | 'warn' | 'error', text: string): void;
  sendRespond(callId: string, response: CallbackResponse): void;
  sendFault(kind: FailureKind, message: string): void;
}

export type CallOutcome =
  | { ok: true; value: unknown; stats: CallStats }
  | { ok: false; error: SandboxFailure; stats: CallStats };

export interface PluginEngine {
  readonly key: string;
  readonly engine: EngineName;
  readonly isDisposed: boolean;
  /**
   * Runs the prelude, the shared library (when the plugin uses it) and the plugin's own code, and
   * constructs the plugin; throws LoadFailure. `cachedData` is for `code` only.
   */
  load(callId: string, code: string, cachedData: string | null, setup: IsolateSetup, library: LibrarySource | null): LoadResult;
  invoke(callId: string, method: string, args: unknown, wallMs: number, cpuMs?: number): Promise<CallOutcome>;
  /** Delivers a host call's (or timer's) result to the plugin, inside a timed entry. */
  resume(hostCallId: number, ok: boolean, value: unknown): void;
  heapStats(): { used: number; limit: number; external: number };
  /** Fails every call in flight (the culprit with `kind`, the others with isolate_reset) and frees the engine. */
  dispose(kind: FailureKind, message: string, culprit?: string | null, extra?: Pick<SandboxFailure, 'overloaded'>): void;
}

/**
 * A new engine for one plugin; QuickJS instantiates a WebAssembly module, hence the promise. The
 * server checked the name (options, store, admin route, CLI) and builds this process from the same
 * source, so no other name arrives here.
 */
export async function createEngine(name: EngineName, key: string, limits: PluginLimits, hooks: IsolateHooks): Promise<PluginEngine> {
  return name === 'quickjs' ? QuickJSEngine.create(key, limits, hooks) : new PluginIsolate(key, limits, hooks);
}
