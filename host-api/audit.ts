// The audit log: one record per host call (written by dispatch.ts), per admin action and per
// system decision; host calls refused by the caps are aggregated (host-call-caps.ts). Summaries are scrubbed of secret values before they are stored. Records are
// batched into one store transaction every FLUSH_MS: a synchronous-FULL commit per host call
// would cost more than the call itself. node:sqlite commits block the event loop for the fsync,
// so the interval sets how much of a busy server's time audit commits take: at 100 ms (was 25)
// a 1 000-tx cron sweep commits the audit log ~160 times instead of ~630 (bench/: sweep). The
// price is the window of records a crash can lose, up to 100 ms of host calls.
import type { Store } from '../runtime/store/store.ts';
import type { NewAuditRecord } from '../runtime/store/types.ts';
import type { Scrubber } from '../runtime/secrets/scrubber.ts';

const FLUSH_MS = 100;
const MAX_BATCH = 500;
const MAX_SUMMARY = 2000;

export class AuditLog {
  private readonly store: Pick<Store, 'appendAudit'>;
  private readonly scrubber: Scrubber;
  private buffer: NewAuditRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  failedWrites = 0;
  /** Writers of aggregated records (host-call-caps.ts): asked to add what is due before each flush. */
  private readonly pendingSources: ((final: boolean) => void)[] = [];

  constructor(store: Pick<Store, 'appendAudit'>, scrubber: Scrubber) {
    this.store = store;
    this.scrubber = scrubber;
  }

  record(r: Omit<NewAuditRecord, 'at'> & { at?: string }): void {
    // Scrub before cutting: a cut through a secret would leave part of it behind.
    const clean = this.scrubber.scrub(r.summary);
    const summary = clean.length > MAX_SUMMARY ? `${clean.slice(0, MAX_SUMMARY)}…` : clean;
    this.buffer.push({ ...r, at: r.at ?? new Date().toISOString(), summary, rule: r.rule ? this.scrubber.scrub(r.rule) : null });
    if (this.buffer.length >= MAX_BATCH) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** `source(final)` adds its due records; with final (shutdown) everything it still holds. */
  addPendingSource(source: (final: boolean) => void): void {
    this.pendingSources.push(source);
  }

  async flush(options: { final?: boolean } = {}): Promise<void> {
    for (const source of this.pendingSources) source(options.final === true);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.flushing) await this.flushing;
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.store.appendAudit(batch).catch(() => {
      this.failedWrites++;
      this.buffer.unshift(...batch); // kept for the next flush: an audit record is not dropped silently
    }).finally(() => { this.flushing = null; });
    await this.flushing;
  }
}
