// A grant the egress guard would refuse at payout time is refused when it is added: a loopback
// origin on a host without allowLoopbackGrants. Otherwise the grant is accepted, the payout's
// request is refused after transfer() began, and the payout ends UNKNOWN, then on hold, with a
// message that never names the option.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost;

beforeAll(async () => { t = await startTestHost({ allowLoopbackGrants: false }); });
afterAll(async () => { await t?.close(); });

const grants = async () => ((await t.admin('GET', '/api/admin/plugins/nimbuspay')).json.network.granted as { origin: string }[]).map((g) => g.origin);

describe('admin grants on a host without loopback grants', () => {
  it('accepts a public origin (positive control)', async () => {
    const r = await t.admin('POST', '/api/admin/plugins/nimbuspay/grants', { origin: 'https://api.nimbuspay.example' });
    expect(r.status).toBe(200);
    expect(await grants()).toContain('https://api.nimbuspay.example:443');
  });

  it.each(['http://127.0.0.1:8080', 'http://127.9.9.9:8080', 'http://[::1]:8080', 'http://localhost:8080'])('refuses %s at once, naming the option, and audits the refusal', async (origin) => {
    const r = await t.admin('POST', '/api/admin/plugins/nimbuspay/grants', { origin });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe('origin');
    expect(r.json.error.message).toMatch(/is a loopback origin, and this host does not allow loopback grants; .*PAYOUT_SANDBOX_OPTIONS='\{"allowLoopbackGrants":true\}'/);
    expect(await grants()).not.toContain(new URL(origin).origin);
    await t.host.hostApi.audit.flush();
    const audit = (await t.admin('GET', '/api/admin/audit?capability=admin.grant.approve&decision=denied')).json.records as { summary: string; rule: string }[];
    expect(audit.some((a) => a.summary.startsWith(new URL(origin).origin) && a.rule === 'http.loopback')).toBe(true);
  });
});
