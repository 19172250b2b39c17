// The line table a platform bundle carries so that the db shim can name the plugin line of a refused
// call: it maps bundle lines to the plugin's own files only, and SDK bundles do without it.
import { describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import { SOURCE_LINES_GLOBAL, callSiteTable } from '../../../runtime/bundler/call-sites.ts';
import { libraryBundle } from '../../../runtime/bundler/library-bundle.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const HELPER = ['// helper', "const db = require('../../../db');", '', 'module.exports.count = () =>', "  db.OrderPayoutTxs.countDocuments({ marker: 'helper-line-5' });"].join('\n');
const INDEX = [
  "const helper = require('./lib/helper.js');",
  'module.exports = class {',
  '  async getFields() { return []; }',
  "  async transfer() { return { marker: 'index-line-4' }; }",
  '  count() { return helper.count(); }',
  '};',
].join('\n');

describe('call-site table', () => {
  it("maps bundle lines to the plugin's files and lines, and nothing else", async () => {
    const bundle = await bundlePlugin(writePlugin('sites', { 'index.js': INDEX, 'lib/helper.js': HELPER }));
    const lastLine = bundle.code.trimEnd().split('\n').at(-1)!;
    expect(lastLine).toMatch(new RegExp(`^globalThis\\.${SOURCE_LINES_GLOBAL} = Object\\.freeze\\(`));
    const table = callSiteTable(bundle.sourceMap, bundle.files.dir);
    expect([...table.files].sort()).toEqual(['index.js', 'lib/helper.js']);

    // Rebuild the absolute entries and look up the bundle lines that hold each marker.
    const files = table.files;
    let line = 0;
    const entries = table.map.split(';').map((p) => {
      const [dl, , file, sourceLine] = p.split(',').map(Number);
      line += dl;
      return { line, file: files[file], sourceLine };
    });
    // The script is the shared library, a newline, then the plugin's own bundle the table describes.
    const lines = bundle.code.split('\n').slice((await libraryBundle()).split('\n').length);
    for (const [marker, file, sourceLine] of [['helper-line-5', 'lib/helper.js', 5], ['index-line-4', 'index.js', 4]] as const) {
      const at = lines.findIndex((l) => l.includes(marker)) + 1;
      expect(entries.filter((e) => e.line === at).map((e) => `${e.file}:${e.sourceLine}`), marker).toContain(`${file}:${sourceLine}`);
    }
  });

  it('is left out of SDK-format bundles', async () => {
    const bundle = await bundlePlugin('plugins/billpay');
    expect(bundle.code).not.toContain(`globalThis.${SOURCE_LINES_GLOBAL} = Object.freeze(`);
  });
});
