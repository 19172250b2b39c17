// The overload rule of call-book.ts: a call cut by its CPU timer after under a fifth of its budget
// of process CPU was cut by a machine too busy to run it (error.overloaded, not the plugin's fault);
// a call that did burn its CPU is the plugin's fault. Driven through a scripted engine, so each
// case spends real process CPU (or none) exactly where the case says.
import { describe, expect, it, vi } from 'vitest';
import { CallBook, type Breach, type EntryArg, type EntryName } from '../../../../runtime/sandbox/child/call-book.ts';
import type { IsolateHooks } from '../../../../runtime/sandbox/child/engine.ts';
import type { LocalAnswer } from '../../../../runtime/sandbox/child/config-snapshot.ts';
import { DEFAULT_LIMITS, type EngineName, type FailureKind } from '../../../../runtime/sandbox/protocol.ts';

const BUDGET_MS = 100; // the overload line is a fifth of it: 20 ms of process CPU
const BREACH = new Error('scripted CPU timer');

/** Spends `ms` of this process's CPU. */
function burn(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

/** Waits `ms` of wall time without spending CPU: what a process gets on a machine too busy to run it. */
function starve(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Script = (entry: EntryName, args: EntryArg[], book: ScriptedEngine) => string | undefined;

/**
 * An engine whose entries run `script`. Its CPU clock runs on wall time, as isolated-vm's does
 * while the process is not scheduled: only the process's own count tells the cases apart.
 */
class ScriptedEngine extends CallBook {
  readonly engine: EngineName = 'isolated-vm';
  script: Script = () => undefined;
  readonly faults: { kind: FailureKind; message: string }[] = [];
  /** `answer`: what the sandbox process answers itself (null: every host call is sent); what was sent and routed. */
  readonly host: { answer: LocalAnswer | null; sent: string[]; routed: number[] };

  constructor() {
    const faults: { kind: FailureKind; message: string }[] = [];
    const host = { answer: null as LocalAnswer | null, sent: [] as string[], routed: [] as number[] };
    let hostCallSeq = 0;
    const hooks: IsolateHooks = {
      nextHostCallId: () => ++hostCallSeq,
      routeHostCall: (id, owner) => { if (owner) host.routed.push(id); },
      sendHostCall: (_id, callId, capability) => {
        if (host.answer) return host.answer;
        host.sent.push(`${callId} ${capability}`);
        return null;
      },
      sendLog: () => {},
      sendRespond: () => {},
      sendFault: (kind, message) => faults.push({ kind, message }),
    };
    super('scripted', { ...DEFAULT_LIMITS, cpuMsPerCall: BUDGET_MS }, hooks);
    this.faults = faults;
    this.host = host;
  }

  protected setUp() {
    return { cachedData: null, cacheAccepted: false };
  }
  protected enter(entry: EntryName, args: EntryArg[]): string | undefined {
    if (entry === 'load') return JSON.stringify({ ok: true, value: { className: 'Scripted', methods: { getFields: true } } });
    return this.script(entry, args, this);
  }
  protected cpuClockMs(): number {
    return performance.now();
  }
  protected breachOf(err: unknown): Breach | null {
    return err === BREACH ? 'cpu_limit' : null;
  }
  protected engineAlive(): boolean {
    return true;
  }
  protected release(): void {}
  heapStats() {
    return { used: 0, limit: 0, external: 0 };
  }

  /** Reports a call's result, as the prelude does from inside an entry. */
  done(callId: string, value: unknown): void {
    this.callbacks.report('done', callId, JSON.stringify(value));
  }
  /** The prelude's startAsync callback: its reply, parsed. */
  startAsync(callId: string, name: string, argsJson: string): Record<string, unknown> {
    return JSON.parse(this.callbacks.startAsync(callId, name, argsJson));
  }
  /** Starts a host call of `callId` from inside an entry; returns its id. */
  hostCall(callId: string): number {
    return JSON.parse(this.callbacks.startAsync(callId, 'config.get', '{}')).id;
  }
}

function loadedEngine(): ScriptedEngine {
  const engine = new ScriptedEngine();
  engine.load('load-1', '', null, { pluginKey: 'scripted', env: {}, labels: {} }, null);
  return engine;
}

describe('call book: a call cut by its CPU timer', () => {
  it('control: a plugin that burnt its CPU before the timer fired is at fault (not overloaded)', async () => {
    const engine = loadedEngine();
    engine.script = () => {
      burn(BUDGET_MS * 0.6);
      throw BREACH;
    };
    const outcome = await engine.invoke('c1', 'getFields', [], 5_000);
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(outcome.ok === false && outcome.error.overloaded).toBeFalsy();
    expect(engine.faults).toEqual([expect.objectContaining({ kind: 'cpu_limit', message: expect.stringContaining(`more than ${BUDGET_MS} ms of CPU`) })]);
    // The cut section's CPU is in the call's stats: its plugin's CPU window (plugin-gate.ts) is
    // charged from them when plugins share a process, and a cut call used to report ≈0 ms.
    expect(outcome.stats.cpuMs).toBeGreaterThanOrEqual(BUDGET_MS * 0.6);
  });

  it('a call cut while the process got almost no CPU is the machine\'s (overloaded)', async () => {
    const engine = loadedEngine();
    engine.script = () => {
      starve(BUDGET_MS * 1.2);
      throw BREACH;
    };
    const outcome = await engine.invoke('c1', 'getFields', [], 5_000);
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit', overloaded: true } });
    expect(engine.faults[0].message).toContain('the machine was too busy to run it');
    // Charged what the kernel counted, not the engine's clock (wall time here: 120 ms).
    expect(outcome.stats.cpuMs).toBeLessThan(BUDGET_MS * 0.2);
  });

  it('CPU the call burnt in an earlier section counts: a cut in a quiet section after it is still the plugin\'s', async () => {
    const engine = loadedEngine();
    let hostCallId = 0;
    engine.script = (entry, args) => {
      if (entry === 'invoke') {
        burn(BUDGET_MS * 0.4);
        hostCallId = engine.hostCall(String(args[0]));
        return undefined;
      }
      starve(BUDGET_MS);
      throw BREACH;
    };
    const outcome = engine.invoke('c1', 'getFields', [], 5_000);
    engine.resume(hostCallId, true, 'value');
    const settled = await outcome;
    expect(settled).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(settled.ok === false && settled.error.overloaded).toBeFalsy();
  });

  it('CPU the process spent outside any section just before the cut one is not the call\'s: still overloaded', async () => {
    const engine = loadedEngine();
    engine.script = (entry, args, book) => {
      book.done(String(args[0]), 'quick');
      return undefined;
    };
    // Sections run back to back, then the process works outside any section (the server's
    // messages, other plugins' answers) for longer than the overload line, right before the call.
    for (let i = 0; i < 20; i++) expect(await engine.invoke(`warm-${i}`, 'getFields', [], 5_000)).toMatchObject({ ok: true });
    burn(BUDGET_MS * 0.6);
    engine.script = () => {
      starve(BUDGET_MS * 1.2);
      throw BREACH;
    };
    const outcome = await engine.invoke('c1', 'getFields', [], 5_000);
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit', overloaded: true } });
  });

  it('sections that follow each other closely share one reading of the process CPU clock (a syscall each)', async () => {
    const engine = loadedEngine();
    engine.script = (entry, args, book) => {
      book.done(String(args[0]), 'quick');
      return undefined;
    };
    const cpuUsage = vi.spyOn(process, 'cpuUsage');
    try {
      const started = performance.now();
      const sections = 200;
      for (let i = 0; i < sections; i++) await engine.invoke(`c${i}`, 'getFields', [], 5_000);
      const elapsedMs = performance.now() - started;
      // At most one reading per millisecond of wall time (the freshness the overload rule allows),
      // never one per section.
      expect(cpuUsage.mock.calls.length).toBeLessThanOrEqual(Math.ceil(elapsedMs) + 1);
    } finally {
      cpuUsage.mockRestore();
    }
  });
});

describe('call book: a budget spent across many short sections', () => {
  // Each section's own timer is the budget left, but at least 1 ms: a plugin whose work comes in
  // sections shorter than that (timer callbacks, resumptions after host calls) never met a timer,
  // and ran on past its budget until its deadline.
  async function run(engine: ScriptedEngine, sectionsWanted: number, spend: (ms: number) => void, msPerSection: number) {
    let sections = 0;
    let pending = 0;
    engine.script = (entry, args) => {
      const callId = entry === 'invoke' ? String(args[0]) : 'c1';
      sections++;
      spend(msPerSection);
      if (sections >= sectionsWanted) engine.done(callId, 'survived');
      else pending = engine.hostCall(callId);
      return undefined;
    };
    let settled = false;
    const outcome = engine.invoke('c1', 'getFields', [], 60_000).then((o) => { settled = true; return o; });
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      if (!settled) engine.resume(pending, true, 'v');
    }
    return { outcome: await outcome, sections };
  }

  it('is cut at the first section past the budget, as the plugin\'s fault', async () => {
    const { outcome, sections } = await run(loadedEngine(), 40, burn, BUDGET_MS / 10);
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(outcome.ok === false && outcome.error.overloaded).toBeFalsy();
    expect(sections).toBeLessThanOrEqual(11);
  });

  it('control: the same work within the budget runs to its end', async () => {
    const { outcome, sections } = await run(loadedEngine(), 5, burn, BUDGET_MS / 10);
    expect(outcome).toMatchObject({ ok: true, value: 'survived' });
    expect(sections).toBe(5);
  });

  it('a budget the engine\'s clock ran out while the process got no CPU is the machine\'s (overloaded)', async () => {
    const { outcome } = await run(loadedEngine(), 40, starve, BUDGET_MS / 10);
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit', overloaded: true } });
  });
});

describe('call book: host calls the sandbox process answers itself', () => {
  it('the answer comes back in the callback\'s reply, as a copy: nothing is sent, routed or resumed later; control: a call it cannot answer is sent and routed', async () => {
    const engine = loadedEngine();
    const replies: unknown[] = [];
    engine.script = (entry, args) => {
      const callId = String(args[0]);
      engine.host.answer = { ok: true, value: 'shown' };
      replies.push(engine.startAsync(callId, 'config.get', '{"key":"mode"}'));
      engine.host.answer = null;
      replies.push(engine.startAsync(callId, 'config.get', '{"key":"apiSecret"}'));
      engine.done(callId, null);
      return undefined;
    };
    expect(await engine.invoke('c1', 'getFields', [], 5_000)).toMatchObject({ ok: true });
    expect(replies[0]).toEqual({ ok: true, local: { ok: true, value: 'shown' } });
    expect(replies[1]).toEqual({ ok: true, id: expect.any(Number) });
    expect(engine.host.sent).toEqual(['c1 config.get']);
    expect(engine.host.routed).toEqual([(replies[1] as { id: number }).id]);
  });

  it('no call in progress (an id the call book does not hold, or one that ended): refused before anything is asked', async () => {
    const engine = loadedEngine();
    engine.host.answer = { ok: true, value: 'shown' };
    engine.script = (entry, args) => {
      engine.done(String(args[0]), null);
      return undefined;
    };
    expect(await engine.invoke('c1', 'getFields', [], 5_000)).toMatchObject({ ok: true });
    for (const callId of ['c1', 'never-started', '']) {
      expect(engine.startAsync(callId, 'config.get', '{"key":"mode"}')).toMatchObject({ ok: false, error: { code: 'NO_CALL' } });
    }
    expect(engine.host.sent).toEqual([]);
  });
});
