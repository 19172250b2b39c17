// CPU time used by this process and by other processes (the sandbox), to say where time goes
// independently of how busy the machine is. Other processes are read from /proc (Linux); where
// that is not available their figure is null.
import fs from 'node:fs';

const TICK_US = 10_000; // USER_HZ is 100 on Linux

function procCpuUs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime + stime
  } catch {
    return null;
  }
}

export interface CpuSpan {
  /** µs of CPU this process used since start(). */
  selfUs: number;
  /** µs of CPU the other process used, or null when it cannot be read. */
  otherUs: number | null;
  wallMs: number;
}

/** Starts measuring; call the returned function to stop. */
export function cpuMeter(otherPid: number | null): () => CpuSpan {
  const self0 = process.cpuUsage();
  const other0 = otherPid ? procCpuUs(otherPid) : null;
  const t0 = performance.now();
  return () => {
    const self = process.cpuUsage(self0);
    const other1 = otherPid ? procCpuUs(otherPid) : null;
    return {
      selfUs: self.user + self.system,
      otherUs: other0 !== null && other1 !== null ? other1 - other0 : null,
      wallMs: performance.now() - t0,
    };
  };
}
