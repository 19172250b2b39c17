// The trusted prelude (bridge.isolate.js + plugin-calls.isolate.js) against a plugin that shapes
// what the prelude might read: replaced globals and prototype methods, hostile thrown values, and
// `fn.caller` / stack-frame walks from every hook the prelude calls. What the host reads (the
// description, failures, field checks, webhook answers, log lines) must come out as if nothing
// had been replaced. Each replacement runs next to the same plugin without it (the control).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';
import { ON_QUICKJS } from '../../../helpers/engine.ts';

let host: SandboxHost;
let logs: Awaited<ReturnType<typeof startSandbox>>['logs'];

beforeAll(async () => {
  ({ host, logs } = await startSandbox({ limits: { cpuMsPerCall: 500, wallMsPerCall: 5000, memoryMb: 32 }, breaker: { threshold: 1000 } }));
});
afterAll(async () => {
  await host.close();
});

const ORDER = { _id: 'o1', uid: 1, outAmount: '10', outXML: 'CARDUAH', outSymbol: 'UAH', outValues: {} };
const CALLBACK = (name: string) => ({ name, req: { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: null }, param: { post: {}, get: {} } });

/** Replacements a plugin makes after its module ran, so that they are in place for every later call. */
const OVERRIDES: Record<string, string> = {
  'nothing (control)': '',
  String: `globalThis.String = function () { return 1; };`,
  'String.prototype methods': `for (const k of ['slice', 'toLowerCase', 'indexOf', 'replace', 'split', 'trim']) String.prototype[k] = function () { return { hijacked: k }; };`,
  JSON: `JSON.stringify = () => '{"ok":true,"value":{"message":1}}'; JSON.parse = () => ({ ok: true, id: 1, value: { message: 1 } });`,
  'Object statics': `Object.keys = () => [1, 2]; Object.defineProperty = () => { throw new Error('hijacked'); }; Object.freeze = (o) => o; Object.setPrototypeOf = () => { throw new Error('hijacked'); }; Object.hasOwn = () => true; Object.entries = () => [];`,
  'Object.prototype toJSON, getters and setters': `
for (const k of ['toJSON', 'code', 'message', 'ok', 'status', 'then', 'headers', 'resolve', 'callId', '0', '1']) {
  Object.defineProperty(Object.prototype, k, { get() { return k === 'toJSON' ? () => ({ message: 1, ok: 5 }) : { hijacked: k }; }, set(v) { throw new Error('setter ' + k); }, configurable: true });
}`,
  'Array.prototype methods, iterator, toJSON, index setters': `
for (const k of ['push', 'join', 'map', 'filter', 'slice', 'concat', 'includes', 'indexOf', 'find', 'some', 'sort', 'forEach', 'reduce']) Array.prototype[k] = function () { throw new Error('hijacked ' + k); };
Array.prototype[Symbol.iterator] = function* () { yield 'hijacked'; };
Object.defineProperty(Array.prototype, 'toJSON', { value: () => 'hijacked', configurable: true });
Object.defineProperty(Array.prototype, '0', { set(v) { throw new Error('index setter'); }, configurable: true });`,
  'Promise, Promise.prototype.then, resolve, reject': `
const PP = Promise.prototype;
PP.then = function () { throw new Error('hijacked then'); }; PP.catch = PP.then; PP.finally = PP.then;
Promise.resolve = () => { throw new Error('hijacked resolve'); }; Promise.reject = Promise.resolve; Promise.all = Promise.resolve;
globalThis.Promise = function () { throw new Error('no promises'); };`,
  'Error constructors and Error.prototype': `
for (const k of ['Error', 'TypeError', 'RangeError']) globalThis[k] = function () { return { message: 1 }; };
Object.defineProperty(Error.prototype, 'message', { get() { return 1; }, configurable: true }); Error.prototype.toString = () => ({});
Error.prepareStackTrace = () => { throw new Error('prepare'); }; Error.captureStackTrace = () => { throw 1; };`,
  'Symbol and Symbol.toPrimitive': `globalThis.Symbol = function () { return 'x'; }; Object.prototype[Symbol.toPrimitive] = function () { return {}; };`,
  Reflect: `for (const k of Object.getOwnPropertyNames(Reflect)) Reflect[k] = () => { throw new Error('hijacked Reflect.' + k); };`,
  'Function.prototype.call, apply, bind, toString': `for (const k of ['call', 'apply', 'bind', 'toString']) Function.prototype[k] = function () { throw new Error('hijacked ' + k); };`,
  'Map, Set, Math, Number, RegExp': `
for (const k of ['get', 'set', 'has', 'delete', 'entries', 'keys', 'values', 'forEach']) { Map.prototype[k] = () => { throw new Error('hijacked Map'); }; Set.prototype[k] = Map.prototype[k]; }
Map.prototype[Symbol.iterator] = function* () {}; Math.max = () => NaN; Math.min = () => NaN; globalThis.Number = () => NaN;
RegExp.prototype.exec = () => null; RegExp.prototype.test = () => true; RegExp.prototype[Symbol.replace] = () => 'hijacked'; globalThis.RegExp = function () { return /./; };`,
};

