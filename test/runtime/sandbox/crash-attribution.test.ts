// Whose fault a crash is: the table of cases, each next to the one that differs by one fact.
import { describe, expect, it } from 'vitest';
import { attributeFailure, culpritOf } from '../../../runtime/sandbox/crash-attribution.ts';
import type { CrashInfo } from '../../../runtime/sandbox/supervisor.ts';

const crash = (o: Partial<CrashInfo>): CrashInfo => ({ reason: 'exited', kind: 'sandbox_crashed', culprit: null, inFlight: [], ...o });
const alone = new Set(['a']);
const group = new Set(['a', 'b']);

describe('crash attribution', () => {
  it('names the plugin the supervisor killed for, whatever ran', () => {
    expect(culpritOf(group, crash({ culprit: 'b', inFlight: [{ plugin: 'a', what: 'a.transfer' }] }))).toBe('b');
  });

  it('charges the plugin of its own process only while its code was running', () => {
    expect(culpritOf(alone, crash({ inFlight: [{ plugin: 'a', what: 'a.transfer' }] }))).toBe('a');
    expect(culpritOf(alone, crash({ inFlight: [] }))).toBeNull(); // killed from outside while idle
  });

  it('in a group, charges the only plugin that was running, else nobody', () => {
    expect(culpritOf(group, crash({ inFlight: [{ plugin: 'b', what: 'b.cron' }, { plugin: 'b', what: 'b.callback' }] }))).toBe('b');
    expect(culpritOf(group, crash({ inFlight: [{ plugin: 'a', what: 'a.cron' }, { plugin: 'b', what: 'b.cron' }] }))).toBeNull();
  });

  it('a cut call of a plugin that is not to blame never ran if nothing had left, else is uncharged', () => {
    const reply = { ok: false as const, error: { kind: 'sandbox_crashed' as const, message: 'a.transfer failed: exited' }, crash: crash({ culprit: 'b', inFlight: [{ plugin: 'a', what: 'a.transfer' }] }) };
    expect(attributeFailure('a', group, reply, 0)).toMatchObject({ kind: 'sandbox_unavailable' });
    expect(attributeFailure('a', group, reply, 1)).toMatchObject({ kind: 'sandbox_crashed', charged: true });
    expect(attributeFailure('b', group, { ...reply, crash: crash({ culprit: 'b', kind: 'memory_limit' }) }, 1)).toMatchObject({ kind: 'memory_limit', charged: true });
  });

  it('a watchdog kill in a group goes to the plugin whose section held the process (section-marker.ts)', () => {
    const waited = { kind: 'deadline' as const, culprit: 'b', inFlight: [{ plugin: 'a', what: 'a.cron' }, { plugin: 'b', what: 'b.callback' }] };
    expect(culpritOf(group, crash({ ...waited, heldBy: 'a' }))).toBe('a');
    // Control: no marker (a process between sections, or one that could not get a record) keeps the watchdog's rule.
    expect(culpritOf(group, crash(waited))).toBe('b');
    expect(culpritOf(group, crash({ ...waited, heldBy: null }))).toBe('b');
    // A marker naming a plugin not placed in this process is ignored.
    expect(culpritOf(group, crash({ ...waited, heldBy: 'c' }))).toBe('b');
    // Only the watchdog's kill reads it: a memory kill keeps its own rule.
    expect(culpritOf(group, crash({ ...waited, kind: 'memory_limit', heldBy: 'a' }))).toBe('b');
    // The neighbour that waited ran nothing: its call counts as never run.
    const reply = { ok: false as const, error: { kind: 'sandbox_crashed' as const, message: 'b.callback failed: watchdog' }, crash: crash({ ...waited, heldBy: 'a' }) };
    expect(attributeFailure('b', group, reply, 0)).toMatchObject({ kind: 'sandbox_unavailable' });
    expect(attributeFailure('a', group, reply, 1)).toMatchObject({ kind: 'sandbox_crashed', charged: true });
  });
});
