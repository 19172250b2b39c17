// A platform plugin's cron ticks every few seconds and, with nothing pending, only asks how many
// payout txs it has: one audit record per tick (every 30 s for NimbusPay) buried the records that
// matter. An idle cron run — one whose host calls were all allowed reads of the plugin's own data —
// is audited in full once per plugin per window; the idle runs after it in the same window are
// counted and written as one record when the window ends. Any run that does more (a request, an
// update, a refusal, an error, a sandbox-local service) is audited call by call as every other call.
import type { AuditLog } from './audit.ts';
import type { HostCallContext } from './capability.ts';
import type { NewAuditRecord } from '../runtime/store/types.ts';

/** Host calls that read the plugin's own data and change nothing. */
const READS = new Set(['config.get', 'payoutTxs.find', 'payoutTxs.count']);
export const IDLE_CRON_WINDOW_MS = 60 * 60_000;
/** Records of a run that never ended (its sandbox died) are written after this long. */
const UNENDED_AFTER_MS = 5_000;

type Held = Omit<NewAuditRecord, 'at'> & { at: string };

interface Window {
  since: string;
  runs: number;
  calls: Map<string, number>;
  timer: NodeJS.Timeout;
}

export class IdleCronAudit {
  private readonly audit: Pick<AuditLog, 'record' | 'addPendingSource'>;
  private readonly windowMs: number;
  private readonly held = new Map<string, { ctx: HostCallContext; records: Held[]; since: number }>();
  private readonly windows = new Map<string, Window>();

  constructor(audit: Pick<AuditLog, 'record' | 'addPendingSource'>, windowMs = IDLE_CRON_WINDOW_MS) {
    this.audit = audit;
    this.windowMs = windowMs;
    audit.addPendingSource((final) => this.settle(final));
  }

  /** Records one host call's audit record, or holds it while its cron run may still be idle. */
  record(ctx: HostCallContext, record: Held): void {
    const held = this.held.get(ctx.callId);
    if (ctx.method === 'cron' && record.decision === 'allowed' && READS.has(record.capability) && !this.seenOther.has(ctx.callId)) {
      if (held) held.records.push(record);
      else this.held.set(ctx.callId, { ctx, records: [record], since: Date.now() });
      return;
    }
    if (ctx.method === 'cron') this.seenOther.set(ctx.callId, ctx);
    this.release(ctx.callId);
    this.audit.record(record);
  }

  /** Cron runs that did more than read: their later reads are audited one by one too. */
  private readonly seenOther = new Map<string, HostCallContext>();

  /** The plugin call ended; `busy` when it used sandbox-local services (not an idle run). */
  endCall(ctx: HostCallContext, busy: boolean): void {
    this.seenOther.delete(ctx.callId);
    const held = this.held.get(ctx.callId);
    if (!held) return;
    if (busy) return this.release(ctx.callId);
    this.held.delete(ctx.callId);
    const window = this.windows.get(ctx.plugin);
    if (!window) {
      // The first idle run of a window is audited in full: a reviewer sees what it does.
      for (const r of held.records) this.audit.record(r);
      const timer = setTimeout(() => this.closeWindow(ctx.plugin), this.windowMs);
      timer.unref();
      this.windows.set(ctx.plugin, { since: new Date().toISOString(), runs: 0, calls: new Map(), timer });
      return;
    }
    window.runs++;
    for (const r of held.records) window.calls.set(r.capability, (window.calls.get(r.capability) ?? 0) + 1);
  }

  private release(callId: string): void {
    const held = this.held.get(callId);
    if (!held) return;
    this.held.delete(callId);
    for (const r of held.records) this.audit.record(r);
  }

  private closeWindow(plugin: string): void {
    const window = this.windows.get(plugin);
    if (!window) return;
    this.windows.delete(plugin);
    clearTimeout(window.timer);
    if (window.runs === 0) return;
    const calls = [...window.calls].map(([k, n]) => `${k}×${n}`).join(', ');
    this.audit.record({
      plugin, actor: `plugin:${plugin}`, callId: null, capability: 'cron.idle', decision: 'allowed', rule: null,
      summary: `cron: ${window.runs} more idle runs since ${window.since}, only reading its own data (${calls}); the first idle run of the window is recorded call by call`,
      durationMs: 0,
    });
  }

  /** At each audit flush: runs that never ended are written; at shutdown, everything. */
  private settle(final: boolean): void {
    const now = Date.now();
    for (const [callId, held] of [...this.held]) {
      if (final || (held.ctx.ended && now - held.since > UNENDED_AFTER_MS)) this.release(callId);
    }
    for (const [callId, ctx] of [...this.seenOther]) if (final || ctx.ended) this.seenOther.delete(callId);
    if (final) for (const plugin of [...this.windows.keys()]) this.closeWindow(plugin);
  }
}
