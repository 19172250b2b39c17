// Escape and abuse corpus, part 1: what plugin code can reach inside its isolate, and what it can
// do to the bridge — prototype and constructor tricks, Reference/Callback probing, __ps_host
// misuse, hostile getters and Proxies, huge/deep/cyclic values in both directions, timers,
// recursion, CPU, memory and console floods. Each case decides from effects: what the plugin got
// back, what the host stored or sent, whether the call was cut, whether the sandbox survived.
import type { HostCallContext } from '../../host-api/capability.ts';
import type { CallbackResponse } from '../../runtime/sandbox/protocol.ts';
import type { SandboxProcess } from '../../runtime/sandbox/supervisor.ts';
import { ALICE_CANARY, ALICE_KEY, CPU_MS, MALLORY_SECRET, WALL_MS } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { all, maxEventLoopGap, sleep, stopped, through } from './tally.ts';
import type { Outcome, SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;

/** Names no plugin should find among its globals. */
const FORBIDDEN_GLOBALS = ['require', 'module', 'exports', 'global', 'ivm', '_ivm', 'Isolate', 'Reference', 'Callback', 'ExternalCopy', 'Context',
  '$0', '$1', '$2', '$3', 'syncCall', 'startAsync', 'report', 'setup', '__ps_load_error', '__ps_configure', 'process.binding', 'Deno', 'Bun'];

/** A call that breaches a limit must be cut: failed, with one of these kinds, within `withinMs`. */
function cut(r: Awaited<ReturnType<CorpusEnv['run']>>, ms: number, withinMs: number, kinds: string[]): Outcome {
  if (r.ok) return through(`the call finished normally with ${JSON.stringify(r.value).slice(0, 120)}`);
  if (!kinds.includes(r.error.kind)) return through(`the call failed with ${r.error.kind} (${r.error.message}), expected ${kinds.join('/')}`);
  if (ms > withinMs) return through(`the call was cut only after ${Math.round(ms)} ms (limit ${withinMs} ms)`);
  return stopped();
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}

async function auditOf(env: CorpusEnv, plugin: string, capability?: string) {
  await env.local.host.audit.flush();
  return env.local.store.queryAudit({ plugin, ...(capability ? { capability } : {}), limit: 1000 });
}

async function logOf(env: CorpusEnv, plugin: string) {
  await env.local.host.pluginLog.flush();
  return env.local.store.queryPluginLog({ plugin, limit: 1000 });
}

interface SandboxInternals {
  calls: Map<string, { ctx: HostCallContext; plugin: { key: string; process: SandboxProcess } }>;
  plugins: Map<string, { process: SandboxProcess }>;
  onHostCall(from: SandboxProcess, msg: { hostCallId: number; plugin: string; callId: string; capability: string; args: unknown }): void;
}
const internals = (env: CorpusEnv) => env.local.sandbox as unknown as SandboxInternals;
type ProcessEvents = { onRespond(msg: { t: 'respond'; callId: string; response: CallbackResponse }): void; onLog(msg: { t: 'log'; plugin: string; callId: string; level: 'info'; text: string }): void };
const eventsOf = (p: SandboxProcess) => (p as unknown as { events: ProcessEvents }).events;

/** Starts a long call of alice and returns its call id as the server knows it. */
async function aliceInFlight(env: CorpusEnv, method: 'getFields' | 'callback', onRespond?: (r: CallbackResponse) => void) {
  const before = new Set(internals(env).calls.keys());
  const args = method === 'getFields' ? ['1500', 'sleep'] : { name: 'hold', req: { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: {} }, param: { post: {}, get: {}, rawBody: '' } };
  const pending = env.local.sandbox.invoke('alice', method, args, onRespond ? { onRespond } : {});
  let callId: string | undefined;
  for (let i = 0; i < 100 && !callId; i++) {
    await sleep(10);
    callId = [...internals(env).calls.entries()].find(([id, c]) => !before.has(id) && c.plugin.key === 'alice')?.[0];
  }
  if (!callId) throw new Error('could not see alice\'s call in flight');
  return { callId, pending };
}

export const sandboxCases: Case[] = [
  // ---- prototype and constructor tricks, Function/eval reachability --------------------------
  {
    name: 'this.constructor.constructor reaches only the isolate\'s own, bare globals',
    attack: "Function('return this')() through this.constructor.constructor, then list every global and process",
    async run(env) {
      const v = await env.value(`const G = this.constructor.constructor('return this')();
        const p = G.process || {};
        return { names: Object.getOwnPropertyNames(G), proc: Object.getOwnPropertyNames(p), env: Object.keys(p.env || {}),
          binding: typeof p.binding, versions: typeof p.versions, frozen: Object.isFrozen(p) && Object.isFrozen(p.env) };`);
      const bad = (v.names as string[]).filter((n) => FORBIDDEN_GLOBALS.includes(n));
      return all([
        [bad.length === 0, `globals reachable: ${bad.join(', ')}`],
        [(v.proc as string[]).every((n) => ['env', 'browser', 'version', 'platform'].includes(n)), `process exposes ${v.proc}`],
        [JSON.stringify(v.env) === '["API_URL"]', `process.env holds ${v.env}`],
        [v.binding === 'undefined' && v.versions === 'undefined' && v.frozen === true, 'process is not the frozen stub'],
      ]);
    },
  },
  {
    name: 'async, generator and bound Function constructors reach nothing more',
    attack: 'AsyncFunction / GeneratorFunction / bound-function constructors evaluating code that probes for require, process internals and isolated-vm',
    async run(env) {
      const v = await env.value(`const probe = 'return [typeof require, typeof module, typeof process.binding, typeof process.mainModule, typeof ivm, typeof $0, typeof setup].join()';
        const Async = (async () => {}).constructor; const Gen = (function* () {}).constructor;
        return [await Async(probe)(), Gen(probe)().next().value, (function () {}).bind(null).constructor(probe)(), (0, eval)('(' + 'function(){' + probe + '}' + ')')()];`);
      const expected = 'undefined,undefined,undefined,undefined,undefined,undefined,undefined';
      return all((v as string[]).map((s, i) => [s === expected, `constructor #${i} saw ${s}`]));
    },
  },
  {
    name: 'eval and with-scopes cannot see the prelude closure (syncCall, startAsync, report)',
    attack: 'direct and indirect eval, with(globalThis), looking up the closure variables that hold the isolated-vm Callbacks',
    async run(env) {
      const v = await env.value(`const names = ['syncCall', 'startAsync', 'report', 'setup', 'pending', 'timers', 'currentCall', 'host', '$0', '$1', '$2'];
        const seen = [];
        for (const n of names) { try { if (typeof eval(n) !== 'undefined' && n !== 'host') seen.push(n); } catch (e) {} try { if (typeof (0, eval)(n) !== 'undefined') seen.push('global ' + n); } catch (e) {} }
        return seen;`);
      return all([[(v as string[]).length === 0, `reachable: ${(v as string[]).join(', ')}`]]);
    },
  },
  {
    name: 'no isolated-vm Reference or Callback anywhere in the reachable object graph',
    attack: 'walks every own property (enumerable or not), prototype and function of globalThis and __ps_host, looking for Reference/Callback/ExternalCopy objects',
    async run(env) {
      const v = await env.value(`const seen = new Set(); const queue = [globalThis, globalThis.__ps_host]; const found = []; let n = 0;
        const marks = ['applySync', 'applySyncPromise', 'applyIgnored', 'derefInto', 'copySync', 'copyInto', 'getSync', 'setSync', 'deref', 'release', 'typeof'];
        while (queue.length && n < 60000) {
          const o = queue.shift(); if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue; seen.add(o); n++;
          let tag = ''; try { tag = Object.prototype.toString.call(o); } catch (e) {}
          if (/Reference|Callback|ExternalCopy|Isolate/.test(tag)) found.push(tag);
          let keys = []; try { keys = Reflect.ownKeys(o); } catch (e) {}
          if (marks.filter((m) => keys.includes(m)).length >= 2) found.push('object with ' + keys.join(','));
          for (const k of keys) { let d; try { d = Object.getOwnPropertyDescriptor(o, k); } catch (e) { continue; }
            if (!d) continue; for (const x of [d.value, d.get, d.set]) if (x && (typeof x === 'object' || typeof x === 'function')) queue.push(x); }
          try { queue.push(Object.getPrototypeOf(o)); } catch (e) {}
        }
        return { found, n };`);
      return all([[v.found.length === 0, `found ${v.found.slice(0, 5).join('; ')}`], [v.n > 500, `walked only ${v.n} objects`]]);
    },
  },
  {
    name: '__ps_host exposes only its documented members and cannot be replaced',
    attack: 'lists __ps_host, tries to add members, redefine it, and reassign pluginKey',
    async run(env) {
      const v = await env.value(`const h = globalThis.__ps_host; const names = Object.getOwnPropertyNames(h).sort();
        try { h.extra = 1; } catch (e) {} try { h.pluginKey = 'alice'; } catch (e) {}
        let redefined = true; try { Object.defineProperty(globalThis, '__ps_host', { value: {} }); } catch (e) { redefined = false; }
        let replaced = true; try { globalThis.__ps_host = {}; replaced = globalThis.__ps_host !== h; } catch (e) { replaced = false; }
        return { names, frozen: Object.isFrozen(h), key: h.pluginKey, redefined, replaced };`);
      return all([
        [JSON.stringify(v.names) === JSON.stringify(['call', 'callSync', 'label', 'log', 'pluginKey']), `members: ${v.names}`],
        [v.frozen && v.key === 'mallory' && !v.redefined && !v.replaced, `host object changed: ${JSON.stringify(v)}`],
      ]);
    },
  },
  {
    name: 'claiming another plugin\'s identity in arguments changes nothing',
    attack: "config.get with {plugin:'alice', ctx:{plugin:'alice'}, payoutModule:'alice'} in the raw host call, after setting pluginKey",
    async run(env) {
      const v = await env.value(`try { host.pluginKey = 'alice'; } catch (e) {}
        const r = await host.call('config.get', { key: 'apiSecret', plugin: 'alice', ctx: { plugin: 'alice' }, payoutModule: 'alice', callId: 'x' });
        const k = await host.call('config.get', { key: 'apiKey', plugin: 'alice' });
        // Reversed: the host scrubs a plugin's own secrets from what it returns.
        return [r, k].map((x) => [...String(x)].reverse().join(''));`);
      const got = (v as string[]).map((x) => [...x].reverse().join(''));
      return all([
        [!JSON.stringify(got).includes(ALICE_CANARY) && !JSON.stringify(got).includes(ALICE_KEY), 'alice\'s config came back'],
        [got[0] === MALLORY_SECRET, `expected mallory's own secret, got ${JSON.stringify(got[0])}`],
      ]);
    },
  },
  {
    name: 'Object.prototype pollution stays inside the polluting plugin\'s isolate',
    attack: 'polly pollutes Object/Array prototypes, JSON.parse and a Symbol.for registry entry; alice and the host are then inspected',
    async run(env) {
      await env.value(`Object.prototype.polluted = 'by-polly'; Array.prototype.poisoned = 'by-polly'; globalThis[Symbol.for('ps.shared')] = 'by-polly';
        return 1;`, 'polly');
      const a = await env.local.sandbox.invoke('alice', 'getFields', ['en', 'proto']);
      const hostClean = ({} as Record<string, unknown>).polluted === undefined && ([] as unknown as Record<string, unknown>).poisoned === undefined;
      return all([
        [a.ok && (a.value as { polluted: unknown }).polluted === null && (a.value as { arr: unknown }).arr === null, `alice sees ${JSON.stringify(a.ok ? a.value : a.error)}`],
        [a.ok && (a.value as { symbol: string }).symbol === 'undefined', 'the Symbol.for registry is shared'],
        [hostClean, 'the host process prototypes were polluted'],
      ]);
    },
  },
  {
    name: 'pollution in its own isolate does not make the host accept more',
    attack: 'polly sets Object.prototype.payoutModule/op/ok/value/toJSON-like fields, then queries txs and config',
    async run(env) {
      const v = await env.value(`Object.prototype.payoutModule = 'alice'; Object.prototype.plugin = 'alice'; Object.prototype.ok = true; Object.prototype.value = 'forged';
        const rows = await db.OrderPayoutTxs.find({}).lean(); const one = await db.OrderPayoutTxs.findOne({ _id: extra }).lean();
        const cfg = await config.get('apiSecret');
        for (const k of ['payoutModule', 'plugin', 'ok', 'value']) delete Object.prototype[k];
        return { modules: rows.map((r) => r.payoutModule), one, cfg };`.replace('extra', JSON.stringify(env.alice.txId)), 'polly');
      return all([
        [(v.modules as string[]).every((m) => m === 'polly'), `rows of ${v.modules}`],
        [v.one === null, 'alice\'s tx was returned'],
        [v.cfg !== ALICE_CANARY, 'alice\'s secret was returned'],
      ]);
    },
  },
  {
    name: '__proto__ and constructor.prototype keys in host-call arguments',
    attack: 'raw payoutTxs.find / count / updateOne with {"__proto__":{"payoutModule":"alice"}} and constructor.prototype filters and $set',
    async run(env) {
      const v = await env.value(`const f = (s) => JSON.parse(s); const out = [];
        for (const filter of ['{"__proto__":{"payoutModule":"alice"}}', '{"constructor":{"prototype":{"payoutModule":"alice"}}}', '{"__proto__":{"$or":[{"payoutModule":"alice"}]}}']) {
          out.push(await host.call('payoutTxs.find', { op: 'find', filter: f(filter), populate: [] }).then((r) => r, (e) => e.rule));
          out.push(await host.call('payoutTxs.count', { filter: f(filter) }).then((r) => r, (e) => e.rule));
        }
        out.push(await host.call('payoutTxs.updateOne', { filter: { _id: '${env.alice.txId}' }, update: f('{"$set":{"__proto__":{"active":false}}}') }).then((r) => r, (e) => e.rule));
        return out;`);
      const tx = (await env.local.store.findPayoutTxs({ plugin: 'alice', conditions: [] }))[0];
      const leaked = JSON.stringify(v).includes(env.alice.txId) || (v as unknown[]).some((x) => typeof x === 'number' && x > 0);
      return all([
        [!leaked, `alice's rows visible: ${JSON.stringify(v)}`],
        [tx?.active === true, 'alice\'s tx was changed'],
        [({} as Record<string, unknown>).payoutModule === undefined && ({} as Record<string, unknown>).active === undefined, 'the host process was polluted'],
      ]);
    },
  },
  {
    name: 'a result carrying __proto__ does not pollute the host',
    attack: 'returns JSON with "__proto__" and "constructor" keys to the host',
    async run(env) {
      const r = await env.run(`return JSON.parse('{"__proto__":{"pollutedHost":"yes"},"constructor":{"prototype":{"pollutedHost":"yes"}},"a":1}');`);
      return all([[r.ok, 'the result did not arrive'], [({} as Record<string, unknown>).pollutedHost === undefined, 'Object.prototype of the host changed']]);
    },
  },
  {
    name: 'Error.prepareStackTrace harvesting prelude frames yields no host handle',
    attack: 'collects CallSite.getFunction()/getThis() of every frame (also from inside a toJSON run by the bridge), then calls each harvested function as startAsync/report/syncCall with alice\'s secret in mind',
    async run(env) {
      const v = await env.value(`const got = [];
        Error.prepareStackTrace = (e, frames) => { for (const f of frames) { try { got.push({ fn: f.getFunction(), self: f.getThis(), file: String(f.getFileName()) }); } catch (x) {} } return ''; };
        const probe = { toJSON() { new Error().stack; return 1; } };
        await host.call('config.get', { key: 'apiKey', probe }).catch(() => {});
        new Error().stack;
        Error.prepareStackTrace = undefined;
        const fns = [...new Set(got.map((g) => g.fn).filter((f) => typeof f === 'function'))];
        const answers = [];
        for (const fn of fns) for (const args of [['c-forged', 'config.get', '{"key":"apiSecret"}'], ['config.get', '{"key":"apiSecret"}'], ['log', 'c-forged', '{"level":"info","text":"x"}']]) {
          try { const r = fn(...args); answers.push(typeof r === 'string' ? r : JSON.stringify(r)); } catch (e) { answers.push('threw'); }
        }
        const selves = got.map((g) => g.self).filter((s) => s && typeof s === 'object').map((s) => Object.getOwnPropertyNames(s).join(','));
        return { files: [...new Set(got.map((g) => g.file))], n: fns.length, answers, selves };`, 'stacky');
      const text = JSON.stringify(v);
      return all([
        [!text.includes(ALICE_CANARY), 'alice\'s secret reached the plugin'],
        [!/\/work\/|node_modules|\.ts\b|node:internal/.test((v.files as string[]).join(' ')), `host file names leaked: ${v.files}`],
      ]);
    },
  },

  // ---- hostile values: getters, toJSON, Proxies, Symbols --------------------------------------
  {
    name: 'a Proxy result whose traps loop forever is cut by the CPU limit',
    attack: 'returns new Proxy({}, {ownKeys/get: infinite loop}) — the bridge stringifies it inside the timed call',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`return new Proxy({}, { ownKeys() { for (;;) {} }, get() { for (;;) {} }, getOwnPropertyDescriptor() { for (;;) {} } });`));
      return cut(r, ms, CPU_MS + 2500, ['cpu_limit']);
    },
  },
  {
    name: 'a thrown Proxy whose get trap loops is cut, not read by the host',
    attack: 'throw new Proxy({}, {get: infinite loop}) — design §10 says this can spin forever after the timed section',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`throw new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } });`));
      return cut(r, ms, CPU_MS + 2500, ['cpu_limit']);
    },
  },
  {
    name: 'an Error whose message getter loops is cut',
    attack: 'throws an Error with an infinite-loop message getter (and stack getter)',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); Object.defineProperty(e, 'stack', { get() { for (;;) {} } }); throw e;`));
      return cut(r, ms, CPU_MS + 2500, ['cpu_limit']);
    },
  },
  {
    name: 'a thrown value whose toString / Symbol.toPrimitive / name throw is described safely',
    attack: 'throws an object whose every conversion throws or returns objects',
    async run(env) {
      const r = await env.run(`throw { get message() { return { toString() { throw new Error('no'); } }; }, get name() { throw new Error('no'); }, [Symbol.toPrimitive]() { throw new Error('no'); }, get code() { return { evil: true }; } };`);
      return all([[!r.ok && r.error.kind === 'plugin_error', `unexpected outcome ${JSON.stringify(r.ok ? r.value : r.error)}`]]);
    },
  },
  {
    name: 'Symbols in results and host-call arguments never cross the bridge',
    attack: 'returns Symbol values and Symbol-keyed properties (Symbol.toPrimitive, Symbol.iterator, Symbol.for), and passes them in host-call arguments',
    async run(env) {
      const r = await env.run(`const s = Symbol.for('ps.shared');
        const arg = { key: 'apiKey', [Symbol.toPrimitive]: () => 'apiSecret', [s]: 'alice' };
        const v = await host.call('config.get', arg).then((x) => typeof x, (e) => e.rule);
        return { v, sym: Symbol('x'), [Symbol.iterator]: function* () { yield 1; }, [s]: 'hidden', toString: undefined };`);
      return all([[r.ok && JSON.stringify(r.value) === '{"v":"string"}', `crossed: ${JSON.stringify(r.ok ? r.value : r.error)}`]]);
    },
  },
  {
    name: 'a result getter that throws during the copy fails the call cleanly',
    attack: 'returns an object whose getter throws (and a toJSON that throws)',
    async run(env) {
      const a = await env.run(`return { get x() { throw new Error('getter'); } };`);
      const b = await env.run(`return { toJSON() { throw new Error('toJSON'); } };`);
      return all([[!a.ok && !b.ok, 'a throwing getter/toJSON produced a result'], [!a.ok && /serialised/.test(a.error.message), `unexpected error ${!a.ok && a.error.message}`]]);
    },
  },
  {
    name: 'a Proxy as host-call arguments is copied once: the host audits what it answers',
    attack: 'passes a Proxy whose key getter answers apiKey on the first read and apiSecret later (check-then-use)',
    async run(env) {
      const v = await env.value(`let reads = 0;
        const args = new Proxy({}, { ownKeys: () => ['key'], getOwnPropertyDescriptor: () => ({ value: 'x', enumerable: true, configurable: true }),
          get: (t, k) => (k === 'key' ? (reads++ === 0 ? 'apiKey' : 'apiSecret') : undefined) });
        const value = await host.call('config.get', args);
        return { value: [...String(value)].reverse().join(''), reads };`);
      v.value = [...String(v.value)].reverse().join('');
      const audit = (await auditOf(env, 'mallory', 'config.get'))[0];
      const keyAudited = /key=(\w+)/.exec(audit?.summary ?? '')?.[1];
      const answered = v.value === MALLORY_SECRET ? 'apiSecret' : v.value === 'mallory-key' ? 'apiKey' : String(v.value);
      return all([[keyAudited === answered, `audited key=${keyAudited} but answered ${answered}`]]);
    },
  },

  // ---- huge, deep and cyclic values in both directions ----------------------------------------
  {
    name: 'a 5 MB result is refused',
    attack: 'returns a 5 MB string (limit 4 MB)',
    async run(env) {
      const r = await env.run(`return 'x'.repeat(5 * 1024 * 1024);`);
      return all([[!r.ok && r.error.kind === 'bad_result', `result accepted or wrong failure: ${r.ok ? 'ok' : r.error.kind}`]]);
    },
  },
  {
    name: 'a cyclic result fails the call',
    attack: 'returns an object that contains itself',
    async run(env) {
      const r = await env.run(`const o = { a: 1 }; o.self = o; return o;`);
      return all([[!r.ok, 'a cyclic result was accepted']]);
    },
  },
  {
    name: 'a result nested 4,000 deep does not crash the sandbox process',
    attack: 'returns [[[[…]]]] 4,000 levels deep (just inside what V8 can stringify)',
    async run(env) {
      const pid = env.pidOf('mallory');
      await env.run(`let a = []; for (let i = 0; i < 4000; i++) a = [a]; return a;`);
      await sleep(100);
      return all([[env.pidOf('mallory') === pid, `the sandbox process was replaced (pid ${pid} → ${env.pidOf('mallory')})`]]);
    },
  },
  {
    name: 'host-call arguments nested 4,300 deep do not crash the sandbox process',
    attack: 'calls payoutTxs.find with a filter nested 4,300 levels deep',
    async run(env) {
      const pid = env.pidOf('mallory');
      const r = await env.run(`let f = { active: true }; for (let i = 0; i < 4300; i++) f = { $and: [f] };
        return await host.call('payoutTxs.find', { op: 'find', filter: f, populate: [] }).then((rows) => rows.map((x) => x.payoutModule), (e) => 'refused ' + e.message.slice(0, 80));`);
      await sleep(100);
      return all([
        [env.pidOf('mallory') === pid, `the sandbox process was replaced (pid ${pid} → ${env.pidOf('mallory')})`],
        [!JSON.stringify(r).includes('alice'), 'alice\'s rows came back'],
      ]);
    },
  },
  {
    name: 'host input nested 5,000 deep (e.g. a webhook body) does not get the sandbox process killed',
    attack: 'the host invokes a plugin with arguments nested 5,000 levels deep, as an outside caller can make it do',
    async run(env) {
      const pid = env.pidOf('mallory');
      let deep: unknown = [];
      for (let i = 0; i < 5000; i++) deep = [deep];
      // SandboxHost.invoke promises never to throw for sandbox failures; a rejection is a finding too.
      const r = await env.local.sandbox.invoke('mallory', 'transfer', [{ code: 'return 1', deep }], { wallMs: 1000 })
        .catch((err) => ({ ok: false as const, error: { kind: 'invoke threw', message: String((err as Error)?.message) } }));
      await sleep(3500); // past the call's deadline plus the watchdog's grace
      return all([
        [env.pidOf('mallory') === pid, `the watchdog killed the sandbox process (pid ${pid} → ${env.pidOf('mallory')}); the call ended as ${r.ok ? 'ok' : `${r.error.kind}: ${r.error.message}`}`],
        [r.ok || r.error.kind !== 'invoke threw', `SandboxHost.invoke threw: ${!r.ok && r.error.message}`],
      ]);
    },
    timeoutMs: 20_000,
  },
  {
    name: 'host-call arguments over 4 MB are refused before the host sees them',
    attack: 'config.get with a 5 MB argument',
    async run(env) {
      const before = (await auditOf(env, 'mallory', 'config.get')).length;
      const v = await env.value(`return await host.call('config.get', { key: 'apiKey', pad: 'x'.repeat(5 * 1024 * 1024) }).then(() => 'accepted', (e) => e.code);`);
      const after = (await auditOf(env, 'mallory', 'config.get')).length;
      return all([[v === 'TOO_LARGE', `answer ${v}`], [after === before, 'the host processed the call']]);
    },
  },
  {
    name: 'cyclic host-call arguments never reach the host',
    attack: 'payoutTxs.find with a filter that contains itself',
    async run(env) {
      const v = await env.value(`const f = {}; f.f = f; return await host.call('payoutTxs.find', { op: 'find', filter: f }).then(() => 'accepted', (e) => e.message);`);
      return all([[/serialised/.test(String(v)), `answer ${v}`]]);
    },
  },

  // ---- __ps_host misuse: unknown capabilities, forged call ids, other plugins' calls ----------
  {
    name: 'unknown, look-alike and prototype capability names are refused',
    attack: 'host.call with admin.config.set, store.getConfig, log.read, audit.query, secrets.read, __proto__, constructor, toString, "config.get ", CONFIG.GET, a 5,000-character name',
    async run(env) {
      const names = ['admin.config.set', 'store.getConfig', 'log.read', 'audit.query', 'pluginLog.query', 'secrets.read', 'http.raw', '__proto__', 'constructor', 'toString',
        'hasOwnProperty', 'config.get ', 'CONFIG.GET', 'x'.repeat(5000), ''];
      const v = await env.value(`const out = []; for (const n of ${JSON.stringify(names)}) out.push(await host.call(n, { key: 'apiSecret', plugin: 'alice', payoutKey: 'alice', value: 'pwned' }).then((r) => 'ANSWERED ' + JSON.stringify(r), (e) => e.rule || e.code));
        return out;`);
      const cfg = await env.local.host.config.get('alice', 'apiSecret');
      return all([
        [(v as string[]).every((x) => x === 'unknown-capability'), `answers: ${(v as string[]).filter((x) => x !== 'unknown-capability').join('; ')}`],
        [cfg === ALICE_CANARY, 'alice\'s config changed'],
      ]);
    },
  },
  {
    name: 'unknown sandbox-local services are refused',
    attack: 'callSync with fs.readFile, process.env, require, constructor, __proto__, crypto.createCipheriv, url.parse.constructor',
    async run(env) {
      const v = await env.value(`const out = []; for (const n of ['fs.readFile', 'process.env', 'require', 'constructor', '__proto__', 'toString', 'crypto.createCipheriv', 'crypto.generateKeyPairSync', 'url.parse.constructor', 'hasOwnProperty'])
        { try { out.push(n + ' ANSWERED ' + JSON.stringify(host.callSync(n, { path: '/etc/passwd' }))); } catch (e) { out.push('refused'); } } return out;`);
      return all([[(v as string[]).every((x) => x === 'refused'), `answers: ${(v as string[]).filter((x) => x !== 'refused').join('; ')}`]]);
    },
  },
  {
    name: 'work left behind when a call ends never runs (no host call, no log)',
    attack: 'schedules a timer and a promise chain that read config and log after the call returned',
    async run(env) {
      const before = (await auditOf(env, 'mallory', 'config.get')).length;
      await env.value(`setTimeout(() => { console.log('LEFTOVER-TIMER'); config.get('apiSecret').then((v) => console.log('LEFTOVER ' + v)); }, 100);
        Promise.resolve().then(() => new Promise((r) => setTimeout(r, 150))).then(() => console.log('LEFTOVER-CHAIN'));
        return 'returned';`);
      await sleep(500);
      const lines = (await logOf(env, 'mallory')).filter((l) => l.text.includes('LEFTOVER'));
      const after = (await auditOf(env, 'mallory', 'config.get')).length;
      return all([[lines.length === 0, `ran after the call: ${lines.map((l) => l.text).join(' | ')}`], [after === before, 'a host call was made after the call ended']]);
    },
  },
  {
    name: 'a sandbox process cannot make host calls for a plugin it does not host',
    attack: 'forges hostCall messages from mallory\'s sandbox process naming alice and alice\'s live call id (as a compromised process could)',
    async run(env) {
      const { callId, pending } = await aliceInFlight(env, 'getFields');
      const sb = internals(env);
      const malloryProcess = sb.plugins.get('mallory')!.process;
      const aliceProcess = sb.plugins.get('alice')!.process;
      const replies: unknown[] = [];
      const original = malloryProcess.sendHostResult;
      malloryProcess.sendHostResult = (id, ok, value) => { replies.push({ id, ok, value }); };
      try {
        sb.onHostCall(malloryProcess, { hostCallId: 900001, plugin: 'alice', callId, capability: 'config.get', args: { key: 'apiSecret' } });
        // The right process but the wrong plugin name for the call.
        const aliceOriginal = aliceProcess.sendHostResult;
        aliceProcess.sendHostResult = (id, ok, value) => { replies.push({ id, ok, value }); };
        try {
          sb.onHostCall(aliceProcess, { hostCallId: 900002, plugin: 'mallory', callId, capability: 'config.get', args: { key: 'apiSecret' } });
        } finally {
          aliceProcess.sendHostResult = aliceOriginal;
        }
        await sleep(200);
      } finally {
        malloryProcess.sendHostResult = original;
      }
      await pending;
      return all([
        [replies.length === 2 && replies.every((r) => (r as { ok: boolean }).ok === false), `forged calls answered: ${JSON.stringify(replies)}`],
        [!JSON.stringify(replies).includes(ALICE_CANARY), 'alice\'s secret went to the forging process'],
      ]);
    },
  },
  {
    name: 'a sandbox process cannot answer another plugin\'s callback',
    attack: 'while alice handles a webhook, mallory\'s sandbox process sends a "respond" message with alice\'s call id (as a compromised process could)',
    async run(env) {
      const responses: CallbackResponse[] = [];
      const { callId, pending } = await aliceInFlight(env, 'callback', (r) => responses.push(r));
      const malloryProcess = internals(env).plugins.get('mallory')!.process;
      eventsOf(malloryProcess).onRespond({ t: 'respond', callId, response: { status: 200, headers: { 'content-type': 'text/html' }, body: 'FORGED by mallory' } });
      await pending;
      return all([[!responses.some((r) => r.body.includes('FORGED')), `alice's webhook answered with mallory's body: ${JSON.stringify(responses)}`]]);
    },
  },
  {
    name: 'a sandbox process cannot write into another plugin\'s log',
    attack: 'mallory\'s sandbox process sends a "log" message naming alice and alice\'s live call id',
    async run(env) {
      const { callId, pending } = await aliceInFlight(env, 'getFields');
      const malloryProcess = internals(env).plugins.get('mallory')!.process;
      eventsOf(malloryProcess).onLog({ t: 'log', plugin: 'alice', callId, level: 'info', text: 'FORGED-LOG-LINE by mallory' });
      await pending;
      const lines = (await logOf(env, 'alice')).filter((l) => l.text.includes('FORGED-LOG-LINE'));
      return all([[lines.length === 0, 'the forged line is in alice\'s log']]);
    },
  },
  {
    name: 'refusal messages are not an oracle for another plugin\'s secret',
    attack: "puts guesses (one of them alice's real secret) into refused config.get keys and an updateHistory orderId, and looks for a [redacted:…] marker in the answers",
    async run(env) {
      const guesses = ['not-a-secret-1', ALICE_CANARY, 'not-a-secret-2'];
      const v = await env.value(`const out = [];
        for (const g of ${JSON.stringify(guesses)}) out.push(await config.get(g).then((x) => String(x), (e) => e.message));
        out.push(await updateHistory({ orderId: ${JSON.stringify(guesses.join(' '))}, status: 'done' }).then(() => 'ANSWERED', (e) => e.message));
        out.push(await db.OrderPayoutTxs.find({ [${JSON.stringify(ALICE_CANARY)}]: 1 }).lean().then(() => 'ANSWERED', (e) => e.message));
        return out;`);
      const marked = (v as string[]).filter((m) => m.includes('[redacted'));
      return all([[marked.length === 0, `a guess was confirmed: ${marked[0]?.slice(0, 160)}`]]);
    },
  },
  {
    name: 'host-call arguments that are not objects are refused',
    attack: "config.get('apiSecret'), null, [], 42, true, and payoutTxs.find with a string filter",
    async run(env) {
      const v = await env.value(`const out = []; for (const a of ['apiSecret', null, [], 42, true, [{ key: 'apiSecret' }]]) out.push(await host.call('config.get', a).then((r) => 'ANSWERED ' + r, (e) => e.rule));
        out.push(await host.call('payoutTxs.find', { op: 'find', filter: "this.payoutModule == 'alice'" }).then((r) => 'ANSWERED ' + JSON.stringify(r), (e) => e.rule));
        return out;`);
      return all([[(v as string[]).every((x) => !String(x).startsWith('ANSWERED')), `answers: ${v}`]]);
    },
  },

  // ---- timers ---------------------------------------------------------------------------------
  {
    name: '5,000 timers in one call: at most 1,000 are created',
    attack: 'setTimeout in a loop 5,000 times',
    async run(env) {
      const v = await env.value(`let n = 0; try { for (let i = 0; i < 5000; i++) { setTimeout(() => {}, 100000); n++; } } catch (e) { return { n, error: e.code || e.message }; } return { n };`);
      return all([[v.n <= 1000, `${v.n} timers were created`]]);
    },
  },
  {
    name: 'an interval outliving its call never fires again',
    attack: 'setInterval logging every 5 ms, then return at once',
    async run(env) {
      await env.value(`setInterval(() => console.log('TICK-AFTER-RETURN'), 5); return 'bye';`);
      await sleep(300);
      const ticks = (await logOf(env, 'mallory')).filter((l) => l.text.includes('TICK-AFTER-RETURN'));
      return all([[ticks.length === 0, `${ticks.length} ticks after the call ended`]]);
    },
  },
  {
    name: 'a setInterval(0) storm is cut by the CPU limit without stalling the host',
    attack: '999 zero-delay intervals doing work, while the call waits 3 s',
    async run(env) {
      const { value: r, stallMs, wallGapMs } = await maxEventLoopGap(() => env.run(`for (let i = 0; i < 999; i++) setInterval(() => { let x = 0; for (let j = 0; j < 20000; j++) x += j; }, 0);
        await new Promise((r) => setTimeout(r, 3000)); return 'survived';`, 'bomber'));
      // No bound on the clock: on a loaded machine the storm gets its CPU budget late. Its own
      // deadline may even come first; that counts only if the storm had not had its budget yet.
      const kind = r.ok ? null : r.error.kind;
      const cpuMs = r.stats?.cpuMs ?? Infinity;
      return all([
        [kind === 'cpu_limit' || (kind === 'deadline' && cpuMs < CPU_MS), r.ok ? `the call finished normally with ${JSON.stringify(r.value).slice(0, 120)}` : `the call failed with ${kind} after ${Math.round(cpuMs)} ms of CPU (budget ${CPU_MS} ms)`],
        [stallMs < 500, `the host's event loop was busy ${Math.round(stallMs)} ms without turning (largest gap ${Math.round(wallGapMs)} ms)`],
      ]);
    },
  },
  {
    name: 'a string passed to setTimeout is never evaluated',
    attack: 'setTimeout("globalThis.__evaluated = 1", 0)',
    async run(env) {
      const v = await env.value(`try { setTimeout('globalThis.__evaluated = 1', 0); } catch (e) {} try { setInterval('globalThis.__evaluated = 1', 0); } catch (e) {}
        await new Promise((r) => setTimeout(r, 50)); return typeof globalThis.__evaluated;`);
      return all([[v === 'undefined', 'the string was evaluated']]);
    },
  },
  {
    name: 'a timer with a huge delay cannot stretch a call past its deadline',
    attack: 'awaits setTimeout(fn, 2**40) (and NaN, -1 delays) in a call with an 800 ms deadline',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`setTimeout(() => {}, NaN); setTimeout(() => {}, -1); await new Promise((r) => setTimeout(r, 2 ** 40)); return 'never';`, 'mallory', { wallMs: 800 }));
      return cut(r, ms, 800 + 1500, ['deadline']);
    },
  },

  // ---- recursion, CPU ---------------------------------------------------------------------------
  {
    name: 'unbounded recursion ends in a catchable stack overflow inside the engine (RangeError on V8, InternalError on QuickJS)',
    attack: 'function f() { f(); } f();',
    async run(env) {
      const pid = env.pidOf('mallory');
      const r = await env.run(`function f() { return f() + 1; } f();`);
      return all([[!r.ok && /call stack|stack overflow/i.test(r.error.message), `outcome ${r.ok ? 'ok' : r.error.message}`], [env.pidOf('mallory') === pid, 'the sandbox process died']]);
    },
  },
  {
    name: 'an infinite loop is cut by the CPU limit',
    attack: 'for (;;) {}',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`for (;;) {}`, 'bomber'));
      return cut(r, ms, CPU_MS + 2000, ['cpu_limit']);
    },
  },
  {
    name: 'an infinite loop after an awaited host call is cut (timed resume)',
    attack: 'await config.get(...); for (;;) {}',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`await config.get('apiKey'); for (;;) {}`, 'bomber'));
      return cut(r, ms, CPU_MS + 2000, ['cpu_limit']);
    },
  },
  {
    name: 'a microtask storm is cut by the CPU or the memory limit',
    attack: 'a promise chain that re-queues itself forever',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`const loop = () => Promise.resolve().then(loop); loop(); await new Promise(() => {});`, 'bomber'));
      // The chain also grows the heap: whichever limit it reaches first ends it (on a busy
      // machine the CPU timer, which counts wall time, can come after the heap limit).
      return cut(r, ms, CPU_MS + 2000, ['cpu_limit', 'memory_limit']);
    },
  },
  {
    name: 'CPU spent in host-side crypto is bounded per call',
    attack: 'hashes 8 MB with sha512 through the sandbox-local crypto service in an endless loop',
    async run(env) {
      const { value: r, ms } = await timed(() => env.run(`const big = 'x'.repeat(8 * 1024 * 1024); for (;;) host.callSync('crypto.hash', { alg: 'sha512', data: [{ s: big }], enc: 'hex' });`, 'bomber'));
      return cut(r, ms, WALL_MS + 2000, ['cpu_limit', 'deadline']);
    },
    timeoutMs: 20_000,
  },

  // ---- memory -------------------------------------------------------------------------------------
  {
    name: 'heap growth is stopped at the memory limit; the host keeps serving',
    attack: 'keeps 1 MB strings in an array until the 64 MB heap is full',
    async run(env) {
      const r = await env.run(`const keep = []; for (let i = 0; ; i++) keep.push('x'.repeat(1 << 20) + i);`, 'bomber');
      return all([[!r.ok && ['memory_limit', 'sandbox_crashed', 'cpu_limit'].includes(r.error.kind), `outcome ${r.ok ? 'ok' : r.error.kind}`]]);
    },
    timeoutMs: 30_000,
  },
  {
    name: 'string doubling ends in a RangeError, not an abort',
    attack: 'let s = "x"; for (;;) s += s;',
    async run(env) {
      const r = await env.run(`let s = 'x'; for (;;) s += s;`, 'bomber');
      return all([[!r.ok, 'the call succeeded']]);
    },
  },
  {
    name: 'a 4 GB ArrayBuffer is refused and the sandbox process stays small',
    attack: 'new ArrayBuffer(2**32), then 64 × 256 MB buffers',
    async run(env) {
      const r = await env.run(`const a = []; try { a.push(new ArrayBuffer(2 ** 32)); } catch (e) {} for (let i = 0; i < 64; i++) a.push(new ArrayBuffer(256 * 1024 * 1024)); return a.length;`, 'bomber');
      const stats = await env.local.sandbox.stats();
      const rss = Math.max(...stats.map((s) => s.rss));
      return all([[!r.ok, `allocated ${r.ok ? r.value : ''} buffers`], [rss < 1.5e9, `a sandbox process holds ${Math.round(rss / 1e6)} MB`]]);
    },
  },

  // ---- console flooding ---------------------------------------------------------------------------
  {
    name: 'a 1 MB log line is truncated',
    attack: 'console.log of a 1 MB string',
    async run(env) {
      await env.value(JSON.stringify({ lines: 1, text: 'BIG'.padEnd(1024 * 1024, 'y') }), 'loud');
      const line = (await logOf(env, 'loud')).find((l) => l.text.startsWith('BIG'));
      return all([[line !== undefined && line.text.length <= 4100, `stored ${line?.text.length} characters`]]);
    },
  },
  {
    name: 'log levels and fake prefixes cannot write as another plugin',
    attack: "__ps_host.log('fatal', ...), newlines and a fake '[alice]' line",
    async run(env) {
      await env.value(JSON.stringify({ lines: 0, text: '', raw: [['fatal', 'RAW-LEVEL'], ['error\n', '\n[alice] FAKE-ALICE-LINE'], [{ toString: null }, 'OBJ']] }), 'loud');
      const alice = (await logOf(env, 'alice')).filter((l) => l.text.includes('FAKE-ALICE-LINE'));
      const raw = (await logOf(env, 'loud')).find((l) => l.text === 'RAW-LEVEL');
      return all([[alice.length === 0, 'a line appeared in alice\'s log'], [!raw || ['debug', 'info', 'warn', 'error'].includes(raw.level), `stored level ${raw?.level}`]]);
    },
  },
  {
    name: '10,000 console lines in one call: at most 200 are kept',
    attack: 'console.log 10,000 times in one call',
    async run(env) {
      // A call cut on a machine too busy to run it (overloaded: under a fifth of its CPU budget
      // used) decides nothing: tried again, counting from before the new call.
      for (let attempt = 1; ; attempt++) {
        const before = (await logOf(env, 'loud')).length;
        const r = await env.run(JSON.stringify({ lines: 10_000, text: 'FLOOD-CALL' }), 'loud');
        if (!r.ok && r.error.overloaded && attempt < 3) continue;
        if (!r.ok) return through(`the call failed: ${r.error.kind}: ${r.error.message}`);
        const kept = (await logOf(env, 'loud')).length - before;
        return all([[kept <= 200, `${kept} lines kept`]]);
      }
    },
  },
  {
    name: 'console lines per minute are capped at 600 per plugin',
    attack: 'six more calls of 200 lines within the same minute',
    async run(env) {
      for (let i = 0; i < 6; i++) await env.value(JSON.stringify({ lines: 200, text: `FLOOD-MINUTE-${i}` }), 'loud');
      const lines = (await logOf(env, 'loud')).filter((l) => /FLOOD-(CALL|MINUTE)/.test(l.text));
      return all([[lines.length <= 600, `${lines.length} flood lines kept in one minute`]]);
    },
  },
];
