// The sandbox process's half of local config reads (host-api/config-snapshot.ts): it holds, per
// plugin, the non-secret config values the server pushed, and answers a config.get of one of them
// without a round trip. It answers only what the server would answer with that value; anything
// else — another capability, a key it does not hold (secrets are never pushed), arguments
// config.get's parse would refuse, a call the capability set refuses, a plugin it holds nothing
// for — is sent to the server as before, so every error text is the server's own.
// Engine-independent: sandbox-process.ts calls it from the host-call hook every engine uses.
import type { ConfigReadStats, ConfigSnapshot } from '../../../host-api/config-snapshot.ts';
import { CONFIG_GET } from '../../../host-api/config-snapshot.ts';
import { callsPerCallRefusal, callsPerMinuteRefusal } from '../../../host-api/host-call-limits.ts';

export type LocalAnswer =
  | { ok: true; value: unknown }
  | { ok: false; value: { message: string; code: string; rule: string } };

interface CallReads {
  plugin: string;
  method: string;
  /** Host calls sent to the server, and reads answered here: together they meet the per-call cap. */
  forwarded: number;
  answered: number;
  /** The plugin's per-minute budget left when the call started (the server's window). */
  minuteLeft: number;
  keys: Map<string, number>;
  refused: { 'host.calls-per-call': number; 'host.calls-per-minute': number };
}

export class LocalConfigReads {
  private readonly snapshots = new Map<string, { values: Map<string, unknown>; snapshot: ConfigSnapshot }>();
  private readonly calls = new Map<string, CallReads>();

  /** The server's push: the values to answer from, or null (a write, a revoked capability: none). */
  set(plugin: string, snapshot: ConfigSnapshot | null): void {
    if (!snapshot || !snapshot.values || typeof snapshot.values !== 'object') {
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
  begin(plugin: string, callId: string, method: string, args: unknown, minuteLeft: number | undefined): boolean {
    if (this.calls.has(callId)) return false;
    const label = method === 'callback' ? `callback:${String((args as { name?: unknown } | null)?.name)}` : method;
    // Without the server's minute budget, nothing is answered here (every read goes to the server).
    const left = typeof minuteLeft === 'number' && Number.isFinite(minuteLeft) ? minuteLeft : 0;
    this.calls.set(callId, { plugin, method: label, forwarded: 0, answered: 0, minuteLeft: left, keys: new Map(), refused: { 'host.calls-per-call': 0, 'host.calls-per-minute': 0 } });
    return true;
  }

  /** The call ended: what it read here, for its stats (undefined when it read nothing here). */
  end(callId: string): ConfigReadStats | undefined {
    const call = this.calls.get(callId);
    this.calls.delete(callId);
    if (!call) return undefined;
    const perCall = call.refused['host.calls-per-call'];
    const perMinute = call.refused['host.calls-per-minute'];
    if (call.answered === 0 && perCall === 0 && perMinute === 0) return undefined;
    return {
      keys: Object.fromEntries(call.keys),
      refused: { ...(perCall ? { 'host.calls-per-call': perCall } : {}), ...(perMinute ? { 'host.calls-per-minute': perMinute } : {}) },
    };
  }

  /**
   * The answer to a host call made here, or null to send it to the server (then counted as sent).
   * Callers resume the plugin with the answer asynchronously, as they would a server's.
   */
  answer(plugin: string, callId: string, capability: string, args: unknown): LocalAnswer | null {
    const call = this.calls.get(callId);
    const held = this.snapshots.get(plugin);
    const key = (args as { key?: unknown } | null)?.key;
    if (!call || call.plugin !== plugin || !held || capability !== CONFIG_GET || !this.allows(held.snapshot, call)
      || typeof key !== 'string' || key.length === 0 || key.length > 64 || !held.values.has(key)) {
      if (call) call.forwarded++;
      return null;
    }
    // The same count caps, in the same order, as the server's (host-call-caps.ts admit).
    const s = held.snapshot;
    const made = call.answered + call.forwarded;
    if (made >= (call.method === 'cron' ? s.maxHostCallsPerCronRun : s.maxHostCallsPerCall)) {
      call.refused['host.calls-per-call']++;
      const message = callsPerCallRefusal(capability, plugin, call.method, { hostCallsPerCall: s.maxHostCallsPerCall, cronHostCallsPerRun: s.maxHostCallsPerCronRun });
      return { ok: false, value: { message, code: 'HOST_DENIED', rule: 'host.calls-per-call' } };
    }
    if (made >= call.minuteLeft) {
      call.refused['host.calls-per-minute']++;
      const message = callsPerMinuteRefusal(capability, plugin, { hostCallsPerMinute: s.maxHostCallsPerMinute });
      return { ok: false, value: { message, code: 'HOST_DENIED', rule: 'host.calls-per-minute' } };
    }
    call.answered++;
    call.keys.set(key, (call.keys.get(key) ?? 0) + 1);
    return { ok: true, value: held.values.get(key) ?? null };
  }

  /** Reads this call answered here so far (sent with each host call that goes to the server). */
  answeredIn(callId: string): number {
    return this.calls.get(callId)?.answered ?? 0;
  }

  /** The capability set's checks that depend on the call (capability-set.ts reasonToRefuse). */
  private allows(snapshot: ConfigSnapshot, call: CallReads): boolean {
    if (call.method.startsWith('callback:') && snapshot.callbacks && !snapshot.callbacks.includes(call.method.slice('callback:'.length))) return false;
    if (call.method === 'cron' && snapshot.cron === false) return false;
    return true;
  }
}
