// Escape and abuse corpus, part 1 of the sandbox: getting out of the isolate and at other
// plugins — what plugin code can reach among its globals (Function/eval, constructors, the prelude
// closure, isolated-vm References and Callbacks, __ps_host), another plugin's identity, prototype
// pollution across the bridge and between plugins, stack-trace harvesting, a compromised sandbox
// process forging host calls, answers and log lines for another plugin's call, and refusals as an
// oracle. Each case decides from effects: what the plugin got back, what the host stored or sent.
import type { HostCallContext } from '../../host-api/capability.ts';
import type { CallbackResponse } from '../../runtime/sandbox/protocol.ts';
import type { SandboxProcess } from '../../runtime/sandbox/supervisor.ts';
import { ALICE_CANARY, ALICE_KEY, MALLORY_SECRET } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { logOf } from './corpus-probes.ts';
import { all, sleep } from './tally.ts';
import type { SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;

/** Names no plugin should find among its globals. */
const FORBIDDEN_GLOBALS = ['require', 'module', 'exports', 'global', 'ivm', '_ivm', 'Isolate', 'Reference', 'Callback', 'ExternalCopy', 'Context',
  '$0', '$1', '$2', '$3', 'syncCall', 'startAsync', 'report', 'setup', '__ps_load_error', '__ps_configure', 'process.binding', 'Deno', 'Bun'];

interface SandboxInternals {
  calls: Map<string, { ctx: HostCallContext; plugin: { key: string; process: SandboxProcess } }>;
  plugins: Map<string, { process: SandboxProcess }>;
}
const internals = (env: CorpusEnv) => env.local.sandbox as unknown as SandboxInternals;
type ProcessEvents = {
  onHostCall(msg: { t: 'hostCall'; hostCallId: number; plugin: string; callId: string; capability: string; args: unknown }): void;
  onRespond(msg: { t: 'respond'; callId: string; response: CallbackResponse }): void;
  onLog(msg: { t: 'log'; plugin: string; callId: string; level: 'info'; text: string }): void;
};
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

export const escapeCases: Case[] = [
  // ---- prototype and constructor tricks, Function/eval reachability -----------------------------
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

  // ---- a sandbox process forging messages for another plugin's call; refusals as an oracle ------
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
        eventsOf(malloryProcess).onHostCall({ t: 'hostCall', hostCallId: 900001, plugin: 'alice', callId, capability: 'config.get', args: { key: 'apiSecret' } });
        // The right process but the wrong plugin name for the call.
        const aliceOriginal = aliceProcess.sendHostResult;
        aliceProcess.sendHostResult = (id, ok, value) => { replies.push({ id, ok, value }); };
        try {
          eventsOf(aliceProcess).onHostCall({ t: 'hostCall', hostCallId: 900002, plugin: 'mallory', callId, capability: 'config.get', args: { key: 'apiSecret' } });
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
];
