import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const run = promisify(execFile);
const BIN = new URL('../../../runtime/cli/bin.js', import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

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
});
