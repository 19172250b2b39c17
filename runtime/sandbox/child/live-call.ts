// A call in flight inside an engine, as the call book (call-book.ts) and the prelude's callbacks
// (prelude-callbacks.ts) both see it: its budget, what it has spent and what it holds open.
import type { CallStats } from '../protocol.ts';
import type { CallOutcome } from './engine.ts';

export interface LiveCall {
  callId: string;
  method: string;
  /** CPU this call may use; cron sweeps get more than a single call (ServerOptions.cronCpuMs). */
  cpuBudgetMs: number;
  startedAt: number;
  cpuUsedMs: number;
  /**
   * The process's CPU clock when the call started (a reading up to a moment old): the process's CPU
   * since then, never less than the call's own, tells a budget the engine's clock ran out on a busy
   * machine from one the plugin spent.
   */
  processCpuAtStart: NodeJS.CpuUsage;
  deadline: NodeJS.Timeout | null;
  settle: (outcome: CallOutcome) => void;
  hostCalls: Set<number>;
  timers: Map<number, NodeJS.Timeout>;
  localCalls: Record<string, number>;
  logLines: number;
  logDropped: number;
  /**
   * The stats it settled with: a call settled inside a section is sent once that section returns,
   * so the rest of the section (plugin code after the report) is added to them then.
   */
  settledWith?: CallStats;
}