function overridingPlugin(override: string): Record<string, string> {
  return {
    'index.js': `
// Everything the plugin itself needs is taken before the override, so that only the prelude can fail.
const P = Promise; const wait = setTimeout; const log = console.log;
class Fielded {
  async getFields(lang, xml) { return [{ _id: 'card', name: 'Card', regexp: '^[0-9]{4}$', regexp_error: 'card must be 4 digits', required: true }]; }
  async transfer(order) {
    if (order.uid === 1) throw { message: 1 };
    await new P((r) => wait(r, 1));
    log('paying %s', order._id, 42);
    return { ok: 2, transaction: 't-' + order._id, amount: '10', currency: 'UAH', to: 'x' };
  }
}
module.exports = Fielded;
${override}`,
    'callbacks.js': `module.exports = { hook: async (req, res) => { res.set('X-Reply', 'yes'); res.status(201); res.write('ok:'); res.end('done'); } };`,
  };
}

/**
 * QuickJS's own JSON.stringify keeps its work list in an ordinary array whose index writes go
 * through Array.prototype and Object.prototype (measured): an index setter there runs inside the
 * prelude's stringify. What that gives the plugin is its own calls' failure (counterpart below).
 */
const QUICKJS_STRINGIFY_SEES_INDEX_SETTERS = new Set(['Object.prototype toJSON, getters and setters', 'Array.prototype methods, iterator, toJSON, index setters']);

