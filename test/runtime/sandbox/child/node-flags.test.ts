// The node flag proposed for the sandbox process (SECURITY.md, "Engine hardening"):
// --enable-sharedarraybuffer-per-context keeps V8 from installing SharedArrayBuffer in contexts
// the embedder did not allow, so isolated-vm contexts start without it even before the prelude
// deletes it. Proven on a bare isolate in a process of its own, with its control, and on the real
// sandbox process (through the supervisor's PAYOUT_SANDBOX_CHILD_NODE_ARGS), which must still run
// plugins with it.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';

const BARE_PROBE = `
const ivm = require('isolated-vm');
const context = new ivm.Isolate({ memoryLimit: 16 }).createContextSync();
process.stdout.write(context.evalSync('typeof SharedArrayBuffer'));`;

function bareIsolateWith(flags: string[]): string {
  return execFileSync(process.execPath, ['--no-node-snapshot', ...flags, '-e', BARE_PROBE], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
}

describe('node flags for the sandbox process', () => {
  it('--enable-sharedarraybuffer-per-context: a bare isolate has no SharedArrayBuffer (control: without it, it has)', () => {
    expect(bareIsolateWith([])).toBe('function');
    expect(bareIsolateWith(['--enable-sharedarraybuffer-per-context'])).toBe('undefined');
  });

  describe('the sandbox process started with it', () => {
    const saved = process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS;
    afterAll(() => {
      if (saved === undefined) delete process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS;
      else process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS = saved;
    });

    it('loads and runs a plugin', async () => {
      process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS = '--enable-sharedarraybuffer-per-context';
      const { host } = await startSandbox();
      try {
        const reg = await registerDir(host, writePlugin('flagged', {}));
        expect(reg.ok, JSON.stringify(reg)).toBe(true);
        expect(await host.invoke('flagged', 'getFields', ['en', 'CARDUAH'])).toMatchObject({ ok: true, value: [{ _id: 'card_number' }] });
      } finally {
        await host.close();
      }
    });
  });
});
