import { describe, expect, it } from 'vitest';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { cli as runCli } from './cli-fixture.ts';

const cli = (...args: string[]) => runCli(args);

describe('payout-sandbox check', () => {
  it('prints the example plugin as JSON: key, manifest, files, callbacks, cron', async () => {
    const { code, stdout } = await cli('check', 'plugins/nimbuspay', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({
      ok: true, key: 'nimbuspay',
      manifest: { type: 'payout', title: 'NimbusPay', required_config: { apiSecret: 2 } },
      files: { configure: 'configure.js', index: 'index.js', callbacks: 'callbacks.js', icon: { width: 150, height: 150 } },
      callbacks: ['url_final'],
      cron: { schedule: '*/30 * * * * *', callWhenInit: true },
    });
    expect(report.capabilities).toContain('http.request');
    expect(report.network.originsInSource).toContain('https://api.nimbuspay.example');
    expect(report.config).toContainEqual({ key: 'apiSecret', secret: true });
  });

  it('exits non-zero with the precise reason for a plugin that requires fs', async () => {
    const dir = writePlugin('cli-fs', { 'index.js': `const fs = require('fs');\nmodule.exports = class {};` });
    const json = await cli('check', dir, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, key: 'cli-fs', error: { code: 'forbidden_require', location: { file: 'index.js', line: 1 } } });
    const text = await cli('check', dir);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/index\.js:1: require\('fs'\) refused: Node built-in 'fs'/);
  });

  it('exits non-zero when the manifest is invalid, naming the field', async () => {
    const dir = writePlugin('cli-manifest', { 'configure.js': `module.exports = { type: 'payout', title: 'x', name: 'x', required_config: { apiSecret: 7 } };` });
    const { code, stdout } = await cli('check', dir, '--json');
    expect(code).toBe(1);
    expect(JSON.parse(stdout).error.message).toMatch(/required_config\.apiSecret must be 1 .* or 2/);
  });

  it('dry-runs the example plugin\'s cron against an empty store: no refused db call', async () => {
    const { code, stdout } = await cli('check', 'plugins/nimbuspay', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).cronDryRun).toEqual({ outcome: 'finished', message: null, dbCalls: ['payoutTxs.count'], refused: [], notAnswered: [] });
  });
});

// A cron whose db query the host will refuse on every run is found when the plugin is checked.
const cronPlugin = (key: string, query: string) => writePlugin(key, {
  'index.js': [
    'const id_key = __dirname.split(\'/\').slice(-1)[0];',
    'const axios = require(\'axios\');',
    'module.exports = class {',
    '  async getFields() { return []; }',
    '  async transfer() { return null; }',
    '  initCron({ db }) {',
    '    return { schedule: \'*/5 * * * *\', fn: async () => {',
    `      const n = await ${query};`,
    '      try { await axios.get(\'http://127.0.0.1:9/status\'); } catch (e) { /* no network in a dry run */ }',
    '      return n;',
    '    } };',
    '  }',
    '};',
  ].join('\n'),
});

describe('check and audit: the cron dry run', () => {
  it('accepts the numeric createdAt window mongoose allows', async () => {
    const dir = cronPlugin('cli-cron-window', 'db.OrderPayoutTxs.countDocuments({ active: true, payoutModule: id_key, createdAt: { $lt: Date.now() - 600000, $gt: Date.now() - 3 * 86400000 } })');
    const { code, stdout } = await cli('check', dir, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).cronDryRun).toMatchObject({ outcome: 'finished', dbCalls: ['payoutTxs.count'], refused: [], notAnswered: ['http.request'] });
  });

  it('refuses a plugin whose cron query the host refuses, naming the line, the rule and mongoose\'s reason', async () => {
    const dir = cronPlugin('cli-cron-cast', "db.OrderPayoutTxs.countDocuments({ active: true, createdAt: { $lt: 'ten minutes ago' } })");
    const json = await cli('check', dir, '--json');
    expect(json.code).toBe(1);
    const error = JSON.parse(json.stdout).error;
    expect(error.code).toBe('cron_refused');
    expect(error.message).toContain('index.js:8: payoutTxs.count refused (payoutTxs.cast): Cast to date failed for value "ten minutes ago" (type string) at path "createdAt"');
    const text = await cli('check', dir);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/error: the cron job makes db calls the host refuses/);
  });

  it('audit reports the refused call as a high risk and still prints the report', async () => {
    const dir = cronPlugin('cli-cron-or', 'db.OrderPayoutTxs.find({ $or: [{ active: true }, { note: null }] }).lean()');
    const { code, stdout } = await cli('audit', dir, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.cronDryRun.refused).toEqual([expect.objectContaining({ capability: 'payoutTxs.find', rule: 'payoutTxs.operator', at: 'index.js:8' })]);
    expect(report.risks).toContainEqual(expect.objectContaining({ flag: 'cron-refused', severity: 'high' }));
  });
});

