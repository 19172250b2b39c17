// Evaluates configure.js in a throwaway isolate with no host functions at all, and returns its
// exports as plain data. configure.js is JavaScript: it never runs in the server process.
import ivm from 'isolated-vm';
import type { SandboxFailure } from '../protocol.ts';
import { HARDEN_SOURCE, compilePrelude } from './prelude-scripts.ts';
import { loadWrapped } from './load-failure.ts';

const MANIFEST_MEMORY_MB = 16;

// Trusted reader, compiled and captured before configure.js runs (so configure.js cannot replace
// the String, JSON or Object.keys it uses), called inside the isolate under a timeout: every
// property read of the plugin's exports (getters, Proxies) happens here, so a loop is cut by the
// timeout. It returns only a string made from prototype-less records.
const READER = `(function () {
  'use strict';
  const stringify = JSON.stringify;
  const objectKeys = Object.keys;
  const StringCtor = String;
  const setPrototypeOf = Object.setPrototypeOf;
  const record = (fields) => setPrototypeOf(fields, null);
  let failed = null;
  Object.defineProperty(globalThis, '__ps_load_failed', { value: function loadFailed(thrown) { if (failed === null) failed = { thrown }; }, writable: false, enumerable: false, configurable: false });
  function describe(e) {
    try { const s = typeof e === 'string' ? e : StringCtor(e && e.message !== undefined ? e.message : e); return typeof s === 'string' ? s : 'an unreadable value'; }
    catch (x) { return 'an unreadable value'; }
  }
  function read() {
    if (failed) return stringify(record({ ok: false, message: 'configure.js threw: ' + describe(failed.thrown) }));
    const m = globalThis.__ps_configure;
    if (!m || typeof m !== 'object') return stringify(record({ ok: false, message: 'configure.js must export an object (module.exports.type = ...); it exported ' + (m === null ? 'null' : typeof m) }));
    const out = record({});
    const names = objectKeys(m);
    for (let i = 0; i < names.length; i++) { const k = names[i]; const v = m[k]; if (typeof v !== 'function') out[k] = v; }
    const json = stringify(record({ ok: true, value: out }));
    return typeof json === 'string' ? json : stringify(record({ ok: false, message: 'configure.js exports no data' }));
  }
  // Nothing configure.js throws (a getter, a Proxy trap, toJSON) leaves this function as a value.
  return function readSafely() {
    try { return read(); }
    catch (e) { return stringify(record({ ok: false, message: 'configure.js exports values that could not be read as plain data: ' + describe(e) })); }
  };
})()`;

export function extractManifest(code: string, cpuMs: number): { ok: true; value: unknown } | { ok: false; error: SandboxFailure } {
  const isolate = new ivm.Isolate({ memoryLimit: MANIFEST_MEMORY_MB });
  try {
    const context = isolate.createContextSync();
    compilePrelude(isolate, 'harden', HARDEN_SOURCE).runSync(context, { timeout: cpuMs });
    const reader = context.evalSync(READER, { timeout: cpuMs, reference: true }) as ivm.Reference;
    const script = isolate.compileScriptSync(loadWrapped(code), { filename: 'plugin:///configure.js' });
    script.runSync(context, { timeout: cpuMs });
    const result = JSON.parse(reader.applySync(undefined, [], { timeout: cpuMs }) as string);
    if (result?.ok === true) return { ok: true, value: result.value };
    return { ok: false, error: { kind: 'manifest_invalid', message: typeof result?.message === 'string' ? result.message : 'configure.js could not be read' } };
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    if (/timed out/i.test(message)) {
      return { ok: false, error: { kind: 'cpu_limit', message: `configure.js did not finish within ${cpuMs} ms (an endless loop?); it must only assign plain values` } };
    }
    if (/memory limit/i.test(message) || isolate.isDisposed) {
      return { ok: false, error: { kind: 'memory_limit', message: `configure.js used more than ${MANIFEST_MEMORY_MB} MB while being evaluated` } };
    }
    return { ok: false, error: { kind: 'manifest_invalid', message: `configure.js could not be evaluated: ${message}` } };
  } finally {
    if (!isolate.isDisposed) isolate.dispose();
  }
}
