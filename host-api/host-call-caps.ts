// Host-call caps: how much one plugin call, and one plugin per minute, may ask of the host. Every
// host call passes `admit` in dispatch.ts before its arguments are read, so the caps hold for every
// capability, the unknown ones included:
//  - per plugin call: host calls (a cron run: more), bytes of one call's arguments, and bytes of
//    arguments and results over the whole call; host calls running at once (more wait their turn);
//  - per plugin per minute (sliding window): host calls and bytes. One plugin at its cap leaves
//    every other plugin's budget untouched.
// A refused host call gets one error inside the plugin (code HOST_DENIED, rule host.*) naming the
// cap, its limit and the server option that sets it. The refusal must not become the next flood:
// the first refusal of a plugin call writes one audit record, later ones only count, and the count
// is written in one record when the call ends. Per-minute refusals likewise: one record per plugin
// per 60 s, the refusals in between counted in the next one.
import type { HostCallContext } from './capability.ts';
import type { AuditLog } from './audit.ts';
import { MinuteWindow, capRefusal, checkHostCallLimits, jsonBytes } from './host-call-limits.ts';
import type { SharedCapRule } from './host-call-limits.ts';
import type { HostCallLimits } from './host-call-limits.ts';

export type HostCapRule =
  | 'host.calls-per-call' | 'host.arg-bytes' | 'host.bytes-per-call'
  | 'host.calls-per-minute' | 'host.bytes-per-minute'
  /** Not audited: the call waited for its turn and its plugin call ended meanwhile. */
  | 'host.call-ended';

const MINUTE_RULES: ReadonlySet<HostCapRule> = new Set(['host.calls-per-minute', 'host.bytes-per-minute']);

/** The capability name aggregated refusal records are filed under. */
export const CAPS_AUDIT_CAPABILITY = 'host.caps';

export interface HostCapRefusal {
  rule: HostCapRule;
  /** One line for the plugin and the audit log: which cap, its limit, the option that sets it. */
  message: string;
}

interface CallUsage {
  calls: number;
  bytes: number;
  /** Host calls of this plugin call running now, and those waiting for a turn. */
  inFlight: number;
  waiting: (() => void)[];
  /** Config reads the sandbox process answered itself and their bytes, as last reported (counted in `calls`, `bytes`). */
  localReported: { calls: number; bytes: number };
  /** Refusals since the one that was recorded, by rule; written when the call ends. */
  unrecorded: Map<HostCapRule, number>;
  recorded: boolean;
}

interface MinuteRefusals {
  recordedAt: number;
  unrecorded: Map<HostCapRule, number>;
}

const SETTLE_EVERY_MS = 1_000;

/**
 * The most bytes of its plugin's minute one call is granted for reads its sandbox process answers
 * itself: a grant unused is held from the plugin's other calls until the call ends, so grants stay
 * small (config values are at most 8 KB); a call needing more sends its reads to the server. A cron
 * run's share is larger (grantMinute).
 */
const MAX_GRANT_BYTES = 1024 * 1024;

export class HostCallCaps {
  readonly limits: Readonly<HostCallLimits>;
  private readonly audit: Pick<AuditLog, 'record'>;
  private readonly now: () => number;
  private readonly window: MinuteWindow;
  // Keyed by the call's context object: it lives exactly as long as the call.
  private readonly usage = new WeakMap<HostCallContext, CallUsage>();
  /** Calls with refusals not yet written; settled when the call ends. */
  private readonly pending = new Set<HostCallContext>();
  private readonly minuteRefusals = new Map<string, MinuteRefusals>();
  /** Per plugin: the minute shares granted to calls in progress (grantMinute), until they end. */
  private readonly grants = new Map<string, Map<HostCallContext, { calls: number; bytes: number }>>();
  private timer: NodeJS.Timeout | null = null;
  private settling = false;

