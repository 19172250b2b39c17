// Runs each plugin's initCron job on its schedule (croner: 5 fields, or 6 with seconds).
//
// Rules:
//  - callWhenInit runs the job once right after it is scheduled.
//  - No overlap in this process: a tick (or runNow) while the job runs is skipped and reported.
//  - No overlap across servers sharing one database: every run first takes the named lease
//    `cron:<key>` for wallMs + leaseMarginMs; a server that cannot take it skips that tick. After a
//    run the lease is kept for leaseHoldMs more, so a peer whose clock or timer fires a little late
//    does not run the same tick again; then it simply expires (stop() releases it at once).
//  - Every run has a deadline: wallMs goes to the sandbox, which fails the call when it passes
//    (and its supervisor kills a sandbox that ignores it). Should the call still not settle within
//    leaseMarginMs/2 more, the run is recorded as overrun and the job is released; the lease, held
//    for the full margin, still keeps peers off until then.
//  - Outcomes and errors are kept in status() and reported through onEvent; nothing here throws
//    into a timer, so a failing plugin or database never takes the server down.
import { crashPoint } from '../testing-seams/crash-hook.ts';
import { Cron } from 'croner';
import type { CronDescriptor } from '../plugins/load-plugin.ts';
import type { Store } from '../store/store.ts';

/** What the scheduler needs of SandboxHost.invoke. */
export type CronInvokeResult =
  | { ok: true; callId?: string }
  | { ok: false; error: { kind: string; message: string }; callId?: string };
export type CronInvoke = (key: string, method: string, args: unknown[], opts: { wallMs: number }) => Promise<CronInvokeResult>;

export interface CronSchedulerDeps {
  store: Pick<Store, 'acquireLease' | 'releaseLease'>;
  invoke: CronInvoke;
  /** This server instance (lease owner). */
  owner: string;
  /** Deadline of one run. */
  wallMs: number;
  /** Grace after wallMs before a run that never settles is given up (half of it). Default 5000. */
  leaseMarginMs?: number;
  /**
   * Lifetime of the job's lease without renewal; a running job renews it every third of it. A server
   * killed during a run leaves the job to its peers (and to its own next life, which takes its leases
   * back at start) after at most this long. Default 15 000.
   */
  leaseTtlMs?: number;
  /** How long the lease is kept after a run. Default 1000. */
  leaseHoldMs?: number;
  /** IANA zone for schedules. Default: the server's local time, as the platform ran them. */
  timezone?: string;
  /** Clock for the timestamps in status and events. */
  now?: () => number;
  onEvent?: (event: CronEvent) => void;
}

export type CronTrigger = 'schedule' | 'init' | 'manual';
export type CronSkipReason = 'overlap' | 'lease_held' | 'lease_error' | 'stopped' | 'not_scheduled';

export type CronEvent =
  | { kind: 'start'; key: string; trigger: CronTrigger; at: string }
  | {
    kind: 'run'; key: string; trigger: CronTrigger; at: string; ok: boolean; durationMs: number;
    callId: string | null; errorKind: string | null; error: string | null;
  }
  | { kind: 'skip'; key: string; trigger: CronTrigger; at: string; reason: CronSkipReason; message: string }
  | { kind: 'invalid'; key: string; at: string; error: string };

export type CronRunOutcome =
  | { ran: true; ok: boolean; durationMs: number; callId: string | null; errorKind: string | null; error: string | null }
  | { ran: false; reason: CronSkipReason; message: string };

export interface CronJobStatus {
  key: string;
  schedule: string;
  callWhenInit: boolean;
  running: boolean;
  runningSince: string | null;
  /** When the last run started. */
  lastRun: string | null;
  lastFinished: string | null;
  /** Outcome of the last run; null before the first. */
  lastOk: boolean | null;
  lastDurationMs: number | null;
  /** The most recent failure (kept after later successes, with its time). */
  lastError: string | null;
  lastErrorAt: string | null;
  lastSkip: { at: string; reason: CronSkipReason; message: string } | null;
  nextRun: string | null;
  runs: number;
  failures: number;
  skips: number;
}

interface Job {
  key: string;
  descriptor: CronDescriptor;
  cron: Cron | null;
  status: CronJobStatus;
}

export class CronScheduler {
  private readonly deps: CronSchedulerDeps;
  private readonly jobs = new Map<string, Job>();
  private readonly runs = new Set<Promise<unknown>>();
  /** Keys with a run in progress; by key, not by Job, so a job rescheduled mid-run cannot overlap itself. */
  private readonly active = new Set<string>();
  private readonly leaseMarginMs: number;
  private readonly leaseHoldMs: number;
  private readonly leaseTtlMs: number;
  private readonly now: () => number;
  private stopped = false;

