// End to end in the real sandbox: an SDK plugin verifies its provider's signed webhook through
// ctx.webhook.verify; the kit signs deliveries from the manifest's scheme; a failing delivery says
// why (answer.why), and the signing secret is never readable inside the isolate.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startPluginTestKit } from 'payout-sandbox/sdk/testkit';
import type { PluginTestKit } from 'payout-sandbox/sdk/testkit';

const SECRET = 'whsec_kit_81d0c2';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-kit-verify-'));
let kit: PluginTestKit | null = null;
afterEach(async () => { await kit?.close(); kit = null; });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PLUGIN = `
import { definePayoutPlugin } from 'payout-sandbox/sdk';
export default definePayoutPlugin({
  manifest: {
    title: 'QuickPay', currencies: ['CARDUAH'],
    config: { webhookSecret: { secret: true } },
    webhook: { signature: { key: 'webhookSecret', header: 'x-quickpay-signature', timestampHeader: 'x-quickpay-timestamp', parts: ['timestamp', 'body'], toleranceSec: 300 } },
  },
  fields: () => [],
  async transfer() { return { status: 'accepted', reference: 'r' }; },
  async webhook(ctx, req) {
    if ((req.body as any)?.crash) throw new Error('cannot read the payout ' + (req.body as any).crash);
    if ((req.body as any)?.peek) await ctx.config.get('webhookSecret' as never);
    const check = await ctx.webhook.verify(req);
    if (!check.verified) return { response: { status: 401, body: check.reason } };
    return { response: { status: 200, body: 'ok' } };
  },
});
`;

function plugin(): string {
  const dir = path.join(tmp, 'quickpay');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'plugin.ts'), PLUGIN);
  return dir;
}

describe('ctx.webhook.verify through the test kit', { timeout: 30_000 }, () => {
  it('a signed delivery is verified once; its replay, an unsigned and a wrongly signed one are refused, each saying why', async () => {
    kit = await startPluginTestKit({ dir: plugin(), config: { webhookSecret: SECRET } });
    const ok = await kit.webhook({ json: { id: 'po_1', status: 'paid' }, signed: true });
    expect(ok.status, ok.why).toBe(200);
    expect(ok.verification).toEqual({ verified: true, summary: 'verified' });

    const headers = kit.signWebhook('{"id":"po_2"}');
    const first = await kit.webhook({ body: '{"id":"po_2"}', headers: { ...headers, 'content-type': 'application/json' } });
    expect(first.status, first.why).toBe(200);
    const replay = await kit.webhook({ body: '{"id":"po_2"}', headers: { ...headers, 'content-type': 'application/json' } });
    expect(replay.status).toBe(401);
    expect(replay.why).toBe('the webhook answered 401 "replayed"; signature: not verified: replayed');

    const unsigned = await kit.webhook({ json: { id: 'po_3' } });
    expect(unsigned.why).toContain('signature: not verified: missing_signature');
    const forged = await kit.webhook({ json: { id: 'po_4' }, signed: { secret: 'a guess' } });
    expect(forged.why).toContain('signature: not verified: mismatch');
    const old = await kit.webhook({ json: { id: 'po_5' }, signed: { timestamp: Math.floor(Date.now() / 1000) - 3600 } });
    expect(old.why).toContain('signature: not verified: expired');
  });

  it('a delivery that fails says the plugin error in answer.why; the secret cannot be read in the isolate', async () => {
    kit = await startPluginTestKit({ dir: plugin(), config: { webhookSecret: SECRET } });
    const crashed = await kit.webhook({ json: { crash: 'po_9' }, signed: true });
    expect(crashed.status).toBe(500);
    expect(crashed.why).toMatch(/^the webhook answered 500.*; the plugin failed: .*cannot read the payout po_9/);
    const peek = await kit.webhook({ json: { peek: true }, signed: true });
    expect(peek.status).toBe(500);
    expect(peek.why).toContain("config.get('webhookSecret') refused");
    const all = JSON.stringify([await kit.audit(), await kit.log(), await kit.host.store.listWebhooks({ plugin: 'quickpay', limit: 50 })]);
    expect(all).not.toContain(SECRET);
  });

  it('signing needs the secret: a kit without it says which config key to set', async () => {
    kit = await startPluginTestKit({ dir: plugin() });
    await expect(kit.webhook({ json: {}, signed: true })).rejects.toThrow("testkit: no value for the signing secret 'webhookSecret'; pass config: { webhookSecret: '...' } to startPluginTestKit or signed: { secret }");
    const answer = await kit.webhook({ json: {}, signed: { secret: 'x' } });
    expect(answer.why).toContain('signature: not verified: secret_unset');
  });
});
