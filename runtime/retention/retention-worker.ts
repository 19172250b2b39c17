// The retention worker: on an interval, deletes what has outlived its retention period (webhook
// inbox, audit log, plugin log, IPN messages that were sent or failed for good) and each plugin's
// audit records and log lines beyond its quota. What it deletes is decided by the store (Store.
// pruneOlderThan / pruneBeyondQuota): never orders, their history, payout attempts, payout txs or
// an IPN still to be sent, so the payout flow never loses a row it reads.
//
// Deletes go in batches with a turn of the event loop between them, so a first run over a large
// backlog does not hold the SQLite write lock (or the event loop) for long; a run stops after
// `maxBatchesPerRun` and the next run goes on. Several servers on one database take turns under a
// named lease.
import type { PluginQuotaKind, RetainedKind, Store } from '../store/store.ts';

export interface RetentionPolicy {
  /** Age after which rows go, per kind; 0 keeps them forever. */
  maxAgeMs: Record<RetainedKind, number>;
  /** Rows kept per plugin, per kind; 0 means no quota. */
  maxRowsPerPlugin: Record<PluginQuotaKind, number>;
}

export interface RetentionReport {
  /** Rows deleted for age, per kind. */
  expired: Record<RetainedKind, number>;
  /** Rows deleted for quota, per kind. */
  overQuota: Record<PluginQuotaKind, number>;
  /** False when another server held the lease, or the run stopped at its batch bound. */
  complete: boolean;
}

export interface RetentionWorkerOptions {
  store: Pick<Store, 'pruneOlderThan' | 'pruneBeyondQuota' | 'pluginsOverQuota' | 'acquireLease' | 'releaseLease'>;
  policy: RetentionPolicy;
  intervalMs: number;
  /** This server's id, for the lease. */
  owner: string;
  batchSize?: number;
  maxBatchesPerRun?: number;
  now?: () => number;
  onRun?: (report: RetentionReport) => void;
  onError?: (err: unknown) => void;
}

const LEASE = 'retention';
const KINDS: RetainedKind[] = ['webhooks', 'audit', 'pluginLog', 'ipnHistory'];
const QUOTA_KINDS: PluginQuotaKind[] = ['audit', 'pluginLog'];

/** The ServerOptions field behind each value, so a refusal names what to change. */
const OPTION_OF_AGE: Record<RetainedKind, string> = {
  webhooks: 'webhookRetentionMs', audit: 'auditRetentionMs', pluginLog: 'pluginLogRetentionMs', ipnHistory: 'ipnHistoryRetentionMs',
};
const OPTION_OF_ROWS: Record<PluginQuotaKind, string> = { audit: 'auditMaxRowsPerPlugin', pluginLog: 'pluginLogMaxRowsPerPlugin' };

export function checkRetentionPolicy(policy: RetentionPolicy): void {
  const values: [string, number][] = [
    ...KINDS.map((k): [string, number] => [OPTION_OF_AGE[k], policy.maxAgeMs[k]]),
    ...QUOTA_KINDS.map((k): [string, number] => [OPTION_OF_ROWS[k], policy.maxRowsPerPlugin[k]]),
  ];
  for (const [name, v] of values) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a whole number ≥ 0 (0 keeps everything), got ${v}`);
  }
}

export class RetentionWorker {
  private readonly options: Required<Omit<RetentionWorkerOptions, 'onRun' | 'onError'>> & Pick<RetentionWorkerOptions, 'onRun' | 'onError'>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionReport> | null = null;

  constructor(options: RetentionWorkerOptions) {
    checkRetentionPolicy(options.policy);
    if (!Number.isInteger(options.intervalMs) || options.intervalMs < 1000) throw new Error(`retentionIntervalMs must be a whole number of milliseconds, at least 1000, got ${options.intervalMs}`);
    this.options = { batchSize: 2000, maxBatchesPerRun: 500, now: Date.now, ...options };
  }

  /** Runs a first pass now (a backlog after an upgrade goes at once) and then every intervalMs. */
  start(): void {
    if (this.timer) return;
    void this.runOnce().catch(() => undefined);
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass; a pass already under way is joined rather than doubled. */
  runOnce(): Promise<RetentionReport> {
    this.running ??= this.pass().catch((err) => {
      this.options.onError?.(err);
      throw err;
    }).finally(() => { this.running = null; });
    return this.running;
  }

  private async pass(): Promise<RetentionReport> {
    const { store, policy, owner, intervalMs } = this.options;
    const report: RetentionReport = { expired: { webhooks: 0, audit: 0, pluginLog: 0, ipnHistory: 0 }, overQuota: { audit: 0, pluginLog: 0 }, complete: false };
    if (!(await store.acquireLease(LEASE, owner, intervalMs))) return report;
    let batches = 0;
    const budgetLeft = () => batches < this.options.maxBatchesPerRun;
    // Deletes batches until one comes back short; false when the run's batch budget ran out first.
    const drain = async (batch: () => Promise<number>, add: (n: number) => void): Promise<boolean> => {
      while (budgetLeft()) {
        batches++;
        const n = await batch();
        add(n);
        if (n < this.options.batchSize) return true;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return false;
    };
    try {
      let complete = true;
      const now = this.options.now();
      for (const kind of KINDS) {
        const age = policy.maxAgeMs[kind];
        if (age === 0) continue;
        const before = new Date(now - age).toISOString();
        complete = await drain(() => store.pruneOlderThan(kind, before, this.options.batchSize), (n) => { report.expired[kind] += n; }) && complete;
      }
      for (const kind of QUOTA_KINDS) {
        const keep = policy.maxRowsPerPlugin[kind];
        if (keep === 0) continue;
        for (const plugin of await store.pluginsOverQuota(kind, keep)) {
          complete = await drain(() => store.pruneBeyondQuota(kind, plugin, keep, this.options.batchSize), (n) => { report.overQuota[kind] += n; }) && complete;
        }
      }
      report.complete = complete;
    } finally {
      await store.releaseLease(LEASE, owner);
    }
    this.options.onRun?.(report);
    return report;
  }
}
