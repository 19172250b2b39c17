// Escape and abuse corpus, part 3: bundle-time escapes. A plugin folder tries to pull Node
// built-ins or host files into its bundle. Decided from effects: a refusal at load time is
// "stopped"; if the plugin loads anyway, it is run and must show it could not read the host
// file (HOST_FILE_MARKER) nor use a built-in. A configure.js that never ends must be cut by the
// process that evaluates it (corpus-probes.ts), never judged by a clock.
import fs from 'node:fs';
import path from 'node:path';
import { bundlePlugin } from '../../runtime/bundler/bundle-plugin.ts';
import { PluginRejected } from '../../runtime/plugin-errors.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { HOST_FILE_MARKER } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { configureCutInProcess } from './corpus-probes.ts';
import { stopped, through } from './tally.ts';
import type { Outcome, SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;
let seq = 0;

/** index.js whose getFields returns what the smuggled module gave it. */
const probeIndex = (acquire: string) => `
${acquire}
module.exports = class {
  async getFields() {
    let out;
    try { out = typeof smuggled === 'function' ? String(smuggled) + ' ' + JSON.stringify(Object.keys(smuggled)) : JSON.stringify(smuggled); } catch (e) { out = 'error ' + e.message; }
    try { if (smuggled && typeof smuggled.readFileSync === 'function') out += ' ' + smuggled.readFileSync(MARKER_FILE, 'utf8'); } catch (e) {}
    try { if (smuggled && typeof smuggled.execSync === 'function') out += ' EXEC ' + smuggled.execSync('echo pwned'); } catch (e) {}
    return [{ _id: 'x', name: String(out) }];
  }
  async transfer() { return null; }
};`;

/**
 * Bundles a folder; refused → stopped. Otherwise loads and runs it: reading the marker or getting
 * a real built-in means the escape got through.
 */
async function tryFolder(env: CorpusEnv, dir: string, builtin: RegExp | null): Promise<Outcome> {
  let bundle;
  try {
    bundle = await bundlePlugin(dir);
  } catch (err) {
    if (err instanceof PluginRejected || (err as Error).name === 'PluginRejectedMany') return stopped(`refused: ${(err as Error).message}`);
    return through(`the bundler failed without a refusal: ${(err as Error).message}`);
  }
  if (bundle.code.includes(HOST_FILE_MARKER) || bundle.configureCode.includes(HOST_FILE_MARKER)) return through('the host file was bundled into the plugin');
  let loaded;
  try {
    loaded = await env.local.load(dir);
  } catch (err) {
    return stopped(`refused when loading: ${(err as Error).message}`);
  }
  const r = await env.local.sandbox.invoke(loaded.key, 'getFields', ['en', 'CARDUAH']);
  await env.local.sandbox.unregister(loaded.key);
  const text = JSON.stringify(r.ok ? r.value : r.error);
  if (text.includes(HOST_FILE_MARKER)) return through('the plugin read the host file at run time');
  if (text.includes('EXEC pwned')) return through('the plugin ran a process');
  if (builtin && builtin.test(text)) return through(`the plugin got a real built-in: ${text.slice(0, 200)}`);
  return stopped();
}

function folder(files: Record<string, string>, env: CorpusEnv): string {
  const dir = writePlugin(`bundle${++seq}`, Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.replaceAll('MARKER_FILE', JSON.stringify(env.markerFile))])));
  return dir;
}

const builtinCase = (name: string, acquire: string, attack: string): Case => ({
  name: `bundle: ${name}`,
  attack,
  run: (env) => tryFolder(env, folder({ 'index.js': probeIndex(acquire) }, env), /readFileSync|execSync|spawn|createContext|Worker|\[native code\]/),
});

