// The bookkeeping of the security suite: every case is tried, decided "stopped" or "got through"
// from observable effects, and counted. Only cases that got through are printed, one line each;
// each group prints its count, and the suite ends with one summary line.
import { expect, it } from 'vitest';

export interface Outcome {
  through: boolean;
  /** What was observed; printed only when the case got through. */
  detail: string;
}

export const stopped = (detail = ''): Outcome => ({ through: false, detail });
export const through = (detail: string): Outcome => ({ through: true, detail });

/** A list of checks that must all hold: the first failed one is what got through. */
export function all(checks: [boolean, string][]): Outcome {
  const failed = checks.find(([ok]) => !ok);
  return failed ? through(failed[1]) : stopped();
}

export interface SecurityCase<Env> {
  name: string;
  /** The attack, in one line, for reviewers reading the table. */
  attack: string;
  /** Tries the attack and decides from its effects. Throwing counts as "got through" (fail closed). */
  run(env: Env): Promise<Outcome>;
  timeoutMs?: number;
}

class Tally {
  private readonly groups = new Map<string, { tried: number; through: string[] }>();

  record(group: string, name: string, outcome: Outcome): void {
    let g = this.groups.get(group);
    if (!g) {
      g = { tried: 0, through: [] };
      this.groups.set(group, g);
    }
    g.tried++;
    if (outcome.through) {
      g.through.push(name);
      console.log(`GOT THROUGH [${group}] ${name}: ${outcome.detail}`);
    } else if (process.env.PS_SECURITY_VERBOSE) {
      console.log(`stopped [${group}] ${name}${outcome.detail ? `: ${outcome.detail}` : ''}`);
    }
  }

  groupLine(group: string, extra = ''): string {
    const g = this.groups.get(group) ?? { tried: 0, through: [] };
    return `security/${group}: ${g.tried} cases tried, ${g.through.length} got through${extra ? ` (${extra})` : ''}`;
  }

  triedIn(group: string): number {
    return this.groups.get(group)?.tried ?? 0;
  }

  get tried(): number {
    return [...this.groups.values()].reduce((n, g) => n + g.tried, 0);
  }

  get gotThrough(): number {
    return [...this.groups.values()].reduce((n, g) => n + g.through.length, 0);
  }

  summaryLine(): string {
    return `security: ${this.tried} cases tried, ${this.gotThrough} got through`;
  }
}

export const tally = new Tally();

/**
 * Registers one vitest test per case. After each case, `stillServing` must confirm that the host
 * still answers (another plugin, or the server); if it does not, the case got through.
 */
export function runCases<Env>(
  group: string,
  cases: SecurityCase<Env>[],
  env: () => Env,
  stillServing: (env: Env) => Promise<string | null>,
): void {
  for (const c of cases) {
    it(c.name, async () => {
      let outcome: Outcome;
      try {
        outcome = await c.run(env());
      } catch (err) {
        outcome = through(`the case could not decide (${(err as Error)?.stack ?? err})`);
      }
      let down: string | null;
      try {
        down = await stillServing(env());
      } catch (err) {
        down = String((err as Error)?.message ?? err);
      }
      if (down) outcome = through(`${outcome.detail ? `${outcome.detail}; ` : ''}afterwards the host was not serving: ${down}`);
      tally.record(group, c.name, outcome);
      expect(outcome.through, `${c.name}: ${outcome.detail}`).toBe(false);
    }, c.timeoutMs ?? 30_000);
  }
}

/** The forms a canary may take in output: plain, base64 (with and without padding), base64url, hex. */
export function canaryForms(canary: string): string[] {
  const b = Buffer.from(canary, 'utf8');
  return [...new Set([canary, b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase()])];
}

/** Which forms of which canaries occur in `haystack` (a string or bytes). */
export function findCanaries(haystack: string | Buffer, canaries: Record<string, string>): string[] {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  const found: string[] = [];
  for (const [label, canary] of Object.entries(canaries)) {
    for (const form of canaryForms(canary)) {
      if (text.includes(form)) found.push(`${label} (${form === canary ? 'plain' : form})`);
    }
  }
  return found;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function threadCpuMs(): number {
  const used = process.threadCpuUsage();
  return (used.user + used.system) / 1000;
}

/**
 * How long this process's event loop was kept from turning while `work` runs: the largest CPU
 * time this thread spent between two ticks of a 10 ms timer (`stallMs`). Counted in CPU time, not
 * wall time: a tick is also late when a loaded machine does not schedule the process at all, and
 * that is no stall a plugin caused. `wallGapMs` (the largest gap on the clock) is for the message.
 */
export async function maxEventLoopGap<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number; wallGapMs: number }> {
  let lastWall = performance.now();
  let lastCpu = threadCpuMs();
  let wallGap = 0;
  let stall = 0;
  const tick = () => {
    const wall = performance.now();
    const cpu = threadCpuMs();
    wallGap = Math.max(wallGap, wall - lastWall);
    stall = Math.max(stall, cpu - lastCpu);
    lastWall = wall;
    lastCpu = cpu;
  };
  const timer = setInterval(tick, 10);
  try {
    const value = await work();
    // The stretch since the last tick counts too (work that ends in a busy stretch).
    tick();
    return { value, stallMs: stall, wallGapMs: wallGap };
  } finally {
    clearInterval(timer);
  }
}
