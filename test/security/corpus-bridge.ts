// Escape and abuse corpus, part 2 of the sandbox: values and calls across the bridge — hostile
// getters, toJSON, Proxies and Symbols in results, throws and host-call arguments; huge, deep and
// cyclic values in both directions; unknown capabilities and sandbox-local services, host-call
// arguments that are not objects. Each case decides from effects: what the plugin got back, what
// the host audited, whether the call was cut by its own sandbox process and that process survived.
import { ALICE_CANARY, MALLORY_SECRET } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { auditOf, cutInProcess } from './corpus-probes.ts';
import { all, sleep } from './tally.ts';
import type { SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;

export const bridgeCases: Case[] = [
  // ---- hostile values: getters, toJSON, Proxies, Symbols ----------------------------------------
  {
    name: 'a Proxy result whose traps loop forever is cut by the CPU limit',
    attack: 'returns new Proxy({}, {ownKeys/get: infinite loop}) — the bridge stringifies it inside the timed call',
    async run(env) {
      return cutInProcess(env, 'mallory', { kinds: ['cpu_limit'], nearBudget: true }, () => env.run(`return new Proxy({}, { ownKeys() { for (;;) {} }, get() { for (;;) {} }, getOwnPropertyDescriptor() { for (;;) {} } });`));
    },
  },
  {
    name: 'a thrown Proxy whose get trap loops is cut, not read by the host',
    attack: 'throw new Proxy({}, {get: infinite loop}) — design §10 says this can spin forever after the timed section',
    async run(env) {
      return cutInProcess(env, 'mallory', { kinds: ['cpu_limit'], nearBudget: true }, () => env.run(`throw new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } });`));
    },
  },
  {
    name: 'an Error whose message getter loops is cut',
    attack: 'throws an Error with an infinite-loop message getter (and stack getter)',
    async run(env) {
      return cutInProcess(env, 'mallory', { kinds: ['cpu_limit'], nearBudget: true }, () => env.run(`const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); Object.defineProperty(e, 'stack', { get() { for (;;) {} } }); throw e;`));
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

  // ---- huge, deep and cyclic values in both directions ------------------------------------------
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

  // ---- __ps_host misuse: unknown capabilities and services, arguments that are not objects ------
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
    name: 'host-call arguments that are not objects are refused',
    attack: "config.get('apiSecret'), null, [], 42, true, and payoutTxs.find with a string filter",
    async run(env) {
      const v = await env.value(`const out = []; for (const a of ['apiSecret', null, [], 42, true, [{ key: 'apiSecret' }]]) out.push(await host.call('config.get', a).then((r) => 'ANSWERED ' + r, (e) => e.rule));
        out.push(await host.call('payoutTxs.find', { op: 'find', filter: "this.payoutModule == 'alice'" }).then((r) => 'ANSWERED ' + JSON.stringify(r), (e) => e.rule));
        return out;`);
      return all([[(v as string[]).every((x) => !String(x).startsWith('ANSWERED')), `answers: ${v}`]]);
    },
  },
];
