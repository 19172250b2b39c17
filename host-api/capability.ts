// What every host capability looks like. A capability module (config.ts, http.ts, ...) exports one
// or more Capability objects; dispatch.ts runs each call through parse → invoke and writes exactly
// one audit record per call, whatever the outcome.
import type { ConfigSnapshotSource } from './config-snapshot.ts';

import type { CapabilityFailureCode, HostCallErrorCode, PolicyRule } from '../runtime/errors.ts';

/** Who is calling. Built by the server from its own table: nothing in it comes from the isolate. */
export interface HostCallContext {
  plugin: string;               // the calling plugin's key
  callId: string;               // the plugin invocation this host call belongs to
  method: string;               // what the plugin is running: load, getFields, transfer, callback:<name>, cron
  deadline: number;             // epoch ms; host work for the call must end by then
  /** Counters the orchestrator reads after the call (e.g. whether a request left during transfer). */
  counters: CallCounters;
  /** Set when the plugin call has ended: nothing new may leave for it (see http.ts admit). */
  ended?: boolean;
  /**
   * Awaited before the call's first http.request is handed to a socket (every request of the
   * call waits for it); a rejection refuses the request, nothing is sent. The payout flow records
   * durably here that a request of transfer() may have left (design.md §6).
   */
  beforeFirstRequest?: () => Promise<void>;
}

export type HostCallReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { message: string; code?: HostCallErrorCode; rule?: string; response?: unknown } };

/** Policy, implementation and audit of host calls (dispatch.ts implements it; the sandbox host calls it). */
export interface HostCallHandler {
  handle(ctx: HostCallContext, capability: string, args: unknown): Promise<HostCallReply>;
  log(plugin: string, callId: string, level: 'debug' | 'info' | 'warn' | 'error', text: string): void;
  /** Sandbox-process services used during a call (crypto, timers), recorded with the call. */
  recordLocalCalls?(ctx: HostCallContext, localCalls: Record<string, number>): void;
  /**
   * The non-secret config values a plugin's sandbox process may answer by itself
   * (config-snapshot.ts); absent: every config.get goes to `handle`.
   */
  readonly configSnapshots?: ConfigSnapshotSource;
  /**
   * The share of its plugin's minute a call starting now may use for reads its sandbox process
   * answers itself (host-call-caps.ts grantMinute); held for that call until it ends.
   */
  hostCallsLeftThisMinute?(ctx: HostCallContext): { calls: number; bytes: number };
  /** Config reads the sandbox process answered in a call so far, and their bytes: they count toward the call's caps. */
  noteLocalHostCalls?(ctx: HostCallContext, total: { calls: number; bytes: number }): void;
  /** The call's report of its locally answered config reads (CallStats.configReads), once, when it ended. */
  recordConfigReads?(ctx: HostCallContext, reads: unknown): void;
  /** Removes secret values from text a plugin produced (its error messages). */
  scrub?(text: string): string;
  /**
   * Removes a plugin's own secret values from what it returns or answers (results, callback
   * responses): they reach the database, HTTP callers, merchants and pages.
   */
  scrubFor?<T>(plugin: string, value: T): T;
}

export interface CallCounters {
  outboundRequests: number;     // requests that were handed to the network (even if they failed)
  /**
   * http.request host calls received for this call, counted before any check: the conservative
   * "a request may have left" for payout classification, since a request still being set up when
   * transfer() ends could otherwise go out after the payout was judged unsent.
   */
  requestsStarted: number;
  hostCalls: number;
}

export interface Capability<Args = unknown, Result = unknown> {
  /** Wire name, e.g. 'http.request'. */
  readonly name: string;
  /** Validates the raw JSON arguments from the sandbox; throws CapabilityArgumentError. */
  parse(raw: unknown): Args;
  /** One line for the audit record. Secrets are scrubbed by value afterwards, but do not include them. */
  summarize(args: Args): string;
  /** Appended as is to the audit summary after a successful call (what the arguments cannot say: a verdict, a status). */
  summarizeResult?(result: Result): string;
  /** Policy check and implementation. Throws PolicyDenied when a rule refuses the call. */
  invoke(ctx: HostCallContext, args: Args): Promise<Result>;
  /**
   * The capability stores text the plugin wrote (notes, comments): dispatch scrubs the plugin's own
   * secret values from the arguments before `parse`.
   */
  readonly storesPluginText?: boolean;
}

/** A policy rule refused the call. `rule` names the rule for the audit log and for reviewers. */
export class PolicyDenied extends Error {
  readonly rule: PolicyRule;
  constructor(rule: PolicyRule, message: string) {
    super(message);
    this.name = 'PolicyDenied';
    this.rule = rule;
  }
}

/** The sandbox sent arguments the capability's schema does not accept. */
export class CapabilityArgumentError extends Error {
  readonly rule: PolicyRule = 'schema';
  constructor(capability: string, where: string, problem: string) {
    super(`${capability}: argument ${where} ${problem}`);
    this.name = 'CapabilityArgumentError';
  }
}

/** Capabilities that hold the host's side of an operation failed for a reason that is not policy. */
export class CapabilityError extends Error {
  readonly code: CapabilityFailureCode;
  constructor(code: CapabilityFailureCode, message: string) {
    super(message);
    this.name = 'CapabilityError';
    this.code = code;
  }
}

export function newCounters(): CallCounters {
  return { outboundRequests: 0, requestsStarted: 0, hostCalls: 0 };
}
