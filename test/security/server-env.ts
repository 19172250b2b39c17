// A real payout server for the groups that attack it over HTTP (test/helpers/test-host.ts: SQLite
// file, the NimbusPay example plugin, fake provider and merchant on 127.0.0.1), plus plugin folders
// loaded next to NimbusPay, a raw-socket client for byte-exact checks, and a record of every
// response the server sent (for canary scans).
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestHost } from '../helpers/test-host.ts';
import type { TestHost } from '../helpers/test-host.ts';
import type { ServerOptions } from '../../runtime/server/options.ts';
import type { HostExtras } from '../../runtime/server/host.ts';
import type { FakeProviderOptions } from '../../runtime/demo/fake-provider.ts';
import { sleep } from './tally.ts';

export interface Exchange {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ServerEnv {
  t: TestHost;
  port: number;
  /** Every request this env made to the server, with the full response. */
  exchanges: Exchange[];
  /** The server's own pino log, captured in memory. */
  logLines: string[];
  http(method: string, url: string, body?: string | object, headers?: Record<string, string>): Promise<Exchange>;
  /** Sends bytes as written and returns the raw response (latin1), for header-level checks. */
  raw(request: string, timeoutMs?: number): Promise<string>;
  load(dir: string): Promise<void>;
  close(): Promise<void>;
}

export async function startServerEnv(overrides: Partial<ServerOptions> = {}, extras: HostExtras & { provider?: FakeProviderOptions } = {}): Promise<ServerEnv> {
  const logLines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  const t = await startTestHost(overrides, { logger: pino({ level: 'debug' }, sink), ...extras });
  const port = Number(new URL(t.baseUrl).port);
  const exchanges: Exchange[] = [];
  const env: ServerEnv = {
    t, port, exchanges, logLines,
    async http(method, url, body, headers = {}) {
      const isText = typeof body === 'string';
      const res = await fetch(t.baseUrl + url, {
        method,
        headers: { ...(body !== undefined && !isText ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
      });
      const text = await res.text();
      const ex = { method, url, status: res.status, headers: Object.fromEntries(res.headers.entries()), body: text };
      exchanges.push(ex);
      return ex;
    },
    raw: (request, timeoutMs = 10_000) => new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      // Written, not ended: a half-closed socket may be dropped before the answer; Connection: close ends it.
      const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from(request, 'latin1')));
      const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }, timeoutMs);
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('error', (e) => { clearTimeout(timer); reject(e); });
      s.on('close', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('latin1');
        exchanges.push({ method: 'RAW', url: request.split('\r\n')[0], status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), headers: {}, body: text });
        resolve(text);
      });
    }),
    async load(dir) {
      const entry = await t.host.registry.load(dir);
      if (entry.status !== 'active') throw new Error(`could not load ${dir}: ${entry.error?.message}`);
    },
    async close() {
      await t.close();
    },
  };
  return env;
}

/** The server answers /healthz and NimbusPay still runs in its sandbox. */
export async function serverStillServing(env: ServerEnv): Promise<string | null> {
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const health = await env.t.api('GET', '/healthz').catch((e) => ({ status: 0, text: String(e) }));
    const nimbus = await env.t.host.sandbox.invoke('nimbuspay', 'getFields', ['en', 'CARDUAH']);
    if (health.status === 200 && nimbus.ok) return null;
    last = `healthz ${health.status}; nimbuspay ${nimbus.ok ? 'ok' : `${nimbus.error.kind} ${nimbus.error.message}`}`;
    await sleep(250);
  }
  return last;
}

/** Body of a raw HTTP/1.1 POST. */
export function rawPost(path: string, body: string, headers: Record<string, string> = {}): string {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** The header block of a raw response, lower-cased names. */
export function rawHeaders(raw: string): { status: number; names: string[]; block: string } {
  const block = raw.split('\r\n\r\n')[0] ?? '';
  const [first, ...rest] = block.split('\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(first)?.[1] ?? 0), names: rest.map((l) => l.split(':')[0].toLowerCase()), block };
}
