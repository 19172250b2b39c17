import { describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import { PluginRejected } from '../../../runtime/plugin-errors.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

async function rejection(dir: string): Promise<PluginRejected> {
  try {
    await bundlePlugin(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(PluginRejected);
    return err as PluginRejected;
  }
  throw new Error('expected the plugin to be refused');
}

describe('bundler: what a plugin may require', () => {
  it('maps the platform modules and the provided packages to sandbox shims', async () => {
    const dir = writePlugin('allowed', {
      'index.js': `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const db = require('../../../db');
const db2 = require('../../../db/index.js');
const updateHistory = require('../../../modules/updateHistory.js');
const i18n = require('../../../modules/i18n');
const axios = require('axios');
const Promise = require('bluebird');
const BigNumber = require('bignumber.js');
const crypto = require('node:crypto');
const crypto2 = require('crypto');
const qs = require('querystring');
const helper = require('./lib/helper');
module.exports = class A { async getFields() { return helper(id_key); } };
`,
      'lib/helper.js': `module.exports = (k) => k + ':' + __dirname;`,
      'callback.js': `module.exports = { final: async (req, res) => res.end('ok') };`,
    });
    const bundle = await bundlePlugin(dir);
    expect(bundle.key).toBe('allowed');
    expect(bundle.inputs.sort()).toEqual(['callback.js', 'index.js', 'lib/helper.js']);
    expect(bundle.files.callbacks).toMatch(/callback\.js$/);
    const modules = new Set(bundle.scan.hostModules.map((m) => m.module));
    expect([...modules].sort()).toEqual(['axios', 'bignumber', 'bluebird', 'config', 'crypto', 'db', 'i18n', 'querystring', 'updateHistory']);
    expect(bundle.scan.hostModules.find((m) => m.module === 'config')).toMatchObject({ file: 'index.js', line: 3 });
    expect(bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['fs', `const fs = require('fs');`, /Node built-in 'fs' is not available/],
    ['node:fs', `const fs = require('node:fs');`, /Node built-in 'node:fs'/],
    ['child_process', `const cp = require('child_process');`, /Node built-in 'child_process'/],
    ['net', `const net = require('net');`, /Node built-in 'net'/],
    ['vm', `const vm = require('vm');`, /Node built-in 'vm'/],
    ['worker_threads', `const w = require('worker_threads');`, /Node built-in 'worker_threads'/],
    ['http', `const h = require('http');`, /Node built-in 'http'/],
  ])('refuses require(%s) with the module name and file:line', async (name, line, message) => {
    const dir = writePlugin(`forbidden-${name.replace(/\W/g, '_')}`, { 'index.js': `// plugin\n${line}\nmodule.exports = class {};\n` });
    const err = await rejection(dir);
    expect(err.code).toBe('forbidden_require');
    expect(err.location).toMatchObject({ file: 'index.js', line: 2 });
    expect(err.message).toMatch(message);
    expect(err.message).toContain('index.js:2');
  });

  it('refuses an unknown npm package by name and lists what is available', async () => {
    const err = await rejection(writePlugin('unknown-pkg', { 'index.js': `const _ = require('lodash');\nmodule.exports = class {};` }));
    expect(err.message).toMatch(/npm package 'lodash' is not provided/);
    expect(err.message).toMatch(/axios, bluebird, bignumber\.js/);
  });

  it('refuses a computed require(name), which could not be reviewed before it runs', async () => {
    const err = await rejection(writePlugin('computed', { 'index.js': `const name = 'child_' + 'process';\nconst cp = require(name);\nmodule.exports = class {};` }));
    expect(err.code).toBe('computed_require');
    expect(err.location).toMatchObject({ file: 'index.js', line: 2 });
  });

  it('refuses an indirect require (const r = require; r(x))', async () => {
    const err = await rejection(writePlugin('indirect', { 'index.js': `const r = require;\nr('fs');\nmodule.exports = class {};` }));
    expect(err.code).toBe('computed_require');
  });

  it('refuses a require that climbs out of the plugin folder', async () => {
    const err = await rejection(writePlugin('climb', { 'index.js': `const other = require('../allowed/index.js');\nmodule.exports = class {};` }));
    expect(err.message).toMatch(/outside the plugin folder/);
  });

  it('reports a syntax error with file and line', async () => {
    const err = await rejection(writePlugin('syntax', { 'index.js': `class A {\n  getFields( {\n}\nmodule.exports = A;` }));
    expect(err.code).toBe('syntax_error');
    expect(err.location?.file).toBe('index.js');
    expect(err.location?.line).toBeGreaterThanOrEqual(2);
  });

  it('reports several forbidden requires at once', async () => {
    const err = await rejection(writePlugin('many', { 'index.js': `require('fs');\nrequire('net');\nmodule.exports = class {};` }));
    expect(err.message).toContain("'fs'");
    expect(err.message).toContain("'net'");
  });

  it('accepts templates/ or template/ and callbacks.js or callback.js', async () => {
    const a = await bundlePlugin(writePlugin('variant-a', { 'callbacks.js': 'module.exports = {};', 'templates/admin.html': '<div/>', 'templates/admin.js': 'module.exports = {};' }));
    expect(a.files.templates?.dir).toMatch(/templates$/);
    const b = await bundlePlugin(writePlugin('variant-b', { 'callback.js': 'module.exports = {};', 'template/admin.html': '<div/>' }));
    expect(b.files.templates?.dir).toMatch(/template$/);
    expect(b.files.callbacks).toMatch(/callback\.js$/);
  });

  it('refuses a folder without index.js or configure.js, naming the file', async () => {
    const dir = writePlugin('no-index', {});
    const fs = await import('node:fs');
    fs.rmSync(`${dir}/index.js`);
    const err = await rejection(dir);
    expect(err.message).toMatch(/index\.js is missing/);
  });
});
