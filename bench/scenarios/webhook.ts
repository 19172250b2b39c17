// Webhook throughput: requests/s through POST /payout_call/benchpay/hook/ with the real server
// (buildApp), the real SQLite file store (synchronous=FULL) and the real sandbox, against the
// same server and store with the callback run in this process (the stand-in invoke). Load comes
// from autocannon in its own process, on loopback.
// Each request: webhook inbox row written, the callback runs (config.get ×2, HMAC of the raw body,
// findOne + populate('order') of an existing tx, updateOne), the inbox row is finished. The
// "provider" shape adds one signed GET to a loopback fake provider (config.get + HMAC + http).
import crypto from 'node:crypto';
import { startProviderProcess } from '../lib/provider.ts';
import { BENCHPAY_DIR, BENCH_SECRETS, copyPlugin } from '../lib/fixtures.ts';
import { benchOrder, grant, startBenchHost } from '../lib/bench-host.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { inProcessInvoke } from '../lib/in-process-invoke.ts';
import { runLoad } from '../lib/load.ts';
import type { LoadResult } from '../lib/load.ts';
import { cpuMeter } from '../lib/cpu.ts';
import { median, round } from '../lib/stats.ts';

export interface WebhookOptions {
  /** Seconds of load per measured run. */
  duration: number;
  /** Seconds of load before each measured run (not counted). */
  warmup: number;
  /** Measured runs per variant (alternating sandboxed / in process); the median is reported. */
  rounds: number;
  connections: number;
  /** Also measure the shape with one provider call. */
  withProvider: boolean;
  /** Also measure with an in-memory store (no fsync): the sandbox's cost when the disk is not the limit. */
  memoryStore: boolean;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export interface VariantRuns {
  rps: number;
  latencyMsP50: number;
  latencyMsP99: number;
  /** CPU per request: the server process, and the sandbox process (sandboxed only), µs. */
  serverCpuUsPerReq: number;
  sandboxCpuUsPerReq: number | null;
  runs: number[];
  failures: number;
}

export interface WebhookShapeResult {
  sandboxed: VariantRuns;
  inProcess: VariantRuns;
  ratio: number;
}

export interface WebhookResult {
  connections: number;
  duration: number;
  rounds: number;
  store: string;
  hostCalls: WebhookShapeResult;
  withProvider: WebhookShapeResult | null;
  /** The host-calls shape again over sqlite::memory: (commits cost no fsync). */
  memoryStore: WebhookShapeResult | null;
}

const TX = 'bench-tx-1';

export async function benchWebhook(o: WebhookOptions): Promise<WebhookResult> {
  const provider = await startProviderProcess({ apiKey: BENCH_SECRETS.apiKey, apiSecret: BENCH_SECRETS.webhookSecret, webhookSecret: BENCH_SECRETS.webhookSecret, autoWebhook: false });
  try {
    const file = await shapesOn(o, provider.url, 'file', o.withProvider);
    const memory = o.memoryStore ? await shapesOn(o, provider.url, 'memory', false) : null;
    return {
      connections: o.connections, duration: o.duration, rounds: o.rounds, store: 'sqlite file, WAL, synchronous=FULL',
      hostCalls: file.hostCalls, withProvider: file.withProvider, memoryStore: memory?.hostCalls ?? null,
    };
  } finally {
    await provider.close();
  }
}

async function shapesOn(o: WebhookOptions, providerUrl: string, store: 'file' | 'memory', withProvider: boolean): Promise<{ hostCalls: WebhookShapeResult; withProvider: WebhookShapeResult | null }> {
  const bench = await startBenchHost({
    populate: (dir) => copyPlugin(BENCHPAY_DIR, dir, 'benchpay'),
    engine: o.engine,
    // The provider shape makes one outbound request per delivery: the per-plugin cap (1 200 a
    // minute by default) would refuse most of them; likewise its host calls (hostCallsPerMinute).
    // This scenario measures what a delivery costs, not the per-plugin limits (the noisy-neighbour
    // scenario and the tests do): the inbox quota (100 000 rows, reached within one memory-store
    // round) and the plugin's CPU budget (half a core, which a QuickJS plugin reaches at ~1 500
    // deliveries a second) would otherwise refuse deliveries the in-process run serves, and the
    // ratio would count refusals, not cost.
    options: {
      httpRequestsPerMinute: 100_000_000, hostCallsPerMinute: 100_000_000, hostCallBytesPerMinute: 100_000_000_000,
      webhookInboxMaxRows: 100_000_000, webhookInboxMaxBytes: 1024 ** 4, pluginCpuMsPerWindow: 1_000_000_000,
      ...(store === 'memory' ? { dbUrl: 'sqlite::memory:' } : {}),
    },
  });
  try {
    const { host } = bench;
    for (const [k, v] of Object.entries({ ...BENCH_SECRETS, apiUrl: providerUrl })) await host.hostApi.config.set('benchpay', k, v);
    await grant(host, 'benchpay', providerUrl);
    const order = await host.store.createOrder(benchOrder('benchpay', '100.00'));
    await host.store.insertPayoutTx({ order: order._id, transaction: TX, payoutModule: 'benchpay', active: true, amount: '100.00', currency: 'UAH', to: '411111******1111', note: null, attemptId: null });

    const sandboxed = await bench.listen();
    const inProcess = await bench.listen(inProcessInvoke(new Map([['benchpay', bench.inProcessPlugin('benchpay')]])));
    const body = JSON.stringify({ id: TX, status: 'DONE' });
    const headers = { 'content-type': 'application/json', 'x-bench-signature': crypto.createHmac('sha256', BENCH_SECRETS.webhookSecret).update(body).digest('hex') };
    const sandboxPid = host.sandbox.processOf('benchpay')?.pid ?? null;

    const shape = async (query: string, expect: string): Promise<WebhookShapeResult> => {
      const urls = { sandboxed: `${sandboxed.url}/payout_call/benchpay/hook/${query}`, inProcess: `${inProcess.url}/payout_call/benchpay/hook/${query}` };
      for (const [name, url] of Object.entries(urls)) {
        const res = await fetch(url, { method: 'POST', headers, body });
        const text = await res.text();
        if (res.status !== 200 || text !== expect) throw new Error(`bench webhook: ${name} answered ${res.status} ${text.slice(0, 200)}`);
      }
      const runs: Record<'sandboxed' | 'inProcess', { load: LoadResult; serverUs: number; sandboxUs: number | null }[]> = { sandboxed: [], inProcess: [] };
      for (let round = 0; round < o.rounds; round++) {
        const order: ('sandboxed' | 'inProcess')[] = round % 2 === 0 ? ['sandboxed', 'inProcess'] : ['inProcess', 'sandboxed'];
        for (const variant of order) {
          const load = { url: urls[variant], method: 'POST', headers, body, connections: o.connections };
          if (o.warmup > 0) await runLoad({ ...load, duration: o.warmup });
          await host.hostApi.audit.flush();
          const stop = cpuMeter(sandboxPid);
          const result = await runLoad({ ...load, duration: o.duration });
          const cpu = stop();
          const answered = Math.max(1, result.total - result.non2xx);
          runs[variant].push({ load: result, serverUs: cpu.selfUs / answered, sandboxUs: cpu.otherUs === null ? null : cpu.otherUs / answered });
        }
      }
      const summary = (variant: 'sandboxed' | 'inProcess'): VariantRuns => {
        const r = runs[variant];
        return {
          rps: round(median(r.map((x) => x.load.rps)), 0),
          latencyMsP50: median(r.map((x) => x.load.latencyMs.p50)),
          latencyMsP99: median(r.map((x) => x.load.latencyMs.p99)),
          serverCpuUsPerReq: round(median(r.map((x) => x.serverUs)), 0),
          sandboxCpuUsPerReq: variant === 'sandboxed' && r.every((x) => x.sandboxUs !== null) ? round(median(r.map((x) => x.sandboxUs as number)), 0) : null,
          runs: r.map((x) => round(x.load.rps, 0)),
          failures: r.reduce((n, x) => n + x.load.non2xx + x.load.errors + x.load.timeouts, 0),
        };
      };
      const sb = summary('sandboxed');
      const ip = summary('inProcess');
      return { sandboxed: sb, inProcess: ip, ratio: round(sb.rps / ip.rps, 3) };
    };

    return { hostCalls: await shape('', 'ok'), withProvider: withProvider ? await shape('?provider=1', 'ok balance') : null };
  } finally {
    await bench.close();
  }
}
