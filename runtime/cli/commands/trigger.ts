// `payout-sandbox trigger <pluginDir>`: sends the plugin's webhook a delivery signed exactly as
// its manifest's webhook.signature says, so authors test verification without signing by hand.
// Standalone it posts to a running host (`dev`, `start`); inside `dev` the console's `trigger`
// line does the same with the secret dev set.
import path from 'node:path';
import type { Command } from 'commander';
import { signWebhook } from '../../../host-api/webhook-verify.ts';
import type { WebhookSignatureScheme } from '../../manifest/manifest.ts';
import { SandboxHost } from '../../sandbox/sandbox-host.ts';
import { loadPlugin } from '../../plugins/load-plugin.ts';
import { denyAllHandler } from '../../review/check-report.ts';
import { errorInfo } from '../output.ts';
import { engineFromFlagOrEnv } from '../../plugins/engine-choice.ts';
import type { EngineName } from '../../sandbox/protocol.ts';
import { withEngineFlag } from '../engine-flag.ts';

export interface TriggerInput {
  /** The host's base URL, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  key: string;
  scheme: WebhookSignatureScheme | null;
  /** Required when the plugin declares a scheme, unless unsigned. */
  secret?: string | null;
  body: string;
  contentType?: string;
  /** In the scheme's unit; default now. */
  timestamp?: number;
  deliveryId?: string;
  /** Send it without a signature (to see the refusal). */
  unsigned?: boolean;
}

export interface TriggerResult { status: number; ms: number; text: string; headers: Record<string, string> }

export async function sendSignedWebhook(t: TriggerInput): Promise<TriggerResult> {
  const path = `/payout_call/${encodeURIComponent(t.key)}/webhook/`;
  let headers: Record<string, string> = { 'content-type': t.contentType ?? 'application/json' };
  if (t.scheme && !t.unsigned) {
    if (!t.secret) throw new Error(`the signing secret '${t.scheme.key}' is needed: pass --secret <value> (the value the host has for ${t.key}.${t.scheme.key})`);
    headers = signWebhook(t.scheme, t.secret, { rawBody: t.body, path, timestamp: t.timestamp, deliveryId: t.deliveryId, headers });
  }
  const started = performance.now();
  const res = await fetch(`${t.baseUrl.replace(/\/+$/, '')}${path}`, { method: 'POST', headers, body: t.body });
  const text = await res.text();
  return { status: res.status, ms: Math.round(performance.now() - started), text, headers };
}

/** The scheme of a plugin folder, read the way `check` reads a manifest (every host call refused). */
export async function schemeOfFolder(dir: string, engine?: EngineName): Promise<{ key: string; scheme: WebhookSignatureScheme | null }> {
  const sandbox = new SandboxHost({ handler: denyAllHandler([]), engine });
  try {
    const plugin = await loadPlugin(sandbox, dir, { apiUrl: 'http://127.0.0.1:3000/', engine });
    if (plugin.manifest.format !== 'sdk') throw new Error(`${plugin.key} is a platform-format plugin; trigger sends SDK webhooks (platform plugins verify their callbacks themselves)`);
    return { key: plugin.key, scheme: plugin.manifest.webhookSignature ?? null };
  } finally {
    await sandbox.close();
  }
}

export function describeScheme(s: WebhookSignatureScheme | null): string {
  if (!s) return 'unsigned (the manifest declares no webhook.signature)';
  const parts = s.parts.map((p) => (typeof p === 'string' ? p : 'literal' in p ? JSON.stringify(p.literal) : `header ${p.header}`)).join(` ${JSON.stringify(s.separator)} `);
  return `HMAC-${s.algorithm.toUpperCase()}(${s.key}, ${parts}) → ${s.header}${s.timestampHeader ? `, timestamp in ${s.timestampHeader}` : ''}`;
}

export async function runTrigger(dir: string, flags: { url?: string; json?: string; body?: string; secret?: string; timestamp?: string; deliveryId?: string; unsigned?: boolean; engine?: string }): Promise<void> {
  try {
    const body = flags.body ?? flags.json ?? '{}';
    if (flags.json !== undefined) {
      try { JSON.parse(flags.json); } catch { throw new Error(`--json is not JSON; e.g. --json '{"id":"po_1","status":"paid"}'`); }
    }
    const timestamp = flags.timestamp === undefined ? undefined : Number(flags.timestamp);
    if (timestamp !== undefined && !Number.isInteger(timestamp)) throw new Error('--timestamp must be a whole number (seconds, or ms when the scheme says timestampUnit ms)');
    const { key, scheme } = await schemeOfFolder(path.resolve(dir), engineFromFlagOrEnv(flags.engine));
    const secret = flags.secret ?? process.env.PAYOUT_SANDBOX_WEBHOOK_SECRET ?? null;
    const baseUrl = flags.url ?? 'http://127.0.0.1:3000';
    const r = await sendSignedWebhook({ baseUrl, key, scheme, secret, body, timestamp, deliveryId: flags.deliveryId, unsigned: flags.unsigned, contentType: flags.body !== undefined ? 'text/plain' : 'application/json' });
    process.stdout.write(`${flags.unsigned ? 'unsigned' : describeScheme(scheme)}\nPOST ${baseUrl}/payout_call/${key}/webhook/ → ${r.status} (${r.ms} ms) ${r.text.slice(0, 300)}\n`);
    if (r.status >= 400) process.exitCode = 1;
  } catch (err) {
    process.stderr.write(`payout-sandbox trigger: ${errorInfo(err).message}\n`);
    process.exitCode = 1;
  }
}

export function registerTriggerCommand(program: Command): void {
  withEngineFlag(program
    .command('trigger')
    .description("send the plugin's webhook a delivery signed as its manifest's webhook.signature says (to a running dev or start host)")
    .argument('<pluginDir>', 'the plugin folder')
    .option('--url <url>', 'the host (default http://127.0.0.1:3000, where dev listens)')
    .option('--json <json>', 'the body, as JSON (default {})')
    .option('--body <text>', 'the body as raw text')
    .option('--secret <value>', 'the signing secret (or PAYOUT_SANDBOX_WEBHOOK_SECRET); dev prints the one it uses')
    .option('--timestamp <n>', 'sign with this timestamp instead of now (to see an expired delivery refused)')
    .option('--delivery-id <id>', "the delivery id, when the scheme has deliveryIdHeader")
    .option('--unsigned', 'send it without a signature'))
    .action((dir: string, opts) => runTrigger(dir, opts));
}
