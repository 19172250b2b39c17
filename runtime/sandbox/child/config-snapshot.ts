// The sandbox process's half of local config reads (host-api/config-snapshot.ts): it holds, per
// plugin, the non-secret config values the server pushed, and answers a config.get of one of them
// without a round trip. It answers only what the server would answer with that value; anything
// else — another capability, a key it does not hold (secrets are never pushed), arguments
// config.get's parse or the argument cap would refuse, a call the capability set refuses, a plugin
// it holds nothing for — is sent to the server as before, so every error text is the server's own.
// A read it answers meets the same count and byte caps as one the server answers, in the same
// order (host-call-caps.ts admit), counting the call's host calls sent to the server too.
// Engine-independent: sandbox-process.ts calls it from the host-call hook every engine uses.
import type { ConfigReadStats, ConfigSnapshot } from '../../../host-api/config-snapshot.ts';
import { CONFIG_GET } from '../../../host-api/config-snapshot.ts';
import { capRefusal, jsonBytes } from '../../../host-api/host-call-limits.ts';
import type { SharedCapRule } from '../../../host-api/host-call-limits.ts';

export type LocalAnswer =
  | { ok: true; value: unknown }
  | { ok: false; value: { message: string; code: string; rule: string } };

interface CallReads {
  plugin: string;
  /** As the server labels the call (HostCallContext.method): getFields, cron, callback:<name>, … */
  method: string;
  /** Host calls sent to the server and their bytes (arguments, then results as they come back). */
  forwarded: number;
  forwardedBytes: number;
  /** Reads answered here and their bytes. */
  answered: number;
  answeredBytes: number;
  /** The call's share of the plugin's minute (the server's grant); null: not told, answer nothing here. */
  minuteLeft: { calls: number; bytes: number } | null;
  /** The server's refusal of one of this call's host calls by a minute cap: past its share, reads get it here too. */
  minuteClosed: { rule: SharedCapRule; answer: LocalAnswer } | null;
  /** The read past its share sent to the server and not answered yet (one at a time). */
  probe: number | null;
  keys: Map<string, number>;
  refused: Partial<Record<SharedCapRule, number>>;
  /** Host calls of this call sent to the server and not answered yet. */
  waiting: Set<number>;
  countRefusals: Map<SharedCapRule, LocalAnswer>;
}

export class LocalConfigReads {
  private readonly snapshots = new Map<string, { values: Map<string, unknown>; snapshot: ConfigSnapshot }>();
  private readonly calls = new Map<string, CallReads>();
  /** Host call id → the call it belongs to, for host calls sent to the server. */
  private readonly waitingFor = new Map<number, CallReads>();

  /** The server's push: the values to answer from, or null (a write, a revoked capability: none). */
  set(plugin: string, snapshot: ConfigSnapshot | null): void {
    if (!snapshot || !snapshot.values || typeof snapshot.values !== 'object' || !snapshot.limits) {
      this.snapshots.delete(plugin);
      return;
    }
    this.snapshots.set(plugin, { values: new Map(Object.entries(snapshot.values)), snapshot });
  }

  /** The plugin is being (re)loaded or unloaded: what was pushed belonged to the code before. */
  drop(plugin: string): void {
    this.snapshots.delete(plugin);
  }

  /**
   * A plugin call starts; `args` are the invoke's (a callback's name is in them). False for a call
   * id already running (its invoke is refused; its counts are not reset).
   */
  begin(plugin: string, callId: string, method: string, args: unknown, minuteLeft: { calls: number; bytes: number } | undefined): boolean {
    if (this.calls.has(callId)) return false;
    const label = method === 'callback' ? `callback:${String((args as { name?: unknown } | null)?.name)}` : method;
    // Without the server's minute budget, nothing is answered here (every read goes to the server).
    const left = minuteLeft && typeof minuteLeft === 'object' ? { calls: finite(minuteLeft.calls), bytes: finite(minuteLeft.bytes) } : null;
    this.calls.set(callId, {
      plugin, method: label, forwarded: 0, forwardedBytes: 0, answered: 0, answeredBytes: 0, minuteLeft: left, minuteClosed: null, probe: null, keys: new Map(), refused: {}, waiting: new Set(), countRefusals: new Map(),
    });
    return true;
  }

  /** The call ended: what it read here, for its stats (undefined when it read nothing here). */
  end(callId: string): ConfigReadStats | undefined {
    const call = this.calls.get(callId);
    this.calls.delete(callId);
    if (!call) return undefined;
    for (const id of call.waiting) this.waitingFor.delete(id);
    if (call.answered === 0 && Object.keys(call.refused).length === 0) return undefined;
    return { keys: Object.fromEntries(call.keys), bytes: call.answeredBytes, refused: { ...call.refused } };
  }

