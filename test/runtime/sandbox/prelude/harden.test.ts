// Engine hardening (runtime/sandbox/prelude/harden.isolate.js), through the real sandbox: memory
// outside the isolate's heap limit (WebAssembly memories, resizable and growable buffers, retained
// ICU objects) and synchronous waits (Atomics) are gone from the intrinsics, however a plugin
// looks for them. Each attack has its positive control: the same source run in a bare
// isolated-vm context, where the feature exists and escapes the heap limit.
import ivm from 'isolated-vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';

const MB = 1024 * 1024;
const SIZE = 64 * MB;

/** Each attack keeps SIZE bytes in memory it touched, and returns how many it got. */
const MEMORY_ATTACKS: Record<string, string> = {
  'WebAssembly.Memory.grow': `const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); m.grow(SIZE / 65536 - 1); new Uint8Array(m.buffer).fill(1); keep.push(m); return m.buffer.byteLength;`,
  'shared WebAssembly.Memory → SharedArrayBuffer': `const SAB = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer.constructor; const b = new SAB(0, { maxByteLength: SIZE }); b.grow(SIZE); new Uint8Array(b).fill(1); keep.push(b); return b.byteLength;`,
  'resizable ArrayBuffer': `const b = new ArrayBuffer(0, { maxByteLength: SIZE }); b.resize(SIZE); new Uint8Array(b).fill(1); keep.push(b); return b.byteLength;`,
  'growable SharedArrayBuffer': `const b = new SharedArrayBuffer(0, { maxByteLength: SIZE }); b.grow(SIZE); new Uint8Array(b).fill(1); keep.push(b); return b.byteLength;`,
  'ArrayBuffer via a typed array buffer.constructor': `const AB = new Uint8Array(1).buffer.constructor; const b = new AB(0, { maxByteLength: SIZE }); b.resize(SIZE); new Uint8Array(b).fill(1); keep.push(b); return b.byteLength;`,
  'ArrayBuffer via Object.getPrototypeOf(buffer).constructor': `const AB = Object.getPrototypeOf(new DataView(new ArrayBuffer(1)).buffer).constructor; const b = Reflect.construct(AB, [0, { maxByteLength: SIZE }]); b.resize(SIZE); new Uint8Array(b).fill(1); keep.push(b); return b.byteLength;`,
  'WebAssembly through Function("return this")()': `const W = Function('return this')().WebAssembly; const m = new W.Memory({ initial: SIZE / 65536 }); new Uint8Array(m.buffer).fill(1); keep.push(m); return m.buffer.byteLength;`,
};
const attackSource = (body: string) => `(function () { const SIZE = ${SIZE}; const keep = (globalThis.__kept = globalThis.__kept || []); ${body} })()`;

let host: SandboxHost;

