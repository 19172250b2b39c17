// The program a sandbox process runs. Sandbox processes are one per plugin (design.md §5), so
// what each costs at start and at rest is multiplied by the number of plugins. Run as .ts, Node
// strips types with a WebAssembly compiler it loads into every process: ~30 MB more resident
// memory and ~45 ms more start-up per process, measured here. So the entry and the modules it
// imports are bundled once per server process into one plain JavaScript file, kept in a private
// temporary folder (0700) that is removed when the server exits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

// The built package (npm run build) has the child as JavaScript; the repository as TypeScript.
const childTs = fileURLToPath(new URL('./child/sandbox-process.ts', import.meta.url));
export const CHILD_SOURCE = fs.existsSync(childTs) ? childTs : childTs.replace(/\.ts$/, '.js');

let built: Promise<string> | null = null;

/**
 * Path of the bundled sandbox-process program, built on first use. Every module of the child
 * lives beside CHILD_SOURCE or reads files relative to it, so `import.meta.url` is pinned to that
 * file: the prelude sources and isolated-vm resolve exactly as they would unbundled.
 */
export function childEntry(): Promise<string> {
  if (!built) built = build().catch((err) => { built = null; throw err; });
  return built;
}

async function build(): Promise<string> {
  const fromProject = createRequire(CHILD_SOURCE);
  const isolatedVm = fromProject.resolve('isolated-vm');
  const quickjs = fromProject.resolve('quickjs-emscripten');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payout-sandbox-child-'));
  fs.chmodSync(dir, 0o700);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, 'sandbox-process.mjs');
  await esbuild.build({
    entryPoints: [CHILD_SOURCE],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'silent',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(CHILD_SOURCE).href) },
    plugins: [{
      name: 'engines-from-the-project',
      // The native addon, and QuickJS with the WebAssembly file beside its loader, stay outside
      // the bundle, loaded from the project's own install.
      setup(b) {
        b.onResolve({ filter: /^isolated-vm$/ }, () => ({ path: isolatedVm, external: true }));
        b.onResolve({ filter: /^quickjs-emscripten$/ }, () => ({ path: quickjs, external: true }));
      },
    }],
  });
  return outfile;
}
