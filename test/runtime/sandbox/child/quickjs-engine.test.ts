// The QuickJS engine's own limits (runtime/sandbox/child/quickjs-engine.ts), attacked through a
// real SandboxHost: each attack with a positive control, and a bystander measured meanwhile (one
// QuickJS plugin in the attacker's own process, one in a process of its own).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';

const MEMORY_MB = 64;
// Holds `n` fresh 1 MB strings (or ArrayBuffers); what grew an uncapped QuickJS module to 1.1 GB.
const HOARDS = `module.exports = class {
  async getFields(kind, n) {
    const keep = [];
    for (let i = 0; i < Number(n); i++) keep.push(kind === 'buffers' ? new ArrayBuffer(1 << 20) : 'x'.repeat(1 << 20) + i);
    return keep.length;
  }
  async transfer() {
    // Catches the allocation failure and carries on: still a breach.
    let keep = [];
    try { for (;;) keep.push('y'.repeat(1 << 20)); } catch (e) { keep = null; return 'survived'; }
  }
};`;
const APPENDS = `module.exports = class {
  async getFields(lang, n) { let s = ''; for (let i = 0; i < Number(n); i++) s += 'x'.repeat(1 << 20); return s.length; }
};`;
const BURNS = `module.exports = class {
  async getFields(how, ms) {
    if (how === 'loop') { for (;;) {} }
    if (how === 'regexp') return /(a+)+$/.test('a'.repeat(40) + 'b');
    if (how === 'jobs') { const spin = () => { Promise.resolve().then(spin); }; spin(); return new Promise(() => {}); }
    const end = Date.now() + Number(ms); while (Date.now() < end) {} return 'burnt';
  }
};`;
const RECURSES = `module.exports = class {
  async getFields(how, depth) {
    if (how === 'js') { const f = (n) => (n <= 0 ? 0 : 1 + f(n - 1)); return f(Number(depth)); }
    if (how === 'json') return JSON.parse('['.repeat(Number(depth)) + ']'.repeat(Number(depth))).length;
    if (how === 'stringify') { let o = []; for (let i = 0; i < Number(depth); i++) o = [o]; return JSON.stringify(o).length; }
    return 'none';
  }
};`;
const WAITS = `module.exports = class {
  async getFields(lang, ms) { await new Promise((r) => setTimeout(r, Number(ms))); return 'waited'; }
  async transfer(order) {
    // A flood of timers and host calls in one call.
    const n = Number(order.n);
    const all = [];
    for (let i = 0; i < n; i++) all.push(order.kind === 'timers' ? new Promise((r) => setTimeout(r, 1)) : __ps_host.call('test.echo', i));
    await Promise.all(all);
    return 'flooded';
  }
};`;
const GLOBALS = `module.exports = class { async getFields() { return Object.getOwnPropertyNames(globalThis).sort(); } };`;

let host: SandboxHost;
let ivmHost: SandboxHost;

beforeAll(async () => {
  ({ host } = await startSandbox({
    engine: 'quickjs',
    limits: { memoryMb: MEMORY_MB, cpuMsPerCall: 300, wallMsPerCall: 3000, rssMb: 1024 },
    breaker: { threshold: 1000 },
    gate: { cpuMsPerWindow: 600_000, cpuWindowMs: 60_000, maxConcurrentCalls: 4, maxQueuedCalls: 4 },
    // 'appends' alone in its process, so that its peak resident memory is its own.
    groups: { shared: ['hoards', 'burns', 'recurses', 'neighbour'] },
  }));
  ({ host: ivmHost } = await startSandbox({ engine: 'isolated-vm' }));
  for (const [key, index] of [['hoards', HOARDS], ['appends', APPENDS], ['burns', BURNS], ['recurses', RECURSES], ['neighbour', WAITS], ['alone', WAITS], ['globals', GLOBALS]]) {
    const r = await registerDir(host, writePlugin(key, { 'index.js': index }));
    expect(r.ok, `${key} loads: ${JSON.stringify(r)}`).toBe(true);
  }
  expect((await registerDir(ivmHost, writePlugin('globals', { 'index.js': GLOBALS }))).ok).toBe(true);
}, 60_000);
afterAll(async () => {
  await host?.close();
  await ivmHost?.close();
});