  /**
   * The answer to a host call made here, or null to send it to the server (then counted as sent;
   * the caller sends answeredSoFar with it). Called synchronously from the engine's callback of
   * the plugin's host call (the answer settles the plugin's promise in that same entry): it only
   * reads what the server pushed and counts, no I/O.
   */
  answer(plugin: string, callId: string, hostCallId: number, capability: string, args: unknown): LocalAnswer | null {
    const call = this.calls.get(callId);
    const held = this.snapshots.get(plugin);
    const key = (args as { key?: unknown } | null)?.key;
    const limits = held?.snapshot.limits;
    const argBytes = limits ? jsonBytes(args, limits.hostCallArgBytes) : 0;
    if (!call || call.plugin !== plugin || !held || !limits || !call.minuteLeft || capability !== CONFIG_GET || !allows(held.snapshot, call)
      || typeof key !== 'string' || key.length === 0 || key.length > 64 || !held.values.has(key) || argBytes > limits.hostCallArgBytes) {
      if (call) this.forward(call, hostCallId, args, limits?.hostCallArgBytes);
      return null;
    }
    const minuteLeft = call.minuteLeft;
    const cron = call.method === 'cron';
    const made = call.answered + call.forwarded;
    const used = call.answeredBytes + call.forwardedBytes;
    const at = { capability, plugin, method: call.method, moreBytes: argBytes };
    let rule: SharedCapRule | null = null;
    let usedBytes = 0;
    if (made >= (cron ? limits.cronHostCallsPerRun : limits.hostCallsPerCall)) rule = 'host.calls-per-call';
    else if (made >= minuteLeft.calls) rule = 'host.calls-per-minute';
    else if (used + argBytes > (cron ? limits.cronHostCallBytesPerRun : limits.hostCallBytesPerCall)) {
      rule = 'host.bytes-per-call';
      usedBytes = used;
    } else if (used + argBytes > minuteLeft.bytes) rule = 'host.bytes-per-minute';
    // Past its share of the minute the server decides (it has seen every call's reads by then); once
    // it refuses one of the call's host calls by a minute cap, so does this process, in its words.
    // One read past the share at a time goes to the server: a flood fired at once is refused here
    // meanwhile, as the server would refuse it at the cap, not sent on read by read.
    if (rule === 'host.calls-per-minute' || rule === 'host.bytes-per-minute') {
      if (call.minuteClosed) {
        call.refused[call.minuteClosed.rule] = (call.refused[call.minuteClosed.rule] ?? 0) + 1;
        return call.minuteClosed.answer;
      }
      if (call.probe === null || rule === 'host.bytes-per-minute') {
        if (rule === 'host.calls-per-minute') call.probe = hostCallId;
        this.forward(call, hostCallId, args, limits.hostCallArgBytes);
        return null;
      }
    }
    if (rule) {
      call.refused[rule] = (call.refused[rule] ?? 0) + 1;
      // A count cap's refusal reads the same every time: made once per call (a flood repeats it).
      if (rule === 'host.calls-per-call' || rule === 'host.calls-per-minute') {
        const same = call.countRefusals.get(rule);
        if (same) return same;
      }
      const refusal: LocalAnswer = { ok: false, value: { message: capRefusal(rule, { ...at, usedBytes }, limits), code: 'HOST_DENIED', rule } };
      if (rule === 'host.calls-per-call' || rule === 'host.calls-per-minute') call.countRefusals.set(rule, refusal);
      return refusal;
    }
    const value = held.values.get(key) ?? null;
    call.answered++;
    call.answeredBytes += argBytes + (value === null ? 0 : jsonBytes(value, Number.MAX_SAFE_INTEGER));
    call.keys.set(key, (call.keys.get(key) ?? 0) + 1);
    return { ok: true, value };
  }

  /** Reads answered here so far in the call, and their bytes (sent with each host call that goes to the server). */
  answeredSoFar(callId: string): { calls: number; bytes: number } | null {
    const call = this.calls.get(callId);
    return call && call.answered > 0 ? { calls: call.answered, bytes: call.answeredBytes } : null;
  }

  /**
   * The server answered a host call: its result counts toward the call's bytes as the server
   * counts it (dispatch.ts chargeResult: a value, or an error's provider response). Measured only
   * for calls of plugins this process answers reads for.
   */
  result(hostCallId: number, ok: boolean, value: unknown): void {
    const call = this.waitingFor.get(hostCallId);
    if (!call) return;
    this.waitingFor.delete(hostCallId);
    call.waiting.delete(hostCallId);
    if (call.probe === hostCallId) call.probe = null;
    const refusal = ok ? null : value as { rule?: unknown; message?: unknown; code?: unknown } | null;
    if (refusal && (refusal.rule === 'host.calls-per-minute' || refusal.rule === 'host.bytes-per-minute') && !call.minuteClosed) {
      call.minuteClosed = { rule: refusal.rule, answer: { ok: false, value: { message: String(refusal.message), code: String(refusal.code), rule: refusal.rule } } };
    }
    const charged = ok ? value : (value as { response?: unknown } | null)?.response;
    if (charged !== null && charged !== undefined) call.forwardedBytes += jsonBytes(charged, Number.MAX_SAFE_INTEGER);
  }

  private forward(call: CallReads, hostCallId: number, args: unknown, argLimit: number | undefined): void {
    call.forwarded++;
    // Bytes matter only where reads are answered here; a plugin with no values pays nothing to count them.
    if (argLimit === undefined) return;
    // As the server: arguments over the cap are refused before they count.
    const argBytes = jsonBytes(args, argLimit);
    if (argBytes <= argLimit) call.forwardedBytes += argBytes;
    call.waiting.add(hostCallId);
    this.waitingFor.set(hostCallId, call);
  }
}

/** The capability set's checks that depend on the call (capability-set.ts reasonToRefuse). */
function allows(snapshot: ConfigSnapshot, call: CallReads): boolean {
  if (call.method.startsWith('callback:') && snapshot.callbacks && !snapshot.callbacks.includes(call.method.slice('callback:'.length))) return false;
  if (call.method === 'cron' && snapshot.cron === false) return false;
  return true;
}

function finite(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}
