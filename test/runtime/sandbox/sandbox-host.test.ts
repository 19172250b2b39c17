// Each hostile plugin must end with a clear error while the host stays up, and the next call to
// another plugin must still succeed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { USAGE_SUPPORTED, readUsage } from '../../../runtime/sandbox/process-usage.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../helpers/sandbox.ts';

let host: SandboxHost;
let calls: Awaited<ReturnType<typeof startSandbox>>['calls'];
let logs: Awaited<ReturnType<typeof startSandbox>>['logs'];

const ORDER = { _id: 'o1', uid: 1, outAmount: '10', outXML: 'CARDUAH', outSymbol: 'UAH', outValues: { card_number: '4111111111111111' } };

beforeAll(async () => {
  ({ host, calls, logs } = await startSandbox({ limits: { cpuMsPerCall: 300, wallMsPerCall: 3000, memoryMb: 32 }, breaker: { threshold: 100 } }));
  const ok = await registerDir(host, writePlugin('healthy', {}));
  expect(ok.ok).toBe(true);
});
afterAll(async () => {
  await host.close();
});

async function expectHealthyStillWorks() {
  const result = await host.invoke('healthy', 'getFields', ['en', 'CARDUAH']);
  expect(result.ok, JSON.stringify(result.ok ? null : result.error)).toBe(true);
  if (result.ok) expect(result.value).toEqual([{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }]);
}

async function register(key: string, files: Record<string, string>) {
  return registerDir(host, writePlugin(key, files));
}

describe('sandbox core: an unmodified plugin runs', () => {
  it('calls getFields, transfer and a callback, with host calls going to the handler', async () => {
    const reg = await register('runs', {
      'index.js': `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const crypto = require('node:crypto');
class P {
  async getFields(lang, xml) { return [{ _id: 'x', name: id_key + ':' + lang + ':' + xml }]; }
  async transfer(order) {
    const key = await config.get('apiKey');
    console.log('paying', order.uid);
    return { ok: 2, transaction: crypto.createHmac('sha256', key).update(order._id).digest('hex').slice(0, 8), amount: order.outAmount, currency: 'UAH', to: 'card' };
  }
}
module.exports = P;`,
      'callbacks.js': `module.exports = { url_final: async (req, res, param) => { res.set('Content-Type', 'text/plain'); res.writeHead(201); res.end(req.METHOD + ' ' + param.post.id); } };`,
    });
    expect(reg.ok).toBe(true);
    if (reg.ok) expect(reg.description.callbacks).toEqual(['url_final']);
    const fields = await host.invoke('runs', 'getFields', ['ru', 'CARDUAH']);
    expect(fields).toMatchObject({ ok: true, value: [{ _id: 'x', name: 'runs:ru:CARDUAH' }] });
    const transfer = await host.invoke('runs', 'transfer', [ORDER]);
    expect(transfer).toMatchObject({ ok: true, value: { ok: 2, amount: '10', currency: 'UAH' } });
    expect(calls.filter((c) => c.plugin === 'runs')).toEqual([{ plugin: 'runs', method: 'transfer', capability: 'config.get', args: { key: 'apiKey' } }]);
    expect(logs).toContainEqual({ plugin: 'runs', level: 'info', text: 'paying 1' });
    let response: unknown = null;
    const cb = await host.invoke('runs', 'callback', {
      name: 'url_final', req: { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: null }, param: { post: { id: 'p1' }, get: {} },
    }, { onRespond: (r) => { response = r; } });
    expect(cb.ok).toBe(true);
    expect(response).toEqual({ status: 201, headers: { 'content-type': 'text/plain' }, body: 'POST p1' });
  });

  it('returns the cron descriptor as data and runs its fn later inside the isolate', async () => {
    await register('crony', {
      'index.js': `
class C {
  initCron({ db, updateHistory }) {
    return { callWhenInit: true, schedule: '*/45 * * * * *', fn: async () => {
      const n = await db.OrderPayoutTxs.countDocuments({ active: true });
      return 'counted ' + n + ' ' + typeof updateHistory;
    } };
  }
  async getFields() { return []; }
}
module.exports = C;`,
    });
    const d = await host.invoke('crony', 'initCron', []);
    expect(d).toMatchObject({ ok: true, value: { schedule: '*/45 * * * * *', callWhenInit: true, hasFn: true } });
    const run = await host.invoke('crony', 'cron', []);
    expect(run).toMatchObject({ ok: true, value: 'counted value function' });
    expect(calls.filter((c) => c.plugin === 'crony').map((c) => c.capability)).toEqual(['payoutTxs.count']);
  });
});

