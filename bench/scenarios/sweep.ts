// Scale: one run of NimbusPay's cron over N pending payout txs (1 000 and 10 000), sandboxed
// (SandboxHost.invoke(key, 'cron'), as the scheduler calls it) vs in process (the stand-in
// invoke), against a loopback fake provider (its own process) that answers after `latencyMs`.
// Per tx the plugin makes: 4 config.get, an HMAC and a URL parse, one signed GET /v1/payouts/:id,
// updateHistory (order → done, history entry, one store transaction) and updateOne.
// Orders and txs are written straight into the store; every tx has a real payout at the provider
// (its merchant_reference is the order), reported DONE.
// Fair by construction: each run has a host and a store of its own (in-memory SQLite, so a commit
// costs no fsync: the file store's fsync per tx would swamp both figures alike, and a second run
// on the same store would see the first one's rows), holding exactly the N txs it sweeps; the two
// variants alternate which goes first, `repeats` times per size, and the median per variant is
// reported for every size. Both keep their connections to the provider alive: the in-process
// plugin's HTTP client (fetch), and the host's egress guard for the sandboxed one (a keep-alive
// pool per plugin, host-api/http/connection-pool.ts).
// The host's caps are raised for the bench (cronRequestsPerRun, httpRequestsPerMinute,
// cronWallMs, the host-call caps of a cron run and per minute), and the plugin's 50 ms pause between polls is removed (bench/lib/fixtures.ts).
import { startProviderProcess } from '../lib/provider.ts';
import type { RemoteProvider as FakeProvider } from '../lib/provider.ts';
import { signNimbusRequest, NIMBUS_HEADERS } from '../../runtime/demo/nimbus-signing.ts';
import type { Host } from '../../runtime/server/host.ts';
import { benchOrder, grant, startBenchHost } from '../lib/bench-host.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { inProcessInvoke } from '../lib/in-process-invoke.ts';
import type { InvokeFn } from '../lib/in-process-invoke.ts';
import { NIMBUS_CREDENTIALS, nimbusForSweeps } from '../lib/fixtures.ts';
import { cpuMeter } from '../lib/cpu.ts';
import { median, round } from '../lib/stats.ts';
import { DEFAULT_LIMITS } from '../../runtime/sandbox/protocol.ts';

export interface SweepOptions {
  sizes: number[];
  latencyMs: number;
  /** Raise the per-call CPU budget of the sandboxed cron (ms); null keeps the default (1 s). */
  cpuMsPerCall: number | null;
  /** Runs per variant and size, alternating which variant goes first. */
  repeats: number;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export interface SweepRun {
  ms: number;
  msPerTx: number;
  /** CPU per tx: this (server) process, and the sandbox process (sandboxed only), µs. */
  serverCpuUsPerTx: number;
  sandboxCpuUsPerTx: number | null;
  /** CPU the plugin's isolate used for the whole run (sandboxed only), ms. */
  isolateCpuMs: number | null;
  settled: number;
}

export interface SweepPoint {
  txs: number;
  /** The run with the median time of each variant. */
  sandboxed: SweepRun;
  inProcess: SweepRun;
  /** ms per tx of every run, in the order run. */
  runs: { sandboxed: number[]; inProcess: number[] };
  /** (sandboxed − in process) per tx, ms. */
  overheadMsPerTx: number;
  /** Sandbox overhead as a share of the time spent waiting for the provider (N × latency). */
  overheadPctOfProvider: number | null;
}

export interface SweepResult {
  latencyMs: number;
  cpuMsPerCall: number;
  repeats: number;
  store: string;
  points: SweepPoint[];
}

const PLUGIN = 'nimbuspay';
const CREDENTIALS = NIMBUS_CREDENTIALS;

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}

async function createProviderPayout(provider: FakeProvider, reference: string): Promise<string> {
  const path = '/v1/payouts';
  const body = JSON.stringify({ amount: '100.00', currency: 'UAH', network: 'CARD', destination: '4111111111111111', merchant_reference: reference });
  const timestamp = String(Date.now());
  const res = await fetch(provider.url + path, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json', [NIMBUS_HEADERS.key]: provider.credentials.apiKey, [NIMBUS_HEADERS.timestamp]: timestamp,
      [NIMBUS_HEADERS.signature]: signNimbusRequest(provider.credentials.apiSecret, timestamp, 'POST', path, body),
    },
  });
  const answer = await res.json() as { id?: string };
  if (res.status !== 201 || !answer.id) throw new Error(`bench sweep: the fake provider refused a payout: ${res.status} ${JSON.stringify(answer)}`);
  return answer.id;
}

/** N orders in inProgressPayout, each with a payout at the provider and an active tx. */
async function seed(host: Host, provider: FakeProvider, n: number): Promise<void> {
  const orders = [];
  for (let i = 0; i < n; i++) orders.push(await host.store.createOrder(benchOrder(PLUGIN, '100.00')));
  const payoutIds = new Map<string, string>();
  await pool(orders, 32, async (order) => { payoutIds.set(order._id, await createProviderPayout(provider, order._id)); });
  for (const order of orders) {
    await host.store.insertPayoutTx({
      order: order._id, transaction: payoutIds.get(order._id) as string, payoutModule: PLUGIN, active: true,
      amount: '100.00', currency: 'UAH', to: '411111******1111', note: null, attemptId: null,
    });
  }
}

