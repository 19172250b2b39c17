// What a limit breached in a timed section means for its call (call-book.ts `timed`): the failure
// kind, the reason the plugin's caller and the server are told, and whether the machine rather than
// the plugin was at fault (a CPU timer on wall-clock time fires early on a machine too busy to give
// the plugin its CPU: the call is cut all the same, but sandbox-host.ts charges no fault for it).
import type { FailureKind, PluginLimits } from '../protocol.ts';
import { cutByOverload } from './overload.ts';

/** A limit the engine saw breached inside a timed section. */
export type Breach = 'cpu_limit' | 'memory_limit';

/** What the call book knows of the cut call's CPU. */
export interface CutCall {
  cpuBudgetMs: number;
  /** CPU charged to the call before the section that breached. */
  cpuUsedMs: number;
  processCpuAtStart: NodeJS.CpuUsage;
}

/**
 * The failure a breach is, or null when it is not a limit's (the caller decides what else it is).
 * `notByTimer`: the call was cut by the call book, not by the engine's timer in the section: before
 * the section ran (its budget spent across earlier ones) or by the section's callbacks passing it.
 */
export function breachFailure(
  breach: Breach | null, notByTimer: boolean, call: CutCall | undefined, processCpuBefore: NodeJS.CpuUsage, limits: PluginLimits,
): { kind: FailureKind; reason: string; overloaded: boolean } | null {
  if (breach === 'memory_limit') return { kind: 'memory_limit', reason: `the plugin exceeded its ${limits.memoryMb} MB memory limit`, overloaded: false };
  if (breach !== 'cpu_limit') return null;
  const budgetMs = call ? call.cpuBudgetMs : limits.cpuMsPerCall;
  // Cut by its timer: the CPU charged before this section and the process's in it. Cut by the call
  // book: the process's CPU since the call began.
  const { overloaded, usedMs } = notByTimer && call
    ? cutByOverload(0, call.processCpuAtStart, budgetMs)
    : cutByOverload(call?.cpuUsedMs ?? 0, processCpuBefore, budgetMs);
  if (!overloaded) return { kind: 'cpu_limit', reason: `the plugin used more than ${limits.cpuMsPerCall} ms of CPU in one call`, overloaded: false };
  return {
    kind: 'cpu_limit', overloaded: true,
    reason: `the call was cut by its CPU timer after only ${Math.round(usedMs)} ms of CPU (its budget is ${budgetMs} ms): the machine was too busy to run it; not counted as the plugin's fault`,
  };
}