beforeAll(async () => {
  ({ host } = await startSandbox({ limits: { cpuMsPerCall: 2000, wallMsPerCall: 10_000, memoryMb: 64 }, breaker: { threshold: 100 } }));
  const attacks = Object.entries(MEMORY_ATTACKS).map(([name, body]) => `${JSON.stringify(name)}: () => ${attackSource(body)}`).join(',\n');
  const reg = await registerDir(host, writePlugin('harden-probe', {
    'index.js': `
const attacks = {\n${attacks}\n};
const attempt = (fn) => { try { return 'got ' + fn(); } catch (e) { return 'refused: ' + e.name + ': ' + e.message; } };
module.exports = class {
  async getFields(what) {
    if (what === 'memory') { const out = {}; for (const k of Object.keys(attacks)) out[k] = attempt(attacks[k]); return out; }
    if (what === 'small') return new Uint8Array(new ArrayBuffer(1024)).fill(7).reduce((a, b) => a + b, 0);
    if (what === 'big-fixed') return attempt(() => { const k = []; for (let i = 0; i < 40; i++) k.push(new Uint8Array(4 * 1024 * 1024).fill(1)); return k.length; });
    if (what === 'waits') return {
      atomics: typeof Atomics, wait: attempt(() => Atomics.wait(new Int32Array(4), 0, 0, 10)),
      waitAsync: attempt(() => Atomics.waitAsync(new Int32Array(4), 0, 0, 10)), pause: attempt(() => Atomics.pause()),
      viaGlobal: typeof Function('return this')().Atomics,
    };
    if (what === 'reach') {
      const AsyncFunction = (async function () {}).constructor;
      const GeneratorFunction = (function* () {}).constructor;
      const AsyncGeneratorFunction = (async function* () {}).constructor;
      const probe = 'return [typeof WebAssembly, typeof SharedArrayBuffer, typeof Atomics].join()';
      let dynamicImport;
      const spec = ['node', 'fs'].join(':'); try { await import(spec); dynamicImport = 'loaded'; } catch (e) { dynamicImport = 'refused'; }
      return {
        globals: Object.getOwnPropertyNames(globalThis).filter((k) => ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'ShadowRealm', 'postMessage', 'MessageChannel', 'Worker'].includes(k)),
        functionCtor: Function(probe)(), asyncFunctionCtor: await AsyncFunction(probe)(), generatorCtor: GeneratorFunction(probe)().next().value,
        asyncGeneratorCtor: (await AsyncGeneratorFunction(probe)().next()).value, indirectEval: (0, eval)('(function () {' + probe + '})()'),
        arrayBufferProto: Reflect.ownKeys(ArrayBuffer.prototype).filter((k) => typeof k === 'string').sort(),
        sameCtor: new Uint8Array(1).buffer.constructor === ArrayBuffer && Object.getPrototypeOf(new ArrayBuffer(1)).constructor === ArrayBuffer,
        subclass: new (class Sub extends ArrayBuffer {})(16).byteLength, slice: new ArrayBuffer(16).slice(4).byteLength, isView: ArrayBuffer.isView(new Uint8Array(1)),
        maxByteLengthIgnoredWhenUndefined: new ArrayBuffer(8, { maxByteLength: undefined }).resizable,
        structuredClone: Object.prototype.toString.call(structuredClone({ b: new ArrayBuffer(8) }).b),
        dynamicImport,
      };
    }
    if (what === 'intl') {
      const nf = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' });
      const result = {
        removed: [typeof Intl.Segmenter, typeof Intl.v8BreakIterator, typeof Intl.Locale],
        formatted: nf.format(12.5), shared: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }) === nf,
        withoutNew: Intl.NumberFormat('de-DE').format(1234.5), instance: nf instanceof Intl.NumberFormat,
        collator: ['b', 'a', 'C'].sort(new Intl.Collator('en').compare).join(''),
        toLocaleString: (1234.5).toLocaleString('de-DE'), date: new Date(0).toLocaleDateString('en-GB', { timeZone: 'UTC' }),
      };
      let distinct;
      try { for (let i = 0; i < 400; i++) new Intl.NumberFormat('en', { minimumFractionDigits: i % 20, maximumFractionDigits: 20, minimumIntegerDigits: 1 + Math.floor(i / 20) }); distinct = 'no limit'; }
      catch (e) { distinct = e.name + ': ' + e.message; }
      return { ...result, distinct };
    }
    return [];
  }
  async transfer() { return { ok: 1 }; }
};`,
  }));
  expect(reg.ok, JSON.stringify(reg)).toBe(true);
});
afterAll(async () => {
  await host.close();
});

async function probe(what: string): Promise<any> {
  const r = await host.invoke('harden-probe', 'getFields', [what]);
  expect(r.ok, JSON.stringify(r.ok ? null : r.error)).toBe(true);
  return r.ok ? r.value : null;
}

/** The sandbox process that hosts the probe plugin (with one process per plugin, not the first). */
async function probeProcess(): Promise<{ rss: number }> {
  const all = await host.stats();
  const hosting = all.find((p) => p.isolates.some((i) => i.plugin === 'harden-probe'));
  expect(hosting, 'the process hosting harden-probe').toBeDefined();
  return hosting as { rss: number };
}

/** The positive control: the same source in a bare isolated-vm context with a heap limit a quarter of SIZE. */
function inBareIsolate<T>(source: string, memoryLimit = 16): T {
  const isolate = new ivm.Isolate({ memoryLimit });
  try {
    const context = isolate.createContextSync();
    return context.evalSync(source, { timeout: 10_000, copy: true }) as T;
  } finally {
    isolate.dispose();
  }
}

