// `payout-sandbox new`: the scaffold of each format passes `check` and its own generated tests,
// run by vitest in a separate process inside an author's project that has payout-sandbox
// installed (node_modules/payout-sandbox → this checkout, as `npm link` or a file: dependency).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namesFor, scaffoldPlugin } from '../../../runtime/cli/commands/new.ts';
import { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { loadPlugin } from '../../../runtime/plugins/load-plugin.ts';
import { denyAllHandler } from '../../../runtime/review/check-report.ts';
import { authorProject, childEnv } from './cli-fixture.ts';

const project = authorProject('ps-author-', ['vitest']);
const plugins = path.join(project, 'plugins');

afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('payout-sandbox new', () => {
  it('writes a plugin folder for each format, and refuses bad names and existing folders', () => {
    const sdk = scaffoldPlugin({ name: 'acme-pay', dir: plugins });
    expect(sdk).toMatchObject({ key: 'acme-pay', format: 'sdk', files: ['icon.png', 'plugin.ts', 'test/fake-provider.ts', 'test/plugin.test.ts'] });
    expect(fs.readFileSync(path.join(sdk.dir, 'plugin.ts'), 'utf8')).toContain("title: 'Acme Pay'");
    const platform = scaffoldPlugin({ name: 'old_pay', format: 'platform', dir: plugins });
    expect(platform.files).toEqual(['callbacks.js', 'configure.js', 'icon.png', 'index.js', 'templates/admin.html', 'templates/admin.js', 'test/fake-provider.ts', 'test/plugin.test.ts']);
    expect(fs.readFileSync(path.join(platform.dir, 'index.js'), 'utf8')).toContain('class OldPay');
    expect(namesFor('9lives')).toEqual({ title: '9lives', className: 'P9lives' });

    expect(() => scaffoldPlugin({ name: 'acme-pay', dir: plugins })).toThrow(/already exists/);
    expect(() => scaffoldPlugin({ name: '../evil', dir: plugins })).toThrow(/cannot be a plugin key/);
    expect(() => scaffoldPlugin({ name: 'x', format: 'wasm' as never, dir: plugins })).toThrow(/--format wasm/);
    expect(fs.readdirSync(plugins).sort()).toEqual(['acme-pay', 'old_pay']);
  });

  it('both scaffolds pass check', async () => {
    const sandbox = new SandboxHost({ handler: denyAllHandler([]) });
    try {
      for (const key of ['acme-pay', 'old_pay']) {
        const p = await loadPlugin(sandbox, path.join(plugins, key), { apiUrl: 'http://127.0.0.1:3000/' });
        expect(p.bundle.files.warnings).toEqual([]);
        expect(p.description.methods).toMatchObject({ getFields: true, transfer: true });
      }
    } finally {
      await sandbox.close();
    }
  });

  it('both scaffolds pass their own generated tests (vitest in a child process)', () => {
    const run = spawnSync(process.execPath, [path.join(project, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--dir', 'plugins', '--reporter', 'verbose'], {
      cwd: project, env: childEnv(), encoding: 'utf8', timeout: 170_000,
    });
    const output = `${run.stdout}\n${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
    expect(run.status, output).toBe(0);
    expect(output).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(output).toMatch(/Tests\s+12 passed \(12\)/);
  }, 180_000);
});