/** The bystanders (same process, own process) still answer, and nothing charged them a fault. */
async function expectBystandersServed() {
  for (const key of ['neighbour', 'alone']) {
    const r = await host.invoke(key, 'getFields', ['en', 1]);
    expect(r, key).toMatchObject({ ok: true, value: 'waited' });
    expect(host.health().plugins[key].recentFaults, key).toBe(0);
  }
}

/** Peak resident memory of a plugin's sandbox process, from the kernel. */
function peakRssMb(key: string): number {
  const pid = host.processOf(key)?.pid;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('QuickJS engine: memory', () => {
  it('control: a plugin under its limit keeps what it allocates', async () => {
    // A cut the machine caused (the section's wall clock ran out while the process got under a
    // fifth of a core: error.overloaded) says nothing about memory: such a call is tried again.
    const unlessOverloaded = async (key: string, args: unknown[]) => {
      let r = await host.invoke(key, 'getFields', args);
      for (let i = 0; i < 3 && !r.ok && r.error.overloaded; i++) r = await host.invoke(key, 'getFields', args);
      return r;
    };
    expect(await unlessOverloaded('hoards', ['strings', 16])).toMatchObject({ ok: true, value: 16 });
    expect(await unlessOverloaded('hoards', ['buffers', 16])).toMatchObject({ ok: true, value: 16 });
    expect(await unlessOverloaded('appends', ['en', 8])).toMatchObject({ ok: true, value: 8 << 20 });
  });

  it('holding 1 MB strings or buffers past the limit is a memory_limit breach; the process stays small', async () => {
    for (const kind of ['strings', 'buffers']) {
      const r = await host.invoke('hoards', 'getFields', [kind, 4096]);
      expect(r, kind).toMatchObject({ ok: false, error: { kind: 'memory_limit' } });
    }
    await expectBystandersServed();
  });

  it('appending 1 MB strings (the issue\'s loop, which grew an uncapped module to 1.1 GB) is cut the same way', async () => {
    const r = await host.invoke('appends', 'getFields', ['en', 3000]);
    expect(r).toMatchObject({ ok: false, error: { kind: 'memory_limit' } });
    await expectBystandersServed();
    expect(peakRssMb('appends')).toBeLessThan(MEMORY_MB + 16 + 150);
    // The plugin is reloaded on its next call and works again.
    expect(await host.invoke('appends', 'getFields', ['en', 2])).toMatchObject({ ok: true, value: 2 << 20 });
  });

  it('a plugin that catches the allocation failure and carries on is still in breach', async () => {
    const r = await host.invoke('hoards', 'transfer', [{ _id: 'o1' }]);
    expect(r).toMatchObject({ ok: false, error: { kind: 'memory_limit' } });
    await expectBystandersServed();
  });
});

describe('QuickJS engine: CPU', () => {
  it('control: a call under its budget finishes and is charged its CPU', async () => {
    const r = await host.invoke('burns', 'getFields', ['wait', 50]);
    expect(r).toMatchObject({ ok: true, value: 'burnt' });
    expect(r.stats?.cpuMs).toBeGreaterThan(0);
  });

  for (const how of ['loop', 'regexp', 'jobs']) {
    it(`an endless ${how} is cut at the call's CPU budget (cpu_limit), not by the deadline`, async () => {
      const r = await host.invoke('burns', 'getFields', [how, 0]);
      expect(r).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
      await expectBystandersServed();
    });
  }
});

describe('QuickJS engine: stack and traps', () => {
  it('control: recursion a plugin may need works', async () => {
    expect(await host.invoke('recurses', 'getFields', ['js', 500])).toMatchObject({ ok: true, value: 500 });
    expect(await host.invoke('recurses', 'getFields', ['json', 100])).toMatchObject({ ok: true, value: 1 });
  });

  it('endless JavaScript recursion is QuickJS\'s catchable stack overflow: the call fails, the plugin stays loaded', async () => {
    const pid = host.processOf('recurses')?.pid;
    const r = await host.invoke('recurses', 'getFields', ['js', 1e7]);
    expect(r).toMatchObject({ ok: false, error: { kind: 'plugin_error', message: expect.stringMatching(/stack overflow/) } });
    expect(await host.invoke('recurses', 'getFields', ['js', 10])).toMatchObject({ ok: true, value: 10 });
    expect(host.processOf('recurses')?.pid).toBe(pid);
  });

  for (const how of ['json', 'stringify']) {
    it(`native recursion past the host's stack (${how} of deep nesting) fails that plugin only, never the process`, async () => {
      const pid = host.processOf('recurses')?.pid;
      const r = await host.invoke('recurses', 'getFields', [how, 1e5]);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(['plugin_error']).toContain(r.error.kind);
      await expectBystandersServed();
      expect(host.processOf('recurses')?.pid).toBe(pid);
      expect(await host.invoke('recurses', 'getFields', ['js', 10])).toMatchObject({ ok: true, value: 10 });
    });
  }
});

describe('QuickJS engine: deadline and floods go through the shared call book', () => {
  it('a wait past the deadline is cut by it (control: a short wait finishes)', async () => {
    expect(await host.invoke('alone', 'getFields', ['en', 10])).toMatchObject({ ok: true, value: 'waited' });
    const r = await host.invoke('alone', 'getFields', ['en', 60_000], { wallMs: 500 });
    expect(r).toMatchObject({ ok: false, error: { kind: 'deadline' } });
    expect(await host.invoke('neighbour', 'getFields', ['en', 1])).toMatchObject({ ok: true, value: 'waited' });
  });

  it('a timer flood stops at the per-call timer cap of 1 000 (control: 100 timers are fine)', async () => {
    expect(await host.invoke('neighbour', 'transfer', [{ kind: 'timers', n: 100 }])).toMatchObject({ ok: true, value: 'flooded' });
    const r = await host.invoke('neighbour', 'transfer', [{ kind: 'timers', n: 1100 }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/timers/);
    expect(await host.invoke('alone', 'getFields', ['en', 1])).toMatchObject({ ok: true, value: 'waited' });
  });

  it('a host-call flood is answered by the host\'s caps, and the bystander keeps answering', async () => {
    expect(await host.invoke('neighbour', 'transfer', [{ kind: 'host', n: 20 }])).toMatchObject({ ok: true, value: 'flooded' });
    await host.invoke('neighbour', 'transfer', [{ kind: 'host', n: 5000 }]);
    expect(await host.invoke('alone', 'getFields', ['en', 1])).toMatchObject({ ok: true, value: 'waited' });
  });
});

describe('QuickJS engine: what a plugin sees', () => {
  it('no global beyond what a plugin sees on isolated-vm (no std, os, print, WebAssembly, SharedArrayBuffer, Atomics)', async () => {
    const onQuickJS = await host.invoke('globals', 'getFields', []);
    const onIvm = await ivmHost.invoke('globals', 'getFields', []);
    expect(onQuickJS.ok && onIvm.ok).toBe(true);
    if (!onQuickJS.ok || !onIvm.ok) return;
    const quickjs = onQuickJS.value as string[];
    const ivm = new Set(onIvm.value as string[]);
    // QuickJS's own error class (thrown for "stack overflow", "interrupted") is its only extra.
    expect(quickjs.filter((name) => !ivm.has(name))).toEqual(['InternalError']);
    for (const name of ['std', 'os', 'print', 'scriptArgs', 'WebAssembly', 'SharedArrayBuffer', 'Atomics']) expect(quickjs).not.toContain(name);
    // Control: the prelude's own globals are there.
    expect(quickjs).toEqual(expect.arrayContaining(['console', 'setTimeout', 'TextEncoder', 'URL', '__ps_host']));
  });

  it('a load produces no code cache (V8\'s only)', async () => {
    const r = await registerDir(host, writePlugin('cache', {}));
    expect(r).toMatchObject({ ok: true, load: { cachedData: null, cacheAccepted: false } });
  });
});
