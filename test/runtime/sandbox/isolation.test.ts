// The unit of isolation is the plugin (design.md §5): each attack here is made by one plugin
// while another one ("bystander") works, and each test measures the bystander — its calls
// succeed, are never throttled, and it is charged no fault — not only the attacker's refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { NOT_DISPATCHED } from '../../../runtime/sandbox/protocol.ts';
import { BUSY_NICE, SANDBOX_NICE, readNice } from '../../../runtime/sandbox/process-usage.ts';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import { DEFAULT_CONFIGURE, PLAIN_INDEX, writePlugin } from '../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../helpers/sandbox.ts';
import { ON_QUICKJS } from '../../helpers/engine.ts';

const WAITS = `module.exports = class {
  async getFields(lang, ms) { await new Promise((r) => setTimeout(r, Number(ms) || 300)); return 'waited'; }
};`;
// Burns `ms` of CPU per call: under its per-call budget every time, as the webhook flood did.
const BURNS = `module.exports = class {
  async getFields(lang, ms) { const end = Date.now() + Number(ms); while (Date.now() < end) {} return 'burnt'; }
};`;
// Grows the isolate heap in small steps: what grew a shared sandbox process to 2 GB.
const GROWS = `module.exports = class {
  async getFields() { const a = []; for (;;) a.push(new Array(100).fill(a.length)); }
};`;
// Makes host calls that cost the server more than they cost its own process: the server answers
// each on the one thread every plugin shares (as it decodes, polices, audits and encodes them).
const ASKS_HOST = `module.exports = class {
  async getFields(lang, n) { for (let i = 0; i < Number(n); i++) await __ps_host.call('test.expensive', null); return 'asked'; }
};`;
const SERVER_MS_PER_EXPENSIVE_CALL = 1;
const handler = recordingHandler((capability) => {
  if (capability === 'test.expensive') {
    const end = performance.now() + SERVER_MS_PER_EXPENSIVE_CALL;
    while (performance.now() < end) { /* the server's work for this host call */ }
  }
  return { ok: true, value: null };
});
// The server scrubs every result of its plugin's own secrets, walking each value: a result of
// 4 MB in small values took the real scrubber 0.4–1.4 s. Here a fixed cost per result stands in.
const SERVER_MS_PER_RESULT = 20;
handler.handler.scrubFor = <T,>(plugin: string, value: T): T => {
  if (plugin === 'returns-values') valuesScrubbed++;
  if (plugin === 'returns-much') {
    scrubbedResults++;
    const end = performance.now() + SERVER_MS_PER_RESULT;
    while (performance.now() < end) { /* the server's walk over the result */ }
  }
  return value;
};
let scrubbedResults = 0;
// Returns `n` values in 3 bytes each: 4 MB of them took the real scrubber 1.4 s in one go.
const RETURNS_VALUES = `module.exports = class {
  async getFields(lang, n) { return new Array(Number(n)).fill({}); }
};`;
let valuesScrubbed = 0;
// configure.js of every plugin is evaluated in one shared process (design.md §5): the same
// pattern there, which the isolate's timeout did not stop either.
const CONFIGURE_GROWS = `const a = []; for (;;) a.push(new Array(100).fill(a.length));`;

let host: SandboxHost;
const faults = (key: string) => host.health().plugins[key].recentFaults;

beforeAll(async () => {
  ({ host } = await startSandbox({
    limits: { cpuMsPerCall: 2000, wallMsPerCall: 5000, rssMb: 160 },
    gate: { cpuMsPerWindow: 1500, cpuWindowMs: 60_000, maxConcurrentCalls: 2, maxQueuedCalls: 1 },
    supervisor: { graceMs: 300 },
    breaker: { threshold: 3, cooldownMs: 60_000 },
    groups: { pair: ['paired-a', 'paired-b'] },
  }, handler));
  for (const [key, index] of [['bystander', WAITS], ['waits', WAITS], ['burns', BURNS], ['grows', GROWS], ['asks-host', ASKS_HOST], ['returns-much', PLAIN_INDEX], ['returns-values', RETURNS_VALUES], ['paired-a', WAITS], ['paired-b', WAITS]]) {
    const r = await registerDir(host, writePlugin(key, { 'index.js': index }));
    expect(r.ok, `${key} loads`).toBe(true);
  }
}, 60_000);
afterAll(async () => {
  await host.close();
});