describe('prelude: a plugin that replaces intrinsics shapes nothing the host reads', () => {
  for (const [name, override] of Object.entries(OVERRIDES)) {
    const skipped = ON_QUICKJS && QUICKJS_STRINGIFY_SEES_INDEX_SETTERS.has(name);
    it.skipIf(skipped)(`replaced: ${name}${skipped ? ' (skipped on QuickJS: its JSON.stringify writes array indexes through the prototypes)' : ''}`, async () => {
      const key = `override-${name.replace(/[^a-z]+/gi, '-').toLowerCase()}`.replace(/-+$/, '');
      const reg = await registerDir(host, writePlugin(key, overridingPlugin(override)));
      expect(reg, JSON.stringify(reg)).toMatchObject({ ok: true, description: { className: 'Fielded', methods: { getFields: true, transfer: true, initCron: false }, callbacks: ['hook'] } });

      const failed = await host.invoke(key, 'transfer', [ORDER]);
      expect(failed).toMatchObject({ ok: false, error: { kind: 'plugin_error', message: '1', thrown: { message: '1' } } });

      const check = await host.invoke(key, 'validateFields', { lang: 'en', xml: 'CARDUAH', values: { card: '12' } });
      expect(check).toMatchObject({
        ok: true,
        value: { supported: true, fields: [{ _id: 'card', name: 'Card', regexp: '^[0-9]{4}$', required: true }], errors: [{ key: 'card', message: 'card must be 4 digits' }] },
      });
      const good = await host.invoke(key, 'validateFields', { lang: 'en', xml: 'CARDUAH', values: { card: '1234' } });
      expect(good).toMatchObject({ ok: true, value: { errors: [] } });

      let response: unknown = null;
      const cb = await host.invoke(key, 'callback', CALLBACK('hook'), { onRespond: (r) => { response = r; } });
      expect(cb.ok, JSON.stringify(cb)).toBe(true);
      expect(response).toEqual({ status: 201, headers: { 'x-reply': 'yes' }, body: 'ok:done' });

      const paid = await host.invoke(key, 'transfer', [{ ...ORDER, uid: 2 }]);
      expect(paid.ok, JSON.stringify(paid)).toBe(true);
      expect(logs).toContainEqual({ plugin: key, level: 'info', text: 'paying o1 42' });
    });
  }

  it.runIf(ON_QUICKJS)('QuickJS counterpart: index setters on the prototypes break only the plugin\'s own load, with its own message; the next plugin loads', async () => {
    let n = 0;
    for (const name of QUICKJS_STRINGIFY_SEES_INDEX_SETTERS) {
      const key = `qjs-index-setters-${++n}`;
      const reg = await registerDir(host, writePlugin(key, overridingPlugin(OVERRIDES[name])));
      expect(reg, JSON.stringify(reg)).toMatchObject({ ok: false, error: { kind: 'load_failed', message: expect.stringMatching(/setter/) } });
      const control = await registerDir(host, writePlugin(`${key}-control`, overridingPlugin('')));
      expect(control.ok, JSON.stringify(control)).toBe(true);
    }
  });

  it('console formats as before with the intrinsics it captured (%-flags, objects, a 1 MB line)', async () => {
    await registerDir(host, writePlugin('console-format', {
      'index.js': `module.exports = class { async getFields() {
  console.log('a%%b %s %d %x %j', 'str', '7', { a: 1 });
  console.log('%s %s', 'only');
  console.warn({ a: [1, 'x'], d: new Date(0) }, null, 2n, Symbol('s'));
  console.info('%'.padEnd(1024 * 1024, 'y'));
  return 'logged';
} };`,
    }));
    expect(await host.invoke('console-format', 'getFields', [])).toMatchObject({ ok: true, value: 'logged' });
    const lines = logs.filter((l) => l.plugin === 'console-format');
    expect(lines.slice(0, 3)).toEqual([
      { plugin: 'console-format', level: 'info', text: 'a%b str 7 %x {"a":1}' },
      { plugin: 'console-format', level: 'info', text: 'only %s' },
      { plugin: 'console-format', level: 'warn', text: '{ a: [ 1, "x" ], d: 1970-01-01T00:00:00.000Z } null 2n Symbol(s)' },
    ]);
    expect(lines[3].text.startsWith('%y')).toBe(true);
  });

  it('the web globals keep working after a plugin replaced the globals they take from the prelude (control: the same calls before)', async () => {
    await registerDir(host, writePlugin('web-globals', {
      'index.js': `const use = () => ({
  text: new TextDecoder().decode(new TextEncoder().encode('héllo €')),
  base64: atob(btoa('payout')),
  form: new URLSearchParams({ a: '1 2', b: 'x&y' }).toString(),
  url: new URL('/p?q=1', 'https://api.example.com').href,
  clone: structuredClone({ n: 1, s: ['x'] }),
});
const before = use();
module.exports = class { async getFields() {
  globalThis.String = () => 1; globalThis.JSON = { parse() { return 1; }, stringify() { return '1'; } };
  globalThis.Date = { now() { return 0; } }; globalThis.Symbol = () => 's'; globalThis.Uint8Array = Array; globalThis.TypeError = Error;
  Object.keys = () => [];
  return { before, after: use() };
} };`,
    }));
    const r = await host.invoke('web-globals', 'getFields', []);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const { before, after } = (r.ok ? r.value : {}) as { before: unknown; after: unknown };
    expect(before).toEqual({ text: 'héllo €', base64: 'payout', form: 'a=1+2&b=x%26y', url: 'https://api.example.com/p?q=1', clone: { n: 1, s: ['x'] } });
    expect(after).toEqual(before);
  });

  it.runIf(ON_QUICKJS)('QuickJS counterpart: a plugin that makes every promise species throw hangs only its own call, which its deadline ends', async () => {
    await registerDir(host, writePlugin('species-qjs', {
      'index.js': `module.exports = class { async getFields() { return []; } };
Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Proxy({}, { get() { throw 1; } }); } });`,
    }));
    const control = await registerDir(host, writePlugin('species-control', { 'index.js': `module.exports = class { async getFields() { return []; } };` }));
    expect(control.ok).toBe(true);
    expect(await host.invoke('species-qjs', 'getFields', [], { wallMs: 500 })).toMatchObject({ ok: false, error: { kind: 'deadline' } });
    expect(await host.invoke('species-control', 'getFields', [])).toMatchObject({ ok: true, value: [] });
  });

  it.skipIf(ON_QUICKJS)(`a plugin that makes every promise species throw fails its own calls cleanly${ON_QUICKJS ? ' (skipped on QuickJS: an await whose species getter throws stays suspended there)' : ''}`, async () => {
    await registerDir(host, writePlugin('species', {
      'index.js': `module.exports = class { async getFields() { return []; } async transfer() { return { ok: 1 }; } };
Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Proxy({}, { get() { throw 1; } }); } });`,
    }));
    const r = await host.invoke('species', 'getFields', []);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error', message: 'the plugin threw a value that could not be read' } });
    const again = await host.invoke('species', 'transfer', [ORDER]);
    expect(again).toMatchObject({ ok: false, error: { kind: 'plugin_error' } }); // the same isolate, not reset
  });
});

