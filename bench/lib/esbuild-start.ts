// esbuild's service start, measured in a fresh process each time (esbuild-start-process.ts): what
// the first plugin a server bundles pays once, before its own bundling. Service start = the first
// transform − a second one (the work itself), so the work is not counted twice.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./esbuild-start-process.ts', import.meta.url));

export interface EsbuildStart {
  /** Importing the esbuild module (the server does this once at start). */
  importMs: number;
  /** Starting esbuild's service: first transform − second transform. */
  serviceStartMs: number;
}

export function measureEsbuildStart(): Promise<EsbuildStart> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', ENTRY], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bench: timing esbuild's start failed: ${stderr.slice(-500) || err.message}`));
      const r = JSON.parse(stdout.trim()) as { importMs: number; firstMs: number; secondMs: number };
      resolve({ importMs: r.importMs, serviceStartMs: Math.max(0, r.firstMs - r.secondMs) });
    });
  });
}
