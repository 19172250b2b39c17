// Turns a platform-format plugin folder into the two scripts the sandbox runs: the plugin bundle
// (index.js + callbacks) and the manifest bundle (configure.js). Every `require` is decided here,
// at load time, by host-modules.ts: a plugin that asks for anything else is refused with file:line.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { PluginRejected, PluginRejectedMany } from '../plugin-errors.ts';
import { decideRequire, GLOBAL_INJECTS, HOST_MODULES, SHIM_DIR, isAllowedLibraryFile } from './host-modules.ts';
import type { HostModuleId } from './host-modules.ts';
import { ISOLATE_SCRIPT_OPTIONS, LIBRARY_GLOBAL, libraryBundle, libraryScript, libraryStub } from './library-bundle.ts';
import type { LibraryScript } from './library-bundle.ts';
import { locatePluginFiles } from './plugin-files.ts';
import type { PluginFiles } from './plugin-files.ts';
import { scanSources } from './source-scan.ts';
import { SourceMapReader } from './source-map.ts';
import { withCallSites } from './call-sites.ts';
import type { SourceScan } from './source-scan.ts';

/** Where plugin code believes it lives; the key is the last segment, as the platform derives it. */
export const VIRTUAL_PLUGIN_ROOT = '/sandbox/pluginsExternal/payouts';
export const BUNDLE_GLOBAL = '__ps_plugin';
export const CONFIGURE_GLOBAL = '__ps_configure';
export const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;
const MAX_SOURCE_FILE_BYTES = 2 * 1024 * 1024;

export interface PluginBundle {
  key: string;
  files: PluginFiles;
  /** The whole script the plugin runs: the library (when it uses one) followed by `ownCode`. */
  code: string;
  /**
   * The shared library part of `code` (library-bundle.ts), the same for every plugin of this
   * server process, or null when the plugin requires no provided module. The sandbox loads it as
   * a script of its own, held and compiled once per sandbox process (design.md §5).
   */
  library: LibraryScript | null;
  /** The plugin's own part of `code`: what follows the library. */
  ownCode: string;
  configureCode: string;
  /** Maps bundle lines back to plugin files, for refusals and stack traces. */
  sourceMap: string;
  /** sha256 of both scripts: identifies exactly the code that runs (code cache key, approvals). */
  sha256: string;
  /** Plugin files that went into the bundle, relative to the plugin folder. */
  inputs: string[];
  scan: SourceScan;
}

// esbuild warnings that mean "this require cannot be decided at bundle time": refused, because a
// require decided at run time is one we could not review.
const UNDECIDABLE_REQUIRE = new Set(['unsupported-require-call', 'indirect-require', 'unsupported-dynamic-import']);

function toRejection(msg: esbuild.Message, pluginDir: string): PluginRejected {
  const loc = msg.location
    ? { file: displayPath(msg.location.file, pluginDir), line: msg.location.line, column: msg.location.column }
    : null;
  let text = msg.text;
  if (UNDECIDABLE_REQUIRE.has(msg.id)) {
    text = `computed require refused: ${msg.location?.lineText.trim() ?? ''} — the sandbox only accepts require('literal') so that every module a plugin loads is known before it runs`;
  }
  const code = UNDECIDABLE_REQUIRE.has(msg.id) ? 'computed_require' : msg.pluginName ? 'forbidden_require' : 'syntax_error';
  return new PluginRejected(code, text, loc);
}

