// SandboxHost.invoke with `waitMs`: the wait for a turn (the plugin's queue) is bounded on its own,
// and a call that gets its turn runs with its whole `wallMs` from then on; a call whose caller
// stopped waiting (`signal`) never runs. Without `waitMs` the deadline still counts from the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../helpers/sandbox.ts';

// getFields(lang) reads the config key named `lang`: the handler below holds the key 'hold' until
// the test lets it go, so one call can keep the plugin's only slot while another waits.
const INDEX = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
module.exports = class { async getFields(lang) { await config.get(lang); return [{ _id: lang, name: lang }]; } };`;

let host: SandboxHost;
let release: () => void = () => {};
/** The deadline each config key was read under (HostCallContext.deadline). */
const deadlines = new Map<string, number>();

beforeAll(async () => {
  const handler = recordingHandler(async (_cap, args, ctx) => {
    const key = (args as { key: string }).key;
    deadlines.set(key, ctx.deadline);
    if (key === 'hold') await new Promise<void>((resolve) => { release = resolve; });
    return { ok: true, value: 'v' };
  });
  ({ host } = await startSandbox({ gate: { maxConcurrentCalls: 1 }, breaker: { threshold: 100 } }, handler));
  expect((await registerDir(host, writePlugin('waits', { 'index.js': INDEX }))).ok).toBe(true);
});
afterAll(async () => {
  release();
  await host.close();
});

/** Starts a call that holds the plugin's one slot until `release()` (wrapped: awaiting it must not await the call). */
async function holdTheSlot(): Promise<{ holding: Promise<{ ok: boolean }> }> {
  deadlines.delete('hold');
  const holding = host.invoke('waits', 'getFields', ['hold'], { wallMs: 10_000 });
  for (let i = 0; i < 200 && !deadlines.has('hold'); i++) await new Promise((r) => setTimeout(r, 10));
  expect(deadlines.has('hold')).toBe(true);
  return { holding };
}

const queued = () => host.health().plugins.waits.queuedCalls;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the wait for a turn and the run deadline are two clocks', () => {
  it('without waitMs, waiting longer than wallMs refuses the call (the control)', async () => {
    const { holding } = await holdTheSlot();
    const waiter = host.invoke('waits', 'getFields', ['control'], { wallMs: 300 });
    await sleep(400);
    release();
    const result = await waiter;
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.kind).toBe('throttled');
    expect(deadlines.has('control')).toBe(false);
    expect((await holding).ok).toBe(true);
  });

  it('with waitMs, a call that waited longer than wallMs still runs, with the whole wallMs from its turn', async () => {
    const { holding } = await holdTheSlot();
    const started: number[] = [];
    const waiter = host.invoke('waits', 'getFields', ['waited'], { wallMs: 300, waitMs: 5_000, onStart: (ms) => started.push(ms) });
    await sleep(400);
    expect(started).toEqual([]);
    const releasedAt = Date.now();
    release();
    const result = await waiter;
    expect(result.ok, JSON.stringify(result.ok ? null : result.error)).toBe(true);
    expect(started).toEqual([300]);
    // Its deadline was set when it got its turn, not when it was called.
    expect(deadlines.get('waited')).toBeGreaterThanOrEqual(releasedAt + 300);
    expect((await holding).ok).toBe(true);
  });

  it('a call still waiting after waitMs is refused and never runs', async () => {
    const { holding } = await holdTheSlot();
    const started: number[] = [];
    const result = await host.invoke('waits', 'getFields', ['late'], { wallMs: 10_000, waitMs: 200, onStart: (ms) => started.push(ms) });
    expect(result.ok).toBe(false);
    if (!result.ok) expect([result.error.kind, result.error.message]).toEqual(['throttled', expect.stringMatching(/nothing ran/)]);
    release();
    expect((await holding).ok).toBe(true);
    expect(started).toEqual([]);
    expect(deadlines.has('late')).toBe(false);
  });

  it('a call whose caller stopped waiting (signal) is refused when its turn comes, and never runs', async () => {
    const { holding } = await holdTheSlot();
    const stop = new AbortController();
    const started: number[] = [];
    const waiter = host.invoke('waits', 'getFields', ['abandoned'], { wallMs: 10_000, waitMs: 10_000, signal: stop.signal, onStart: (ms) => started.push(ms) });
    for (let i = 0; i < 200 && queued() === 0; i++) await sleep(10);
    expect(queued()).toBe(1);
    stop.abort();
    release();
    const result = await waiter;
    expect(result.ok).toBe(false);
    if (!result.ok) expect([result.error.kind, result.error.message]).toEqual(['throttled', expect.stringMatching(/stopped waiting.*nothing ran/)]);
    expect(started).toEqual([]);
    expect(deadlines.has('abandoned')).toBe(false);
    expect((await holding).ok).toBe(true);
    // The slot it gave up serves the next call.
    expect((await host.invoke('waits', 'getFields', ['after'], { wallMs: 10_000, waitMs: 1_000 })).ok).toBe(true);
  });
});
