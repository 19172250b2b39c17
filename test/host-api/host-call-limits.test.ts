// The parts under the host-call caps, without a sandbox: how bytes are counted, the sliding minute
// window, option validation, and how HostCallCaps aggregates its refusals over time (fake clock).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_HOST_CALL_LIMITS, MinuteWindow, hostCallLimitsOf, jsonBytes } from '../../host-api/host-call-limits.ts';
import { HostCallCaps } from '../../host-api/host-call-caps.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import { newCounters } from '../../host-api/capability.ts';
import type { NewAuditRecord } from '../../runtime/store/types.ts';

describe('jsonBytes', () => {
  it('is the size of the value as JSON, to within a byte per array or object', () => {
    const samples: unknown[] = ['plain', 'ünïcödé ✓', 12.5, true, null, [], {}, [1, 'two', [3]], { key: 'apiKey' }, { a: { b: ['c', { d: 1 }] }, e: 'f' }];
    for (const v of samples) {
      const exact = Buffer.byteLength(JSON.stringify(v));
      const counted = jsonBytes(v, Number.MAX_SAFE_INTEGER);
      expect(counted).toBeGreaterThanOrEqual(exact);
      expect(counted - exact).toBeLessThanOrEqual(4);
    }
  });

  it('stops as soon as the limit is passed, and any depth is safe', () => {
    const huge = Array.from({ length: 1_000_000 }, () => 'x');
    expect(jsonBytes(huge, 100)).toBeGreaterThan(100);
    let deep: unknown = 'end';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonBytes(deep, Number.MAX_SAFE_INTEGER)).toBe(100_000 * 3 + 5);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonBytes(cyclic, 1000)).toBeGreaterThan(1000);
  });
});

describe('MinuteWindow', () => {
  it('slides by the second: what was counted 60 s ago no longer counts, what was counted 59 s ago does', () => {
    let t = 1_000_000_000_000;
    const w = new MinuteWindow(() => t);
    w.add('a', 3, 300);
    t += 59_000;
    w.add('a', 1, 10);
    expect(w.usage('a')).toEqual({ calls: 4, bytes: 310 });
    expect(w.usage('b')).toEqual({ calls: 0, bytes: 0 });
    t += 1_000;
    expect(w.usage('a')).toEqual({ calls: 1, bytes: 10 });
    t += 10 * 60_000;
    expect(w.usage('a')).toEqual({ calls: 0, bytes: 0 });
  });
});

describe('server options', () => {
  it('the defaults hold when an option is left out', () => {
    expect(hostCallLimitsOf({ hostCallsPerCall: 7 })).toEqual({ ...DEFAULT_HOST_CALL_LIMITS, hostCallsPerCall: 7 });
  });

  it('a value that would switch a cap off is refused in one line naming the option', () => {
    for (const bad of [0, -1, 1.5, '200', null, Number.POSITIVE_INFINITY]) {
      expect(() => hostCallLimitsOf({ hostCallsPerMinute: bad as number })).toThrow(/^server option hostCallsPerMinute must be a whole number of at least 1 \(got .*\); fix it in PAYOUT_SANDBOX_OPTIONS or leave it out for the default 12000$/);
    }
  });
});