  constructor(deps: CronSchedulerDeps) {
    if (!(deps.wallMs > 0)) throw new Error(`CronScheduler: wallMs must be positive, got ${deps.wallMs}`);
    this.deps = deps;
    this.leaseMarginMs = deps.leaseMarginMs ?? 5_000;
    this.leaseHoldMs = deps.leaseHoldMs ?? 1_000;
    this.leaseTtlMs = deps.leaseTtlMs ?? 15_000;
    if (!(this.leaseTtlMs >= 30)) throw new Error(`CronScheduler: leaseTtlMs must be at least 30 ms, got ${deps.leaseTtlMs}`);
    if (!(this.leaseMarginMs > 0) || !(this.leaseHoldMs > 0)) throw new Error('CronScheduler: leaseMarginMs and leaseHoldMs must be positive');
    this.now = deps.now ?? Date.now;
  }

  /**
   * (Re)schedules a plugin's job. Never throws: an invalid schedule is recorded in the status
   * (lastError, nextRun null) and reported as an 'invalid' event.
   */
  schedule(key: string, descriptor: CronDescriptor): CronJobStatus {
    this.unschedule(key);
    const job: Job = { key, descriptor, cron: null, status: blankStatus(key, descriptor) };
    this.jobs.set(key, job);
    if (this.stopped) return this.snapshot(job);
    try {
      job.cron = new Cron(descriptor.schedule, {
        mode: '5-or-6-parts',
        timezone: this.deps.timezone,
        // Croner's own guard against its ticks piling up; runJob guards runNow and callWhenInit too.
        protect: () => this.skip(job, 'schedule', 'overlap', 'the previous run is still going'),
        catch: true,
        unref: true,
      }, async () => {
        await this.runJob(job, 'schedule');
      });
    } catch (err) {
      const error = `cron schedule '${descriptor.schedule}' is invalid: ${(err as Error).message}`;
      job.status.lastError = error;
      job.status.lastErrorAt = this.iso();
      this.emit({ kind: 'invalid', key, at: job.status.lastErrorAt, error });
      return this.snapshot(job);
    }
    if (descriptor.callWhenInit) void this.runJob(job, 'init');
    return this.snapshot(job);
  }

  /** Stops future runs of a job; a run in progress finishes (stop() waits for it). */
  unschedule(key: string): boolean {
    const job = this.jobs.get(key);
    if (!job) return false;
    job.cron?.stop();
    this.jobs.delete(key);
    if (!this.active.has(key)) void this.release(key);
    return true;
  }

  /** Runs a job now (admin "run now"), under the same overlap and lease rules as a tick. */
  runNow(key: string): Promise<CronRunOutcome> {
    const job = this.jobs.get(key);
    if (!job) return Promise.resolve({ ran: false, reason: 'not_scheduled', message: `no cron job is scheduled for plugin '${key}'` });
    return this.runJob(job, 'manual');
  }

  status(): CronJobStatus[] {
    return [...this.jobs.values()].map((j) => this.snapshot(j)).sort((a, b) => a.key.localeCompare(b.key));
  }

  get(key: string): CronJobStatus | null {
    const job = this.jobs.get(key);
    return job ? this.snapshot(job) : null;
  }