  constructor(limits: HostCallLimits, audit: Pick<AuditLog, 'record'>, now: () => number = Date.now) {
    this.limits = Object.freeze(checkHostCallLimits({ ...limits }));
    this.audit = audit;
    this.now = now;
    this.window = new MinuteWindow(now);
  }

  /**
   * Decides whether a host call may run. First, synchronously and before anything is read or
   * awaited, the count caps and the size of the arguments: the sandbox host hands calls over in
   * the order they arrived, and a call's end is reported after its last host call was handed over,
   * so those refusals are all counted by then. Then the call waits for its turn among the call's
   * host calls in flight (at most hostCallsInFlightPerCall run at once) and meets the byte budgets,
   * which by then include the results of the calls before it: a burst of concurrent calls cannot
   * all be admitted before the first large result is counted.
   * Returns null when the call may run (the caller then calls `done`), the refusal (already
   * audited or counted) otherwise, or a promise of either while the call waits for its turn.
   */
  admit(ctx: HostCallContext, capability: string, args: unknown): HostCapRefusal | null | Promise<HostCapRefusal | null> {
    const usage = this.usageOf(ctx);
    const cron = ctx.method === 'cron';
    const perCall = cron ? this.limits.cronHostCallsPerRun : this.limits.hostCallsPerCall;
    const name = String(capability).slice(0, 80);

    let refusal: HostCapRefusal | null = null;
    let bytes = 0;
    if (usage.calls >= perCall) {
      refusal = { rule: 'host.calls-per-call', message: capRefusal('host.calls-per-call', { capability: name, plugin: ctx.plugin, method: ctx.method }, this.limits) };
    } else if (this.window.usage(ctx.plugin).calls + this.heldByOthers(ctx).calls >= this.limits.hostCallsPerMinute) {
      refusal = { rule: 'host.calls-per-minute', message: capRefusal('host.calls-per-minute', { capability: name, plugin: ctx.plugin, method: ctx.method }, this.limits) };
    } else {
      bytes = jsonBytes(args, this.limits.hostCallArgBytes);
      if (bytes > this.limits.hostCallArgBytes) {
        refusal = { rule: 'host.arg-bytes', message: `${name} refused: its arguments are over the ${this.limits.hostCallArgBytes}-byte limit for one host call; send less, or the host's administrator can raise the limit with the server option hostCallArgBytes` };
      }
    }
    if (refusal) return this.refuse(ctx, usage, name, refusal);
    usage.calls++;
    this.window.add(ctx.plugin, 1, 0);
    if (usage.inFlight < this.limits.hostCallsInFlightPerCall) {
      usage.inFlight++;
      return this.meetByteBudgets(ctx, usage, name, bytes);
    }
    return new Promise<void>((resolve) => usage.waiting.push(resolve)).then(() => {
      // The plugin call ended while this host call waited: nobody is left to answer.
      if (ctx.ended) {
        this.done(ctx);
        return { rule: 'host.call-ended' as const, message: `${name}: the plugin call this host call belongs to has ended` };
      }
      return this.meetByteBudgets(ctx, usage, name, bytes);
    });
  }

  /** The host call admitted by `admit` has finished: the next one waiting in its call may run. */
  done(ctx: HostCallContext): void {
    const usage = this.usage.get(ctx);
    if (!usage) return;
    const next = usage.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiting call
    else usage.inFlight = Math.max(0, usage.inFlight - 1);
  }

  private meetByteBudgets(ctx: HostCallContext, usage: CallUsage, name: string, bytes: number): HostCapRefusal | null {
    const bytesPerCall = ctx.method === 'cron' ? this.limits.cronHostCallBytesPerRun : this.limits.hostCallBytesPerCall;
    const minuteBytes = this.window.usage(ctx.plugin).bytes;
    const at = { capability: name, plugin: ctx.plugin, method: ctx.method, moreBytes: bytes };
    let refusal: HostCapRefusal | null = null;
    if (usage.bytes + bytes > bytesPerCall) {
      refusal = { rule: 'host.bytes-per-call', message: capRefusal('host.bytes-per-call', { ...at, usedBytes: usage.bytes }, this.limits) };
    } else if (minuteBytes + this.heldByOthers(ctx).bytes + bytes > this.limits.hostCallBytesPerMinute) {
      refusal = { rule: 'host.bytes-per-minute', message: capRefusal('host.bytes-per-minute', { ...at, usedBytes: minuteBytes }, this.limits) };
    }
    if (refusal) {
      this.done(ctx);
      return this.refuse(ctx, usage, name, refusal);
    }
    usage.bytes += bytes;
    this.window.add(ctx.plugin, 0, bytes);
    return null;
  }