describe('prelude: hostile thrown values become a plain description', () => {
  const THROWN: [string, string, string][] = [
    ['{message: 1}', `({ message: 1 })`, '1'],
    ['a message whose toString returns an object', `({ message: { toString() { return {}; } } })`, '[unprintable value]'],
    ['a message with Symbol.toPrimitive', `({ message: { [Symbol.toPrimitive]() { return 'prim'; } } })`, 'prim'],
    ['a message getter that throws a Proxy', `({ get message() { throw new Proxy({}, { get() { throw 1; } }); } })`, 'the plugin threw a value that could not be read'],
    ['a Proxy whose traps throw', `new Proxy({}, { get() { throw new Error('trap'); } })`, 'the plugin threw a value that could not be read'],
    ['a Proxy that answers message only', `new Proxy({}, { get(t, k) { return k === 'message' ? 'via proxy' : undefined; }, getPrototypeOf() { throw 1; } })`, 'via proxy'],
    ['a Symbol', `Symbol('s')`, 'Symbol(s)'],
    ['a BigInt', `123n`, '123'],
    ['null', `null`, 'null'],
    ['a function with a message', `Object.assign(function () {}, { message: 'fn' })`, 'fn'],
    ['a message of 100 000 characters', `({ message: 'x'.repeat(100000) })`, 'x'.repeat(4000) + '…'],
  ];
  beforeAll(async () => {
    const cases = THROWN.map(([, source], i) => `${i}: () => ${source}`).join(',\n');
    const reg = await registerDir(host, writePlugin('throws', {
      'index.js': `const cases = {\n${cases}\n};
module.exports = class { async getFields() { return 'alive'; } async transfer(order) { throw cases[order.uid](); } };`,
    }));
    expect(reg.ok).toBe(true);
  });
  THROWN.forEach(([name, , message], i) => {
    it(name, async () => {
      const r = await host.invoke('throws', 'transfer', [{ ...ORDER, uid: i }]);
      expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error', message, thrown: { message } } });
      expect(await host.invoke('throws', 'getFields', [])).toMatchObject({ ok: true, value: 'alive' });
    });
  });

  it('code, statusCode, name and response.status of the wrong types are dropped', async () => {
    await registerDir(host, writePlugin('typed-throw', {
      'index.js': `module.exports = class { async getFields() { return []; } async transfer() {
  throw Object.assign(new Error('real'), { code: { toString() { return 'x'; } }, statusCode: '500', name: 7, response: { status: '200' }, definite: 'yes' });
} };`,
    }));
    const r = await host.invoke('typed-throw', 'transfer', [ORDER]);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error' } });
    if (!r.ok) expect(r.error.thrown).toEqual({ message: 'real' });
  });

  it('a timer callback that throws a Proxy fails its call, without resetting the isolate', async () => {
    await registerDir(host, writePlugin('timer-throws', {
      'index.js': `let calls = 0;
module.exports = class {
  async getFields() { calls++; return calls; }
  transfer() { return new Promise(() => { setTimeout(() => { throw new Proxy({}, { get() { throw 1; } }); }, 1); }); }
};`,
    }));
    expect(await host.invoke('timer-throws', 'getFields', [])).toMatchObject({ ok: true, value: 1 });
    const r = await host.invoke('timer-throws', 'transfer', [ORDER]);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error', message: 'the plugin threw a value that could not be read' } });
    expect(await host.invoke('timer-throws', 'getFields', [])).toMatchObject({ ok: true, value: 2 });
  });
  it('a timer callback that throws an Error with a looping message getter is cut by the CPU limit, inside the timed section', async () => {
    await registerDir(host, writePlugin('timer-loops', {
      'index.js': `module.exports = class {
  async getFields() { return 'alive'; }
  transfer() { return new Promise(() => { setTimeout(() => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); throw e; }, 1); }); }
};`,
    }));
    const r = await host.invoke('timer-loops', 'transfer', [ORDER], { wallMs: 3000 });
    // Cut by isolated-vm's timeout (cpu_limit), not by the deadline and the supervisor's watchdog
    // killing the process (deadline, then sandbox_crashed), which is what happened before.
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(await host.invoke('timer-loops', 'getFields', [])).toMatchObject({ ok: true, value: 'alive' });
  });
});

