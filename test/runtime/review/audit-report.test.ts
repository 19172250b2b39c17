// The reviewer's report lines that come from the capability set and the bundle-time scan: the
// one-line summary, origins set by config, where each secret is read (through a helper too),
// a flag for a signature compared with ===, and direct bridge calls. nimbuspay is the positive
// control: it reads its secrets through a helper and compares signatures with timingSafeEqual.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditReport } from '../../../runtime/review/audit-report.ts';
import { checkPluginFolder } from '../../../runtime/installer/plugin-check.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const report = async (dir: string) => (await checkPluginFolder(dir, [], `plugin folder ${dir}`, 'nothing changed')).report;

const WEAK_INDEX = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const crypto = require('node:crypto');
const read = async (name) => config.get(name);
class Weak {
  async verify(body, given) {
    const key = await read('apiSecret');
    const expected = crypto.createHmac('sha256', key).update(body).digest('hex');
    if (given.length !== expected.length) return false;
    return expected === given;
  }
  async getFields(lang, xml) { return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }]; }
  async transfer(order) { return { ok: 1, transaction: 't', amount: order.outAmount, currency: 'UAH', to: 'x' }; }
}
module.exports = Weak;
`;

describe('the reviewer report built from the capability set', () => {
  it('nimbuspay: summary on top, apiUrl as a config-set origin, secrets read through its helper, no compare flag', async () => {
    const r = await report(path.resolve('plugins/nimbuspay'));
    expect(r.summary).toBe('nimbuspay: host capabilities config.get, history.update, http.request, payoutTxs.count, payoutTxs.find, payoutTxs.updateOne; ' +
      'settles its orders; connects to whatever `apiUrl` holds; reads secrets apiSecret, webhookSecret; 1 callback; cron */30 * * * * *; 1 high and 3 review flags');
    expect(r.network.configOrigins).toEqual([{ key: 'apiUrl', default: 'https://api.nimbuspay.example', text: 'connects to whatever `apiUrl` holds' }]);
    const secrets = Object.fromEntries(r.secrets.reads.map((s) => [s.key, s.readAt]));
    expect(secrets.apiSecret).toEqual([expect.stringMatching(/^index\.js:\d+ via setting\(\)$/)]);
    expect(secrets.webhookSecret).toEqual([expect.stringMatching(/^callbacks\.js:\d+$/)]);
    expect(r.secrets.coverage).toMatch(/not covered: keys built at run time/);
    expect(r.risks.map((f) => f.flag)).not.toContain('signature-compare');
    expect(r.bridge).toEqual([]);
    expect(r.capabilitySet.callbacks).toEqual(['url_final']);
  });

  it('flags a signature compared with ===, and finds the secret read through an arrow helper', async () => {
    const r = await report(writePlugin('weakcompare', { 'index.js': WEAK_INDEX }));
    const flag = r.risks.find((f) => f.flag === 'signature-compare');
    expect(flag).toMatchObject({ severity: 'high' });
    expect(flag!.detail).toMatch(/^index\.js:11 compares a value computed by createHmac\/digest with == \/ ===.*timingSafeEqual: return expected === given;$/);
    // The length check on line 10 compares no secret bytes.
    expect(r.signatureCompares).toEqual([{ at: 'index.js:11', text: 'return expected === given;' }]);
    expect(r.secrets.reads.find((s) => s.key === 'apiSecret')!.readAt).toEqual(['index.js:8 via read()']);
    expect(r.summary).toMatch(/^weakcompare: host capabilities config\.get; no network; reads secrets apiSecret; 1 high and 1 review flag$/);
  });

  it('shows a direct bridge call as requested, refused at run time', async () => {
    const r = await report(writePlugin('bridgecall', {
      'index.js': `class B {
  async getFields() { await globalThis.__ps_host.call('history.update', {}); return []; }
  async transfer() { return { ok: 2 }; }
}
module.exports = B;
`,
    }));
    expect(r.bridge).toEqual([{ capability: 'history.update', at: 'index.js:2', granted: false }]);
    expect(r.capabilities).toEqual([]);
    expect(r.capabilitySet.bridgeRequests).toEqual(['history.update']);
    expect(r.risks.find((f) => f.flag === 'bridge-call')!.detail).toMatch(/requested that way: history\.update — refused at run time/);
    expect(r.summary).toMatch(/calls the host bridge directly for history\.update \(refused at run time\)/);
  });

  it('is built from the bundle-time scan: with the folder gone, the admin page report still flags code built from strings', async () => {
    const dir = writePlugin('dyncode', { 'index.js': PLAIN_WITH_EVAL });
    const { plugin } = await checkPluginFolder(dir, [], `plugin folder ${dir}`, 'nothing changed');
    fs.rmSync(dir, { recursive: true, force: true });
    const r = auditReport(plugin, []);
    expect(r.risks.find((f) => f.flag === 'dynamic-code')?.detail).toMatch(/^builds code from strings \(eval \/ new Function\) in index\.js;/);
  });
});

const PLAIN_WITH_EVAL = `
class D {
  async getFields() { try { return eval('[]'); } catch (e) { return []; } }
  async transfer() { return { ok: 2 }; }
}
module.exports = D;
`;