describe('sandbox core: hostile plugins end with a clear error and the host stays up', () => {
  it('a constructor that throws', async () => {
    const reg = await register('ctor-throws', { 'index.js': `module.exports = class { constructor() { throw new Error('boom in ctor'); } };` });
    expect(reg).toMatchObject({ ok: false, error: { kind: 'load_failed' } });
    if (!reg.ok) expect(reg.error.message).toMatch(/constructor threw: boom in ctor/);
    await expectHealthyStillWorks();
  });

  it('configure.js that throws, and configure.js that loops', async () => {
    const throws = await host.readManifest(await bundlePlugin(writePlugin('cfg-throws', { 'configure.js': `throw new Error('no config for you');` })));
    expect(throws).toMatchObject({ ok: false, error: { kind: 'manifest_invalid' } });
    if (!throws.ok) expect(throws.error.message).toMatch(/configure\.js threw: no config for you/);
    const loops = await host.readManifest(await bundlePlugin(writePlugin('cfg-loops', { 'configure.js': `while (true) {}` })));
    expect(loops).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    if (!loops.ok) expect(loops.error.message).toMatch(/configure\.js did not finish/);
    await expectHealthyStillWorks();
  });

  it('an infinite loop in getFields', async () => {
    await register('loops', { 'index.js': `module.exports = class { async getFields() { while (true) {} } };` });
    const r = await host.invoke('loops', 'getFields', ['en', 'X']);
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    await expectHealthyStillWorks();
  });

  it('a loop after an awaited host call (continuations are timed too)', async () => {
    await register('async-loops', {
      'index.js': `
const config = require('../../../modules/config/payout.config.js')();
module.exports = class { async getFields() { await config.get('apiKey'); while (true) {} } };`,
    });
    const r = await host.invoke('async-loops', 'getFields', ['en', 'X']);
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    await expectHealthyStillWorks();
  });

  it('a memory bomb', async () => {
    await register('bomb', { 'index.js': `module.exports = class { async getFields() { const keep = []; while (true) keep.push(new Array(4e6).fill(keep.length)); } };` });
    const r = await host.invoke('bomb', 'getFields', ['en', 'X']);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(['memory_limit', 'sandbox_crashed']).toContain(r.error.kind);
    await expectHealthyStillWorks();
  });

  it('escape attempts find nothing useful', async () => {
    await register('escape', {
      'index.js': `
module.exports = class {
  async getFields() {
    const F = this.constructor.constructor;
    const viaFunction = F('return typeof process === "object" ? Object.keys(process) : null')();
    const p = F('return process')();
    const g = F('return this')();
    return {
      viaFunction,
      binding: typeof p.binding, mainModule: typeof p.mainModule, dlopen: typeof p.dlopen, exit: typeof p.exit,
      env: Object.keys(p.env),
      require: F('return typeof require')(), globalRequire: typeof g.require, module: typeof g.module,
      ivm: Object.getOwnPropertyNames(g).filter((k) => ['ivm', '_ivm', 'Reference', 'Callback', 'ExternalCopy', 'Isolate', 'Context', 'Script', 'lib'].includes(k) || k.startsWith('$')),
      arrayCtorEscape: typeof [].constructor.constructor('return process')().binding,
      envWritable: (() => { try { p.env.API_URL = 'x'; return p.env.API_URL === 'x'; } catch (e) { return false; } })(),
    };
  }
};`,
    });
    const r = await host.invoke('escape', 'getFields', ['en', 'X']);
    expect(r).toMatchObject({
      ok: true,
      value: {
        binding: 'undefined', mainModule: 'undefined', dlopen: 'undefined', exit: 'undefined',
        env: ['API_URL'], require: 'undefined', globalRequire: 'undefined', module: 'undefined', ivm: [], arrayCtorEscape: 'undefined', envWritable: false,
      },
    });
    await expectHealthyStillWorks();
  });

  it('a thrown Proxy whose traps loop', async () => {
    await register('proxy-throw', { 'index.js': `module.exports = class { async getFields() { throw new Proxy({}, { get() { while (true) {} } }); } };` });
    const r = await host.invoke('proxy-throw', 'getFields', ['en', 'X']);
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    await expectHealthyStillWorks();
  });

  it('an Error whose message getter loops, thrown synchronously at load time', async () => {
    const reg = await register('getter-throw', {
      'index.js': `const e = new Error('x'); Object.defineProperty(e, 'message', { get() { while (true) {} } }); throw e;`,
    });
    expect(reg.ok).toBe(false);
    if (!reg.ok) expect(['cpu_limit', 'load_failed']).toContain(reg.error.kind);
    await expectHealthyStillWorks();
  });

  it('a rejection with a plain string or {message, code} is passed on as the plugin said it', async () => {
    await register('rejects', {
      'index.js': `module.exports = class { transfer(o) { return o.uid ? Promise.reject({ message: 'balance low', code: 6000011 }) : Promise.reject('Error uid order.'); } async getFields() { return []; } };`,
    });
    expect(await host.invoke('rejects', 'transfer', [ORDER])).toMatchObject({ ok: false, error: { kind: 'plugin_error', thrown: { message: 'balance low', code: 6000011 } } });
    expect(await host.invoke('rejects', 'transfer', [{ ...ORDER, uid: 0 }])).toMatchObject({ ok: false, error: { kind: 'plugin_error', thrown: { message: 'Error uid order.' } } });
  });

  it('a callback that never ends its response hits the deadline', async () => {
    await register('never-ends', { 'callbacks.js': `module.exports = { url_final: async (req, res) => { await new Promise(() => {}); } };` });
    let responded = false;
    const started = Date.now();
    const r = await host.invoke('never-ends', 'callback', {
      name: 'url_final', req: { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: null }, param: { post: {}, get: {} },
    }, { wallMs: 400, onRespond: () => { responded = true; } });
    expect(r).toMatchObject({ ok: false, error: { kind: 'deadline' } });
    expect(responded).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    await expectHealthyStillWorks();
  });

  it('a result that cannot cross (cyclic) is a clear error', async () => {
    await register('cyclic', { 'index.js': `module.exports = class { async getFields() { const a = {}; a.a = a; return a; } };` });
    const r = await host.invoke('cyclic', 'getFields', ['en', 'X']);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error' } });
    if (!r.ok) expect(r.error.message).toMatch(/could not be serialised/);
  });

  it('host calls outside a call are refused (a timer cannot outlive its call)', async () => {
    await register('lingers', {
      'index.js': `
const config = require('../../../modules/config/payout.config.js')();
let leaked = null;
module.exports = class {
  async getFields() { setTimeout(() => { leaked = config.get('apiKey').catch((e) => e.message); }, 50); return 'started'; }
  async transfer() { await new Promise((r) => setTimeout(r, 120)); return leaked === null ? 'timer never ran' : 'timer ran'; }
};`,
    });
    expect(await host.invoke('lingers', 'getFields', [])).toMatchObject({ ok: true, value: 'started' });
    expect(await host.invoke('lingers', 'transfer', [ORDER])).toMatchObject({ ok: true, value: 'timer never ran' });
  });
});

