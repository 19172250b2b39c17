// The three callbacks the prelude holds as $0..$2 (sync local call, start a host call or timer,
// report), apart from the call book (call-book.ts) that owns the calls they act on. Separate
// because this is where plugin-supplied text enters the process: every check on it (payload size,
// timer count, log-line cap, result size and value count) is here, in one place to read, while
// the call book keeps the calls' lifecycle and CPU charging. The call book wraps each callback in
// its budget check (`charged`) before any of this runs.
import { MAX_RESULT_VALUES, holdsMoreThan } from '../result-values.ts';
import type { CallStats, PluginLimits } from '../protocol.ts';
import type { CallOutcome, IsolateHooks, PluginEngine } from './engine.ts';
import type { LiveCall } from './live-call.ts';
import { runLocalService } from './local-services.ts';
import { normaliseLogLine, normaliseResponse, normaliseThrown } from './plugin-reports.ts';
import { MAX_TIMERS_PER_CALL, clampDelay } from '../../../host-api/timers.ts';

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: { message: string; code?: string } };
export const replyJson = (reply: Reply) => JSON.stringify(reply);

/** What the callbacks reach of the call book: its calls, limits and hooks, and how a call ends. */
export interface CallBookAccess {
  /** The engine host calls and timers are routed back to (its `resume`). */
  readonly owner: PluginEngine;
  readonly calls: ReadonlyMap<string, LiveCall>;
  readonly limits: PluginLimits;
  readonly hooks: IsolateHooks;
  finishCall(call: LiveCall, outcome: CallOutcome): void;
  statsOf(call: LiveCall): CallStats;
}

export class PreludeCallbacks {
  private readonly calls: ReadonlyMap<string, LiveCall>;
  private readonly limits: PluginLimits;
  private readonly hooks: IsolateHooks;
  private readonly book: CallBookAccess;

  constructor(book: CallBookAccess) {
    this.book = book;
    this.calls = book.calls;
    this.limits = book.limits;
    this.hooks = book.hooks;
  }

  /** $0: a local service run synchronously inside the entry, counted to the newest call. */
  syncCall(name: string, argsJson: string): string {
    try {
      const value = runLocalService(String(name), JSON.parse(String(argsJson)));
      return replyJson({ ok: true, value });
    } catch (err) {
      return replyJson({ ok: false, error: { message: String((err as Error)?.message ?? err) } });
    } finally {
      this.countLocal(name);
    }
  }

  private countLocal(name: string): void {
    // Attributed to every call in flight would double count; the most recent one is the best guess.
    const call = [...this.calls.values()].at(-1);
    if (call) call.localCalls[name] = (call.localCalls[name] ?? 0) + 1;
  }

  /** $1: starts a host call or a timer for `callId`; the reply is JSON the prelude decodes. */
  startAsync(callId: string, name: string, argsJson: string): string {
    const call = this.calls.get(String(callId));
    if (!call) {
      return replyJson({ ok: false, error: { code: 'NO_CALL', message: `${name}: host calls are only possible while the host is calling the plugin (no call in progress)` } });
    }
    if (typeof argsJson !== 'string' || argsJson.length > this.limits.maxPayloadBytes) {
      return replyJson({ ok: false, error: { code: 'TOO_LARGE', message: `${name}: arguments larger than ${this.limits.maxPayloadBytes} bytes` } });
    }
    const hostCallId = this.hooks.nextHostCallId();
    if (name === 'timer') {
      if (call.timers.size >= MAX_TIMERS_PER_CALL) {
        return replyJson({ ok: false, error: { code: 'TOO_MANY_TIMERS', message: `more than ${MAX_TIMERS_PER_CALL} timers in one call` } });
      }
      const ms = clampDelay(JSON.parse(argsJson)?.ms);
      call.hostCalls.add(hostCallId);
      call.timers.set(hostCallId, setTimeout(() => {
        call.timers.delete(hostCallId);
        this.book.owner.resume(hostCallId, true, null);
      }, ms));
      this.hooks.routeHostCall(hostCallId, this.book.owner);
      call.localCalls.timer = (call.localCalls.timer ?? 0) + 1;
      return replyJson({ ok: true, id: hostCallId });
    }
    let args: unknown;
    try {
      args = JSON.parse(argsJson);
    } catch {
      return replyJson({ ok: false, error: { message: `${name}: arguments are not JSON` } });
    }
    // A read the sandbox process answers itself comes back here, copied into the reply's JSON: the
    // prelude settles the plugin's promise in this same entry (no second entry on a later turn).
    const local = this.hooks.sendHostCall(hostCallId, call.callId, String(name), args);
    if (local) return replyJson({ ok: true, local });
    call.hostCalls.add(hostCallId);
    this.hooks.routeHostCall(hostCallId, this.book.owner);
    return replyJson({ ok: true, id: hostCallId });
  }

  /** $2: a call's log line, response, result or failure, or a timer it cancels. */
  report(kind: string, callId: string, json: string): void {
    try {
      this.handleReport(String(kind), String(callId), json);
    } catch (err) {
      this.hooks.sendFault('plugin_error', `malformed report from the prelude: ${(err as Error).message}`);
    }
  }

  private handleReport(kind: string, callId: string, json: string): void {
    const call = this.calls.get(String(callId));
    if (kind === 'cancel') {
      const hostCallId = Number(JSON.parse(json));
      const timer = call?.timers.get(hostCallId);
      if (call && timer) {
        clearTimeout(timer);
        call.timers.delete(hostCallId);
        call.hostCalls.delete(hostCallId);
        this.hooks.routeHostCall(hostCallId, null);
      }
      return;
    }
    if (!call) return; // a report for a call that already ended (or never was) changes nothing
    if (typeof json !== 'string') return;
    if (kind === 'log') {
      if (call.logLines >= this.limits.maxLogLinesPerCall) {
        call.logDropped++;
        return;
      }
      const line = normaliseLogLine(JSON.parse(json));
      if (!line) return;
      call.logLines++;
      const level = LOG_LEVELS.has(line.level) ? (line.level as 'info') : 'info';
      this.hooks.sendLog(call.callId, level, line.text);
      return;
    }
    if (json.length > this.limits.maxPayloadBytes) {
      this.book.finishCall(call, { ok: false, error: { kind: 'bad_result', message: `the plugin returned ${json.length} bytes; the limit is ${this.limits.maxPayloadBytes}` }, stats: this.book.statsOf(call) });
      return;
    }
    if (kind === 'respond') {
      const response = JSON.parse(json);
      // Refused here too (the server checks again): a refused result never costs the server
      // the memory and time of decoding it.
      this.hooks.sendRespond(call.callId, holdsMoreThan(response, MAX_RESULT_VALUES) ? { status: 500, headers: {}, body: '' } : normaliseResponse(response));
    } else if (kind === 'done') {
      const value = JSON.parse(json);
      if (holdsMoreThan(value, MAX_RESULT_VALUES)) {
        this.book.finishCall(call, { ok: false, error: { kind: 'bad_result', message: `the plugin returned more than ${MAX_RESULT_VALUES} values (strings, numbers, keys, arrays and objects together); the limit keeps the server's scrubbing of a result short` }, stats: this.book.statsOf(call) });
        return;
      }
      this.book.finishCall(call, { ok: true, value, stats: this.book.statsOf(call) });
    } else if (kind === 'failed') {
      const thrown = normaliseThrown(JSON.parse(json));
      this.book.finishCall(call, { ok: false, error: { kind: 'plugin_error', message: thrown.message, thrown }, stats: this.book.statsOf(call) });
    }
  }
}
