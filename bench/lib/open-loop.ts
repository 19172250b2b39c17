// Runs the open-loop client (open-loop-worker.ts) in a child process and returns what it saw.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./open-loop-worker.ts', import.meta.url));

export interface OpenLoopOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Requests per second, on a fixed schedule. */
  ratePerS: number;
  durationS: number;
  /** Sockets in the keep-alive pool (requests beyond wait for one). */
  connections: number;
  timeoutMs?: number;
  /** Count answers whose body contains this text (`marked`). */
  mark?: string;
}

export interface OpenLoopResult {
  sent: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Requests that got no answer: connection errors, and timeouts. */
  errors: number;
  timeouts: number;
  /** Per answered request, from the moment it was sent. */
  latenciesMs: number[];
  marked: number;
  /** 429 and 503 answers by "status:Retry-After" (seconds, or "none"). */
  retryAfterS: Record<string, number>;
  /** How late the client sent its most delayed request (a busy machine delays the client too). */
  maxLagMs: number;
}

export function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-2000); });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`open-loop client exited with ${code}: ${err.trim().slice(-500)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as OpenLoopResult);
      } catch (e) {
        reject(new Error(`open-loop client printed no result: ${(e as Error).message}; stderr: ${err.slice(-300)}`));
      }
    });
  });
}
