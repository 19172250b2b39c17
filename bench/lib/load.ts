// Runs the load generator (load-worker.ts) in a child process and returns its numbers.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** Seconds. */
  duration: number;
}

export interface LoadResult {
  duration: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; mean: number };
  statusCodes: Record<string, number>;
  /** Answered 2xx per second. */
  rps: number;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify({ pipelining: 1, timeout: 30, ...o })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8'); });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}: ${err.trim().slice(-500)}`));
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '') as Omit<LoadResult, 'rps'>;
        resolve({ ...r, rps: r.duration > 0 ? (r.total - r.non2xx) / r.duration : 0 });
      } catch (e) {
        reject(new Error(`load generator printed no result: ${(e as Error).message}; stderr: ${err.slice(-300)}`));
      }
    });
  });
}
