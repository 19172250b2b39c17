// The layers of the code (design.md §2): a module imports only from its own layer or the layers
// below it, so a change low in the stack never needs a change higher up, and the production server
// never loads CLI, demo or test code. This test reads every import in runtime/, host-api/, sdk/ and
// bench/ and fails on any import that runs up the stack. There is no list of exceptions: an import
// that crosses is fixed by moving the module it needs down, never by allowing it here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCANNED = ['runtime', 'host-api', 'sdk', 'bench'];
const TOP_LEVEL = new Set(fs.readdirSync(ROOT));

/**
 * Bottom first, as in design.md §2. Modules on one line are peers and may import each other;
 * every module sits on exactly one line. Why each sits where it does:
 */
const LAYERS: readonly (readonly string[])[] = [
  // Foundations that know no other module: the store (records, adapters), secret handling, the
  // plugin error type, the registry of error codes every HTTP answer carries, the test seams a
  // host is built with (crash injection), the admin page's browser code (served as files, never
  // imported by the runtime), and the release-once helper of admissions.
  ['runtime/store', 'runtime/secrets', 'runtime/plugin-errors.ts', 'runtime/errors.ts', 'runtime/testing-seams', 'runtime/admin-ui', 'runtime/release-once.ts'],
  // Turns a plugin folder into a bundle; knows only the plugin error type.
  ['runtime/bundler'],
  // Reads and validates a plugin's manifest, which names the bundler's host modules.
  ['runtime/manifest'],
  // The capabilities a sandboxed plugin may call: policy, implementation, audit over the store.
  ['host-api'],
  // The sandbox processes that run bundles and route their host calls to host-api.
  ['runtime/sandbox'],
  // A plugin's life before it serves, one module per line so that none of them imports another
  // that imports it back. The parts of installing: fetch, unpack, hash, the approval records and
  // the capability set a version is approved with (what the registry verifies at load).
  ['runtime/install'],
  // Loading into a sandbox, and the registry of loaded plugins (which verifies their approval).
  ['runtime/plugins'],
  // The review reports (check, audit, the cron dry run) of a loaded plugin.
  ['runtime/review'],
  // The installer: stage, check (load and review), confirm, approve, roll back.
  ['runtime/installer'],
  // What a loaded plugin is used for: payouts and orders, and the workers beside them (IPN to
  // merchants, plugin cron, retention). None of them knows the server that schedules them.
  ['runtime/payouts', 'runtime/orders', 'runtime/ipn', 'runtime/cron', 'runtime/retention'],
  // The two ways to assemble a host: the HTTP server, and the local host of CLI, SDK and bench.
  ['runtime/server', 'runtime/local'],
  // The demo: fake provider and merchant wired into a running server; never on its core path.
  ['runtime/demo'],
  // Tools over a host: the plugin author's SDK harness and test kit, and the benchmarks.
  ['sdk', 'bench'],
  // The command line, which starts any of the above.
  ['runtime/cli'],
];

/** The module (a folder under runtime/, or a top-level folder, or a single file) a path belongs to. */
function moduleOf(relPath: string): string {
  const parts = relPath.split('/');
  if (parts[0] === 'runtime' && parts.length >= 2) return `runtime/${parts[1]}`;
  return parts[0];
}

function layerOf(module: string): number {
  return LAYERS.findIndex((line) => line.includes(module));
}

// Static imports and re-exports (type-only too), side-effect imports, dynamic import() and
// require() with a literal name. A type import crosses as much as a value import: the lower
// module would need the upper one to compile.
const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*[,)]/g,
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const re of IMPORT_PATTERNS) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

interface Crossing { file: string; spec: string; reason: string }