describe('sandbox core: order field validation runs inside the isolate', () => {
  it('checks required fields and the plugin\'s regexps', async () => {
    await register('fields', {
      'index.js': `module.exports = class {
  async getFields(lang, xml) {
    if (xml !== 'CARDUAH') return null;
    return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', regexp_error: 'card must be 16 digits', required: true }, { _id: 'memo', name: 'Memo', required: false }];
  }
  async transfer() {}
};`,
    });
    const ok = await host.invoke('fields', 'validateFields', { lang: 'en', xml: 'CARDUAH', values: { card_number: '4111111111111111' } });
    expect(ok).toMatchObject({ ok: true, value: { supported: true, errors: [] } });
    const bad = await host.invoke('fields', 'validateFields', { lang: 'en', xml: 'CARDUAH', values: { card_number: '12' } });
    expect(bad).toMatchObject({ ok: true, value: { errors: [{ key: 'card_number', message: 'card must be 16 digits' }] } });
    const missing = await host.invoke('fields', 'validateFields', { lang: 'en', xml: 'CARDUAH', values: {} });
    expect(missing).toMatchObject({ ok: true, value: { errors: [{ key: 'card_number', message: 'Card is required' }] } });
    expect(await host.invoke('fields', 'validateFields', { lang: 'en', xml: 'BTC', values: {} })).toMatchObject({ ok: true, value: { supported: false } });
  });

  it('a catastrophic regexp (ReDoS) burns the plugin\'s CPU budget, not the server', async () => {
    await register('redos', {
      'index.js': `module.exports = class { async getFields() { return [{ _id: 'x', name: 'X', regexp: '^(a+)+$', required: true }]; } async transfer() {} };`,
    });
    // Cut by its own sandbox process at the CPU budget, never by a clock: the process answers the
    // call (its stats come back; a watchdog's kill leaves none) and keeps its pid, and the
    // kernel's count of that process's CPU time over the call is nearer the 300 ms budget than
    // the 3000 ms deadline.
    const pid = host.processOf('redos')?.pid ?? null;
    expect(pid).not.toBeNull();
    const before = readUsage(pid!);
    const r = await host.invoke('redos', 'validateFields', { lang: 'en', xml: 'X', values: { x: 'a'.repeat(40) + '!' } });
    const after = readUsage(pid!);
    expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(r.stats, 'the call was not answered by its own sandbox process').not.toBeNull();
    expect(host.processOf('redos')?.pid).toBe(pid);
    if (USAGE_SUPPORTED) expect(after!.cpuMs - before!.cpuMs).toBeLessThanOrEqual((300 + 3000) / 2);
    await expectHealthyStillWorks();
  });
});

