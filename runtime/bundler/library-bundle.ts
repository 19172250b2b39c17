// The modules the sandbox provides (shims and the libraries they wrap: bignumber.js, the Buffer
// polyfill, …) are the same for every plugin and make up nearly all of a bundle (≈165 of 170 KB
// for NimbusPay). Bundling them again for each plugin cost 40–90 ms per load; here they are
// bundled once per server process into one script that defines `__ps_lib`, a table of lazy
// module getters. A plugin's bundle then holds only its own files and one-line stubs
// (`module.exports = __ps_lib.axios()`), and the script the isolate runs is this library followed
// by the plugin's bundle (bundle-plugin.ts). What a plugin may require is still decided by
// host-modules.ts, per plugin, at bundle time.
import crypto from 'node:crypto';
import * as esbuild from 'esbuild';
import { HOST_MODULES } from './host-modules.ts';
import type { HostModuleId } from './host-modules.ts';

export const LIBRARY_GLOBAL = '__ps_lib';

/** What every script for an isolate is built as: one plain script for a bare V8 context. */
export const ISOLATE_SCRIPT_OPTIONS = {
  bundle: true,
  write: false,
  format: 'iife',
  platform: 'neutral',
  mainFields: ['main', 'module'],
  target: 'es2022',
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'silent',
} as const satisfies esbuild.BuildOptions;

/** The library script and the sha256 of its exact text (what a sandbox process keeps it by). */
export interface LibraryScript {
  source: string;
  sha256: string;
}

let built: Promise<LibraryScript> | null = null;

/** The library script, built on first use and kept for the life of the process. */
export function libraryScript(): Promise<LibraryScript> {
  if (!built) {
    built = build()
      .then((source) => ({ source, sha256: crypto.createHash('sha256').update(source).digest('hex') }))
      .catch((err) => { built = null; throw err; });
  }
  return built;
}

/** The library script's text. */
export async function libraryBundle(): Promise<string> {
  return (await libraryScript()).source;
}

/** The source of the stub module that stands for host module `id` in a plugin's bundle. */
export function libraryStub(id: HostModuleId): string {
  return `module.exports = ${LIBRARY_GLOBAL}[${JSON.stringify(id)}]();`;
}

async function build(): Promise<string> {
  // Each getter requires its module on first call (esbuild's lazy CommonJS wrappers): a plugin
  // that never asks for axios never runs the axios shim, as with a per-plugin bundle.
  const getters = (Object.keys(HOST_MODULES) as HostModuleId[])
    .map((id) => `  ${JSON.stringify(id)}: function () { return require(${JSON.stringify(HOST_MODULES[id].file)}); },`)
    .join('\n');
  const entry = [
    // Not writable: a plugin replacing it would only break itself, but there is no reason to let it.
    `Object.defineProperty(globalThis, ${JSON.stringify(LIBRARY_GLOBAL)}, { value: Object.freeze({`,
    getters,
    '}), writable: false, configurable: false, enumerable: false });',
  ].join('\n');
  const result = await esbuild.build({
    ...ISOLATE_SCRIPT_OPTIONS,
    mainFields: [...ISOLATE_SCRIPT_OPTIONS.mainFields],
    stdin: { contents: entry, loader: 'js', resolveDir: '/' },
  });
  return result.outputFiles[0].text;
}