// esbuild leaves every require it cannot resolve at bundle time (require(name), `const r =
// require`) as a call to its `__require` helper, which throws in the isolate. Finding those uses
// and mapping them back through the source map turns them into a load-time refusal with file:line.
function findRuntimeRequires(result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] }, pluginDir: string): PluginRejected[] {
  const code = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const mapText = result.outputFiles.find((f) => f.path.endsWith('.map'))?.text;
  if (!mapText || !code.includes('__require')) return [];
  // Building the map costs tens of milliseconds; most bundles mention __require only in esbuild's
  // helper or in `typeof require` checks of libraries, so build it only for a real candidate.
  let map: SourceMapReader | null = null;
  const problems: PluginRejected[] = [];
  const lines = code.split('\n');
  lines.forEach((text, i) => {
    for (const m of text.matchAll(/\b__require\b/g)) {
      if (/^\s*var __require = /.test(text)) continue; // esbuild's own helper
      if (/typeof\s*\(?\s*$/.test(text.slice(0, m.index))) continue; // `typeof require` only asks whether it exists
      map ??= new SourceMapReader(mapText);
      const pos = map.originalPositionFor(i + 1, m.index);
      if (!pos || !pos.source.startsWith('plugin:')) continue;
      const file = path.relative(pluginDir, pos.source.slice('plugin:'.length));
      const source = fs.readFileSync(pos.source.slice('plugin:'.length), 'utf8').split('\n')[pos.line - 1]?.trim() ?? '';
      problems.push(new PluginRejected('computed_require',
        `computed require refused: ${source} — the sandbox only accepts require('literal') so that every module a plugin loads is known before it runs`,
        { file, line: pos.line, column: pos.column }));
    }
  });
  return problems;
}

function displayPath(file: string, pluginDir: string): string {
  const stripped = file.replace(/^plugin:/, '');
  return path.isAbsolute(stripped) ? path.relative(pluginDir, stripped) : stripped;
}

function resolvePluginFile(fromDir: string, request: string, pluginDir: string): string | null {
  const base = path.resolve(fromDir, request);
  const candidates = [base, `${base}.js`, `${base}.ts`, `${base}.json`, path.join(base, 'index.js'), path.join(base, 'index.ts')];
  for (const candidate of candidates) {
    let real: string;
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      real = fs.realpathSync(candidate);
    } catch {
      continue;
    }
    // A symlink or ../ that leaves the folder would let a plugin bundle host files.
    if (real !== pluginDir && !real.startsWith(pluginDir + path.sep)) return 'outside';
    return real;
  }
  return null;
}

function sandboxPlugin(files: PluginFiles, usedHostModules: Set<HostModuleId>): esbuild.Plugin {
  const pluginDir = fs.realpathSync(files.dir);
  const virtualDir = (real: string) => path.posix.join(VIRTUAL_PLUGIN_ROOT, files.key, path.relative(pluginDir, path.dirname(real)).split(path.sep).join('/'));
  return {
    name: 'payout-sandbox',
    setup(build) {
      build.onResolve({ filter: /^ps-entry:/ }, (args) => ({ path: args.path.slice('ps-entry:'.length), namespace: 'ps-entry' }));
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const importer = args.importer;
        if (args.namespace === 'file' && (importer.startsWith(SHIM_DIR + path.sep) || isAllowedLibraryFile(importer))) {
          // The injected globals file asks for a shim: the library script has it (library-bundle.ts).
          const wanted = path.resolve(path.dirname(importer), args.path);
          const id = (Object.keys(HOST_MODULES) as HostModuleId[]).find((k) => HOST_MODULES[k].file === wanted);
          return id ? { path: id, namespace: 'ps-lib' } : undefined;
        }
        if (args.namespace === 'ps-entry' && args.path.startsWith('ps-host:')) {
          return { path: args.path.slice('ps-host:'.length), namespace: 'ps-lib' };
        }
        const decision = decideRequire(args.path);
        if (decision.kind === 'refused') return { errors: [{ text: `require('${args.path}') refused: ${decision.reason}` }] };
        if (decision.kind === 'host') {
          usedHostModules.add(decision.moduleId);
          return { path: decision.moduleId, namespace: 'ps-lib' };
        }
        const fromDir = args.namespace === 'plugin' ? path.dirname(importer) : pluginDir;
        const resolved = resolvePluginFile(fromDir, args.path, pluginDir);
        if (resolved === 'outside') {
          return { errors: [{ text: `require('${args.path}') refused: it resolves outside the plugin folder (through '..' or a symlink); plugins may only require their own files` }] };
        }
        if (!resolved) return { errors: [{ text: `require('${args.path}') failed: no such file in the plugin folder` }] };
        return { path: resolved, namespace: 'plugin' };
      });
      build.onLoad({ filter: /.*/, namespace: 'ps-lib' }, (args) => ({ contents: libraryStub(args.path as HostModuleId), loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: 'ps-entry' }, (args) => ({
        contents: entrySource(args.path, files),
        loader: 'js',
        resolveDir: pluginDir,
      }));
      build.onLoad({ filter: /.*/, namespace: 'plugin' }, (args) => {
        const size = fs.statSync(args.path).size;
        if (size > MAX_SOURCE_FILE_BYTES) {
          return { errors: [{ text: `${path.relative(pluginDir, args.path)} is ${size} bytes; plugin source files are limited to ${MAX_SOURCE_FILE_BYTES}` }] };
        }
        const source = fs.readFileSync(args.path, 'utf8');
        if (args.path.endsWith('.json')) return { contents: source, loader: 'json' };
        const loader = args.path.endsWith('.ts') ? 'ts' : 'js';
        // Same line as the plugin's first line, so error line numbers stay the plugin's own.
        const prefix = `var __dirname = ${JSON.stringify(virtualDir(args.path))}, __filename = ${JSON.stringify(path.posix.join(virtualDir(args.path), path.basename(args.path)))};`;
        return { contents: prefix + source, loader, resolveDir: path.dirname(args.path) };
      });
    },
  };
}