  /** Stops every job, waits for runs in progress, and gives up this server's leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    const keys = [...this.jobs.keys()];
    for (const job of this.jobs.values()) job.cron?.stop();
    await Promise.allSettled([...this.runs]);
    await Promise.allSettled(keys.map((k) => this.release(k)));
  }

  private runJob(job: Job, trigger: CronTrigger): Promise<CronRunOutcome> {
    if (this.stopped) return Promise.resolve(this.skip(job, trigger, 'stopped', 'the scheduler is stopping'));
    if (this.active.has(job.key)) return Promise.resolve(this.skip(job, trigger, 'overlap', 'the previous run is still going'));
    // Set before the first await: two triggers in the same tick must not both get through.
    this.active.add(job.key);
    const run = this.leasedRun(job, trigger).finally(() => {
      this.active.delete(job.key);
      job.status.running = false;
      job.status.runningSince = null;
    });
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return run;
  }

  private async leasedRun(job: Job, trigger: CronTrigger): Promise<CronRunOutcome> {
    const lease = leaseName(job.key);
    const { wallMs } = this.deps;
    let acquired: boolean;
    try {
      acquired = await this.deps.store.acquireLease(lease, this.deps.owner, this.leaseTtlMs);
    } catch (err) {
      const message = `could not take the lease ${lease}: ${messageOf(err)}`;
      job.status.lastError = message;
      job.status.lastErrorAt = this.iso();
      return this.skip(job, trigger, 'lease_error', message);
    }
    if (!acquired) return this.skip(job, trigger, 'lease_held', `another server instance holds ${lease}; this tick is left to it`);
    crashPoint('cron-after-lease');

    const at = this.iso();
    job.status.running = true;
    job.status.runningSince = at;
    job.status.lastRun = at;
    this.emit({ kind: 'start', key: job.key, trigger, at });
    const started = performance.now();
    // A short lease kept alive while the run lasts: a dead holder frees the job within leaseTtlMs, not
    // after the whole wallMs. Two runs overlap only if this server cannot reach the store for a full ttl.
    const heartbeat = setInterval(() => {
      void this.deps.store.acquireLease(lease, this.deps.owner, this.leaseTtlMs).catch(() => {});
    }, Math.floor(this.leaseTtlMs / 3));
    heartbeat.unref();
    let result: CronInvokeResult;
    try {
      result = await this.invokeWithGuard(job.key, wallMs);
    } finally {
      clearInterval(heartbeat);
    }
    const durationMs = Math.round(performance.now() - started);

    const s = job.status;
    s.runs++;
    s.lastFinished = this.iso();
    s.lastDurationMs = durationMs;
    s.lastOk = result.ok;
    const outcome: CronRunOutcome = result.ok
      ? { ran: true, ok: true, durationMs, callId: result.callId ?? null, errorKind: null, error: null }
      : { ran: true, ok: false, durationMs, callId: result.callId ?? null, errorKind: result.error.kind, error: result.error.message };
    if (!result.ok) {
      s.failures++;
      s.lastError = `${result.error.kind}: ${result.error.message}`;
      s.lastErrorAt = s.lastFinished;
    }
    this.emit({ kind: 'run', key: job.key, trigger, at: s.lastFinished, ok: outcome.ok, durationMs, callId: outcome.callId, errorKind: outcome.errorKind, error: outcome.error });

    // Shortens the lease to the hold; failing here only means peers wait for the full ttl.
    await this.deps.store.acquireLease(lease, this.deps.owner, this.leaseHoldMs).catch(() => {});
    return outcome;
  }

  private async invokeWithGuard(key: string, wallMs: number): Promise<CronInvokeResult> {
    const graceMs = Math.floor(this.leaseMarginMs / 2);
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<CronInvokeResult>((resolve) => {
      timer = setTimeout(() => resolve({
        ok: false, error: { kind: 'overrun', message: `the cron call did not settle within ${wallMs} ms + ${graceMs} ms; the job is released` },
      }), wallMs + graceMs);
    });
    const call = this.deps.invoke(key, 'cron', [], { wallMs }).catch((err): CronInvokeResult => ({
      ok: false, error: { kind: 'invoke_failed', message: messageOf(err) },
    }));
    try {
      return await Promise.race([call, overrun]);
    } finally {
      clearTimeout(timer);
    }
  }

  private skip(job: Job, trigger: CronTrigger, reason: CronSkipReason, message: string): CronRunOutcome {
    const at = this.iso();
    job.status.skips++;
    job.status.lastSkip = { at, reason, message };
    this.emit({ kind: 'skip', key: job.key, trigger, at, reason, message });
    return { ran: false, reason, message };
  }

  private async release(key: string): Promise<void> {
    await this.deps.store.releaseLease(leaseName(key), this.deps.owner).catch(() => {});
  }

  private snapshot(job: Job): CronJobStatus {
    let nextRun: string | null = null;
    if (job.cron && !this.stopped) {
      try {
        nextRun = job.cron.nextRun()?.toISOString() ?? null;
      } catch {
        nextRun = null;
      }
    }
    return { ...job.status, running: this.active.has(job.key), lastSkip: job.status.lastSkip && { ...job.status.lastSkip }, nextRun };
  }

  private emit(e: CronEvent): void {
    try {
      this.deps.onEvent?.(e);
    } catch {
      // A broken listener must not break the schedule.
    }
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

export function leaseName(key: string): string {
  return `cron:${key}`;
}

function blankStatus(key: string, d: CronDescriptor): CronJobStatus {
  return {
    key, schedule: d.schedule, callWhenInit: d.callWhenInit, running: false, runningSince: null, lastRun: null, lastFinished: null,
    lastOk: null, lastDurationMs: null, lastError: null, lastErrorAt: null, lastSkip: null, nextRun: null, runs: 0, failures: 0, skips: 0,
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
