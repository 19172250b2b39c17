// An open-loop HTTP client, run as its own process (like load-worker.ts): sends one request every
// 1/rate seconds for `durationS`, each on schedule whether or not earlier ones have been answered
// (closed-loop tools like autocannon slow down when answers do; a flood must not), over a
// keep-alive pool of at most `connections` sockets. Waits for every answer (or its timeout) and
// prints one JSON line: answers by status, each request's latency, what 429/503 answers said.
// `node open-loop-worker.ts '<json options>'`
import http from 'node:http';
import type { OpenLoopOptions, OpenLoopResult } from './open-loop.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as OpenLoopOptions;
const url = new URL(o.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
const body = o.body === undefined ? null : Buffer.from(o.body, 'utf8');
const headers = { ...o.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
const total = Math.max(1, Math.round(o.ratePerS * o.durationS));
const intervalMs = 1000 / o.ratePerS;

const result: OpenLoopResult = { sent: 0, statuses: {}, errors: 0, timeouts: 0, latenciesMs: [], marked: 0, retryAfterS: {}, maxLagMs: 0 };

function one(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    result.sent++;
    // Each request ends exactly once: answered, timed out, or failed.
    let settled = false;
    const settle = (count: () => void) => {
      if (settled) return;
      settled = true;
      count();
      resolve();
    };
    const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: o.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle(() => {
        const status = String(res.statusCode ?? 0);
        result.statuses[status] = (result.statuses[status] ?? 0) + 1;
        result.latenciesMs.push(Math.round((performance.now() - t0) * 100) / 100);
        const retryAfter = res.headers['retry-after'];
        if (res.statusCode === 429 || res.statusCode === 503) {
          const key = `${status}:${retryAfter === undefined ? 'none' : String(retryAfter)}`;
          result.retryAfterS[key] = (result.retryAfterS[key] ?? 0) + 1;
        }
        if (o.mark && Buffer.concat(chunks).toString('utf8').includes(o.mark)) result.marked++;
      }));
      res.on('error', () => settle(() => { result.errors++; }));
    });
    req.setTimeout(o.timeoutMs ?? 30_000, () => {
      settle(() => { result.timeouts++; });
      req.destroy();
    });
    req.on('error', () => settle(() => { result.errors++; }));
    req.end(body ?? undefined);
  });
}

const started = performance.now();
const inFlight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = started + i * intervalMs;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  result.maxLagMs = Math.max(result.maxLagMs, Math.round(performance.now() - due));
  inFlight.push(one());
}
await Promise.all(inFlight);
agent.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