function entrySource(which: string, files: PluginFiles): string {
  const rel = (f: string) => JSON.stringify('./' + path.relative(files.dir, f).split(path.sep).join('/'));
  if (files.format === 'sdk') {
    // The manifest of an SDK plugin is data inside its module: the throwaway isolate evaluates the
    // module and reads only that.
    if (which === 'configure') return `var m = require(${rel(files.index)}); var d = m && (m.default || m); module.exports = { __sdkManifest: d && d.manifest };`;
    return `module.exports = { sdk: require(${rel(files.index)}), sdkRuntime: require('ps-host:sdk') };`;
  }
  if (which === 'configure') return `module.exports = require(${rel(files.configure as string)});`;
  return [
    'module.exports = {',
    `  Plugin: require(${rel(files.index)}),`,
    `  callbacks: ${files.callbacks ? `require(${rel(files.callbacks)})` : 'null'},`,
    "  db: require('ps-host:db'),",
    "  updateHistory: require('ps-host:updateHistory'),",
    '};',
  ].join('\n');
}

async function build(files: PluginFiles, entry: 'main' | 'configure', globalName: string, used: Set<HostModuleId>) {
  try {
    const result = await esbuild.build({
      ...ISOLATE_SCRIPT_OPTIONS,
      mainFields: [...ISOLATE_SCRIPT_OPTIONS.mainFields],
      entryPoints: [`ps-entry:${entry}`],
      globalName,
      metafile: true,
      sourcemap: 'external',
      outfile: `${entry}.js`,
      inject: entry === 'main' ? GLOBAL_INJECTS : [],
      plugins: [sandboxPlugin(files, used)],
    });
    const refusals = [
      ...result.warnings.filter((w) => UNDECIDABLE_REQUIRE.has(w.id)).map((w) => toRejection(w, files.dir)),
      ...findRuntimeRequires(result, files.dir),
    ];
    if (refusals.length) throw refusals.length === 1 ? refusals[0] : new PluginRejectedMany(refusals);
    return result;
  } catch (err) {
    if (err instanceof PluginRejected) throw err;
    const failure = err as esbuild.BuildFailure;
    if (Array.isArray(failure.errors) && failure.errors.length) {
      const problems = failure.errors.map((e) => toRejection(e, files.dir));
      throw problems.length === 1 ? problems[0] : new PluginRejectedMany(problems);
    }
    throw err;
  }
}

// Bundles by content: loading a plugin whose files are byte for byte the same as last time (a
// restart of its sandbox, a reload, a second server start in one process) skips esbuild. The key
// is every file of the folder, so any edit — including one made by rename — bundles again.
const bundleCache = new Map<string, PluginBundle>();
const BUNDLE_CACHE_ENTRIES = 200;
const MAX_FOLDER_FILES = 2000;

