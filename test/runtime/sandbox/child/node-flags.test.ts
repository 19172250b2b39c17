// Node flags of the sandbox process (supervisor.ts SANDBOX_NODE_FLAGS; SECURITY.md, "Engine hardening"), each a backstop
// behind the prelude's removals: --enable-sharedarraybuffer-per-context keeps V8 from installing
// SharedArrayBuffer in contexts the embedder did not allow; --wasm-max-mem-pages=1 caps any
// WebAssembly memory at one page (only where the sandbox process itself runs as plain JavaScript:
// Node's TypeScript stripper needs WebAssembly memory). Proven on a bare isolate in a process of
// its own, with its control; then on the real sandbox process, which must still run plugins with them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';

const bareProbe = (expression: string) => `
const ivm = require('isolated-vm');
const context = new ivm.Isolate({ memoryLimit: 16 }).createContextSync();
process.stdout.write(String(context.evalSync(${JSON.stringify(expression)})));`;

function bareIsolateWith(flags: string[], expression = 'typeof SharedArrayBuffer'): string {
  return execFileSync(process.execPath, ['--no-node-snapshot', ...flags, '-e', bareProbe(expression)], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
}

describe('node flags for the sandbox process', () => {
  it('--enable-sharedarraybuffer-per-context: a bare isolate has no SharedArrayBuffer (control: without it, it has)', () => {
    expect(bareIsolateWith([])).toBe('function');
    expect(bareIsolateWith(['--enable-sharedarraybuffer-per-context'])).toBe('undefined');
  });

  it('--wasm-max-mem-pages=1 (optional, see SECURITY.md): a WebAssembly memory cannot pass 64 KiB (control: without it, it can)', () => {
    const grow = `(() => { try { const m = new WebAssembly.Memory({ initial: 1, maximum: 1024 }); m.grow(1023); return m.buffer.byteLength; } catch (e) { return e.name; } })()`;
    expect(bareIsolateWith([], grow)).toBe(String(1024 * 65536));
    expect(bareIsolateWith(['--wasm-max-mem-pages=1'], grow)).toBe('RangeError');
  });

  it('every sandbox process runs with its flags, and runs plugins with them', async () => {
    const { host } = await startSandbox();
    try {
      const reg = await registerDir(host, writePlugin('flagged', {}));
      expect(reg.ok, JSON.stringify(reg)).toBe(true);
      const cmdline = fs.readFileSync(`/proc/${host.processOf('flagged')?.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toEqual(expect.arrayContaining(['--enable-sharedarraybuffer-per-context', '--wasm-max-mem-pages=1', '--no-node-snapshot', '--max-semi-space-size=8']));
      expect(await host.invoke('flagged', 'getFields', ['en', 'CARDUAH'])).toMatchObject({ ok: true, value: [{ _id: 'card_number' }] });
    } finally {
      await host.close();
    }
  });
});
