// The minimum secret length on a real server: the admin route refuses a short secret with the one
// line config gives (which key, the minimum, how to fix), and a short secret already in the store
// is reported in the server log when its plugin loads — the value itself never appears.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../../runtime/secrets/secret-box.ts';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

const SHORT = 'short-secret-1';
const lines: string[] = [];
let t: TestHost;

beforeAll(async () => {
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  t = await startTestHost({}, { logger: pino({ level: 'warn' }, sink) });
});
afterAll(async () => {
  await t?.close();
});

describe('minimum secret length on the server', () => {
  it('the admin route refuses a short secret in one line and keeps the old value', async () => {
    const res = await t.admin('POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'nimbuspay', key: 'apiSecret', value: SHORT });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      "config key 'apiSecret' of plugin 'nimbuspay' is a secret of 14 characters; secrets must be at least 16 characters so they can be removed from provider responses and logs: set the full credential (or a longer one) in the plugin's settings",
    );
    expect(res.text).not.toContain(SHORT);
    // Control: a long enough value is accepted.
    const ok = await t.admin('POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'nimbuspay', key: 'apiSecret', value: 'provider-api-secret-xyz' });
    expect(ok.status).toBe(200);
  });

  it('a short secret already stored is reported when the plugin loads', async () => {
    // Written straight into the store, as a value set before the minimum existed would be.
    const value = new SecretBox(t.host.keys).seal(SHORT, 'nimbuspay.webhookSecret');
    await t.host.store.setConfig({ plugin: 'nimbuspay', key: 'webhookSecret', secret: true, value });
    const res = await t.admin('POST', '/api/admin/plugins/nimbuspay/reload');
    expect(res.status).toBe(200);
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.plugin === 'nimbuspay' && /webhookSecret/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0].msg).toMatch(/^config key 'webhookSecret' of plugin 'nimbuspay' is a secret of 14 characters; secrets must be at least 16/);
    expect(lines.join('\n')).not.toContain(SHORT);
  });
});
