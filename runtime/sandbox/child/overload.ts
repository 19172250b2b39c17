// Telling a busy machine from a busy plugin when a call's CPU timer fires (call-book.ts). The
// engine's CPU clock cannot: isolated-vm's runs on while the process is not scheduled. Only the
// kernel's count of this process's CPU can, and reading it is a getrusage syscall that costs
// several µs in a sandbox process (it sums every thread): read at the start of every timed section
// it was the largest avoidable cost of a plugin call. So a section starts from a reading taken at
// most a moment earlier instead, which only ever adds CPU to the figure — the process's CPU in that
// moment — and so can only charge a plugin, never excuse one.

/**
 * A CPU timer that fires before the call used this share of its budget fired on wall time alone:
 * the process got less than a fifth of a core meanwhile (measured: 25 % of one at load 7 on 2
 * cores). Low on purpose: a plugin that burns its budget on a merely busy machine is still charged.
 */
export const OVERLOAD_SHARE = 0.2;

/**
 * How old a reading may be and still start a section: at most 1 ms, and at most a twentieth of the
 * overload line, so what it adds to the figure (the process's CPU during that time, a core or two
 * at most) stays a small part of the line for small budgets too.
 */
export function freshnessMs(budgetMs: number): number {
  return Math.min(1, (budgetMs * OVERLOAD_SHARE) / 20);
}

/** The process's CPU clock, read again only when the last reading is older than asked. */
export class ProcessCpuClock {
  private reading: NodeJS.CpuUsage | null = null;
  private readAt = 0;

  /** A reading taken no more than `maxAgeMs` ago (now, if the last one is older). */
  recent(maxAgeMs: number): NodeJS.CpuUsage {
    const now = performance.now();
    if (this.reading === null || now - this.readAt > maxAgeMs) {
      this.reading = process.cpuUsage();
      this.readAt = now;
    }
    return this.reading;
  }
}

/** One clock for every engine of this process: its CPU count is the process's, whichever plugin reads it. */
export const processCpu = new ProcessCpuClock();

/** Process CPU since `start`, ms. */
export function processCpuMsSince(start: NodeJS.CpuUsage): number {
  const spent = process.cpuUsage(start);
  return (spent.user + spent.system) / 1000;
}

/**
 * Whether a call cut by its CPU timer was cut by the machine: the CPU it was charged before this
 * section (`usedBeforeMs`) plus the process CPU since `sectionStart` is under the overload line.
 */
export function cutByOverload(usedBeforeMs: number, sectionStart: NodeJS.CpuUsage, budgetMs: number): { overloaded: boolean; usedMs: number } {
  const usedMs = usedBeforeMs + processCpuMsSince(sectionStart);
  return { overloaded: usedMs < budgetMs * OVERLOAD_SHARE, usedMs };
}