function contentKey(pluginDir: string): string | null {
  const hash = crypto.createHash('sha256').update(fs.realpathSync(pluginDir));
  let count = 0;
  const walk = (dir: string): boolean => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (++count > MAX_FOLDER_FILES) return false; // a huge folder is bundled every time, not hashed
      const file = path.join(dir, entry.name);
      hash.update('\0').update(path.relative(pluginDir, file));
      if (entry.isSymbolicLink()) hash.update('\0link:').update(fs.readlinkSync(file));
      else if (entry.isDirectory()) { if (!walk(file)) return false; }
      else if (entry.isFile()) hash.update('\0').update(fs.readFileSync(file));
    }
    return true;
  };
  try {
    return walk(pluginDir) ? hash.digest('hex') : null;
  } catch {
    return null; // unreadable: let bundling say what is wrong
  }
}

export async function bundlePlugin(pluginDir: string): Promise<PluginBundle> {
  const key = contentKey(pluginDir);
  const cached = key ? bundleCache.get(key) : undefined;
  if (cached) return cached;
  const bundle = await bundleFresh(pluginDir);
  if (key) {
    if (bundleCache.size >= BUNDLE_CACHE_ENTRIES) bundleCache.delete(bundleCache.keys().next().value as string);
    bundleCache.set(key, bundle);
  }
  return bundle;
}

async function bundleFresh(pluginDir: string): Promise<PluginBundle> {
  const files = locatePluginFiles(pluginDir);
  const usedHostModules = new Set<HostModuleId>();
  // esbuild runs both builds at once in its service; configure.js's refusal is still the one
  // reported when both fail, as when they ran one after the other.
  const [configureBuilt, mainBuilt] = await Promise.allSettled([
    build(files, 'configure', CONFIGURE_GLOBAL, new Set()),
    build(files, 'main', BUNDLE_GLOBAL, usedHostModules),
  ]);
  if (configureBuilt.status === 'rejected') throw configureBuilt.reason;
  if (mainBuilt.status === 'rejected') throw mainBuilt.reason;
  const configure = configureBuilt.value;
  const main = mainBuilt.value;
  const sourceMap = main.outputFiles.find((f) => f.path.endsWith('.map'))!.text;
  const bundled = main.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  // Platform plugins get the line table their db shim uses to name the plugin line of a refused
  // call. Its anchor records its own stack position, so the library placed before it is allowed for.
  const own = files.format === 'sdk' ? bundled : withCallSites(bundled, sourceMap, fs.realpathSync(files.dir));
  // The provided modules come first, once for all plugins (library-bundle.ts); the refusals above
  // and the source map concern the plugin's own part only.
  const withLibrary = async (script: string) => (script.includes(LIBRARY_GLOBAL) ? `${await libraryBundle()}\n${script}` : script);
  const library = own.includes(LIBRARY_GLOBAL) ? await libraryScript() : null;
  const code = library ? `${library.source}\n${own}` : own;
  // An SDK plugin's manifest is read by evaluating its module, which requires the SDK runtime.
  const configureCode = await withLibrary(configure.outputFiles.find((f) => f.path.endsWith('.js'))!.text);
  if (code.length > MAX_BUNDLE_BYTES) {
    throw new PluginRejected('too_large', `the plugin bundles to ${code.length} bytes; the limit is ${MAX_BUNDLE_BYTES}`);
  }
  const inputs = Object.keys(main.metafile.inputs)
    .filter((p) => p.startsWith('plugin:'))
    .map((p) => path.relative(fs.realpathSync(files.dir), p.slice('plugin:'.length)));
  const sha256 = crypto.createHash('sha256').update(code).update('\0').update(configureCode).digest('hex');
  const scan = scanSources(files, inputs, usedHostModules);
  return { key: files.key, files, code, library, ownCode: own, configureCode, sourceMap, sha256, inputs, scan };
}
