// What a sandbox process uses, read by the server from the kernel (/proc), never from the process
// itself: a plugin that owns its process could make a self-report lie, block it or never send
// it. Resident memory counts everything the process holds — isolate heaps, buffers outside them,
// the engine's own allocations — so no allocation path escapes the cap; CPU time counts every
// thread (isolate threads, garbage collection, the process's own work).
import fs from 'node:fs';
import os from 'node:os';

export interface ProcessUsage {
  /**
   * Memory the process holds: resident (VmRSS) plus swapped out (VmSwap). On a host with swap,
   * pages of a process that sits still are moved out under pressure and leave VmRSS; counted by
   * residency alone, a plugin could go on allocating past its cap while its older pages sat in
   * swap, until the machine's swap ran out.
   */
  rssBytes: number;
  /** user + system CPU time of all the process's threads since it started. */
  cpuMs: number;
}

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Whether this system exposes per-process usage the way readUsage expects (Linux). */
export const USAGE_SUPPORTED = fs.existsSync('/proc/self/status') && fs.existsSync('/proc/self/stat');

/** The usage of `pid`, or null when it cannot be read (the process has gone, or no /proc). */
export function readUsage(pid: number): ProcessUsage | null {
  try {
    return usageFrom(fs.readFileSync(`/proc/${pid}/status`, 'latin1'), fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/** The usage in the text of /proc/<pid>/status and /proc/<pid>/stat, or null when unreadable. */
export function usageFrom(status: string, stat: string): ProcessUsage | null {
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const residentKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  // VmSwap is missing on kernels without swap support: nothing is swapped then.
  const swappedKb = Number(/^VmSwap:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(residentKb) || !Number.isFinite(swappedKb)) return null;
  return { rssBytes: (residentKb + swappedKb) * 1024, cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND };
}

/**
 * Asks the kernel's out-of-memory killer to pick this process before any other: if the machine
 * runs out of memory anyway, a sandbox process dies, never the server. Raising the score needs no
 * privilege.
 */
export function preferForOomKill(pid: number): void {
  try {
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
  } catch {
    // Not Linux, or the process has already gone: the RSS cap still applies.
  }
}

/** Scheduling priority of every sandbox process: below the server's, which answers for all plugins. */
export const SANDBOX_NICE = 5;
/** A plugin past half its CPU budget: the scheduler prefers every other process to it. */
export const BUSY_NICE = 10;

/**
 * Sets a process's nice value. Raising it needs no privilege; lowering it again may be refused to a
 * server not running as root: the process then keeps the lower priority until it restarts.
 */
export function setNice(pid: number, nice: number): boolean {
  try {
    os.setPriority(pid, nice);
    return true;
  } catch {
    return false;
  }
}

/** The nice value of a process (for tests and health), or null. */
export function readNice(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    return Number.isFinite(nice) ? nice : null;
  } catch {
    return null;
  }
}