describe('HostCallCaps over time', () => {
  let t = 1_000_000_000_000;
  const records: NewAuditRecord[] = [];
  const audit = { record: (r: Omit<NewAuditRecord, 'at'>) => { records.push({ ...r, at: new Date(t).toISOString() }); } };
  let seq = 0;
  const call = (plugin: string, method = 'callback:notify'): HostCallContext => ({ plugin, callId: `c${++seq}`, method, deadline: t + 10_000, counters: newCounters() });
  const caps = (limits: Partial<typeof DEFAULT_HOST_CALL_LIMITS>) => new HostCallCaps(hostCallLimitsOf(limits), audit, () => t);
  /** One host call that runs and finishes at once: 'ok', or the rule that refused it. */
  const ask = (c: HostCallCaps, ctx: HostCallContext, args: unknown = {}): string => {
    const r = c.admit(ctx, 'config.get', args);
    if (r instanceof Promise) throw new Error('the host call had to wait for its turn');
    if (r === null) c.done(ctx);
    return r?.rule ?? 'ok';
  };
  afterEach(() => {
    records.length = 0;
    vi.useRealTimers();
  });

  it('a cron run gets cronHostCallsPerRun, any other call hostCallsPerCall', () => {
    const c = caps({ hostCallsPerCall: 2, cronHostCallsPerRun: 5 });
    const webhook = call('p');
    const cron = call('p', 'cron');
    expect([1, 2, 3].map(() => ask(c, webhook))).toEqual(['ok', 'ok', 'host.calls-per-call']);
    expect([1, 2, 3, 4, 5, 6].map(() => ask(c, cron))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'host.calls-per-call']);
    expect(ask(c, call('p', 'cron'))).toBe('ok'); // a new run, a new count
  });

  it('a call whose end is never reported still gets its count written, by the timer, once it has ended', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const c = caps({ hostCallsPerCall: 1 });
    const ctx = call('p');
    for (let i = 0; i < 4; i++) ask(c, ctx);
    expect(records).toHaveLength(1);
    vi.advanceTimersByTime(5_000);
    expect(records).toHaveLength(1); // still running: more refusals may come
    ctx.ended = true;
    vi.advanceTimersByTime(1_000);
    expect(records.map((r) => r.summary)).toEqual([
      expect.stringContaining("config.get refused: plugin 'p' has made the 1 host calls allowed in one call"),
      'callback:notify: 2 more host calls refused in this call after the one recorded (host.calls-per-call: 2)',
    ]);
  });

  it('per-minute refusals: one record per plugin per 60 s in steady state, the others counted in it', () => {
    const c = caps({ hostCallsPerMinute: 10 });
    for (let i = 0; i < 10; i++) expect(ask(c, call('p'))).toBe('ok');
    const refuse = (n: number) => { for (let i = 0; i < n; i++) expect(ask(c, call('p'))).toBe('host.calls-per-minute'); };
    refuse(500);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ plugin: 'p', rule: 'host.calls-per-minute', decision: 'denied', capability: 'config.get' });
    // Another plugin is untouched by p's window.
    expect(ask(c, call('q'))).toBe('ok');
    t += 30_000;
    refuse(100);
    c.settle();
    expect(records).toHaveLength(1);
    t += 30_000; // p's first slots have left the window: it may call again
    expect(ask(c, call('p'))).toBe('ok');
    c.settle();
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ capability: 'host.caps', rule: 'host.calls-per-minute', callId: null });
    expect(records[1].summary).toContain("599 host calls of plugin 'p' refused by its per-minute caps since");
    for (let i = 0; i < 9; i++) expect(ask(c, call('p'))).toBe('ok');
    refuse(300);
    expect(records).toHaveLength(2); // within the next 60 s: counted only
    t += 60_000;
    c.settle();
    expect(records).toHaveLength(3);
    expect(records[2].summary).toContain('300 host calls');
    t += 60_000;
    c.settle(); // a quiet minute writes nothing
    expect(records).toHaveLength(3);
  });

  it('shutdown writes every count still held', () => {
    const c = caps({ hostCallsPerCall: 1, hostCallsPerMinute: 1 });
    const ctx = call('p');
    for (let i = 0; i < 3; i++) ask(c, ctx);
    for (let i = 0; i < 3; i++) ask(c, call('p'));
    expect(records).toHaveLength(2);
    c.settle(true);
    expect(records.map((r) => r.summary)).toEqual([
      expect.stringContaining('host calls allowed in one call'),
      expect.stringContaining('host calls allowed per minute'),
      expect.stringContaining('1 more host calls refused in this call'),
      expect.stringContaining("2 host calls of plugin 'p' refused by its per-minute caps"),
    ]);
  });

  it('bytes per minute: arguments and results of every call of the plugin count', () => {
    const c = caps({ hostCallBytesPerMinute: 1000 });
    const first = call('p');
    expect(ask(c, first, { pad: 'x'.repeat(400) })).toBe('ok');
    c.chargeResult(first, 'y'.repeat(400));
    expect(ask(c, call('p'), { pad: 'x'.repeat(400) })).toBe('host.bytes-per-minute');
    expect(ask(c, call('p'), { pad: 'x'.repeat(100) })).toBe('ok');
    expect(ask(c, call('q'), { pad: 'x'.repeat(900) })).toBe('ok');
    t += 60_000;
    expect(ask(c, call('p'), { pad: 'x'.repeat(900) })).toBe('ok');
  });

  it('at most hostCallsInFlightPerCall run at once; the next waits its turn and then meets the byte budget the results before it used', async () => {
    const c = caps({ hostCallsInFlightPerCall: 2, hostCallBytesPerCall: 1000 });
    const ctx = call('p');
    expect(c.admit(ctx, 'config.get', {})).toBeNull();
    expect(c.admit(ctx, 'config.get', {})).toBeNull();
    const third = c.admit(ctx, 'config.get', {});
    const fourth = c.admit(ctx, 'config.get', {});
    expect(third).toBeInstanceOf(Promise);
    // Another plugin call, even of the same plugin, has its own turns.
    expect(c.admit(call('p'), 'config.get', {})).toBeNull();
    c.chargeResult(ctx, 'r'.repeat(1200));
    c.done(ctx);
    expect(await third).toMatchObject({ rule: 'host.bytes-per-call' });
    expect(await fourth).toMatchObject({ rule: 'host.bytes-per-call' });
    c.done(ctx);
    expect(c.admit(ctx, 'config.get', {})).toMatchObject({ rule: 'host.bytes-per-call' }); // nothing left in flight
  });

  it('a call waiting for its turn whose plugin call ends is dropped without an audit record', async () => {
    const c = caps({ hostCallsInFlightPerCall: 1 });
    const ctx = call('p');
    expect(c.admit(ctx, 'config.get', {})).toBeNull();
    const waiting = c.admit(ctx, 'config.get', {});
    ctx.ended = true;
    c.done(ctx);
    expect(await waiting).toMatchObject({ rule: 'host.call-ended' });
    expect(records).toHaveLength(0);
  });

  it('minute shares for local reads: calls running at once share the minute, the server admits none of what is held, an ended call gives its share back', () => {
    const c = caps({ hostCallsPerMinute: 10, hostCallsPerCall: 6 });
    const first = call('p');
    const second = call('p');
    const third = call('p');
    // At most one call's count cap each, and never more than the minute holds in all.
    expect(c.grantMinute(first).calls).toBe(6);
    expect(c.grantMinute(second).calls).toBe(4);
    expect(c.grantMinute(third).calls).toBe(0);
    // The third call's reads go to the server: nothing is left that the others do not hold.
    expect(ask(c, third)).toBe('host.calls-per-minute');
    // Reported reads move from the share to the window; unused shares are still held.
    c.noteLocalCalls(first, { calls: 2, bytes: 0 });
    expect(ask(c, third)).toBe('host.calls-per-minute');
    // The first call ends having used 2 of its 6: the 4 it did not use are admitted again.
    first.ended = true;
    expect([1, 2, 3, 4, 5].map(() => ask(c, third))).toEqual(['ok', 'ok', 'ok', 'ok', 'host.calls-per-minute']);
    // Positive control: another plugin's minute is its own.
    expect(c.grantMinute(call('q')).calls).toBe(6);
  });

  it('a cron run\'s share is a quarter of the minute at most, calls and bytes, so callbacks beside a long cron run are served', () => {
    const MiB = 1024 * 1024;
    const c = caps({ hostCallsPerCall: 200, cronHostCallsPerRun: 80_000, hostCallsPerMinute: 12_000, hostCallBytesPerMinute: 128 * MiB, cronHostCallBytesPerRun: 128 * MiB });
    expect(c.grantMinute(call('p', 'cron'))).toEqual({ calls: 3_000, bytes: 32 * MiB });
    // Any other call: one call's count cap and 1 MiB; what the cron run holds is not granted again.
    expect(c.grantMinute(call('p'))).toEqual({ calls: 200, bytes: MiB });
    expect(ask(c, call('p'))).toBe('ok');
    // Bounded by the run's own byte cap, and never below what any call gets.
    expect(caps({ hostCallBytesPerMinute: 128 * MiB, cronHostCallBytesPerRun: 8 * MiB }).grantMinute(call('p', 'cron')).bytes).toBe(8 * MiB);
    expect(caps({ hostCallBytesPerMinute: 2 * MiB, cronHostCallBytesPerRun: 128 * MiB }).grantMinute(call('p', 'cron')).bytes).toBe(MiB);
  });

  it('a cron run\'s byte share is held from the plugin\'s other calls: the minute\'s bytes are never granted twice', () => {
    const MiB = 1024 * 1024;
    const c = caps({ hostCallBytesPerMinute: 8 * MiB, cronHostCallBytesPerRun: 128 * MiB });
    const cron = call('p', 'cron');
    expect(c.grantMinute(cron).bytes).toBe(2 * MiB);
    const others = [call('p'), call('p'), call('p'), call('p'), call('p'), call('p'), call('p')];
    // 8 MiB in the minute: 2 held by the run, then 1 MiB per call until the minute is out.
    expect(others.map((o) => c.grantMinute(o).bytes / MiB)).toEqual([1, 1, 1, 1, 1, 1, 0]);
    // The run ends having answered nothing itself: its 2 MiB are granted again.
    cron.ended = true;
    expect(c.grantMinute(call('p')).bytes).toBe(MiB);
  });
});
