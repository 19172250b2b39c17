// Whether an engine can run the benchmark's plugins here: the benchpay fixture is loaded on it in
// a sandbox process of its own, every host call refused. An engine that cannot is reported
// "not available (reason)" for every figure instead of failing each scenario in turn.
import { bundlePlugin } from '../../runtime/bundler/bundle-plugin.ts';
import { SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { BENCHPAY_DIR } from './fixtures.ts';

/** Null when the engine loads the fixture; otherwise the reason, in one line. */
export async function engineUnavailable(engine: EngineName): Promise<string | null> {
  const handler = { handle: async () => ({ ok: false as const, error: { message: 'bench: no host calls while probing the engine' } }), log() {} };
  const sandbox = new SandboxHost({ handler, engine });
  try {
    const bundle = await bundlePlugin(BENCHPAY_DIR);
    const loaded = await sandbox.register(bundle, { pluginKey: bundle.key, env: { API_URL: 'http://127.0.0.1:3000/' }, labels: { en: {} } }, {}, engine);
    return loaded.ok ? null : oneLine(loaded.error.message);
  } catch (err) {
    return oneLine(String((err as Error)?.message ?? err));
  } finally {
    await sandbox.close();
  }
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}