describe('prelude: what a bundle throws at load time stays inside the timed call', () => {
  // Plugin code defined a global setter on the name the load wrapper assigned; the setter threw an
  // Error whose message getter loops, which escaped the script to isolated-vm and hung the sandbox
  // process outside every timeout. The wrapper now calls a binding the plugin cannot replace.
  const TRAP = `
const looping = () => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); return e; };
for (const name of ['__ps_load_error', '__ps_load_failed']) {
  try { Object.defineProperty(globalThis, name, { set() { throw looping(); }, get() { return () => { throw looping(); }; }, configurable: true }); } catch (e) {}
}
try { globalThis.__ps_load_failed = () => { throw looping(); }; } catch (e) {}
var __ps_load_failed = () => { throw looping(); };
throw 'failed on purpose';`;

  it('control: in a bare isolate such a setter does intercept a plain global assignment', async () => {
    const ivm = (await import('isolated-vm')).default;
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    try {
      const context = isolate.createContextSync();
      const seen = context.evalSync(`let hit = 'no'; Object.defineProperty(globalThis, 'slot', { set() { hit = 'intercepted'; } }); globalThis.slot = 1; hit`);
      expect(seen).toBe('intercepted');
    } finally {
      isolate.dispose();
    }
  });

  it('a plugin that traps the wrapper\'s names fails to load with its own message, and the process is not killed', async () => {
    // Answered by the prelude with the plugin's own message; before, the process hung until the
    // watchdog killed it.
    const reg = await registerDir(host, writePlugin('load-trap', { 'index.js': TRAP }));
    expect(reg).toMatchObject({ ok: false, error: { kind: 'load_failed', message: 'the plugin threw while loading: failed on purpose' } });
  });

  it('the same trap in configure.js', async () => {
    const { bundlePlugin } = await import('../../../../runtime/bundler/bundle-plugin.ts');
    const r = await host.readManifest(await bundlePlugin(writePlugin('cfg-trap', { 'configure.js': TRAP })));
    expect(r).toEqual({ ok: false, error: { kind: 'manifest_invalid', message: 'configure.js threw: failed on purpose' } });
  });
});

