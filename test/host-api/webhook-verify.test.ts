// webhook.verify: a provider's HMAC signature checked host-side for an SDK plugin. True for a
// correct delivery, false for a wrong secret, a changed body, a replay within the tolerance and an
// expired or future timestamp; refused outside webhook() and without a declared scheme; audited
// with its verdict, never with the secret or the signature.
import nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHostApi } from '../../host-api/dispatch.ts';
import { AuditLog } from '../../host-api/audit.ts';
import { PluginLog } from '../../host-api/log.ts';
import { HostCallCaps } from '../../host-api/host-call-caps.ts';
import { CapabilitySetGate, approvedCapabilitySet } from '../../host-api/capability-set.ts';
import { hostCallLimitsOf } from '../../host-api/host-call-limits.ts';
import { newCounters } from '../../host-api/capability.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import { createWebhookVerifyCapability, signWebhook } from '../../host-api/webhook-verify.ts';
import { Scrubber } from '../../runtime/secrets/scrubber.ts';
import { manifestFromSdk } from '../../runtime/manifest/manifest.ts';
import type { WebhookSignatureScheme } from '../../runtime/manifest/manifest.ts';
import type { NewAuditRecord } from '../../runtime/store/types.ts';

const SECRET = 'whsec_test_5f2c9a';
const PATH = '/payout_call/quickpay/webhook/';
// A QuickPay-style provider: HMAC-SHA256 of `<timestamp>.<body>`, hex, in x-quickpay-signature.
const manifest = manifestFromSdk({
  title: 'QuickPay', currencies: ['CARDUAH'],
  config: { webhookSecret: { secret: true }, apiUrl: {} },
  webhook: { signature: { key: 'webhookSecret', header: 'X-QuickPay-Signature', timestampHeader: 'X-QuickPay-Timestamp', parts: ['timestamp', 'body'], toleranceSec: 300 } },
});
const scheme = manifest.webhookSignature as WebhookSignatureScheme;

function setup(o: { secret?: string | null; scheme?: WebhookSignatureScheme | null } = {}) {
  let clock = Date.parse('2026-12-01T12:00:00Z');
  const records: NewAuditRecord[] = [];
  const scrubber = new Scrubber();
  const store = { appendAudit: async (batch: NewAuditRecord[]) => { records.push(...batch); }, appendPluginLog: async () => {} };
  const audit = new AuditLog(store as never, scrubber);
  const secret = o.secret === undefined ? SECRET : o.secret;
  const api = createHostApi({
    audit, pluginLog: new PluginLog(store as never, scrubber), scrubber, caps: new HostCallCaps(hostCallLimitsOf({}), audit),
    capabilitySet: new CapabilitySetGate({ capabilitySetOf: () => approvedCapabilitySet(['webhook.verify']) }, audit),
    capabilities: [createWebhookVerifyCapability({
      schemeOf: () => (o.scheme === undefined ? scheme : o.scheme),
      readSecret: async () => {
        if (secret === null) throw new Error('not set');
        scrubber.add(secret, 'quickpay.webhookSecret');
        return secret;
      },
      now: () => clock,
    })],
  });
  const ctx = (method = 'callback:webhook'): HostCallContext => ({ plugin: 'quickpay', callId: nodeCrypto.randomUUID(), method, deadline: clock + 5000, counters: newCounters() });
  const verify = async (d: { headers: Record<string, string>; rawBody: string }, method?: string) =>
    (await api.handle(ctx(method), 'webhook.verify', { ...d, method: 'POST', path: PATH })) as { ok: boolean; value?: unknown; error?: unknown };
  const signed = (rawBody: string, opts: { secret?: string; timestampSec?: number } = {}): { rawBody: string; headers: Record<string, string> } => ({
    rawBody, headers: { 'content-type': 'application/json', ...signWebhook(scheme, opts.secret ?? SECRET, { rawBody, path: PATH, timestamp: opts.timestampSec ?? Math.floor(clock / 1000) }) },
  });
  return { verify, signed, records, flush: () => audit.flush(), advance: (ms: number) => { clock += ms; }, now: () => clock };
}

const body = JSON.stringify({ id: 'po_1', status: 'paid', amount: '100.00' });