describe('sandbox core: a call is charged the CPU it used', () => {
  it('including the section it ended in (most calls end in their first: it was charged 0 before)', async () => {
    await register('burns-50', { 'index.js': `module.exports = class { async getFields(ms) { const t = Date.now(); while (Date.now() - t < Number(ms)) {} return 'burnt'; } };` });
    const burnt = await host.invoke('burns-50', 'getFields', [50]);
    expect(burnt).toMatchObject({ ok: true, value: 'burnt' });
    expect(burnt.stats?.cpuMs).toBeGreaterThan(0);
  });
});

describe('sandbox core: a call can be given its own CPU budget (cron sweeps)', () => {
  it('the default budget stops a long computation; a larger one for that call lets it finish', async () => {
    // 1.5 s of wall time against a 300 ms budget: cut on either engine's clock unless the machine
    // gave the process under a fifth of a core.
    await register('long-cpu', { 'index.js': `module.exports = class { async getFields() { const t = Date.now(); while (Date.now() - t < 1500) {} return 'finished'; } async transfer() {} };` });
    expect(await host.invoke('long-cpu', 'getFields', [])).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(await host.invoke('long-cpu', 'getFields', [], { cpuMs: 3000 })).toMatchObject({ ok: true, value: 'finished' });
  });
});

describe('sandbox core: a budget spent in many short sections', () => {
  it('work in timer callbacks shorter than a millisecond each is cut once the call has spent its budget', async () => {
    // Each callback is a section of its own, and each section's timer is the budget left but at
    // least 1 ms: sections shorter than that met no timer, so the call ran on past its budget
    // until its deadline. 600 callbacks of 0.3 ms each are 180 ms of CPU against 100.
    await register('short-sections', {
      'index.js': `module.exports = class {
  async getFields(lang, n) {
    // How many loop turns make 0.3 ms on this engine (Date.now() has whole milliseconds only): the
    // best of five 4 ms windows, as a window the machine took the CPU away in counts too few turns
    // (and 600 sections of too little work then fit in the budget).
    let best = 0;
    for (let w = 0; w < 5; w++) {
      let turns = 0;
      const t = Date.now(); while (Date.now() - t < 4) turns++;
      if (turns > best) best = turns;
    }
    const perSection = Math.floor(best * 0.3 / 4);
    let done = 0;
    for (let i = 0; i < Number(n); i++) {
      await new Promise((r) => setTimeout(r, 0));
      for (let j = 0; j < perSection; j++) Date.now();
      done++;
    }
    return 'survived ' + done;
  }
  async transfer() {}
};`,
    });
    const cut = await host.invoke('short-sections', 'getFields', ['en', 600], { cpuMs: 100 });
    expect(cut).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    // Positive control: the same work within its budget runs to its end.
    expect(await host.invoke('short-sections', 'getFields', ['en', 20], { cpuMs: 100 })).toMatchObject({ ok: true, value: 'survived 20' });
    await expectHealthyStillWorks();
  });
});