  private refuse(ctx: HostCallContext, usage: CallUsage, name: string, refusal: HostCapRefusal): HostCapRefusal {
    if (MINUTE_RULES.has(refusal.rule)) this.auditMinuteRefusal(ctx, name, refusal);
    else this.auditCallRefusal(ctx, usage, name, refusal);
    return refusal;
  }

  /**
   * Charges what a host call returned: results count towards the same byte budgets. The work is
   * already done, so the result still goes back; the plugin's next host call is refused.
   */
  chargeResult(ctx: HostCallContext, value: unknown): void {
    if (value === null || value === undefined) return;
    const bytes = jsonBytes(value, Number.MAX_SAFE_INTEGER);
    this.usageOf(ctx).bytes += bytes;
    this.window.add(ctx.plugin, 0, bytes);
  }

  /**
   * Host calls the sandbox process answered itself in this call (config reads) and their bytes,
   * totals so far as it reports them (with each host call it sends on, and when the call ends):
   * they count toward the call's caps and the plugin's minute like those the server answered.
   * Only an increase counts.
   */
  noteLocalCalls(ctx: HostCallContext, total: { calls: number; bytes: number }): void {
    const usage = this.usageOf(ctx);
    const calls = Number.isSafeInteger(total.calls) ? Math.max(0, total.calls - usage.localReported.calls) : 0;
    const bytes = Number.isSafeInteger(total.bytes) ? Math.max(0, total.bytes - usage.localReported.bytes) : 0;
    usage.localReported = { calls: usage.localReported.calls + calls, bytes: usage.localReported.bytes + bytes };
    usage.calls += calls;
    usage.bytes += bytes;
    if (calls || bytes) this.window.add(ctx.plugin, calls, bytes);
  }

  /** What the plugin may still use of its current minute. */
  minuteLeft(plugin: string): { calls: number; bytes: number } {
    const used = this.window.usage(plugin);
    return { calls: Math.max(0, this.limits.hostCallsPerMinute - used.calls), bytes: Math.max(0, this.limits.hostCallBytesPerMinute - used.bytes) };
  }

  /**
   * The share of its plugin's minute a call starting now may use for reads its sandbox process
   * answers itself. The sandbox process hears of another call's reads only when that call reports
   * them, so calls running at once were each told the whole minute was left and together answered
   * that many times over. A share is held for its call until the call ends: what other calls have
   * been granted and not yet reported is neither granted again nor admitted by the server. Shares
   * are small (one call's count cap and MAX_GRANT_BYTES; a quarter of the minute for a cron run), so
   * calls running at once hold little of a minute; a call past its share sends its reads to the
   * server, which has the last word.
   */
  grantMinute(ctx: HostCallContext): { calls: number; bytes: number } {
    const left = this.minuteLeft(ctx.plugin);
    const held = this.heldByOthers(ctx);
    // A cron run may make more host calls than a minute holds: its share is a quarter of the minute
    // at most, so the plugin's callbacks running beside a long run are still served. Bytes alike:
    // the sandbox process counts the run's host calls sent to the server against its share too, so
    // a sweep's provider answers used up a 1 MiB share after a few hundred txs, and every read after
    // that crossed to the server (bench/: sweeps).
    const cron = ctx.method === 'cron';
    const share = {
      calls: cron ? Math.min(this.limits.cronHostCallsPerRun, Math.max(this.limits.hostCallsPerCall, Math.floor(this.limits.hostCallsPerMinute / 4))) : this.limits.hostCallsPerCall,
      bytes: cron ? Math.min(this.limits.cronHostCallBytesPerRun, Math.max(MAX_GRANT_BYTES, Math.floor(this.limits.hostCallBytesPerMinute / 4))) : MAX_GRANT_BYTES,
    };
    const grant = {
      calls: Math.max(0, Math.min(left.calls - held.calls, share.calls)),
      bytes: Math.max(0, Math.min(left.bytes - held.bytes, share.bytes)),
    };
    let open = this.grants.get(ctx.plugin);
    if (!open) this.grants.set(ctx.plugin, open = new Map());
    open.set(ctx, grant);
    return grant;
  }

