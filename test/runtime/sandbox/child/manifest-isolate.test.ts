// configure.js is evaluated in a throwaway isolate of the sandbox process. It gets the same engine
// hardening as a plugin, and the reader that turns its exports into data is captured before it
// runs, so replacing JSON, Object.keys or String cannot change what the host reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../../runtime/bundler/bundle-plugin.ts';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import { DEFAULT_CONFIGURE, writePlugin } from '../../../helpers/plugin-fixture.ts';
import { startSandbox } from '../../../helpers/sandbox.ts';

let host: SandboxHost;
beforeAll(async () => {
  ({ host } = await startSandbox());
});
afterAll(async () => {
  await host.close();
});

const manifestOf = async (key: string, configure: string) => host.readManifest(await bundlePlugin(writePlugin(key, { 'configure.js': configure })));

describe('configure.js evaluation', () => {
  it('control: an ordinary configure.js is read as data', async () => {
    expect(await manifestOf('cfg-plain', DEFAULT_CONFIGURE)).toMatchObject({ ok: true, value: { type: 'payout', title: 'Fixture', allow_XML: ['CARDUAH'] } });
  });

  it('replacing JSON.stringify, Object.keys, String and Object.prototype.toJSON changes nothing the host reads', async () => {
    const r = await manifestOf('cfg-overrides', `${DEFAULT_CONFIGURE}
JSON.stringify = () => '{"ok":true,"value":{"type":"forged"}}';
Object.keys = () => ['type'];
globalThis.String = () => 1;
Object.defineProperty(Object.prototype, 'toJSON', { value() { return { forged: true }; }, configurable: true });`);
    // The record the reader builds is intact; nested objects are configure.js's own data, which its
    // toJSON may reshape exactly as writing other data would.
    expect(r).toMatchObject({ ok: true, value: { type: 'payout', title: 'Fixture', name: 'fixture' } });
  });

  it('a configure.js that throws {message: 1} with String replaced gets a string message', async () => {
    const r = await manifestOf('cfg-throws', `globalThis.String = () => 1; throw { message: 1 };`);
    expect(r).toEqual({ ok: false, error: { kind: 'manifest_invalid', message: 'configure.js threw: 1' } });
  });

  it('exports that throw a looping Error when read are described inside the timeout, not copied out', async () => {
    const r = await manifestOf('cfg-getter', `${DEFAULT_CONFIGURE}
Object.defineProperty(module.exports, 'title', { enumerable: true, get() { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); throw e; } });`);
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    const plain = await manifestOf('cfg-getter-plain', `${DEFAULT_CONFIGURE}
Object.defineProperty(module.exports, 'title', { enumerable: true, get() { throw new Error('no title today'); } });`);
    expect(plain).toEqual({ ok: false, error: { kind: 'manifest_invalid', message: 'configure.js exports values that could not be read as plain data: no title today' } });
  });

  it('memory outside the heap is refused there too (WebAssembly, resizable buffers)', async () => {
    const r = await manifestOf('cfg-memory', `${DEFAULT_CONFIGURE}
const tries = [
  () => new WebAssembly.Memory({ initial: 4096 }),
  () => new ArrayBuffer(0, { maxByteLength: 1 << 30 }),
  () => new SharedArrayBuffer(1 << 20),
];
module.exports.tried = tries.map((t) => { try { t(); return 'made'; } catch (e) { return e.name; } });`);
    expect(r).toMatchObject({ ok: true, value: { tried: ['ReferenceError', 'RangeError', 'ReferenceError'] } });
  });
});