describe('per-plugin isolation', () => {
  it('every plugin runs in a process of its own unless the host groups it', () => {
    const pids = ['bystander', 'waits', 'burns', 'grows'].map((k) => host.processOf(k)?.pid);
    expect(new Set(pids).size).toBe(4);
    expect(pids.every((p) => typeof p === 'number')).toBe(true);
    // Positive control: a group shares one process.
    expect(host.processOf('paired-a')).toBe(host.processOf('paired-b'));
  });

  it('a process killed under one plugin cuts only that plugin\'s calls, and charges it one fault', async () => {
    const before = faults('waits');
    const victimCalls = [host.invoke('waits', 'getFields', ['en', 800]), host.invoke('waits', 'getFields', ['en', 800])];
    const bystander = host.invoke('bystander', 'getFields', ['en', 800]);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(host.processOf('waits')?.pid as number, 'SIGKILL');
    const cut = await Promise.all(victimCalls);
    for (const r of cut) expect(r).toMatchObject({ ok: false, error: { kind: 'sandbox_crashed' } });
    expect(faults('waits') - before).toBe(1); // one crash, one fault, however many calls it cut
    expect(await bystander).toMatchObject({ ok: true, value: 'waited' });
    expect(faults('bystander')).toBe(0);
    expect((await host.invoke('waits', 'getFields', ['en', 10])).ok).toBe(true); // restarted, reloaded
  });

  it('in a shared group, a call cut by the other plugin\'s crash is reported as never run, not as a fault', async () => {
    const a = host.invoke('paired-a', 'getFields', ['en', 800]);
    await new Promise((r) => setTimeout(r, 200));
    host.processOf('paired-a')?.kill('test: crash caused by paired-b', 'sandbox_crashed', 'paired-b');
    const r = await a;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(NOT_DISPATCHED.has(r.error.kind)).toBe(true);
    expect(faults('paired-a')).toBe(0);
    expect(faults('paired-b')).toBe(1);
  });

  it.runIf(ON_QUICKJS)('QuickJS counterpart: the same growth is stopped by the engine\'s own linear-memory maximum, under the process cap; the bystander is untouched', async () => {
    const growsPid = host.processOf('grows')?.pid;
    const bystanderPid = host.processOf('bystander')?.pid;
    const bystander = host.invoke('bystander', 'getFields', ['en', 1500]);
    const r = await host.invoke('grows', 'getFields', []);
    expect(r).toMatchObject({ ok: false, error: { kind: 'memory_limit', message: expect.stringMatching(/its 64 MB memory limit/) } });
    expect(host.processOf('grows')?.pid).toBe(growsPid); // not killed: the cap was never reached
    expect(await bystander).toMatchObject({ ok: true, value: 'waited' });
    expect(host.processOf('bystander')?.pid).toBe(bystanderPid);
    expect(faults('bystander')).toBe(0);
  });

  it.skipIf(ON_QUICKJS)(`resident memory over the cap kills the plugin's own process and pauses it; the bystander is untouched${ON_QUICKJS ? ' (skipped on QuickJS: its linear-memory maximum stops this growth before the process cap)' : ''}`, async () => {
    const bystanderPid = host.processOf('bystander')?.pid;
    const bystander = host.invoke('bystander', 'getFields', ['en', 1500]);
    const r = await host.invoke('grows', 'getFields', []);
    // The isolate's own 64 MB heap limit does not stop this pattern; the process cap does.
    expect(r).toMatchObject({ ok: false, error: { kind: 'memory_limit', message: expect.stringMatching(/resident memory, over its 160 MB cap/) } });
    expect(host.health().plugins.grows.state).toBe('open'); // paused at once: a retry would only grow again
    expect(await host.invoke('grows', 'getFields', [])).toMatchObject({ ok: false, error: { kind: 'circuit_open' } });
    expect(await bystander).toMatchObject({ ok: true, value: 'waited' });
    expect(host.processOf('bystander')?.pid).toBe(bystanderPid);
    expect(faults('bystander')).toBe(0);
  });

  it('a plugin over its CPU budget is throttled alone; the bystander keeps being served', async () => {
    // Calls until refused: on a busy machine a 400 ms busy loop may get less CPU, so the count of
    // calls it takes varies; the CPU it takes (1 500 ms, counted by the kernel) does not.
    const results: Awaited<ReturnType<SandboxHost['invoke']>>[] = [];
    for (let i = 0; i < 40 && !results.some((r) => !r.ok); i++) results.push(await host.invoke('burns', 'getFields', ['en', 400]));
    const throttled = results.filter((r) => !r.ok && r.error.kind === 'throttled');
    expect(results[0].ok).toBe(true); // positive control: under budget it runs
    expect(results.at(-1)).toMatchObject({ ok: false, error: { kind: 'throttled' } });
    expect(throttled.length).toBe(1);
    const t = throttled[0];
    if (!t.ok) {
      expect(t.error.message).toMatch(/CPU in the last 60 s, its budget is 1500 ms \(pluginCpuMsPerWindow\)/);
      expect(t.error.retryInMs).toBeGreaterThan(0);
    }
    expect(host.health().plugins.burns.recentFaults).toBe(0); // throttling is not a fault
    // Past half its budget its process runs below everyone else's priority; the bystander's does not.
    await expect.poll(() => readNice(host.processOf('burns')?.pid as number)).toBe(BUSY_NICE);
    expect(readNice(host.processOf('bystander')?.pid as number)).toBe(SANDBOX_NICE);
    const bystander = await Promise.all([1, 2].map(() => host.invoke('bystander', 'getFields', ['en', 20])));
    for (const r of bystander) expect(r).toMatchObject({ ok: true });
  });

  it('the server\'s time on a plugin\'s host calls counts against that plugin\'s CPU budget', async () => {
    // Each call makes 200 host calls that take the server 200 ms and the plugin's own process
    // almost nothing: charged its process's CPU alone, it was never throttled while the server's
    // one thread spent 40 calls × 200 ms on it (and the bystander's requests waited behind).
    const results: Awaited<ReturnType<SandboxHost['invoke']>>[] = [];
    for (let i = 0; i < 40 && !results.some((r) => !r.ok); i++) {
      results.push(await host.invoke('asks-host', 'getFields', ['en', 200]));
      await new Promise((r) => setTimeout(r, 60)); // one usage sample (every 50 ms) charges it
    }
    expect(results[0]).toMatchObject({ ok: true, value: 'asked' }); // positive control: under budget it runs
    expect(results.at(-1)).toMatchObject({ ok: false, error: { kind: 'throttled' } });
    // Counted by the server, not timed: the host calls it answered before the plugin was
    // refused cost it at most about the plugin's budget (1 500 ms) and one call more.
    const answered = handler.calls.filter((c) => c.plugin === 'asks-host').length;
    expect(answered * SERVER_MS_PER_EXPENSIVE_CALL).toBeLessThanOrEqual(1500 + 2 * 200);
    expect(await host.invoke('bystander', 'getFields', ['en', 20])).toMatchObject({ ok: true });
    expect(host.health().plugins.bystander.cpuMsInWindow).toBeLessThan(1500);
  });

  it('the server\'s time scrubbing a plugin\'s results counts against that plugin\'s CPU budget', async () => {
    // Each result costs the plugin's own process almost nothing and the server 20 ms: charged
    // its process's CPU alone, it ran 200 calls (4 s of the server's thread) unthrottled.
    const results: Awaited<ReturnType<SandboxHost['invoke']>>[] = [];
    for (let i = 0; i < 200 && !results.some((r) => !r.ok); i++) {
      results.push(await host.invoke('returns-much', 'getFields', ['en', 'CARDUAH']));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 60)); // usage samples charge the process's own CPU
    }
    expect(results[0]).toMatchObject({ ok: true }); // positive control: under budget it runs
    expect(results.at(-1)).toMatchObject({ ok: false, error: { kind: 'throttled' } });
    // Counted by the server: what it spent scrubbing before the plugin was refused is at most
    // about the budget (1 500 ms) and the calls one sample lets through.
    expect(scrubbedResults * SERVER_MS_PER_RESULT).toBeLessThanOrEqual(1500 + 10 * SERVER_MS_PER_RESULT);
    expect(await host.invoke('bystander', 'getFields', ['en', 20])).toMatchObject({ ok: true });
  });

  it('a result of more values than the server can scrub at once is refused before it is scrubbed', async () => {
    const small = await host.invoke('returns-values', 'getFields', ['en', 1000]);
    expect(small).toMatchObject({ ok: true }); // positive control: a result of ordinary size passes, scrubbed
    expect(valuesScrubbed).toBe(1);
    const huge = await host.invoke('returns-values', 'getFields', ['en', 400_000]);
    expect(huge).toMatchObject({ ok: false, error: { kind: 'bad_result', message: expect.stringMatching(/more than 100000 values/) } });
    expect(valuesScrubbed).toBe(1); // the server never walked it
    expect(await host.invoke('bystander', 'getFields', ['en', 20])).toMatchObject({ ok: true });
  });

  it('calls beyond the concurrency limit wait in a bounded queue; beyond it they are refused at once', async () => {
    const calls = [0, 1, 2, 3].map(() => host.invoke('waits', 'getFields', ['en', 400]));
    const results = await Promise.all(calls);
    const kinds = results.map((r) => (r.ok ? 'ok' : r.error.kind));
    expect(kinds.filter((k) => k === 'ok')).toHaveLength(3); // 2 running + 1 queued
    expect(kinds.filter((k) => k === 'throttled')).toHaveLength(1);
    expect(faults('waits')).toBeLessThanOrEqual(1); // the earlier crash only
  });

  it('a call that waited for its turn runs only for what is left of its own deadline', async () => {
    // The queued call waits ~1000 ms of its 1200 ms for a turn, so its 400 ms of work cannot fit;
    // with its turn at once the same call has 800 ms to spare, even on a loaded machine.
    const running = [0, 1].map(() => host.invoke('waits', 'getFields', ['en', 1000]));
    const queued = host.invoke('waits', 'getFields', ['en', 400], { wallMs: 1200 });
    // Cut at what was left of its deadline, or, when its turn came with too little left to start
    // (the running calls end late on a loaded machine), refused without running: never granted a
    // fresh 1200 ms, in which its 400 ms would finish.
    const waited = await queued;
    expect(waited.ok).toBe(false);
    if (!waited.ok) expect([waited.error.kind, waited.error.message]).toEqual(waited.error.kind === 'throttled' ? ['throttled', expect.stringMatching(/waited until -?\d+ ms of its 1200 ms deadline were left; nothing ran/)] : ['deadline', expect.any(String)]);
    for (const r of await Promise.all(running)) expect(r.ok).toBe(true);
    // Positive control: the same call with its turn at once finishes within the same deadline.
    expect(await host.invoke('waits', 'getFields', ['en', 400], { wallMs: 1200 })).toMatchObject({ ok: true });
  });

  it('the watchdog kills only the hung plugin\'s process', async () => {
    const hungPid = host.processOf('waits')?.pid as number;
    const bystanderPid = host.processOf('bystander')?.pid;
    process.kill(hungPid, 'SIGSTOP');
    const hung = host.invoke('waits', 'getFields', ['en', 10], { wallMs: 300 });
    const served = await host.invoke('bystander', 'getFields', ['en', 10]);
    expect(served.ok).toBe(true);
    expect(await hung).toMatchObject({ ok: false, error: { kind: 'sandbox_crashed', message: expect.stringMatching(/watchdog/) } });
    expect(host.processOf('bystander')?.pid).toBe(bystanderPid);
    expect(host.processOf('waits')?.pid).not.toBe(hungPid);
  });

  it('a hostile configure.js fails only its own read: the one read beside it succeeds, and the shared process is held to the memory cap', async () => {
    const hostile = await bundlePlugin(writePlugin('configure-grows', { 'configure.js': CONFIGURE_GROWS }));
    const honest = await bundlePlugin(writePlugin('configure-honest', { 'configure.js': `${DEFAULT_CONFIGURE}\nmodule.exports.title = 'Honest';` }));
    // Sent together, as when an administrator reloads two plugins: before, the hostile one grew
    // the shared process past 1 GB until the watchdog killed it, and the kill failed both reads.
    const [bad, good] = await Promise.all([host.readManifest(hostile), host.readManifest(honest)]);
    expect(bad).toMatchObject({ ok: false, error: { message: expect.stringMatching(/resident memory, over its 160 MB cap/) } });
    expect(good).toMatchObject({ ok: true, value: { title: 'Honest' } });
    expect(faults('bystander')).toBe(0);
  });
});
