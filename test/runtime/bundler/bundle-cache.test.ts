// Bundles are cached by the folder's content (bundle-plugin.ts): a cached bundle must never stand
// for code that changed. Every way an edit reaches the folder bundles again; only a folder whose
// files are byte for byte the same is served from the cache.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import { PLAIN_INDEX, writePlugin } from '../../helpers/plugin-fixture.ts';

const HELPER = "module.exports.fee = () => '1.00';\n";
const INDEX = `const helper = require('./lib/helper.js');\n${PLAIN_INDEX.replace('async getFields(lang, xml) {', 'async getFields(lang, xml) { helper.fee();')}`;

describe('bundle cache', () => {
  it('serves an unchanged folder from the cache, even after touch (positive control)', async () => {
    const dir = writePlugin('cached', { 'index.js': INDEX, 'lib/helper.js': HELPER });
    const first = await bundlePlugin(dir);
    const now = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'index.js'), now, now);
    expect(await bundlePlugin(dir)).toBe(first);
  });

  it('bundles again after an edit, a rename-style save, a new file, a removed file or a moved link', async () => {
    const dir = writePlugin('edited', { 'index.js': INDEX, 'lib/helper.js': HELPER });
    let last = await bundlePlugin(dir);
    const expectNew = async (what: string, marker?: string) => {
      const next = await bundlePlugin(dir);
      expect(next, what).not.toBe(last);
      if (marker) expect(next.code, what).toContain(marker);
      last = next;
    };
    // Same length, one character changed: a size or mtime check would not see it.
    fs.writeFileSync(path.join(dir, 'lib/helper.js'), HELPER.replace("'1.00'", "'2.00'"));
    await expectNew('an edit in place', '2.00');
    // Written aside and renamed over the file, as editors, `sed -i` and `git checkout` do.
    fs.writeFileSync(path.join(dir, 'lib/.helper.tmp'), HELPER.replace("'1.00'", "'3.00'"));
    fs.renameSync(path.join(dir, 'lib/.helper.tmp'), path.join(dir, 'lib/helper.js'));
    await expectNew('a rename-style save', '3.00');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'a file esbuild never reads still changes the key');
    await expectNew('a new file');
    fs.rmSync(path.join(dir, 'notes.txt'));
    await expectNew('a removed file');
    fs.writeFileSync(path.join(dir, 'lib/other.js'), HELPER.replace("'1.00'", "'4.00'"));
    fs.rmSync(path.join(dir, 'lib/helper.js'));
    fs.symlinkSync('other.js', path.join(dir, 'lib/helper.js'));
    await expectNew('a file replaced by a link', '4.00');
  });

  it('a refused require is refused again, never served from an earlier good bundle', async () => {
    const dir = writePlugin('turned', { 'index.js': INDEX, 'lib/helper.js': HELPER });
    await bundlePlugin(dir);
    fs.writeFileSync(path.join(dir, 'lib/helper.js'), "module.exports.fee = () => require('fs').readFileSync('/etc/passwd', 'utf8');\n");
    await expect(bundlePlugin(dir)).rejects.toThrow(/Node built-in 'fs' is not available/);
  });
});
