// Bundling a plugin's admin template for the settings frame: fs.readFileSync(__dirname + '/x.html')
// is resolved and inlined at bundle time, and every other require is refused with file:line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleAdminTemplate, ADMIN_TEMPLATE_GLOBAL } from '../../runtime/bundler/admin-template.ts';
import { locatePluginFiles } from '../../runtime/bundler/plugin-files.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function plugin(adminJs: string | null, extra: Record<string, string> = {}): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ps-admin-tpl-')), 'tplplugin');
  dirs.push(path.dirname(dir));
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'configure.js'), "module.exports.type = 'payout'; module.exports.title = 'T'; module.exports.name = 'T';");
  fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = class {};');
  fs.writeFileSync(path.join(dir, 'templates', 'admin.html'), '<div>{{ payoutKey }}</div>');
  if (adminJs !== null) fs.writeFileSync(path.join(dir, 'templates', 'admin.js'), adminJs);
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Runs the bundle the way the frame does (a classic script) and returns what it exported. */
function evaluate(code: string): Record<string, unknown> {
  return vm.runInNewContext(`${code};${ADMIN_TEMPLATE_GLOBAL}`, {}) as Record<string, unknown>;
}

describe('admin template bundle', () => {
  it('inlines the template the example plugin reads, and nothing else', async () => {
    const bundle = await bundleAdminTemplate(locatePluginFiles('plugins/nimbuspay'));
    expect(bundle.inputs).toEqual(['templates/admin.js', 'templates/admin.html']);
    const exported = evaluate(bundle.code);
    expect(exported.template).toBe(fs.readFileSync('plugins/nimbuspay/templates/admin.html', 'utf8'));
    expect(Object.keys(exported.props as object)).toEqual(['schema', 'domain', 'server_path', 'publicIpV4', 'publicIpV6', 'payoutKey', 'config']);
    expect(bundle.code).not.toContain('configure.js');
  });

  it('accepts the spellings platform templates use: options object, template literal path, ES default export', async () => {
    for (const source of [
      "const fs = require('fs'); module.exports = { template: fs.readFileSync(__dirname + '/admin.html', { encoding: 'utf8' }) };",
      'const { readFileSync } = require("node:fs"); module.exports = { template: readFileSync(`${__dirname}/admin.html`) };',
      "import fs from 'fs'; export default { template: fs.readFileSync(__dirname + '/admin.html', 'utf8') };",
    ]) {
      const exported = evaluate((await bundleAdminTemplate(locatePluginFiles(plugin(source)))).code);
      const component = (exported.default ?? exported) as { template: string };
      expect(component.template).toBe('<div>{{ payoutKey }}</div>');
    }
  });

  it('reading a file that was not named at bundle time fails inside the frame, with a clear message', async () => {
    const exported = evaluate((await bundleAdminTemplate(locatePluginFiles(plugin(
      "const fs = require('fs'); const read = fs.readFileSync; module.exports = { template: fs.readFileSync(__dirname + '/admin.html'), other() { return read('/etc/passwd'); } };",
    )))).code);
    expect(() => (exported.other as () => string)()).toThrow(/only the template files named in admin\.js/);
  });

  it.each([
    ['a Node built-in', "const cp = require('child_process');", /admin\.js:1: require\('child_process'\) refused: an admin template runs in the browser/],
    ['an npm package', "const axios = require('axios');", /require\('axios'\) refused/],
    ["the plugin's own files", "const x = require('../index.js');", /require\('\.\.\/index\.js'\) refused/],
    ['a computed require', "const name = 'fs';\nconst x = require(name);", /admin\.js:2: computed require refused: const x = require\(name\);/],
    ['require passed around', "const r = require; module.exports = { r };", /admin\.js:1: computed require refused/],
    ['a path without a slash', "const fs = require('fs'); fs.readFileSync(__dirname + 'admin.html');", /__dirname has no trailing '\/'/],
    ['a computed file name', "const fs = require('fs'); const f = 'admin.html'; fs.readFileSync(f);", /fs\.readFileSync\(f\) cannot be resolved when the template is bundled/],
    ['a file outside templates/', "const fs = require('fs'); fs.readFileSync(__dirname + '/../configure.js');", /leaves the templates folder/],
    ['a missing file', "const fs = require('fs'); fs.readFileSync(__dirname + '/missing.html');", /templates\/missing\.html does not exist/],
    ['a binary file', "const fs = require('fs'); fs.readFileSync(__dirname + '/logo.png');", /only text files/],
  ])('refuses %s with file:line', async (_what, source, reason) => {
    const dir = plugin(source);
    fs.writeFileSync(path.join(dir, 'templates', 'logo.png'), 'png');
    await expect(bundleAdminTemplate(locatePluginFiles(dir))).rejects.toThrow(reason);
  });

  it('a plugin without templates/admin.js has no settings page', async () => {
    await expect(bundleAdminTemplate(locatePluginFiles(plugin(null)))).rejects.toThrow(/has no templates\/admin\.js/);
  });
});
