// The package as an outside author gets it: built (JavaScript + .d.ts), packed with `npm pack`,
// installed into an empty folder, a plugin created with its `new`, and that plugin's tests run
// and typechecked there. Offline: the tarball is unpacked into node_modules/payout-sandbox as npm
// lays it out, and the dependencies are links to this project's installed ones (this machine
// reaches no registry but npm's, and the test must not depend on it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPackage, rewriteDeclarationSpecifiers } from '../../sdk/build/build-package.ts';

const repo = path.resolve('.');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
const clean = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
function run(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
  return { status: r.status, output: clean(`${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`) };
}

describe('the npm package', () => {
  it('declarations name the emitted .js files', () => {
    expect(rewriteDeclarationSpecifiers("import type { A } from './a.ts';\nexport * from '../b/c.ts';\nimport('./d.ts');\nimport x from 'pkg.ts';"))
      .toBe("import type { A } from './a.js';\nexport * from '../b/c.js';\nimport('./d.js');\nimport x from 'pkg.ts';");
  });

  it('packs, installs into an empty folder, and a new plugin passes its tests and typechecks there', () => {
    const out = buildPackage(path.join(tmp, 'build'));
    const packed = run('npm', ['pack', out, '--pack-destination', tmp, '--offline', '--json'], tmp);
    expect(packed.status, packed.output).toBe(0);
    const tarball = path.join(tmp, fs.readdirSync(tmp).find((f) => f.endsWith('.tgz')) as string);
    const listing = run('tar', ['-tzf', tarball], tmp).output.split('\n').filter(Boolean);
    expect(listing).toContain('package/sdk/testkit.js');
    expect(listing).toContain('package/sdk/testkit.d.ts');
    expect(listing).toContain('package/runtime/sandbox/child/sandbox-process.js');
    expect(listing).toContain('package/runtime/bundler/shims/sdk.cjs');
    // No TypeScript source: Node would refuse to strip it under node_modules.
    expect(listing.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    // The author's empty project; the package unpacked where npm would put it.
    const project = path.join(tmp, 'author');
    const modules = path.join(project, 'node_modules');
    fs.mkdirSync(path.join(modules, 'payout-sandbox'), { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'author', private: true, type: 'module' }));
    expect(run('tar', ['-xzf', tarball, '-C', path.join(modules, 'payout-sandbox'), '--strip-components=1'], tmp).status).toBe(0);
    for (const name of fs.readdirSync(path.join(repo, 'node_modules'))) {
      if (name === 'payout-sandbox' || name === '.bin' || name.startsWith('.')) continue;
      fs.symlinkSync(path.join(repo, 'node_modules', name), path.join(modules, name));
    }
    const bin = path.join(modules, 'payout-sandbox', 'runtime', 'cli', 'bin.js');
    const created = run(process.execPath, [bin, 'new', 'acme-pay', '--dir', 'plugins'], project);
    expect(created.status, created.output).toBe(0);
    expect(created.output).toContain('created plugins/acme-pay (sdk format)');

    const tests = run(process.execPath, [path.join(modules, 'vitest', 'vitest.mjs'), 'run', '--dir', 'plugins', '--reporter', 'verbose'], project, 150_000);
    expect(tests.status, tests.output).toBe(0);
    expect(tests.output).toMatch(/Test Files\s+1 passed \(1\)/);
    expect(tests.output).toContain('typechecks with the SDK types');
    // Loaded from the package's JavaScript, not from this checkout.
    expect(fs.realpathSync(path.join(modules, 'payout-sandbox'))).not.toBe(repo);
  }, 170_000);
});
