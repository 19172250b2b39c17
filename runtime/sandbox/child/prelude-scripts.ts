// The trusted prelude every plugin context runs before plugin code (runtime/sandbox/prelude/), read
// once per sandbox process and compiled with a code cache of this process's own making.
import fs from 'node:fs';
import ivm from 'isolated-vm';

// Runs first in every context: removes what reaches memory outside the heap limit or blocks a
// thread (WebAssembly, SharedArrayBuffer, Atomics, resizable buffers, retained ICU objects).
export const HARDEN_SOURCE = fs.readFileSync(new URL('../prelude/harden.isolate.js', import.meta.url), 'utf8');
// One closure in two files: the bridge (host calls, timers, globals) and the plugin calls.
const BRIDGE_SOURCE = ['bridge.isolate.js', 'plugin-calls.isolate.js']
  .map((f) => fs.readFileSync(new URL(`../prelude/${f}`, import.meta.url), 'utf8')).join('\n');
export const WEB_GLOBALS_SOURCE = fs.readFileSync(new URL('../prelude/web-globals.isolate.js', import.meta.url), 'utf8');
// The bridge as a function of its four arguments ($0..$3, as evalClosure would bind them), so that
// it can be compiled with a code cache.
export const BRIDGE_FUNCTION_SOURCE = `(function ($0, $1, $2, $3) {\n${BRIDGE_SOURCE}\n})`;
// V8 code cache of the two prelude scripts, produced by this process from the constant sources
// above and never taken from outside (cached data is trusted input, design.md §10). Compiling the
// prelude from scratch was a quarter of an isolate load (bench/: start-up).
const preludeCache = new Map<string, ivm.ExternalCopy<ArrayBuffer>>();

export function compilePrelude(isolate: ivm.Isolate, name: string, source: string): ivm.Script {
  const cachedData = preludeCache.get(name);
  const script = isolate.compileScriptSync(source, cachedData ? { cachedData } : { produceCachedData: true }) as ivm.Script & {
    cachedDataRejected?: boolean; cachedData?: ivm.ExternalCopy<ArrayBuffer>;
  };
  if (!cachedData && script.cachedData) preludeCache.set(name, script.cachedData);
  else if (script.cachedDataRejected) preludeCache.delete(name);
  return script;
}
