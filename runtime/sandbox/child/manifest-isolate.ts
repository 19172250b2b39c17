// Evaluates configure.js in a throwaway isolate with no host functions at all, and returns its
// exports as plain data. configure.js is JavaScript: it never runs in the server process.
import ivm from 'isolated-vm';
import type { SandboxFailure } from '../protocol.ts';

const MANIFEST_MEMORY_MB = 16;

// Trusted reader, run inside the isolate under a timeout: every property read of the plugin's
// exports (getters, Proxies) happens here, so a loop is cut by the timeout.
const READER = `(function () {
  function describe(e) {
    try { return typeof e === 'string' ? e : String(e && e.message !== undefined ? e.message : e); }
    catch (x) { return 'an unreadable value'; }
  }
  const failed = globalThis.__ps_load_error;
  if (failed) return JSON.stringify({ ok: false, message: 'configure.js threw: ' + describe(failed.thrown) });
  const m = globalThis.__ps_configure;
  if (!m || typeof m !== 'object') return JSON.stringify({ ok: false, message: 'configure.js must export an object (module.exports.type = ...); it exported ' + (m === null ? 'null' : typeof m) });
  const out = {};
  for (const k of Object.keys(m)) { const v = m[k]; if (typeof v !== 'function') out[k] = v; }
  try { return JSON.stringify({ ok: true, value: out }); }
  catch (e) { return JSON.stringify({ ok: false, message: 'configure.js exports values that are not plain data: ' + describe(e) }); }
})()`;

export function extractManifest(code: string, cpuMs: number): { ok: true; value: unknown } | { ok: false; error: SandboxFailure } {
  const isolate = new ivm.Isolate({ memoryLimit: MANIFEST_MEMORY_MB });
  try {
    const context = isolate.createContextSync();
    const script = isolate.compileScriptSync(`try {\n${code}\n} catch (thrown) { globalThis.__ps_load_error = { thrown }; }`, { filename: 'plugin:///configure.js' });
    script.runSync(context, { timeout: cpuMs });
    const result = JSON.parse(context.evalSync(READER, { timeout: cpuMs }) as string);
    if (result.ok) return { ok: true, value: result.value };
    return { ok: false, error: { kind: 'manifest_invalid', message: result.message } };
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