/** Every import of `files` (repository-relative path → source) that runs against the layers. */
function crossings(files: ReadonlyMap<string, string>): Crossing[] {
  const found: Crossing[] = [];
  for (const [file, source] of files) {
    const from = moduleOf(file);
    const fromLayer = layerOf(from);
    if (fromLayer < 0) {
      found.push({ file, spec: '', reason: `${from} is on no line of LAYERS in test/layers.test.ts; add it where it belongs` });
      continue;
    }
    for (const spec of importsOf(source)) {
      if (!spec.startsWith('.')) continue; // a package (node:, npm), not a module of this repository
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      // Outside the repository: the host application's own modules (db, modules/…) that platform
      // plugins and the bundler's shims name, resolved by the bundler (design.md §4.1).
      if (target.startsWith('../') || !TOP_LEVEL.has(target.split('/')[0])) continue;
      const to = moduleOf(target);
      if (to === from) continue;
      const toLayer = layerOf(to);
      if (toLayer < 0) found.push({ file, spec, reason: `imports ${to}, which is in no layer (production code may not import tests, fixtures or plugins)` });
      else if (toLayer > fromLayer) found.push({ file, spec, reason: `${from} (layer ${fromLayer}) imports ${to} (layer ${toLayer}), which sits above it` });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(?:[cm]?js|[cm]?ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function repositoryFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of SCANNED) for (const f of sourceFiles(dir)) files.set(f, fs.readFileSync(path.join(ROOT, f), 'utf8'));
  return files;
}

describe('layers (design.md §2)', () => {
  it('every module of runtime/ sits on exactly one layer', () => {
    const modules = fs.readdirSync(path.join(ROOT, 'runtime')).map((name) => `runtime/${name}`);
    const listed = LAYERS.flat();
    expect(modules.filter((m) => !listed.includes(m))).toEqual([]);
    expect(listed.filter((m, i) => listed.indexOf(m) !== i)).toEqual([]);
    for (const m of listed) expect(fs.existsSync(path.join(ROOT, m)), `${m} in LAYERS does not exist`).toBe(true);
  });

  it('no import in runtime/, host-api/, sdk/ or bench/ runs up the layers', () => {
    const files = repositoryFiles();
    expect(files.size).toBeGreaterThan(100); // the scan found the code, not an empty folder
    const report = crossings(files).map((c) => `${c.file}: '${c.spec}': ${c.reason}`);
    expect(report).toEqual([]);
  });

  it('positive control: an import that runs up is found, whatever its form', () => {
    const synthetic = new Map([
      ['runtime/store/bad-static.ts', "import { createHost } from '../server/host.ts';"],
      ['runtime/store/bad-type.ts', "import type {\n  Host,\n} from '../server/host.ts';"],
      ['host-api/bad-reexport.ts', "export { runStart } from '../runtime/cli/main.ts';"],
      ['runtime/manifest/bad-star.ts', "export * from '../sandbox/protocol.ts';"],
      ['runtime/sandbox/bad-dynamic.ts', "const m = await import('../payouts/orchestrator.ts');"],
      ['runtime/bundler/bad-require.cjs', "const d = require('../demo/demo-setup.ts');"],
      ['runtime/server/bad-test.ts', "import '../../test/helpers/test-host.ts';"],
      ['runtime/unplaced/x.ts', ''],
      // Allowed: down the layers, within a module, within a layer, a package, the host application.
      ['runtime/cli/good.ts', "import { openStore } from '../store/open-store.ts';\nimport { x } from './output.ts';"],
      ['runtime/installer/good.ts', "import { loadPlugin } from '../plugins/load-plugin.ts';\nimport fs from 'node:fs';"],
      ['runtime/install/bad-cycle.ts', "import type { LoadedPlugin } from '../plugins/load-plugin.ts';"],
      ['runtime/bundler/shims/good.cjs', "module.exports = require('../../../db');"],
    ]);
    const found = crossings(synthetic).map((c) => c.file);
    expect(found).toEqual([
      'runtime/store/bad-static.ts', 'runtime/store/bad-type.ts', 'host-api/bad-reexport.ts', 'runtime/manifest/bad-star.ts',
      'runtime/sandbox/bad-dynamic.ts', 'runtime/bundler/bad-require.cjs', 'runtime/server/bad-test.ts',
      'runtime/unplaced/x.ts', 'runtime/install/bad-cycle.ts',
    ]);
  });
});
