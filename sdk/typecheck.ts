// Typechecks a plugin folder with the SDK's types, as the author's editor would: the typed guard
// on secret config keys (ctx.config.get of a secret key is a type error), handler signatures,
// manifest fields. Used by the scaffold's test (`typechecks with the SDK types`) and by `dev`
// after every reload, in a child process there so the server never stalls on the compiler.
//   import { typecheckPlugin } from 'payout-sandbox/sdk/testkit';
//   expect((await typecheckPlugin(pluginDir)).errors).toEqual([]);
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface TypecheckResult {
  /** False when TypeScript is not installed: nothing was checked. */
  checked: boolean;
  /** One line each: `plugin.ts:12:5 TS2345 <message>`, relative to the plugin folder. The plugin's code, not its test/ folder. */
  errors: string[];
  files: number;
}

function sources(dir: string, depth = 0): string[] {
  if (depth > 8) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    // The plugin's own code; its tests pull the whole test kit's types in (seconds more) and
    // vitest runs them anyway.
    if (d.name === 'node_modules' || d.name.startsWith('.') || (depth === 0 && d.name === 'test') || /\.test\.[mc]?ts$/.test(d.name)) return [];
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return sources(full, depth + 1);
    return /\.(ts|mts|cts)$/.test(d.name) && !d.name.endsWith('.d.ts') ? [full] : [];
  });
}

type TS = typeof import('typescript');

function loadTypescript(from: string): TS | null {
  for (const base of [path.join(from, 'noop.js'), fileURLToPath(import.meta.url)]) {
    try { return createRequire(base)('typescript') as TS; } catch { /* try the next place */ }
  }
  return null;
}

/** Typechecks in this process (blocks it for a few seconds: the compiler is synchronous). */
export function typecheckPluginSync(pluginDir: string): TypecheckResult {
  const dir = path.resolve(pluginDir);
  const ts = loadTypescript(dir);
  if (!ts) return { checked: false, errors: [], files: 0 };
  const files = sources(dir);
  const hasNodeTypes = (() => { try { createRequire(path.join(dir, 'noop.js')).resolve('@types/node/package.json'); return true; } catch { return false; } })();
  const program = ts.createProgram(files, {
    strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true,
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Preserve, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'], types: hasNodeTypes ? ['node'] : [], resolveJsonModule: true, noUncheckedSideEffectImports: false,
  });
  const inFolder = (f: string | undefined) => f !== undefined && path.resolve(f).startsWith(dir + path.sep);
  const errors = ts.getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && (!d.file || inFolder(d.file.fileName)))
    .map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/\s+/g, ' ').slice(0, 400);
      if (!d.file || d.start === undefined) return `TS${d.code} ${text}`;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${path.relative(dir, d.file.fileName).split(path.sep).join('/')}:${line + 1}:${character + 1} TS${d.code} ${text}`;
    });
  return { checked: true, errors, files: files.length };
}

/** Typechecks in a child process (what `dev` uses), so the caller's event loop keeps running. */
export function typecheckPlugin(pluginDir: string): Promise<TypecheckResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, path.resolve(pluginDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', reject);
    child.on('close', (code) => {
      try { resolve(JSON.parse(out) as TypecheckResult); } catch { reject(new Error(`typecheck failed to run (exit ${code}): ${err.split('\n')[0]}`)); }
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2]) {
  process.stdout.write(JSON.stringify(typecheckPluginSync(process.argv[2])));
}
