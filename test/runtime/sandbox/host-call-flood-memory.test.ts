// A flood of host calls must not grow the sandbox process past its RSS cap (supervisor.ts,
// MAX_SEMI_SPACE_MB; SECURITY.md, "The QuickJS engine"). The attack: one call making 20 000 host
// calls, 19 800 of them refused, ten times in a row, on the matrix's engine, in a process under
// the default 256 MB cap, a bystander plugin in the same process. The positive control runs the
// same floods in a process whose young generation may grow as V8 likes (the flag overridden by a
// later one, the RSS cap lifted so that it is measured, not killed): its peak passes 256 MB,
// which is what killed the QuickJS process on the third delivery through the server.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import type { HostCallReply } from '../../../runtime/sandbox/sandbox-host.ts';
import { DEFAULT_LIMITS } from '../../../runtime/sandbox/protocol.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../helpers/sandbox.ts';

const FLOOD = `module.exports = class {
  async getFields(n) {
    const all = await Promise.allSettled(Array.from({ length: Number(n) }, (_, i) => __ps_host.call('test.echo', i)));
    return all.filter((r) => r.status === 'rejected').length;
  }
  async transfer(order) {
    // Holds arrays of 1-2 MB each (a repeated string is a rope on V8, nearly free): the plugin's
    // own memory, bounded by its memoryMb, not by the process's flags.
    const keep = [];
    for (let i = 0; i < Number(order.n); i++) keep.push(new Array(1 << 17).fill(i));
    return keep.length;
  }
};`;
const BYSTANDER = `module.exports = class { async getFields() { return __ps_host.call('test.echo', 0); } };`;

const FLOOD_CALLS = 20_000;
const ANSWERED = 200;
const DELIVERIES = 10;
/** The process's RSS cap by default (256 MB): the supervisor kills a process past it. */
const RSS_CAP_MB = DEFAULT_LIMITS.rssMb;

// The first 200 answered, the rest refused, as the server's per-call cap answers them.
const answer = (_cap: string, args: unknown): HostCallReply => (Number(args) < ANSWERED
  ? { ok: true, value: 'v' }
  : { ok: false, error: { message: 'test.echo refused: too many host calls in one call' } } as HostCallReply);

const limits = { cpuMsPerCall: 20_000, wallMsPerCall: 60_000 };
const gate = { cpuMsPerWindow: 6_000_000, cpuWindowMs: 60_000, maxConcurrentCalls: 4, maxQueuedCalls: 4 };
let capped: SandboxHost;
let uncapped: SandboxHost;

beforeAll(async () => {
  const registerBoth = async (host: SandboxHost) => {
    for (const [key, index] of [['flood', FLOOD], ['bystander', BYSTANDER]]) {
      const r = await registerDir(host, writePlugin(key, { 'index.js': index }));
      expect(r.ok, `${key} loads: ${JSON.stringify(r)}`).toBe(true);
    }
  };
  ({ host: capped } = await startSandbox({ limits, gate, groups: { shared: ['flood', 'bystander'] } }, recordingHandler(answer)));
  await registerBoth(capped);
  // The control: the same flags, then a later one that lifts the cap (V8 keeps the last). Its
  // process starts at the first registration, while the variable is set.
  const extra = process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS;
  process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS = '--max-semi-space-size=64';
  try {
    ({ host: uncapped } = await startSandbox({ limits: { ...limits, rssMb: 4096 }, gate }, recordingHandler(answer)));
    await registerBoth(uncapped);
  } finally {
    if (extra === undefined) delete process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS;
    else process.env.PAYOUT_SANDBOX_CHILD_NODE_ARGS = extra;
  }
}, 60_000);
afterAll(async () => {
  await capped?.close();
  await uncapped?.close();
});

/** Peak resident memory of a plugin's sandbox process so far, from the kernel (MB). */
function peakRssMb(host: SandboxHost, key: string): number {
  const status = fs.readFileSync(`/proc/${host.processOf(key)?.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** The young-generation flags a plugin's sandbox process was started with, in order. */
function semiSpaceFlags(host: SandboxHost, key: string): string[] {
  return fs.readFileSync(`/proc/${host.processOf(key)?.pid}/cmdline`, 'utf8').split('\0').filter((a) => a.startsWith('--max-semi-space-size='));
}

/** Delivers the floods in one process (none killed and restarted meanwhile); returns its peak RSS. */
async function flood(host: SandboxHost): Promise<number> {
  const pid = host.processOf('flood')?.pid;
  for (let i = 0; i < DELIVERIES; i++) {
    const r = await host.invoke('flood', 'getFields', [FLOOD_CALLS]);
    expect(r, `delivery ${i + 1}`).toMatchObject({ ok: true, value: FLOOD_CALLS - ANSWERED });
  }
  expect(host.processOf('flood')?.pid).toBe(pid);
  return peakRssMb(host, 'flood');
}

describe('a flood of host calls, delivered again and again', () => {
  it('control: with the young generation uncapped, the process keeps growing', async () => {
    expect(semiSpaceFlags(uncapped, 'flood')).toEqual(['--max-semi-space-size=8', '--max-semi-space-size=64']);
    // Measured: 290 MB on QuickJS, 320 MB on isolated-vm (cap lifted to 4 GB so it can be measured).
    expect(await flood(uncapped)).toBeGreaterThan(RSS_CAP_MB);
  }, 180_000);

  it('with it capped, the process stays under its 256 MB cap; the bystander is served', async () => {
    expect(semiSpaceFlags(capped, 'flood')).toEqual(['--max-semi-space-size=8']);
    // Measured: 175 MB on QuickJS, 205 MB on isolated-vm.
    expect(await flood(capped)).toBeLessThan(RSS_CAP_MB);
    expect(await capped.invoke('bystander', 'getFields', [])).toMatchObject({ ok: true, value: 'v' });
    expect(capped.health().plugins.flood.recentFaults).toBe(0);
  }, 180_000);

  it('the plugin\'s own memory is still bounded by its memoryMb (64 MB)', async () => {
    expect(await capped.invoke('flood', 'transfer', [{ n: 4 }])).toMatchObject({ ok: true, value: 4 });
    expect(await capped.invoke('flood', 'transfer', [{ n: 4096 }])).toMatchObject({ ok: false, error: { kind: 'memory_limit' } });
    expect(await capped.invoke('bystander', 'getFields', [])).toMatchObject({ ok: true, value: 'v' });
  }, 60_000);
});