describe('prelude: fn.caller and stack frames from plugin code stop at the prelude', () => {
  it.runIf(ON_QUICKJS)('QuickJS counterpart: no caller and no stack API reach a function object (control: not even a sloppy caller is seen)', async () => {
    await registerDir(host, writePlugin('caller-walk-qjs', {
      'index.js': `
function sloppyOuter() { return (function controlHook() { return controlHook.caller; })(); }
module.exports = { getFields: function getFieldsHook() {
  return { sloppy: typeof sloppyOuter(), hook: typeof getFieldsHook.caller, capture: typeof Error.captureStackTrace, prepare: typeof Error.prepareStackTrace, stack: typeof new Error('probe').stack };
} };`,
    }));
    expect(await host.invoke('caller-walk-qjs', 'getFields', [])).toMatchObject({
      ok: true, value: { sloppy: 'undefined', hook: 'undefined', capture: 'undefined', prepare: 'undefined', stack: 'string' },
    });
  });

  it.skipIf(ON_QUICKJS)(`every hook the prelude calls sees no caller and no prelude frame; control: the plugin\'s own sloppy caller is seen${ON_QUICKJS ? ' (skipped on QuickJS: fn.caller and Error.prepareStackTrace are V8\'s)' : ''}`, async () => {
    await registerDir(host, writePlugin('caller-walk', {
      'index.js': `
const seen = {};
const name = (f) => (f === null ? null : f === undefined ? 'undefined' : typeof f === 'function' ? 'function ' + (f.name || 'anonymous') : typeof f);
// The names of the functions on the stack, as V8 hands them to Error.prepareStackTrace.
function frames() {
  const saved = Error.prepareStackTrace;
  Error.prepareStackTrace = (e, cs) => cs.map((c) => { const f = c.getFunction(); return f ? f.name || 'anonymous' : null; }).filter(Boolean);
  const out = new Error('probe').stack;
  Error.prepareStackTrace = saved;
  return out;
}
function note(key, fn) { seen[key] = { caller: name(fn.caller), frames: frames() }; }
function sloppyOuter() { return (function controlHook() { note('control', controlHook); return 1; })(); }
module.exports = {
  getFields: function getFieldsHook(what) {
    note('method', getFieldsHook);
    if (what === 'report') return seen;
    if (what === 'control') { sloppyOuter(); return seen.control; }
    if (what === 'thenable') return { then: function thenHook(resolve) { note('then', thenHook); resolve(1); } };
    if (what === 'toJSON') return { toJSON: function toJSONHook() { note('toJSON', toJSONHook); return 'x'; } };
    if (what === 'timer') return new Promise((resolve) => setTimeout(function timerHook() { note('timer', timerHook); resolve(1); }, 1));
    if (what === 'getter') throw Object.defineProperty({}, 'message', { get: function getterHook() { note('getter', getterHook); return 'm'; } });
    if (what === 'toString') throw { message: { toString: function toStringHook() { note('toString', toStringHook); return 't'; } } };
    if (what === 'log') { console.log('%d', { toString: function logHook() { note('log', logHook); return '7'; } }); return 1; }
    return 0;
  },
  transfer: function transferHook() { note('transfer', transferHook); return { ok: 1 }; },
};
globalThis.__note = note;`,
      'callbacks.js': `module.exports = { hook: function callbackHook(req, res) {
  globalThis.__note('callback', callbackHook);
  res.set('x', { toString: function headerHook() { globalThis.__note('header', headerHook); return 'h'; } });
  res.end('ok');
} };`,
    }));
    const control = await host.invoke('caller-walk', 'getFields', ['control']);
    expect(control).toMatchObject({ ok: true, value: { caller: 'function sloppyOuter' } });
    if (control.ok) expect((control.value as { frames: string[] }).frames).toEqual(expect.arrayContaining(['controlHook', 'sloppyOuter', 'getFieldsHook']));

    for (const what of ['thenable', 'toJSON', 'timer', 'getter', 'toString', 'log']) await host.invoke('caller-walk', 'getFields', [what]);
    await host.invoke('caller-walk', 'transfer', [ORDER]);
    await host.invoke('caller-walk', 'callback', CALLBACK('hook'), { onRespond: () => {} });
    const report = await host.invoke('caller-walk', 'getFields', ['report']);
    expect(report.ok).toBe(true);
    const seen = (report.ok ? report.value : {}) as Record<string, { caller: string | null; frames: string[] }>;
    const PLUGIN_FUNCTIONS = new Set(['frames', 'note', 'getFieldsHook', 'thenHook', 'toJSONHook', 'timerHook', 'getterHook', 'toStringHook', 'logHook', 'transferHook', 'controlHook', 'sloppyOuter', 'callbackHook', 'headerHook']);
    for (const hook of ['method', 'then', 'toJSON', 'timer', 'getter', 'toString', 'log', 'transfer', 'callback', 'header']) {
      expect(seen[hook], hook).toBeDefined();
      expect(seen[hook].caller, `${hook}.caller`).toBeNull();
      expect(seen[hook].frames.filter((f) => !PLUGIN_FUNCTIONS.has(f)), `frames seen from ${hook}`).toEqual([]);
    }
  });
});
