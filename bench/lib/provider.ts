// Starts the fake provider in a child process (provider-process.ts) and hands back its URL.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FakeProviderOptions } from '../../runtime/demo/fake-provider.ts';

const ENTRY = fileURLToPath(new URL('./provider-process.ts', import.meta.url));

export interface RemoteProvider {
  url: string;
  credentials: { apiKey: string; apiSecret: string; webhookSecret: string };
  pid: number;
  close(): Promise<void>;
}

export function startProviderProcess(options: FakeProviderOptions): Promise<RemoteProvider> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let started = false;
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-2000); });
    child.on('error', reject);
    child.on('exit', (code) => { if (!started) reject(new Error(`fake provider exited with ${code}: ${err}`)); });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (started || !out.includes('\n')) return;
      started = true;
      const info = JSON.parse(out.split('\n')[0]) as Omit<RemoteProvider, 'close'>;
      resolve({
        ...info,
        close: () => new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          const force = setTimeout(() => child.kill('SIGKILL'), 3000);
          child.once('exit', () => { clearTimeout(force); done(); });
          child.stdin.end();
        }),
      });
    });
  });
}
