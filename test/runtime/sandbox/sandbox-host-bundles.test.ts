// A reload of code a sandbox process already holds sends only the bundle's hash (the code is
// ~200 KB of JSON-escaped text otherwise). What must hold: a plugin always runs exactly the code
// it was registered with — never another plugin's, never an older version — and a process that
// does not hold the code (restarted, or it let the bundle go) is sent it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import type { SandboxProcess } from '../../../runtime/sandbox/supervisor.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox, watchLoads } from '../../helpers/sandbox.ts';

const KEYS = Array.from({ length: 10 }, (_, i) => `bundle${i}`);
let host: SandboxHost;
/** Each load message sent: which plugin, and whether it carried the code. */
const loads: { plugin: string; withCode: boolean }[] = [];

const indexAnswering = (word: string) => `class P { async getFields() { return [{ _id: ${JSON.stringify(word)} }]; } }\nmodule.exports = P;`;

async function register(key: string, word: string): Promise<void> {
  const r = await registerDir(host, writePlugin(key, { 'index.js': indexAnswering(word) }));
  expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
}

async function answer(key: string): Promise<unknown> {
  const r = await host.invoke(key, 'getFields', ['en', 'CARDUAH']);
  expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
  return r.ok ? (r.value as { _id: string }[])[0]._id : null;
}

function watch(proc: SandboxProcess): void {
  watchLoads(proc, (req) => loads.push({ plugin: req.plugin, withCode: req.code !== null }));
}

beforeAll(async () => {
  ({ host } = await startSandbox({ groups: { all: [...KEYS, 'anchor'] } }));
  // Keeps the shared process up while the others are unregistered (an empty group's process stops).
  await register('anchor', 'anchor');
  await register(KEYS[0], 'first');
  watch(host.processOf(KEYS[0])!);
});
afterAll(async () => {
  await host.close();
});

describe('bundles sent once per sandbox process', () => {
  it('a reload of the same code sends its hash only, and runs that code', async () => {
    loads.length = 0;
    await host.unregister(KEYS[0]);
    await register(KEYS[0], 'first');
    expect(loads).toEqual([{ plugin: KEYS[0], withCode: false }]);
    expect(await answer(KEYS[0])).toBe('first');
  });

  it('changed code under the same key is sent, and the new code runs', async () => {
    loads.length = 0;
    await host.unregister(KEYS[0]);
    await register(KEYS[0], 'second');
    expect(loads).toEqual([{ plugin: KEYS[0], withCode: true }]);
    expect(await answer(KEYS[0])).toBe('second');
  });

  it('two plugins in one process each run their own code after reloads', async () => {
    await register(KEYS[1], 'other');
    for (const key of [KEYS[0], KEYS[1]]) {
      await host.unregister(key);
      await registerDir(host, writePlugin(key, { 'index.js': indexAnswering(key === KEYS[0] ? 'second' : 'other') }));
    }
    expect([await answer(KEYS[0]), await answer(KEYS[1])]).toEqual(['second', 'other']);
  });

  it('a process that let the bundle go is sent the code after it says so, and the plugin runs', async () => {
    // More distinct bundles than a process keeps: the first one is let go by the process while the
    // server still counts it as sent.
    for (let i = 2; i < KEYS.length; i++) await register(KEYS[i], `word${i}`);
    loads.length = 0;
    await host.unregister(KEYS[1]);
    await register(KEYS[1], 'other');
    expect(loads).toEqual([{ plugin: KEYS[1], withCode: false }, { plugin: KEYS[1], withCode: true }]);
    expect(await answer(KEYS[1])).toBe('other');
  });

  it('a restarted process is sent the code again', async () => {
    const proc = host.processOf(KEYS[0])!;
    const generation = proc.generation;
    process.kill(proc.pid!, 'SIGKILL');
    await new Promise<void>((resolve) => {
      const poll = () => (proc.generation === generation && proc.running ? setTimeout(poll, 10) : resolve());
      poll();
    });
    loads.length = 0;
    expect(await answer(KEYS[0])).toBe('second');
    expect(loads).toContainEqual({ plugin: KEYS[0], withCode: true });
    expect(loads).not.toContainEqual({ plugin: KEYS[0], withCode: false });
  });
});