  /** Shares granted to the plugin's other calls in progress and not yet used (as reported); forgets ended calls. */
  private heldByOthers(ctx: HostCallContext): { calls: number; bytes: number } {
    const open = this.grants.get(ctx.plugin);
    const held = { calls: 0, bytes: 0 };
    if (!open) return held;
    for (const [other, grant] of open) {
      if (other.ended) {
        open.delete(other);
        continue;
      }
      if (other === ctx) continue;
      const used = this.usage.get(other)?.localReported ?? { calls: 0, bytes: 0 };
      held.calls += Math.max(0, grant.calls - used.calls);
      held.bytes += Math.max(0, grant.bytes - used.bytes);
    }
    if (open.size === 0) this.grants.delete(ctx.plugin);
    return held;
  }

  /**
   * `count` host calls the sandbox process refused itself by a cap it shares with the server (it
   * answers config reads locally, host-api/config-snapshot.ts): audited as if refused here — the
   * first of a call (or of the plugin's minute) in a record, the rest counted into the record
   * written later.
   */
  recordLocalRefusals(ctx: HostCallContext, capability: string, rule: SharedCapRule, count: number): void {
    if (!Number.isSafeInteger(count) || count <= 0) return;
    const name = String(capability).slice(0, 80);
    const usage = this.usageOf(ctx);
    const usedBytes = MINUTE_RULES.has(rule) ? this.window.usage(ctx.plugin).bytes : usage.bytes;
    this.refuse(ctx, usage, name, { rule, message: capRefusal(rule, { capability: name, plugin: ctx.plugin, method: ctx.method, usedBytes }, this.limits) });
    if (count === 1) return;
    // The others only add to counts, as a refusal after the recorded one does (refuse): no loop.
    const counts = MINUTE_RULES.has(rule) ? this.minuteRefusals.get(ctx.plugin)?.unrecorded : usage.unrecorded;
    if (!counts) return;
    counts.set(rule, (counts.get(rule) ?? 0) + count - 1);
    if (!MINUTE_RULES.has(rule)) this.pending.add(ctx);
    this.updateTimer();
  }

  /** The plugin call has ended: its refusal count, if any, is written now. */
  endCall(ctx: HostCallContext): void {
    if (this.pending.has(ctx)) this.settleCall(ctx);
  }

  /**
   * Writes the counts of ended calls and of minute windows that have passed; with `final`
   * (shutdown), every count still held.
   */
  settle(final = false): void {
    // Writing a record can flush the audit log, which settles again: once at a time is enough.
    if (this.settling) return;
    this.settling = true;
    try {
      this.settleNow(final);
    } finally {
      this.settling = false;
    }
  }

  private settleNow(final: boolean): void {
    for (const ctx of [...this.pending]) if (final || ctx.ended) this.settleCall(ctx);
    const t = this.now();
    for (const [plugin, m] of this.minuteRefusals) {
      if (!final && t - m.recordedAt < 60_000) continue;
      // Refusals went on: write them and keep counting; none: the plugin's next refusal is news again.
      if (m.unrecorded.size > 0) this.writeMinuteCount(plugin, m, null, t);
      else this.minuteRefusals.delete(plugin);
    }
    if (final) this.minuteRefusals.clear();
    this.updateTimer();
  }

