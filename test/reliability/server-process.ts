// A payout-sandbox server as a real child process (`payout-sandbox start`), so the reliability
// suite can SIGKILL it at named points of the payout path and start it again on the same data.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../runtime/cli/bin.js', import.meta.url));
export const ADMIN_TOKEN = 'reliability-admin-token-0123456789';

export interface ServerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export function startServerProcess(opts: { port: number; dataDir: string; pluginsDir: string; options: Record<string, unknown>; crashAt?: string }): ServerProcess {
  const child = spawn(process.execPath, [BIN, 'start', '--port', String(opts.port), '--data', opts.dataDir, '--plugins', opts.pluginsDir], {
    env: {
      ...process.env,
      PAYOUT_SANDBOX_ADMIN_TOKEN: ADMIN_TOKEN,
      PAYOUT_SANDBOX_OPTIONS: JSON.stringify(opts.options),
      PAYOUT_SANDBOX_LOG_LEVEL: 'warn',
      ...(opts.crashAt ? { PAYOUT_SANDBOX_CRASH_AT: opts.crashAt } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000); });
  child.stderr?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => out };
}

export async function waitForHealth(base: string, proc: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let dead = false;
  void proc.exited.then(() => { dead = true; });
  while (Date.now() < until) {
    if (dead) throw new Error(`the server exited while starting:\n${proc.output()}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server did not become healthy within ${timeoutMs} ms:\n${proc.output()}`);
}

export async function call(base: string, method: string, path: string, body?: unknown, admin = false): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json };
}
