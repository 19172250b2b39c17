// The memory cap is read from the kernel's own counts. Swapped-out pages count too: on a host
// with swap, a plugin's idle pages leave VmRSS under pressure, and a cap on residency alone would
// let it go on allocating while its older pages sat in swap.
import { describe, expect, it } from 'vitest';
import { USAGE_SUPPORTED, readUsage, usageFrom } from '../../../runtime/sandbox/process-usage.ts';

// Field 14 and 15 (utime, stime) are 250 and 50 ticks; the name holds spaces and a parenthesis.
const STAT = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 100';

describe('usageFrom', () => {
  it('counts swapped-out memory with resident memory', () => {
    const status = 'Name:\tnode\nVmRSS:\t  100000 kB\nRssAnon:\t 90000 kB\nVmSwap:\t  300000 kB\n';
    expect(usageFrom(status, STAT)).toEqual({ rssBytes: 400_000 * 1024, cpuMs: 3000 });
  });

  it('reads resident memory alone where the kernel reports no swap', () => {
    expect(usageFrom('VmRSS:\t 2048 kB\n', STAT)).toEqual({ rssBytes: 2048 * 1024, cpuMs: 3000 });
    expect(usageFrom('Name:\tzombie\n', STAT)).toBeNull(); // no VmRSS: the process has gone
  });

  it.runIf(USAGE_SUPPORTED)('reads this very process from /proc', () => {
    const usage = readUsage(process.pid);
    expect(usage?.rssBytes).toBeGreaterThan(0);
    expect(usage?.cpuMs).toBeGreaterThan(0);
  });
});