describe('webhook.verify', () => {
  it('a correctly signed delivery is verified; the same message by hand (openssl-style) agrees', async () => {
    const t = setup();
    const d = t.signed(body);
    const ts = d.headers['x-quickpay-timestamp'];
    expect(d.headers['x-quickpay-signature']).toBe(nodeCrypto.createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex'));
    expect(await t.verify(d)).toEqual({ ok: true, value: { verified: true, timestamp: Number(ts) * 1000, deliveryId: null } });
  });

  it('a wrong secret, a changed body, a bad or missing signature are not verified, each with its reason', async () => {
    const t = setup();
    expect((await t.verify(t.signed(body, { secret: 'guess' }))).value).toMatchObject({ verified: false, reason: 'mismatch' });
    const tampered = t.signed(body);
    expect((await t.verify({ ...tampered, rawBody: body.replace('100.00', '900.00') })).value).toMatchObject({ verified: false, reason: 'mismatch' });
    // One flipped hex digit: same length, so it is the constant-time comparison that says no.
    const flipped = t.signed(body);
    const sig = flipped.headers['x-quickpay-signature'];
    flipped.headers['x-quickpay-signature'] = (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1);
    expect((await t.verify(flipped)).value).toMatchObject({ verified: false, reason: 'mismatch' });
    const short = t.signed(body);
    short.headers['x-quickpay-signature'] = 'abcd';
    expect((await t.verify(short)).value).toMatchObject({ verified: false, reason: 'mismatch' });
    const garbage = t.signed(body);
    garbage.headers['x-quickpay-signature'] = 'not hex!';
    expect((await t.verify(garbage)).value).toMatchObject({ verified: false, reason: 'malformed_signature' });
    const unsigned = t.signed(body);
    delete (unsigned.headers as Record<string, string>)['x-quickpay-signature'];
    expect((await t.verify(unsigned)).value).toMatchObject({ verified: false, reason: 'missing_signature', message: 'no x-quickpay-signature header: the delivery is not signed' });
    const noTime = t.signed(body);
    delete (noTime.headers as Record<string, string>)['x-quickpay-timestamp'];
    expect((await t.verify(noTime)).value).toMatchObject({ verified: false, reason: 'missing_timestamp' });
  });

  it('a replay within the tolerance is not verified; a correct delivery still is (positive control)', async () => {
    const t = setup();
    const d = t.signed(body);
    expect((await t.verify(d)).value).toMatchObject({ verified: true });
    t.advance(10_000);
    expect((await t.verify(d)).value).toMatchObject({ verified: false, reason: 'replayed' });
    // The same body signed afresh (a provider's retry with a new timestamp) is a new delivery.
    expect((await t.verify(t.signed(body))).value).toMatchObject({ verified: true });
  });

  it('attacks on the replay memory: a forged delivery cannot reserve an id; a re-spelled signature is still a replay', async () => {
    const withId: WebhookSignatureScheme = { ...scheme, deliveryIdHeader: 'x-quickpay-delivery' };
    const t = setup({ scheme: withId });
    const ts = Math.floor(t.now() / 1000);
    const real = { rawBody: body, headers: signWebhook(withId, SECRET, { rawBody: body, path: PATH, timestamp: ts, deliveryId: 'dlv_7' }) };
    // Someone without the secret sends id dlv_7 first, hoping the provider's real one is refused.
    const forged = { rawBody: body, headers: signWebhook(withId, 'not the secret', { rawBody: body, path: PATH, timestamp: ts, deliveryId: 'dlv_7' }) };
    const refused = await t.verify(forged);
    expect(refused.value).toMatchObject({ verified: false, reason: 'mismatch' });
    // The answer carries neither the secret nor the digest that would have matched.
    expect(JSON.stringify(refused)).not.toContain(real.headers['x-quickpay-signature']);
    expect(JSON.stringify(refused)).not.toContain(SECRET);
    expect((await t.verify(real)).value).toMatchObject({ verified: true, deliveryId: 'dlv_7' });

    // Without an id header the delivery is known by the digest, not by how the header spells it.
    const u = setup();
    const d = u.signed(body);
    expect((await u.verify(d)).value).toMatchObject({ verified: true });
    const upper = { ...d, headers: { ...d.headers, 'x-quickpay-signature': ` ${d.headers['x-quickpay-signature'].toUpperCase()} ` } };
    expect((await u.verify(upper)).value).toMatchObject({ verified: false, reason: 'replayed' });
  });

  it('replays by delivery id: the same id with a new signature is refused', async () => {
    const withId: WebhookSignatureScheme = { ...scheme, deliveryIdHeader: 'x-quickpay-delivery' };
    const t = setup({ scheme: withId });
    const sign = (ts: number) => ({ rawBody: body, headers: signWebhook(withId, SECRET, { rawBody: body, path: PATH, timestamp: ts, deliveryId: 'dlv_1' }) });
    const first = Math.floor(t.now() / 1000);
    expect((await t.verify(sign(first))).value).toMatchObject({ verified: true, deliveryId: 'dlv_1' });
    expect((await t.verify(sign(first + 1))).value).toMatchObject({ verified: false, reason: 'replayed' });
    const noId = sign(first);
    delete (noId.headers as Record<string, string>)['x-quickpay-delivery'];
    expect((await t.verify(noId)).value).toMatchObject({ verified: false, reason: 'missing_delivery_id' });
  });

  it('an expired or future timestamp is not verified, even with a correct signature', async () => {
    const t = setup();
    const nowSec = Math.floor(t.now() / 1000);
    expect((await t.verify(t.signed(body, { timestampSec: nowSec - 301 }))).value).toEqual({ verified: false, reason: 'expired', message: 'the timestamp is 301 s old; toleranceSec is 300' });
    expect((await t.verify(t.signed(body, { timestampSec: nowSec + 400 }))).value).toMatchObject({ verified: false, reason: 'expired', message: expect.stringContaining('in the future') });
    expect((await t.verify(t.signed(body, { timestampSec: nowSec - 299 }))).value).toMatchObject({ verified: true });
    // A delivery verified at the edge of the window cannot be replayed after the clock moved on.
    const edge = t.signed(body, { timestampSec: nowSec - 10 });
    expect((await t.verify(edge)).value).toMatchObject({ verified: true });
    t.advance(200_000);
    expect((await t.verify(edge)).value).toMatchObject({ verified: false, reason: 'replayed' });
    t.advance(200_000);
    expect((await t.verify(edge)).value).toMatchObject({ verified: false, reason: 'expired' });
  });

  it('an unset secret says so; outside webhook() and without a scheme the call is refused by rule', async () => {
    expect((await setup({ secret: null }).verify(setup().signed(body))).value).toMatchObject({ verified: false, reason: 'secret_unset', message: expect.stringContaining("'webhookSecret' is not set") });
    const t = setup();
    expect(await t.verify(t.signed(body), 'transfer')).toMatchObject({ ok: false, error: { code: 'HOST_DENIED', rule: 'webhook.verify.outside-webhook' } });
    expect(await setup({ scheme: null }).verify(t.signed(body))).toMatchObject({ ok: false, error: { code: 'HOST_DENIED', rule: 'webhook.verify.no-scheme' } });
  });

  it('is audited with the scheme-free summary and the verdict, never the secret or the signature', async () => {
    const t = setup();
    const d = t.signed(body);
    await t.verify(d);
    await t.verify(d);
    await t.flush();
    expect(t.records.map((r) => [r.capability, r.decision, r.summary])).toEqual([
      ['webhook.verify', 'allowed', `callback:webhook: POST ${PATH}, body ${body.length} bytes: verified`],
      ['webhook.verify', 'allowed', `callback:webhook: POST ${PATH}, body ${body.length} bytes: not verified: replayed`],
    ]);
    const all = JSON.stringify(t.records);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(d.headers['x-quickpay-signature']);
  });
});

describe('manifest.webhook.signature', () => {
  const base = { title: 'Q', currencies: ['CARDUAH'], config: { webhookSecret: { secret: true }, apiUrl: {} } };
  const bad = (signature: unknown) => () => manifestFromSdk({ ...base, webhook: { signature } });
  it('defaults: sha256, hex, separator ".", tolerance 300 s; header names lower-cased', () => {
    expect(scheme).toEqual({
      key: 'webhookSecret', header: 'x-quickpay-signature', algorithm: 'sha256', encoding: 'hex', prefix: '', parts: ['timestamp', 'body'],
      separator: '.', timestampHeader: 'x-quickpay-timestamp', timestampUnit: 's', toleranceSec: 300, deliveryIdHeader: null,
    });
    expect(manifestFromSdk(base).webhookSignature).toBeNull();
  });
  it('refuses a scheme that could not protect anything, with the field and the fix', () => {
    expect(bad({ key: 'apiUrl', header: 'x-sig', parts: ['body'] })).toThrow(/webhook\.signature\.key must name a secret config key \(config: \{ apiUrl: \{ secret: true \} \}\)/);
    expect(bad({ key: 'webhookSecret', header: 'x-sig', parts: ['timestamp'] })).toThrow(/parts must include 'body'/);
    expect(bad({ key: 'webhookSecret', header: 'x-sig', parts: ['timestamp', 'body'] })).toThrow(/timestampHeader is required/);
    expect(bad({ key: 'webhookSecret', header: 'x sig', parts: ['body'] })).toThrow(/header must be a header name/);
    expect(bad({ key: 'webhookSecret', header: 'x-sig', parts: ['body'], algorithm: 'md5' })).toThrow(/algorithm must be/);
    expect(bad({ key: 'webhookSecret', header: 'x-sig', parts: ['body'], toleranceSec: 0 })).toThrow(/toleranceSec must be/);
  });
});