  private usageOf(ctx: HostCallContext): CallUsage {
    let u = this.usage.get(ctx);
    if (!u) {
      u = { calls: 0, bytes: 0, inFlight: 0, waiting: [], localReported: { calls: 0, bytes: 0 }, unrecorded: new Map(), recorded: false };
      this.usage.set(ctx, u);
    }
    return u;
  }

  private auditCallRefusal(ctx: HostCallContext, usage: CallUsage, capability: string, refusal: HostCapRefusal): void {
    if (!usage.recorded) {
      usage.recorded = true;
      this.record(ctx.plugin, ctx.callId, capability, refusal.rule, `${ctx.method}: ${refusal.message} (further refusals in this call are counted in one record when it ends)`);
      return;
    }
    usage.unrecorded.set(refusal.rule, (usage.unrecorded.get(refusal.rule) ?? 0) + 1);
    this.pending.add(ctx);
    this.updateTimer();
  }

  private settleCall(ctx: HostCallContext): void {
    this.pending.delete(ctx);
    const usage = this.usage.get(ctx);
    if (!usage || usage.unrecorded.size === 0) return;
    const { total, rules } = countLine(usage.unrecorded);
    usage.unrecorded.clear();
    this.record(ctx.plugin, ctx.callId, CAPS_AUDIT_CAPABILITY, [...rules.keys()][0], `${ctx.method}: ${total} more host calls refused in this call after the one recorded (${rulesText(rules)})`);
  }

  private auditMinuteRefusal(ctx: HostCallContext, capability: string, refusal: HostCapRefusal): void {
    const t = this.now();
    const m = this.minuteRefusals.get(ctx.plugin);
    if (m) {
      m.unrecorded.set(refusal.rule, (m.unrecorded.get(refusal.rule) ?? 0) + 1);
      // Within the plugin's 60 s: counted only. Past them: the count, this refusal included, is the record.
      if (t - m.recordedAt >= 60_000) this.writeMinuteCount(ctx.plugin, m, ctx.callId, t);
      this.updateTimer();
      return;
    }
    this.minuteRefusals.set(ctx.plugin, { recordedAt: t, unrecorded: new Map() });
    this.record(ctx.plugin, ctx.callId, capability, refusal.rule, `${ctx.method}: ${refusal.message} (further per-minute refusals of this plugin are counted, one record per 60 s)`);
    this.updateTimer();
  }

  /** Writes a plugin's per-minute refusal count and starts its next 60 s. */
  private writeMinuteCount(plugin: string, m: MinuteRefusals, callId: string | null, at: number): void {
    const { total, rules } = countLine(m.unrecorded);
    m.unrecorded.clear();
    this.record(plugin, callId, CAPS_AUDIT_CAPABILITY, [...rules.keys()][0], `${total} host calls of plugin '${plugin}' refused by its per-minute caps since ${new Date(m.recordedAt).toISOString()} (${rulesText(rules)})`);
    m.recordedAt = at;
  }

  private record(plugin: string, callId: string | null, capability: string, rule: string, summary: string): void {
    this.audit.record({ plugin, actor: `plugin:${plugin}`, callId, capability, decision: 'denied', rule, summary, durationMs: 0 });
  }

  /** A timer runs only while counts wait to be written (a call's end may never be reported). */
  private updateTimer(): void {
    const waiting = this.pending.size > 0 || this.minuteRefusals.size > 0;
    if (waiting && !this.timer) {
      this.timer = setInterval(() => this.settle(), SETTLE_EVERY_MS);
      this.timer.unref();
    } else if (!waiting && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

function countLine(counts: Map<HostCapRule, number>): { total: number; rules: Map<HostCapRule, number> } {
  let total = 0;
  for (const n of counts.values()) total += n;
  return { total, rules: new Map(counts) };
}

function rulesText(rules: Map<HostCapRule, number>): string {
  return [...rules].map(([rule, n]) => `${rule}: ${n}`).join(', ');
}