describe('engine hardening: memory outside the heap limit', () => {
  it('control: in a bare isolate each attack keeps 64 MB that a 16 MB heap limit never sees', () => {
    for (const [name, body] of Object.entries(MEMORY_ATTACKS)) {
      expect(inBareIsolate<number>(attackSource(body)), name).toBe(SIZE);
    }
  });

  it('a plugin finds every path refused, and the sandbox process does not grow by what was asked', async () => {
    const before = await probeProcess();
    const outcomes = await probe('memory') as Record<string, string>;
    for (const [name, outcome] of Object.entries(outcomes)) expect(outcome, name).toMatch(/^refused: (TypeError|RangeError|ReferenceError): /);
    expect(outcomes['resizable ArrayBuffer']).toMatch(/resizable ArrayBuffers \(maxByteLength\) are not available in the payout sandbox/);
    const after = await probeProcess();
    // Seven attacks of 64 MB each would add 448 MB; refused, the process stays within noise.
    expect(after.rss - before.rss).toBeLessThan(SIZE);
  });

  it('fixed-length buffers and typed arrays are counted against the heap limit (control: a small one works)', async () => {
    expect(await probe('small')).toBe(7 * 1024);
    expect(await probe('big-fixed')).toMatch(/^refused: RangeError: Array buffer allocation failed/);
    expect(inBareIsolate<string>(`(() => { try { new Uint8Array(${SIZE}); return 'allocated'; } catch (e) { return e.message; } })()`)).toMatch(/Array buffer allocation failed/);
    expect(await probe('small')).toBe(7 * 1024); // the isolate survived
  });

  it('the features are gone however they are reached: globals, Function/async/generator constructors, eval, prototypes, structuredClone, import()', async () => {
    const reached = await probe('reach');
    expect(reached).toEqual({
      globals: [],
      functionCtor: 'undefined,undefined,undefined', asyncFunctionCtor: 'undefined,undefined,undefined', generatorCtor: 'undefined,undefined,undefined',
      asyncGeneratorCtor: 'undefined,undefined,undefined', indirectEval: 'undefined,undefined,undefined',
      arrayBufferProto: ['byteLength', 'constructor', 'detached', 'maxByteLength', 'resizable', 'slice'],
      sameCtor: true, subclass: 16, slice: 12, isView: true, maxByteLengthIgnoredWhenUndefined: false,
      structuredClone: '[object Object]', dynamicImport: 'refused',
    });
    const bare = inBareIsolate<string>(`[typeof WebAssembly, typeof SharedArrayBuffer, typeof Atomics, typeof ArrayBuffer.prototype.resize, typeof ArrayBuffer.prototype.transfer].join()`);
    expect(bare).toBe('object,function,object,function,function');
  });
});

describe('engine hardening: no synchronous wait', () => {
  it('Atomics (wait, waitAsync, pause) is unreachable; control: a bare isolate blocks in Atomics.wait', async () => {
    const waits = await probe('waits');
    expect(waits).toMatchObject({ atomics: 'undefined', viaGlobal: 'undefined' });
    for (const k of ['wait', 'waitAsync', 'pause']) expect(waits[k], k).toMatch(/^refused: ReferenceError: Atomics is not defined/);
    expect(inBareIsolate<string>(`Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)`)).toBe('timed-out');
  });
});

describe('engine hardening: Intl formatters', () => {
  it('control: in a bare isolate, retained formatters keep native memory a 16 MB heap limit does not stop', () => {
    const kept = inBareIsolate<number>(`globalThis.k = []; for (let i = 0; i < 3000; i++) k.push(new Intl.DateTimeFormat('en', { timeZone: 'UTC', dateStyle: 'full', timeStyle: 'full' })); k.length`);
    expect(kept).toBe(3000); // ≈ 80 MB of ICU objects, measured at 27 KB each
    expect(inBareIsolate<string>(`[typeof Intl.Segmenter, typeof Intl.Locale].join()`)).toBe('function,function');
  });

  it('work as before for a real plugin, are shared per (locales, options), and are capped per plugin', async () => {
    const intl = await probe('intl');
    expect(intl).toMatchObject({
      removed: ['undefined', 'undefined', 'undefined'],
      formatted: '€12.50', shared: true, withoutNew: '1.234,5', instance: true, collator: 'abC', toLocaleString: '1.234,5', date: '01/01/1970',
    });
    expect(intl.distinct).toMatch(/^RangeError: the payout sandbox allows at most 200 distinct Intl formatters per plugin/);
    expect(await probe('small')).toBe(7 * 1024);
  });
});
