// The matrix's own canary: a plugin registered without an engine runs on the engine of the
// project (vitest.config.ts), told apart by a global only QuickJS has. Without it, a suite that
// silently stayed on isolated-vm would pass "on quickjs".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { TEST_ENGINE } from '../../helpers/engine.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../helpers/sandbox.ts';

let host: SandboxHost;
beforeAll(async () => {
  ({ host } = await startSandbox());
});
afterAll(async () => {
  await host.close();
});

describe(`the test engine (${TEST_ENGINE})`, () => {
  it('is the engine a plugin registered without one runs on', async () => {
    const r = await registerDir(host, writePlugin('engine-canary', {
      'index.js': `module.exports = class { async getFields() { return typeof InternalError; } };`,
    }));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const out = await host.invoke('engine-canary', 'getFields', ['en']);
    expect(out).toMatchObject({ ok: true, value: TEST_ENGINE === 'quickjs' ? 'function' : 'undefined' });
  });
});
