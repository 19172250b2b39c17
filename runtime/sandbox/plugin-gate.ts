// Admission of one plugin's calls: a CPU budget over a sliding window and a bounded number of
// calls running and waiting. Per-call limits alone let a plugin (or anyone posting to its
// webhook) take a core for ever with calls that each stay just under their own budget; the
// budget is what makes "time" a per-plugin resource. A plugin at its budget or its queue limit
// is refused alone, with the time after which it may try again; nothing else waits for it.

import { releaseOnce } from '../release-once.ts';

export interface GateOptions {
  /** CPU a plugin may use within any window of `cpuWindowMs` (every thread of its process). */
  cpuMsPerWindow: number;
  cpuWindowMs: number;
  /** Calls of the plugin running at once; more wait in its queue. */
  maxConcurrentCalls: number;
  /** Calls that may wait; more are refused at once. */
  maxQueuedCalls: number;
}

export const DEFAULT_GATE: GateOptions = { cpuMsPerWindow: 5_000, cpuWindowMs: 10_000, maxConcurrentCalls: 8, maxQueuedCalls: 32 };

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; message: string; retryInMs: number };

interface Waiter {
  admit: (a: Admission) => void;
  timer: NodeJS.Timeout;
}

export class PluginGate {
  private readonly options: GateOptions;
  private readonly now: () => number;
  /** CPU charges in time order: [at, ms]. */
  private charges: [number, number][] = [];
  private chargedMs = 0;
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Calls refused since the last time the owner asked (aggregated, for one audit line). */
  refusals = 0;

  constructor(options: Partial<GateOptions> = {}, now: () => number = Date.now) {
    this.options = { ...DEFAULT_GATE, ...options };
    this.now = now;
  }

  /** Adds CPU time the plugin used (measured by the kernel, or by the isolate in a shared process). */
  charge(ms: number): void {
    if (!(ms > 0)) return;
    this.charges.push([this.now(), ms]);
    this.chargedMs += ms;
    this.expire();
    // Over budget: calls already waiting are refused now rather than started late.
    if (this.queue.length && this.overBudgetBy() !== null) this.refuseQueued();
  }

  /** CPU used within the current window. */
  usedMs(): number {
    this.expire();
    return this.chargedMs;
  }

  /** The share of its CPU budget used within the current window (1 = all of it). */
  budgetShare(): number {
    return this.usedMs() / this.options.cpuMsPerWindow;
  }

  get runningCalls(): number {
    return this.running;
  }

  get queuedCalls(): number {
    return this.queue.length;
  }

  /** Why a call would be refused at once now (over budget, queue full), without taking a turn. */
  wouldRefuse(): { message: string; retryInMs: number } | null {
    const over = this.overBudgetBy();
    if (over) return { message: over.message, retryInMs: Math.max(1, Math.ceil(over.retryInMs)) };
    if (this.running >= this.options.maxConcurrentCalls && this.queue.length >= this.options.maxQueuedCalls) {
      return { message: `it has ${this.running} calls running and ${this.queue.length} waiting (maxConcurrentCalls ${this.options.maxConcurrentCalls}, maxQueuedCalls ${this.options.maxQueuedCalls})`, retryInMs: 1000 };
    }
    return null;
  }

  /** Admits a call now, queues it until `waitMs` passes, or refuses it. */
  acquire(waitMs: number): Promise<Admission> {
    const over = this.overBudgetBy();
    if (over !== null) return Promise.resolve(this.refuse(over));
    if (this.running < this.options.maxConcurrentCalls) return Promise.resolve(this.admit());
    if (this.queue.length >= this.options.maxQueuedCalls) {
      return Promise.resolve(this.refuse({
        message: `it has ${this.running} calls running and ${this.queue.length} waiting, its limits (maxConcurrentCalls ${this.options.maxConcurrentCalls}, maxQueuedCalls ${this.options.maxQueuedCalls})`,
        retryInMs: 1000,
      }));
    }
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        admit: resolve,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          resolve(this.refuse({ message: `it waited ${waitMs} ms behind ${this.running} running calls (maxConcurrentCalls ${this.options.maxConcurrentCalls})`, retryInMs: 1000 }));
        }, Math.max(0, waitMs)),
      };
      this.queue.push(waiter);
    });
  }

  private admit(): Admission {
    this.running++;
    return {
      ok: true,
      release: releaseOnce(() => {
        this.running--;
        this.next();
      }),
    };
  }

  private next(): void {
    if (!this.queue.length || this.running >= this.options.maxConcurrentCalls) return;
    if (this.overBudgetBy() !== null) return this.refuseQueued();
    const waiter = this.queue.shift() as Waiter;
    clearTimeout(waiter.timer);
    waiter.admit(this.admit());
  }

  private refuseQueued(): void {
    const over = this.overBudgetBy();
    for (const waiter of this.queue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.admit(this.refuse(over ?? { message: 'it is over its CPU budget', retryInMs: 1000 }));
    }
  }

  private refuse(why: { message: string; retryInMs: number }): Admission {
    this.refusals++;
    return { ok: false, message: why.message, retryInMs: Math.max(1, Math.ceil(why.retryInMs)) };
  }

  /** When over budget: why, and when enough of the window has passed to be under it again. */
  private overBudgetBy(): { message: string; retryInMs: number } | null {
    this.expire();
    const { cpuMsPerWindow, cpuWindowMs } = this.options;
    if (this.chargedMs < cpuMsPerWindow) return null;
    let remaining = this.chargedMs;
    let retryInMs = cpuWindowMs;
    for (const [at, ms] of this.charges) {
      remaining -= ms;
      if (remaining < cpuMsPerWindow) {
        retryInMs = at + cpuWindowMs - this.now();
        break;
      }
    }
    return {
      message: `it used ${Math.round(this.chargedMs)} ms of CPU in the last ${cpuWindowMs / 1000} s, its budget is ${cpuMsPerWindow} ms (pluginCpuMsPerWindow)`,
      retryInMs,
    };
  }

  private expire(): void {
    const horizon = this.now() - this.options.cpuWindowMs;
    let drop = 0;
    while (drop < this.charges.length && this.charges[drop][0] <= horizon) {
      this.chargedMs -= this.charges[drop][1];
      drop++;
    }
    if (drop) this.charges.splice(0, drop);
    if (!this.charges.length) this.chargedMs = 0;
  }

  /** Refuses every waiting call (the plugin is being removed). */
  close(): void {
    for (const waiter of this.queue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.admit({ ok: false, message: 'the plugin was unloaded', retryInMs: 1000 });
    }
  }
}