async function sweepOnce(host: Host, provider: FakeProvider, invoke: InvokeFn, n: number, sandboxed: boolean): Promise<SweepRun> {
  await seed(host, provider, n);
  await host.hostApi.audit.flush();
  // Let the provider reach DONE for every payout (its outcome is scheduled right after creation).
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stop = cpuMeter(sandboxed ? host.sandbox.processOf(PLUGIN)?.pid ?? null : null);
  const t0 = performance.now();
  const result = await invoke(PLUGIN, 'cron', [], { wallMs: 30 * 60_000 });
  const ms = performance.now() - t0;
  await host.hostApi.audit.flush();
  const cpu = stop();
  if (!result.ok) throw new Error(`bench sweep (${sandboxed ? 'sandboxed' : 'in process'}, ${n} txs): the cron failed: ${result.error.kind}: ${result.error.message}`);
  const summary = result.value as { checked?: number; done?: number; errors?: number };
  if (summary.checked !== n || summary.done !== n) {
    throw new Error(`bench sweep (${sandboxed ? 'sandboxed' : 'in process'}, ${n} txs): expected ${n} settled, got ${JSON.stringify(summary)}`);
  }
  return {
    ms: round(ms, 0),
    msPerTx: round(ms / n, 3),
    serverCpuUsPerTx: round(cpu.selfUs / n, 0),
    sandboxCpuUsPerTx: cpu.otherUs === null ? null : round(cpu.otherUs / n, 0),
    isolateCpuMs: result.stats ? round(result.stats.cpuMs, 0) : null,
    settled: summary.done,
  };
}

/** One sweep of N txs on a host and store of its own. */
async function sweepOnFreshHost(o: SweepOptions, provider: FakeProvider, n: number, sandboxed: boolean): Promise<SweepRun> {
  const bench = await startBenchHost({
    populate: (dir) => nimbusForSweeps(dir, PLUGIN),
    engine: o.engine,
    options: {
      dbUrl: 'sqlite::memory:',
      cronRequestsPerRun: 1_000_000, httpRequestsPerMinute: 100_000_000, cronWallMs: 30 * 60_000,
      // A 10 000-tx sweep makes ~70 000 host calls in one run, far faster than a plugin may per minute.
      cronHostCallsPerRun: 100_000_000, cronHostCallBytesPerRun: 100_000_000_000, hostCallsPerMinute: 100_000_000, hostCallBytesPerMinute: 100_000_000_000,
    },
    limits: o.cpuMsPerCall === null ? {} : { cpuMsPerCall: o.cpuMsPerCall },
  });
  try {
    const { host } = bench;
    for (const [k, v] of Object.entries({ ...CREDENTIALS, apiUrl: provider.url })) await host.hostApi.config.set(PLUGIN, k, v);
    await grant(host, PLUGIN, provider.url);
    const invoke: InvokeFn = sandboxed ? host.sandbox.invoke.bind(host.sandbox) : inProcessInvoke(new Map([[PLUGIN, bench.inProcessPlugin(PLUGIN)]]));
    return await sweepOnce(host, provider, invoke, n, sandboxed);
  } finally {
    await bench.close();
  }
}

export async function benchSweep(o: SweepOptions): Promise<SweepResult> {
  const provider = await startProviderProcess({ ...CREDENTIALS, latencyMs: o.latencyMs, autoWebhook: false, balances: { UAH: '1000000000000.00' } });
  try {
    const points: SweepPoint[] = [];
    for (const n of o.sizes) {
      const runs: { sandboxed: SweepRun[]; inProcess: SweepRun[] } = { sandboxed: [], inProcess: [] };
      for (let r = 0; r < o.repeats; r++) {
        const order = r % 2 === 0 ? [true, false] : [false, true];
        for (const sandboxed of order) runs[sandboxed ? 'sandboxed' : 'inProcess'].push(await sweepOnFreshHost(o, provider, n, sandboxed));
      }
      const sb = medianRun(runs.sandboxed);
      const ip = medianRun(runs.inProcess);
      const overhead = median(runs.sandboxed.map((x) => x.msPerTx)) - median(runs.inProcess.map((x) => x.msPerTx));
      points.push({
        txs: n, sandboxed: sb, inProcess: ip,
        runs: { sandboxed: runs.sandboxed.map((x) => x.msPerTx), inProcess: runs.inProcess.map((x) => x.msPerTx) },
        overheadMsPerTx: round(overhead, 3),
        overheadPctOfProvider: o.latencyMs > 0 ? round((100 * overhead) / o.latencyMs, 1) : null,
      });
    }
    const cpuMsPerCall = o.cpuMsPerCall ?? DEFAULT_LIMITS.cpuMsPerCall;
    return { latencyMs: o.latencyMs, cpuMsPerCall, repeats: o.repeats, store: 'sqlite in memory, a host and store per run', points };
  } finally {
    await provider.close();
  }
}

/** The run whose ms per tx is the median (the upper middle one for an even count), for its CPU figures. */
function medianRun(runs: SweepRun[]): SweepRun {
  const sorted = [...runs].sort((a, b) => a.msPerTx - b.msPerTx);
  const mid = median(sorted.map((x) => x.msPerTx));
  return { ...sorted[Math.floor(sorted.length / 2)], msPerTx: round(mid, 3) };
}
