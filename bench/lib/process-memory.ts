// A process's memory as the kernel accounts it (Linux /proc/PID/smaps_rollup), in bytes:
//  - rss: every page it has resident, shared or not (each process's RSS counts the Node binary,
//    the libraries and ICU again, though the machine holds them once);
//  - pss: shared pages split among the processes that map them;
//  - private: pages only this process maps (Private_Clean + Private_Dirty): what one more such
//    process adds to the machine, as the code it shares is resident already.
// Null where the file cannot be read (not Linux, process gone).
import fs from 'node:fs';

export interface ProcessMemory {
  rss: number;
  pss: number;
  private: number;
}

export function processMemory(pid: number): ProcessMemory | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const kB = (field: string): number | null => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const rss = kB('Rss');
  const pss = kB('Pss');
  const clean = kB('Private_Clean');
  const dirty = kB('Private_Dirty');
  if (rss === null || pss === null || clean === null || dirty === null) return null;
  return { rss, pss, private: clean + dirty };
}
