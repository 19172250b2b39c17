// The shared library (the provided modules: bignumber.js, Buffer, axios, …) is sent once per
// sandbox process and, on isolated-vm, compiled from a code cache this process made. What must
// hold (design.md §5, §10): every plugin context runs its own evaluation of the library, so a
// plugin that changes a library object changes only its own copy, even in a process shared with
// other plugins; and the code cache is keyed by the exact text, hashed by the sandbox process
// itself, never by a name the server sends.
import crypto from 'node:crypto';
import ivm from 'isolated-vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileLibrary, libraryCacheHeld, libraryFromSource } from '../../../../runtime/sandbox/child/library-script.ts';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import type { SandboxProcess } from '../../../../runtime/sandbox/supervisor.ts';
import type { ToSandbox } from '../../../../runtime/sandbox/protocol.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';
import { ON_QUICKJS } from '../../../helpers/engine.ts';

type LoadMessage = Omit<Extract<ToSandbox, { t: 'load' }>, 'id'>;

// What both plugins compute with library objects: BigNumber's prototype and its shared config,
// Buffer's prototype.
const PROBE = `String(new BigNumber(1).plus(2)) + '/' + Buffer.from('ab').toString('hex') + '/' + new BigNumber(1).div(3).toString()`;
const UNTOUCHED = '3/6162/0.33333333333333333333';
const HIJACKED = 'hijacked/hijacked/0.3';

const plugin = (body: string) => `const BigNumber = require('bignumber.js');
class P {
  async getFields() { ${body} return [{ _id: ${PROBE} }]; }
}
module.exports = P;`;

const MUTATE = `BigNumber.prototype.plus = function () { return 'hijacked'; };
  Buffer.prototype.toString = function () { return 'hijacked'; };
  BigNumber.config({ DECIMAL_PLACES: 1 });`;

let host: SandboxHost;
const loads: LoadMessage[] = [];
/** Set by a test: rewrites the next load message before it is sent. */
let tamper: ((msg: LoadMessage) => LoadMessage) | null = null;

function watch(proc: SandboxProcess): void {
  const request = proc.request.bind(proc);
  proc.request = ((req: Parameters<SandboxProcess['request']>[0], ...rest: unknown[]) => {
    let sent = req;
    if (req.t === 'load') {
      if (tamper) sent = tamper(req as LoadMessage) as typeof req;
      loads.push(sent as LoadMessage);
    }
    return (request as (...a: unknown[]) => ReturnType<SandboxProcess['request']>)(sent, ...rest);
  }) as SandboxProcess['request'];
}

async function answer(key: string): Promise<string> {
  const r = await host.invoke(key, 'getFields', ['en', 'CARDUAH']);
  if (!r.ok) throw new Error(`${key}: ${r.error.message}`);
  return (r.value as { _id: string }[])[0]._id;
}

beforeAll(async () => {
  ({ host } = await startSandbox({ groups: { shared: ['anchor', 'mutator', 'bystander', 'late', 'forged'] } }));
  const r = await registerDir(host, writePlugin('anchor', { 'index.js': plugin('') }));
  expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
  watch(host.processOf('anchor')!);
});
afterAll(async () => {
  await host.close();
});

describe('the shared library in a process shared by plugins', () => {
  it('a plugin that changes library prototypes and config changes only its own copy', async () => {
    for (const key of ['mutator', 'bystander']) {
      const r = await registerDir(host, writePlugin(key, { 'index.js': plugin(key === 'mutator' ? MUTATE : '') }));
      expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    }
    expect(host.processOf('mutator')).toBe(host.processOf('bystander'));
    // Positive control: the mutation took effect where it was made.
    expect(await answer('mutator')).toBe(HIJACKED);
    expect(await answer('bystander')).toBe(UNTOUCHED);
    // A plugin loaded after the mutation gets a library as evaluated from its text.
    const r = await registerDir(host, writePlugin('late', { 'index.js': plugin('') }));
    expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    expect(await answer('late')).toBe(UNTOUCHED);
    expect(await answer('anchor')).toBe(UNTOUCHED);
  });

  it('is sent once per process: later loads name it by hash, and run it', () => {
    const withLibrary = loads.filter((m) => m.library !== null);
    expect(withLibrary.length).toBeGreaterThanOrEqual(3);
    for (const m of withLibrary) expect(m.library!.source).toBeNull();
    // The plugin's own code travels without the library's text.
    for (const m of loads.filter((l) => l.code !== null)) expect(m.code!.length).toBeLessThan(60_000);
  });

  it('a library text that does not match the hash it is sent under is refused', async () => {
    const real = loads.find((m) => m.library)!.library!.sha256;
    tamper = (msg) => ({ ...msg, library: { sha256: real, source: 'globalThis.__ps_lib = { forged: true };' } });
    try {
      const r = await registerDir(host, writePlugin('forged', { 'index.js': plugin('') }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(/does not match its sha256/);
    } finally {
      tamper = null;
    }
    // Positive control: the same plugin loads with the real library.
    await host.unregister('forged');
    const again = await registerDir(host, writePlugin('forged', { 'index.js': plugin('') }));
    expect(again.ok, again.ok ? '' : again.error.message).toBe(true);
    expect(await answer('forged')).toBe(UNTOUCHED);
  });

  it('a load naming a library the process does not hold is answered "missing", and the server sends it', async () => {
    let once = true;
    tamper = (msg) => {
      if (!once || !msg.library) return msg;
      once = false;
      return { ...msg, library: { sha256: 'f'.repeat(64), source: null } };
    };
    loads.length = 0;
    try {
      await host.unregister('late');
      const r = await registerDir(host, writePlugin('late', { 'index.js': plugin('') }));
      expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    } finally {
      tamper = null;
    }
    expect(loads.map((m) => ({ sha: m.library!.sha256.slice(0, 4), withText: m.library!.source !== null }))).toEqual([
      { sha: 'ffff', withText: false },
      { sha: loads[1].library!.sha256.slice(0, 4), withText: true },
    ]);
    expect(await answer('late')).toBe(UNTOUCHED);
  });
});

describe.skipIf(ON_QUICKJS)('the library code cache (isolated-vm; QuickJS has none)', () => {
  const run = (source: string) => {
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    try {
      const context = isolate.createContextSync();
      const library = libraryFromSource(source);
      const script = compileLibrary(isolate, library, 'plugin:///t/library.js') as ivm.Script & { cachedDataRejected?: boolean };
      script.runSync(context);
      return { value: context.global.getSync('answer'), rejected: script.cachedDataRejected };
    } finally {
      isolate.dispose();
    }
  };

  it('is keyed by the sha256 of the exact text, computed in the sandbox process', () => {
    const text = 'globalThis.answer = 41 + 1;';
    expect(libraryFromSource(text).sha256).toBe(crypto.createHash('sha256').update(text).digest('hex'));
    expect(libraryCacheHeld(libraryFromSource(text).sha256)).toBe(false);
    expect(run(text).value).toBe(42);
    expect(libraryCacheHeld(libraryFromSource(text).sha256)).toBe(true);
    // Compiled again from the cache, in another isolate: same result, cache accepted.
    expect(run(text)).toEqual({ value: 42, rejected: false });
    // A different text of the same length never runs the first one's code.
    expect(run('globalThis.answer = 41 - 1;').value).toBe(40);
  });
});
