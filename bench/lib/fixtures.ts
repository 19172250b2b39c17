// Where the benchmark's plugins come from, and temp plugin folders built from them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The fixture whose methods isolate one cost each (bench/fixtures/benchpay). */
export const BENCHPAY_DIR = path.join(REPO_ROOT, 'bench', 'fixtures', 'benchpay');
/** The noisy neighbour: a webhook that burns CPU on demand (bench/fixtures/burnpay). */
export const BURNPAY_DIR = path.join(REPO_ROOT, 'bench', 'fixtures', 'burnpay');
/** The example plugin, as shipped. */
export const NIMBUSPAY_DIR = path.join(REPO_ROOT, 'plugins', 'nimbuspay');

export const BENCH_SECRETS = {
  apiKey: 'bench-api-key',
  webhookSecret: 'bench-webhook-secret-0123456789',
} as const;

/**
 * NimbusPay's credentials for the sweep and the noisy neighbour, shaped like real ones: no piece of
 * one is part of another. A shown value that holds a piece of a secret (a credential pasted into the
 * wrong field) is never pushed to the sandbox process (SECURITY.md, *Config reads answered in the
 * sandbox process*); the earlier 'bench-nimbus-key' shared 'bench-nimbus-' with both secrets, so every
 * apiKey read crossed to the server, which a real key would not.
 */
export const NIMBUS_CREDENTIALS = {
  apiKey: 'pk_bench_7Qf3LmZ2',
  apiSecret: 'sk_bench_Xr81vTq0aN4pWc2e',
  webhookSecret: 'whsec_bench_M5yK0bUj3dR9hL6t',
} as const;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ps-bench-${prefix}-`));
}

/**
 * Copies a plugin folder to `<root>/<key>` (the folder name is the plugin key), optionally
 * rewriting its files' text (`edit(relativePath, text)`).
 */
export function copyPlugin(from: string, root: string, key: string, edit?: (file: string, text: string) => string): string {
  const target = path.join(root, key);
  fs.cpSync(from, target, { recursive: true });
  if (edit) {
    for (const file of fs.readdirSync(target, { recursive: true }) as string[]) {
      const full = path.join(target, file);
      if (!file.endsWith('.js') || !fs.statSync(full).isFile()) continue;
      const text = fs.readFileSync(full, 'utf8');
      const changed = edit(file, text);
      if (changed !== text) fs.writeFileSync(full, changed);
    }
  }
  return target;
}

/**
 * NimbusPay as shipped, with two bench-only edits: no 50 ms pause between the cron's status polls
 * (the pause would make every sweep measure sleep), and no run at load (the bench starts sweeps).
 */
export function nimbusForSweeps(root: string, key = 'nimbuspay'): string {
  return copyPlugin(NIMBUSPAY_DIR, root, key, (file, text) => {
    if (file !== 'index.js') return text;
    const out = text
      .replace('const POLL_SPACING_MS = 50;', 'const POLL_SPACING_MS = 0;')
      .replace('callWhenInit: true,', 'callWhenInit: false,')
      .replace("if (index > 0) await Promise.delay(POLL_SPACING_MS);", 'if (index > 0 && POLL_SPACING_MS > 0) await Promise.delay(POLL_SPACING_MS);');
    if (!out.includes('const POLL_SPACING_MS = 0;') || !out.includes('callWhenInit: false,')) {
      throw new Error('bench: plugins/nimbuspay/index.js changed; update nimbusForSweeps() in bench/lib/fixtures.ts');
    }
    return out;
  });
}

/** The callback nimbusWithPing() adds: it answers at once and makes no host call. */
export const PING_CALLBACK = 'ping';

/**
 * NimbusPay as shipped (its real transfer, against the fake provider), plus one trivial webhook,
 * `ping`: the quiet plugin of the noisy-neighbour scenario, which serves webhooks and pays out.
 */
export function nimbusWithPing(root: string, key: string): string {
  return copyPlugin(NIMBUSPAY_DIR, root, key, (file, text) => (file !== 'callbacks.js' ? text : `${text}
// Added by the benchmark (bench/lib/fixtures.ts): a webhook that answers at once, no host call.
module.exports.${PING_CALLBACK} = async (req, res) => {
  res.writeHead(200);
  res.end('pong');
};
`));
}
