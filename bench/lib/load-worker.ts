// The load generator, run as its own process so that it does not share an event loop (or a CPU
// time slice) with the server it measures: `node load-worker.ts '<json options>'`. Runs
// autocannon and prints one JSON line with what the benchmark reads.
import { createRequire } from 'node:module';

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; average: number };
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const opts = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const result = await autocannon({ ...opts, renderProgressBar: false, renderLatencyTable: false, renderResultsTable: false });
process.stdout.write(`${JSON.stringify({
  duration: result.duration,
  total: result.requests.total,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average },
  statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, Number(v.count)])),
})}\n`);