export const bundleCases: Case[] = [
  builtinCase("require('fs')", "const smuggled = require('fs');", 'plain require of the file system module'),
  builtinCase("require('node:child_process')", "const smuggled = require('node:child_process');", 'node: prefixed child_process'),
  builtinCase("require('fs/promises') and 'node:fs/promises'", "const smuggled = [require('fs/promises'), require('node:fs/promises')];", 'sub-path of a built-in'),
  builtinCase("require('vm'), 'worker_threads', 'inspector', 'module', 'process', 'v8'", "const smuggled = [require('vm'), require('worker_threads'), require('inspector'), require('module'), require('process'), require('v8')];", 'the VM, threads, inspector and module loader'),
  builtinCase("require('http') / 'net' / 'dns' / 'tls'", "const smuggled = [require('http'), require('net'), require('dns'), require('tls')];", 'raw network modules that would bypass the egress guard'),
  builtinCase('computed require', "const name = 'f' + 's'; const smuggled = require(name);", "require(name) decided at run time"),
  builtinCase('aliased require', "const r = require; const smuggled = r('fs');", 'require kept in a variable'),
  builtinCase('require.call / module.require / require.resolve', "const smuggled = [require.call(null, 'fs'), module.require('fs'), require.resolve('fs')];", 'indirect forms of require'),
  builtinCase('dynamic import()', "let smuggled = null; import('fs').then((m) => { smuggled = m; });", 'dynamic import of a built-in'),
  builtinCase('ESM static import', "import * as fsmod from 'fs'; const smuggled = fsmod;", 'ESM import of a built-in'),
  builtinCase("a 'fs' folder inside the plugin shadowing the built-in", "const smuggled = require('fs');", 'node_modules/fs/index.js in the plugin folder'),
  builtinCase('an npm package that is not provided', "const smuggled = [require('lodash'), require('axios/lib/adapters/http.js'), require('undici')];", 'packages outside the provided list, and deep paths into provided ones'),
  builtinCase('payout-sandbox/sdk path traversal', "const smuggled = require('payout-sandbox/sdk/../../runtime/server/host.ts');", 'walking out of the SDK entry'),
  builtinCase('eval(require) at run time', "const smuggled = eval('typeof require === \"function\" ? require(\"fs\") : null') || new Function('return typeof process.binding')();", 'require looked up by eval in the isolate'),
  {
    name: 'bundle: path traversal out of the plugin folder',
    attack: "require('../../../../<host dir>/host-secret.js') by relative path",
    run: (env) => {
      const dir = folder({}, env);
      const rel = path.relative(dir, env.markerFile).split(path.sep).join('/');
      fs.writeFileSync(path.join(dir, 'index.js'), probeIndex(`const smuggled = require('${rel.startsWith('.') ? rel : `./${rel}`}');`));
      return tryFolder(env, dir, null);
    },
  },
  {
    name: 'bundle: absolute path require',
    attack: "require('/tmp/…/host-secret.js')",
    run: (env) => tryFolder(env, folder({ 'index.js': probeIndex('const smuggled = require(MARKER_FILE);') }, env), null),
  },
  {
    name: 'bundle: a symlinked file leading out of the folder',
    attack: 'lib.js → symlink to a host file; index.js requires ./lib.js',
    run: (env) => {
      const dir = folder({ 'index.js': probeIndex("const smuggled = require('./lib.js');") }, env);
      fs.symlinkSync(env.markerFile, path.join(dir, 'lib.js'));
      return tryFolder(env, dir, null);
    },
  },
  {
    name: 'bundle: a symlinked directory leading out of the folder',
    attack: 'vendor/ → symlink to a host directory; index.js requires ./vendor/host-secret.js',
    run: (env) => {
      const dir = folder({ 'index.js': probeIndex("const smuggled = require('./vendor/host-secret.js');") }, env);
      fs.symlinkSync(env.markerDir, path.join(dir, 'vendor'));
      return tryFolder(env, dir, null);
    },
  },
  {
    name: 'bundle: index.js itself is a symlink to a host file',
    attack: 'the entry file points outside the folder',
    run: (env) => {
      const dir = folder({}, env);
      fs.rmSync(path.join(dir, 'index.js'));
      fs.symlinkSync(env.markerFile, path.join(dir, 'index.js'));
      return tryFolder(env, dir, null);
    },
  },
  {
    name: 'bundle: a JSON file symlinked out of the folder',
    attack: "require('./data.json') where data.json → host JSON",
    run: (env) => {
      const dir = folder({ 'index.js': probeIndex("const smuggled = require('./data.json');") }, env);
      fs.symlinkSync(path.join(env.markerDir, 'host-secret.json'), path.join(dir, 'data.json'));
      return tryFolder(env, dir, null);
    },
  },
  {
    name: 'bundle: tsconfig.json paths mapping a bare name to a host file',
    attack: 'a tsconfig.json in the plugin folder maps "helper" to the host file; index.js requires "helper"',
    run: (env) => tryFolder(env, folder({
      'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { helper: [env.markerFile] } } }),
      'index.js': probeIndex("const smuggled = require('helper');"),
    }, env), null),
  },
  {
    name: 'bundle: package.json browser/exports field remapping a relative file to a host file',
    attack: 'package.json { browser: { "./local.js": <host file> } }',
    run: (env) => tryFolder(env, folder({
      'package.json': JSON.stringify({ name: 'x', browser: { './local.js': env.markerFile }, exports: { './local.js': env.markerFile } }),
      'local.js': 'module.exports = "local";',
      'index.js': probeIndex("const smuggled = require('./local.js');"),
    }, env), null),
  },
  {
    name: 'bundle: configure.js that loops forever or reaches for host functions',
    attack: 'configure.js runs for ever and looks for __ps_host / require at top level',
    async run(env) {
      const dir = folder({ 'configure.js': "if (typeof __ps_host !== 'undefined' || typeof require === 'function') { module.exports.leak = 1; } for (;;) {}" }, env);
      // Whatever it reached, the loop keeps its exports from ever being read: the load must be
      // refused, and cut by the configure process itself at its CPU budget.
      return configureCutInProcess(env, () => env.local.load(dir));
    },
  },
];

// Seeded after writePlugin: the shadowing folder needs the file in place.
const shadow = bundleCases.find((c) => c.name.includes("'fs' folder inside"))!;
shadow.run = (env) => {
  const dir = folder({ 'index.js': probeIndex("const smuggled = require('fs');") }, env);
  fs.mkdirSync(path.join(dir, 'node_modules', 'fs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'node_modules', 'fs', 'index.js'), `module.exports = require(${JSON.stringify(env.markerFile)});`);
  return tryFolder(env, dir, /readFileSync/);
};
