// A merchant's IPN receiver for tests and the demo: accepts the host's status notifications
// (POST, x-www-form-urlencoded) on 127.0.0.1 and records them. It can be told to fail or hang
// so the host's IPN delivery (retries, timeouts) can be exercised.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { waitForCount } from './wait-for-count.ts';

export type MerchantMode = 'ok' | 'fail' | 'hang';

export interface ReceivedIpn {
  path: string;
  /** Form fields; bracketed keys (toValues[0][key]) are kept flat, exactly as sent. */
  fields: Record<string, string>;
  headers: Record<string, string>;
  /** Whether `hash` matches sha256(orderId:newStatus:inAmount:outAmount:xml_from:xml_to:timestamp:ipnSecret);
   *  null when the merchant was started without an ipnSecret. */
  hashValid: boolean | null;
  answeredWith: number | null;      // null while hanging
  at: number;
}

export interface FakeMerchantOptions {
  /** Lets the merchant check the IPN hash the way a real merchant would. */
  ipnSecret?: string;
  mode?: MerchantMode;
  /** Status sent in 'fail' mode. Default 500. */
  failStatus?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
}

export interface FakeMerchant {
  url: string;
  port: number;
  received: readonly ReceivedIpn[];
  /** Switch behaviour; with `times`, return to 'ok' after that many notifications. */
  setMode(mode: MerchantMode, options?: { times?: number }): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedIpn[]>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;

export function ipnHash(fields: Record<string, string>, ipnSecret: string): string {
  const parts = ['orderId', 'newStatus', 'inAmount', 'outAmount', 'xml_from', 'xml_to', 'timestamp'].map((key) => fields[key] ?? '');
  return createHash('sha256').update([...parts, ipnSecret].join(':')).digest('hex');
}

export async function startFakeMerchant(options: FakeMerchantOptions = {}): Promise<FakeMerchant> {
  const received: ReceivedIpn[] = [];
  const waiters = new Set<() => void>();
  let mode: MerchantMode = options.mode ?? 'ok';
  let remainingInMode: number | null = null;

  function currentMode(): MerchantMode {
    const active = mode;
    if (remainingInMode !== null && --remainingInMode <= 0) {
      mode = 'ok';
      remainingInMode = null;
    }
    return active;
  }

  function answer(res: ServerResponse, entry: ReceivedIpn | null, status: number, text: string): void {
    if (entry) entry.answeredWith = status;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(text);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        answer(res, null, 413, 'too large');
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      if (req.method !== 'POST') return answer(res, null, 405, 'POST only');
      const fields = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value ?? '');
      const entry: ReceivedIpn = {
        path: req.url ?? '/',
        fields,
        headers,
        hashValid: options.ipnSecret === undefined ? null : fields.hash === ipnHash(fields, options.ipnSecret),
        answeredWith: null,
        at: Date.now(),
      };
      received.push(entry);
      for (const wake of waiters) wake();

      const active = currentMode();
      if (active === 'hang') return; // left open until the sender times out or close() runs
      if (active === 'fail') return answer(res, entry, options.failStatus ?? 500, 'merchant failure');
      answer(res, entry, 200, 'OK');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/ipn`,
    port,
    received,
    setMode(next, modeOptions) {
      mode = next;
      remainingInMode = modeOptions?.times ?? null;
    },
    waitFor(count, timeoutMs = 5_000) {
      return waitForCount(received, waiters, count, timeoutMs, 'fake merchant IPNs');
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
