// The noisy-neighbour part of the human-readable report (format-report.ts).
import type { ConditionResult, NoisyNeighbourResult } from './scenarios/noisy-neighbour.ts';

type Table = (title: string, head: string[], rows: string[][]) => void;

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

/** "200 × 12, 429 × 3": the statuses always shown first, then any other. */
function byStatus(statuses: Record<string, number>, always: string[] = []): string {
  const keys = [...always, ...Object.keys(statuses).filter((k) => !always.includes(k)).sort()];
  return keys.map((k) => `${k} × ${statuses[k] ?? 0}`).join(', ') || 'none';
}

export function formatNoisyNeighbour(n: NoisyNeighbourResult, table: Table, line: (text: string) => void): void {
  const l = n.limits;
  const row = (label: string, c: ConditionResult) => [
    label, String(c.quiet.n), fmt(c.quiet.p50, 2), fmt(c.quiet.p90, 2), fmt(c.quiet.p99, 2), fmt(c.quiet.max, 1),
    c.quietP99PerPhase.map((x) => fmt(x, 1)).join(' / '), `${c.payouts.done} of ${c.payouts.attempted}`, fmt(c.payouts.medianMs, 0),
    c.noisyCpuCores.map((x) => fmt(x, 2)).join(' / '),
  ];
  table(`Noisy neighbour: the quiet plugin's webhook (ping, ${n.quietRatePerS}/s, ${n.rounds} × ${n.phaseS} s per condition) alone and while the noisy plugin's ` +
    `webhook is flooded (${n.floodRatePerS}/s = its rate limit, ${n.burnMs} ms of CPU each, up to ${n.floodConnections} sockets); ` +
    `load average ${n.loadAvgBefore.join(' ')} → ${n.loadAvgAfter.join(' ')}`,
  ['quiet plugin', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'p99 per phase', 'payouts done', 'payout ms', 'noisy plugin CPU, cores'],
  [row('alone (noisy idle)', n.alone), row('under the flood', n.flood)]);
  line(`=> p99 under the flood / alone: ${fmt(n.p99Ratio, 2)} (target ≤ 2); p50: ${fmt(n.p50Ratio, 2)}`);
  line(`quiet plugin: breaker faults ${n.quietFaults}${n.quietLastFault ? ` (last: ${n.quietLastFault})` : ''}, process restarts ${n.quietRestarts}, breaker ${n.quietBreaker}; ` +
    `answers alone ${byStatus(n.alone.quietStatuses)}, under the flood ${byStatus(n.flood.quietStatuses)}`);
  const nz = n.noisy;
  line(`noisy plugin's answers (${nz.sent} sent, every one waited for): ${byStatus(nz.statuses, ['200', '429', '503', '504'])}; ` +
    `unanswered ${nz.errors + nz.timeouts}; 429s from the rate limit (not its budget) ${nz.rateLimited}`);
  line(`  Retry-After (status:seconds × count): ${byStatus(nz.retryAfterS)}; breaker faults ${nz.faults}, process restarts ${nz.restarts}, breaker ${nz.breaker}`);
  if (nz.lastFault) line(`  the noisy plugin's last fault: ${nz.lastFault}`);
  const ib = nz.inbox;
  line(`  the server's webhook inbox (deliveries past the rate limit${ib.capped ? `, newest ${ib.rows} only` : ''}): ${byStatus(ib.statuses)}` +
    (Object.keys(ib.after504).length ? `; the plugin's call after a 504: ${byStatus(ib.after504)} (completed = it ran to the end after its caller was told 504)` : ''));
  line(`  limits: webhookRatePerMinute ${l.webhookRatePerMinute}, cpuMsPerCall ${l.cpuMsPerCall}, pluginCpuMsPerWindow ${l.pluginCpuMsPerWindow} per ${l.pluginCpuWindowMs} ms, ` +
    `pluginMaxConcurrentCalls ${l.pluginMaxConcurrentCalls}, pluginMaxQueuedCalls ${l.pluginMaxQueuedCalls}, callbackWallMs ${l.callbackWallMs}`);
}
