// Messages between the server and a sandbox process. The sandbox process holds no secrets at rest
// and no database handle: everything it needs for a call arrives here, and everything a plugin
// asks of the host leaves here as a `hostCall` for the server to police — except the plugin's
// non-secret config reads, which the server pushes (`config`) and the process answers itself,
// counting and reporting them with the call (host-api/config-snapshot.ts).
import type { ConfigReadStats, ConfigSnapshot } from '../../host-api/config-snapshot.ts';

export interface PluginLimits {
  /** V8 heap limit of the plugin's isolate. */
  memoryMb: number;
  /** CPU time a single call may spend inside the isolate, across all its timed sections. */
  cpuMsPerCall: number;
  /** Default wall-clock deadline of a call, awaited host work included. */
  wallMsPerCall: number;
  /** console lines kept per call; the rest are counted and dropped. */
  maxLogLinesPerCall: number;
  /** Largest JSON result, response body or host-call argument a plugin may hand over. */
  maxPayloadBytes: number;
  /**
   * Resident memory of the plugin's sandbox process (everything: isolate heap, buffers, the
   * engine, Node itself ≈ 55 MB); over it the process is killed and the plugin paused.
   */
  rssMb: number;
}

export const DEFAULT_LIMITS: PluginLimits = {
  memoryMb: 64,
  cpuMsPerCall: 1000,
  wallMsPerCall: 30_000,
  maxLogLinesPerCall: 200,
  maxPayloadBytes: 4 * 1024 * 1024,
  rssMb: 256,
};

/**
 * Loading compiles and runs the whole bundle (bignumber.js, the Buffer polyfill, the plugin), so it
 * gets a larger CPU budget than a call: a busy machine must not refuse a healthy plugin.
 */
export function loadCpuMs(limits: PluginLimits): number {
  return Math.max(limits.cpuMsPerCall * 4, 3000);
}

/**
 * The engine a plugin runs on, chosen per plugin (design.md §5): V8 isolates through isolated-vm,
 * or QuickJS compiled to WebAssembly. The host API, policy and audit are the same for both.
 */
export type EngineName = 'isolated-vm' | 'quickjs';
export const ENGINES: readonly EngineName[] = ['isolated-vm', 'quickjs'];
export const DEFAULT_ENGINE: EngineName = 'isolated-vm';

/** What the isolate learns about itself when it is created. */
export interface IsolateSetup {
  pluginKey: string;
  /** process.env as the plugin sees it: API_URL plus keys the administrator whitelisted. */
  env: Record<string, string>;
  /** i18n label tables by language. */
  labels: Record<string, Record<string, string>>;
}

export interface ThrownByPlugin {
  message: string;
  code?: string | number;
  statusCode?: number;
  name?: string;
  responseStatus?: number;
  /** Set only by the SDK's ProviderRefused: the provider definitely did not pay. */
  definite?: boolean;
}

export type FailureKind =
  | 'plugin_error'      // the plugin threw or rejected
  | 'load_failed'       // the bundle threw while loading, or the constructor threw
  | 'cpu_limit'
  | 'memory_limit'
  | 'deadline'          // the wall-clock deadline of the call passed
  | 'isolate_reset'     // another call of the same plugin breached a limit and the isolate was disposed
  | 'not_loaded'
  | 'bad_result'        // the result could not be serialised or is too large
  | 'bad_request'       // the host could not hand the call's arguments to the sandbox (e.g. nested too deep); nothing ran
  | 'sandbox_crashed'   // the sandbox process died with the call in flight
  | 'circuit_open'      // too many recent faults: calls refused until the breaker closes
  | 'throttled'         // the plugin is over its CPU budget or its call queue is full; nothing ran
  | 'sandbox_unavailable' // the plugin's sandbox process is (re)starting or could not start; nothing ran
  | 'manifest_invalid';

/**
 * Failures that mean the plugin's code never started this call: nothing can have left the
 * sandbox, and the caller is not to blame. A payout refused this way was never attempted, so it
 * stays inProgressPayout and starts when the plugin is available again (never errorPayout).
 */
export const NOT_DISPATCHED: ReadonlySet<FailureKind> = new Set<FailureKind>([
  'circuit_open', 'throttled', 'sandbox_unavailable', 'not_loaded', 'load_failed', 'bad_request',
]);

export interface SandboxFailure {
  kind: FailureKind;
  message: string;
  thrown?: ThrownByPlugin;
  /** throttled / circuit_open: when the plugin may be called again. */
  retryInMs?: number;
  /** load only: the process does not hold the bundle the load named without its code; nothing ran. */
  bundleMissing?: boolean;
  /** The fault was already charged to the plugin's breaker (or is nobody's): do not count it again. */
  charged?: boolean;
  /** Cut by a limit on a machine too busy to give the plugin its share: not the plugin's fault. */
  overloaded?: boolean;
}

