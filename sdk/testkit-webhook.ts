// kit.webhook(): one delivery to the plugin's callback over real HTTP, optionally signed as the
// plugin's provider signs (the manifest's webhook.signature, with the secret the kit set), and an
// answer that says why it went the way it did: `expect(answer.status, answer.why).toBe(200)`
// then fails with the plugin's error or the signature verdict instead of a bare "500 to be 200".
import crypto from 'node:crypto';
import { signWebhook } from '../host-api/webhook-verify.ts';
import type { Host } from '../runtime/server/host.ts';
import type { LoadedPlugin } from '../runtime/plugins/load-plugin.ts';
import type { WebhookDelivery } from '../runtime/store/types.ts';

export interface SignInput {
  /** Default: the value the kit set for the scheme's secret key. */
  secret?: string;
  /** In the scheme's unit (seconds unless timestampUnit 'ms'); default now. */
  timestamp?: number;
  deliveryId?: string;
}

export interface WebhookInput {
  /** Callback name; default 'webhook' for SDK plugins, the first callback of a platform plugin. */
  name?: string;
  method?: 'GET' | 'POST';
  json?: unknown;
  form?: Record<string, string>;
  body?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Sign the delivery as the provider would (the manifest's webhook.signature): true, or what to sign with. */
  signed?: boolean | SignInput;
}

export interface WebhookVerdict {
  verified: boolean;
  /** The audit record's verdict, e.g. 'not verified: expired'. */
  summary: string;
}

export interface WebhookAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json(): any;
  /** The inbox row, finished: by now the host has applied what the plugin returned. Null when the host refused the delivery before recording it (404, 413, 429). */
  delivery: WebhookDelivery | null;
  /** What webhook.verify said for this delivery, when the plugin asked. */
  verification: WebhookVerdict | null;
  /** One line: the status, the plugin's error and the signature verdict. Pass it to expect() as the message. */
  why: string;
}

export interface WebhookSender {
  host: Host;
  key: string;
  baseUrl: string;
  plugin(): LoadedPlugin;
  /** What the kit set for a config key, or undefined. */
  configValue(key: string): string | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Headers signed per the plugin's scheme; throws a one-line reason when it cannot be signed. */
export function signFor(s: WebhookSender, rawBody: string, path: string, sign: SignInput = {}): Record<string, string> {
  const scheme = s.plugin().manifest.webhookSignature;
  if (!scheme) throw new Error(`testkit: ${s.key} declares no webhook.signature in its manifest, so there is nothing to sign with`);
  const secret = sign.secret ?? s.configValue(scheme.key);
  if (!secret) throw new Error(`testkit: no value for the signing secret '${scheme.key}'; pass config: { ${scheme.key}: '...' } to startPluginTestKit or signed: { secret }`);
  return signWebhook(scheme, secret, { rawBody, path, timestamp: sign.timestamp, deliveryId: sign.deliveryId });
}

export async function sendWebhook(s: WebhookSender, input: WebhookInput): Promise<WebhookAnswer> {
  const { host, key } = s;
  const name = input.name ?? (s.plugin().manifest.format === 'sdk' ? 'webhook' : s.plugin().description.callbacks[0]);
  if (!name) throw new Error(`testkit: plugin ${key} has no callbacks`);
  const marker = crypto.randomUUID();
  const headers: Record<string, string> = { 'x-testkit-delivery': marker, ...input.headers };
  let body: string | undefined = input.body;
  if (input.json !== undefined) { body = JSON.stringify(input.json); headers['content-type'] ??= 'application/json'; }
  if (input.form !== undefined) { body = new URLSearchParams(input.form).toString(); headers['content-type'] ??= 'application/x-www-form-urlencoded'; }
  const path = `/payout_call/${encodeURIComponent(key)}/${encodeURIComponent(name)}/`;
  if (input.signed) Object.assign(headers, signFor(s, body ?? '', path, input.signed === true ? {} : input.signed));
  const qs = input.query ? `?${new URLSearchParams(input.query)}` : '';
  const sentAt = new Date(Date.now() - 1).toISOString();
  const res = await fetch(`${s.baseUrl}${path}${qs}`, {
    method: input.method ?? 'POST', headers, body: (input.method ?? 'POST') === 'GET' ? undefined : body ?? '',
  });
  const text = await res.text();
  // The host answers as soon as the plugin ends its response; what the plugin returned (SDK
  // updates) is applied after that, before the inbox row is finished.
  const deadline = Date.now() + host.options.callbackWallMs + 5_000;
  let delivery: WebhookDelivery | undefined;
  for (;;) {
    delivery = (await host.store.listWebhooks({ plugin: key, limit: 50 })).find((d) => d.headers['x-testkit-delivery'] === marker);
    if ((delivery && delivery.state !== 'received') || res.status === 404 || res.status === 429 || res.status === 413) break;
    if (Date.now() > deadline) throw new Error(`testkit: the webhook delivery to ${name} was not finished within ${host.options.callbackWallMs + 5_000} ms`);
    await sleep(10);
  }
  await host.hostApi.audit.flush();
  const verify = (await host.store.queryAudit({ plugin: key, capability: 'webhook.verify', limit: 20 })).find((r) => r.at >= sentAt);
  let verification: WebhookVerdict | null = null;
  if (verify) {
    const summary = verify.decision === 'allowed' ? verify.summary.replace(/^.*: (verified|not verified: \w+)$/, '$1') : `refused (${verify.rule}): ${verify.summary}`;
    verification = { verified: summary === 'verified', summary };
  }
  const why = [
    `the webhook answered ${res.status}${text ? ` "${text.slice(0, 160)}"` : ''}`,
    delivery?.error ? `the plugin failed: ${delivery.error.split('\n')[0].slice(0, 300)}` : null,
    verification ? `signature: ${verification.summary}` : null,
    res.status === 404 ? `no callback '${name}' on ${key}` : null,
  ].filter(Boolean).join('; ');
  return { status: res.status, headers: Object.fromEntries(res.headers), text, delivery: delivery ?? null, verification, why, json: () => JSON.parse(text) };
}
