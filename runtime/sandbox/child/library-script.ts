// The shared library script (runtime/bundler/library-bundle.ts: the provided modules, the same for
// every plugin of a server) as a sandbox process holds it: sent once per process, kept by the
// sha256 this process computes of its text, and on isolated-vm compiled with a V8 code cache of
// this process's own making (as the prelude is, prelude-scripts.ts). Each plugin's context still
// runs its own evaluation of it: nothing the library creates is shared between plugins.
import crypto from 'node:crypto';
import ivm from 'isolated-vm';

export interface LibrarySource {
  /** sha256 of `source`, computed here: the code cache key is never a name the server chose. */
  readonly sha256: string;
  readonly source: string;
}

export function libraryFromSource(source: string): LibrarySource {
  return { sha256: crypto.createHash('sha256').update(source).digest('hex'), source };
}

// Produced by this process from the exact text it keys (cached data is trusted input to V8,
// design.md §10); the isolate version is this process's own. Two kept, as libraries are.
const libraryCache = new Map<string, ivm.ExternalCopy<ArrayBuffer>>();
const MAX_CACHED_LIBRARIES = 2;

/** The library compiled in `isolate`, from this process's code cache once one was produced. */
export function compileLibrary(isolate: ivm.Isolate, library: LibrarySource, filename: string): ivm.Script {
  const cachedData = libraryCache.get(library.sha256);
  const script = isolate.compileScriptSync(library.source, { filename, ...(cachedData ? { cachedData } : { produceCachedData: true }) }) as ivm.Script & {
    cachedDataRejected?: boolean; cachedData?: ivm.ExternalCopy<ArrayBuffer>;
  };
  if (!cachedData && script.cachedData) {
    libraryCache.set(library.sha256, script.cachedData);
    if (libraryCache.size > MAX_CACHED_LIBRARIES) libraryCache.delete(libraryCache.keys().next().value!);
  } else if (script.cachedDataRejected) {
    libraryCache.delete(library.sha256);
  }
  return script;
}

/** Whether this process holds a code cache for the library (tests; the bench's trace). */
export function libraryCacheHeld(sha256: string): boolean {
  return libraryCache.has(sha256);
}