export interface CallStats {
  cpuMs: number;
  wallMs: number;
  /** Sandbox-process services used during the call (crypto.hmac: 3, timer: 1, …), for the audit log. */
  localCalls: Record<string, number>;
  logLinesDropped: number;
  /** config.get reads the sandbox process answered itself (by key) or refused at the per-call cap. */
  configReads?: ConfigReadStats;
  /** The sandbox process's marks of a call invoked with `trace` (child/call-trace.ts). */
  trace?: TraceMark[];
}

/**
 * One point of a traced call (bench --trace): what happened, and when, in ms of the clock of the
 * process that marked it (performance.now()). Only differences within one process are read, so the
 * two processes' clocks are never compared (bench/lib/call-segments.ts).
 */
export type TraceMark = [label: string, at: number];

export interface CallbackRequest {
  method: string;
  ip: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
}
export interface CallbackResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface PluginDescription {
  className: string;
  format?: 'sdk';
  methods: { getFields: boolean; transfer: boolean; initCron: boolean; status?: boolean };
  callbacks: string[];
}

export type ToSandbox =
  /**
   * `code` is the plugin's own part of its bundle; `library` the shared library script that runs
   * before it in the plugin's context (null: the plugin uses none). Either text null: the process
   * was sent this exact text (sha256) before and keeps it (sandbox-process.ts); should it no longer
   * hold it, it answers `bundleMissing` and the server sends both. `cachedData` is for `code` only.
   */
  | {
      t: 'load'; id: number; plugin: string; callId: string; code: string | null; codeSha256: string;
      library: { source: string | null; sha256: string } | null;
      cachedData: string | null; setup: IsolateSetup; limits: PluginLimits; engine: EngineName;
    }
  | { t: 'unload'; id: number; plugin: string }
  | { t: 'manifest'; id: number; code: string; cpuMs: number }
  /** minuteLeft: what the plugin's minute caps leave, which local config reads may use (absent: no local reads). */
  | { t: 'invoke'; id: number; plugin: string; callId: string; method: string; args: unknown; wallMs: number; cpuMs?: number; minuteLeft?: { calls: number; bytes: number }; trace?: true }
  | { t: 'hostResult'; hostCallId: number; ok: boolean; value: unknown }
  /** The plugin's non-secret config values to answer from, or null: answer none (sent before the next invoke). */
  | { t: 'config'; plugin: string; snapshot: ConfigSnapshot | null }
  | { t: 'stats'; id: number };

/**
 * A callback's answer (res.end). localReads as in hostCall: the answer can reach its caller before
 * the call ends and reports them. It leaves on its own (`respond`), or, when the call ends in the
 * same entry into the engine (a callback that ends by answering), inside the call's reply
 * (`respond` of the reply), and the server handles it first, exactly as one that came alone: one
 * frame to encode, send and decode instead of two.
 */
export interface RespondMessage { t: 'respond'; callId: string; response: CallbackResponse; localReads?: { calls: number; bytes: number } }

export type FromSandbox =
  | { t: 'ready'; pid: number; node: string; isolatedVm: string }
  | { t: 'reply'; id: number; ok: true; value: unknown; stats?: CallStats; respond?: RespondMessage }
  | { t: 'reply'; id: number; ok: false; error: SandboxFailure; stats?: CallStats; respond?: RespondMessage }
  | RespondMessage
  /** localReads: config reads this call's sandbox process answered itself so far, and their bytes (they count toward the caps). */
  | { t: 'hostCall'; hostCallId: number; plugin: string; callId: string; capability: string; args: unknown; localReads?: { calls: number; bytes: number } }
  | { t: 'log'; plugin: string; callId: string; level: 'debug' | 'info' | 'warn' | 'error'; text: string }
  | { t: 'fault'; plugin: string; kind: FailureKind; message: string };

export interface LoadResult {
  description: PluginDescription;
  /** V8 code cache produced for this code, base64; the server keeps it (never from outside). */
  cachedData: string | null;
  cacheAccepted: boolean;
  loadMs: number;
  /**
   * Wall-clock ms of the load's parts in the sandbox process, in order: context, prelude, library
   * (the shared script), compile (the plugin's own code), run, construct. For the bench's trace.
   */
  phases?: Record<string, number>;
}

export interface IsolateStats {
  plugin: string;
  heapUsedBytes: number;
  heapLimitBytes: number;
  externalBytes: number;
}
