// Escape and abuse corpus, part 3 of the sandbox: resource limits — work outliving its call,
// timers, recursion, CPU in the isolate and in host-side services (during a call and after it),
// memory, console floods. A call that breaches a limit must be cut by its own sandbox process
// (corpus-probes.ts, cutInProcess), never by reading a clock; after every case the host must still
// serve (corpusStillServing).
import crypto from 'node:crypto';
import { USAGE_SUPPORTED, readUsage } from '../../runtime/sandbox/process-usage.ts';
import { CPU_MS, WALL_MS } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { NEARER_BUDGET_THAN_DEADLINE_MS, auditOf, cutInProcess, logOf } from './corpus-probes.ts';
import { all, maxEventLoopGap, sleep, through } from './tally.ts';
import type { SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;

/** A key for signatures: ≈0.25 ms of the sandbox process each, next to nothing in the isolate. */
const RSA_PEM = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

export const limitCases: Case[] = [
  // ---- timers, and work left behind when a call ends --------------------------------------------
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
      return cutInProcess(env, 'mallory', {
        kinds: ['deadline'],
        // Its own deadline, not the plugin's default one (WALL_MS) nor the watchdog's.
        also: (e) => [[Number(/within its (\d+) ms deadline/.exec(e.message)?.[1]) <= 800, `cut by another deadline than its own 800 ms: ${e.message}`]],
      }, () => env.run(`setTimeout(() => {}, NaN); setTimeout(() => {}, -1); await new Promise((r) => setTimeout(r, 2 ** 40)); return 'never';`, 'mallory', { wallMs: 800 }));
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
      return cutInProcess(env, 'bomber', { kinds: ['cpu_limit'], nearBudget: true }, () => env.run(`for (;;) {}`, 'bomber'));
    },
  },
  {
    name: 'an infinite loop after an awaited host call is cut (timed resume)',
    attack: 'await config.get(...); for (;;) {}',
    async run(env) {
      return cutInProcess(env, 'bomber', { kinds: ['cpu_limit'], nearBudget: true }, () => env.run(`await config.get('apiKey'); for (;;) {}`, 'bomber'));
    },
  },
  {
    name: 'a microtask storm is cut by the CPU or the memory limit',
    attack: 'a promise chain that re-queues itself forever',
    async run(env) {
      const attack = () => env.run(`const loop = () => Promise.resolve().then(loop); loop(); await new Promise(() => {});`, 'bomber');
      // The chain also grows the heap: whichever limit it reaches first ends it (on a busy
      // machine the CPU timer, which counts wall time, can come after the heap limit).
      return cutInProcess(env, 'bomber', { kinds: ['cpu_limit', 'memory_limit'], nearBudget: true }, attack);
    },
  },
  {
    name: 'CPU spent in host-side crypto is bounded per call',
    attack: 'hashes 8 MB with sha512 through the sandbox-local crypto service in an endless loop',
    async run(env) {
      // The hashing runs in the sandbox process outside the isolate's CPU clock, so its deadline
      // may be what cuts it; cut by the process itself, it ended before the watchdog's kill (its
      // deadline plus 2 s), the bound this case holds it to.
      return cutInProcess(env, 'bomber', { kinds: ['cpu_limit', 'deadline'] }, () => env.run(`const big = 'x'.repeat(8 * 1024 * 1024); for (;;) host.callSync('crypto.hash', { alg: 'sha512', data: [{ s: big }], enc: 'hex' });`, 'bomber'));
    },
    timeoutMs: 20_000,
  },
  {
    name: 'host-side work left running after the call returned is cut at that call\'s budget',
    attack: 'returns at once, leaving a promise chain that signs with RSA in an endless loop (work the isolate\'s own clock never sees)',
    async run(env) {
      // The call's reply leaves once its entry returns: left to run, the chain held the group's
      // process until the watchdog killed it under the call's deadline (38× the budget measured).
      const pid = env.pidOf('bomber');
      if (pid === null) return through('no sandbox process hosted bomber before the attack, so none could be watched');
      const before = readUsage(pid);
      const r = await env.run(`(async () => {
          for (let i = 0; i < 50; i++) await null;
          for (;;) { try { host.callSync('crypto.sign', { alg: 'sha256', data: [{ s: 'x' }], key: { s: ${JSON.stringify(RSA_PEM)} }, enc: 'hex' }); } catch (e) {} }
        })();
        return 'returned';`, 'bomber');
      const after = readUsage(pid);
      const cpuMs = before && after ? after.cpuMs - before.cpuMs : null;
      return all([
        [r.ok && r.value === 'returned', r.ok ? `the call returned ${JSON.stringify(r.value)}` : `the call itself failed: ${r.error.kind}: ${r.error.message}`],
        [env.pidOf('bomber') === pid, `the sandbox process was replaced (pid ${pid} → ${env.pidOf('bomber')})`],
        [!USAGE_SUPPORTED || (cpuMs !== null && cpuMs <= NEARER_BUDGET_THAN_DEADLINE_MS),
          `the sandbox process spent ${cpuMs} ms of CPU on the call and what it left running: nearer its ${WALL_MS} ms deadline than its ${CPU_MS} ms CPU budget`],
      ]);
    },
    timeoutMs: 20_000,
  },

  // ---- memory -----------------------------------------------------------------------------------
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

  // ---- console flooding -------------------------------------------------------------------------
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
