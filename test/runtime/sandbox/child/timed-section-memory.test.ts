// Why an isolated-vm sandbox process grows under host-call floods (SECURITY.md, Known gaps, "Timed
// sections hold native memory until their timeout"): every timed section (plugin-isolate.ts enters the prelude with
// `applySync(…, { timeout })`, one section per host call's answer, per timer firing, per call)
// arms a timer of isolated-vm's own (src/lib/timer.cc). When the section returns, the timer is
// only marked dead: its record (≈190 bytes of native memory) stays in isolated-vm's timer queue
// until the timeout would have fired. The timeout is the call's remaining CPU budget, so a
// process holds about (sections per second) × (budget) × 190 bytes, and glibc keeps the pages
// afterwards (the next floods reuse them). Measured: 20 000 sections add 3.8 MB while their
// timeouts run, nothing once they have passed.
// Known limitation of isolated-vm 7.0.x (the same dead timers are behind its issue #572); these
// tests pin it so that an upgrade that fixes it, or a change of ours that multiplies it, shows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../../helpers/sandbox.ts';

const SECTIONS = 20_000;
const KB = 1024;

/**
 * A bare isolate in a process of its own: a warm-up round, then two rounds of SECTIONS timed
 * calls to a function that returns at once, each followed by a pause of `pauseMs`. Returns the
 * growth of the process's resident memory over the two rounds after the warm-up, in kB.
 */
function bareGrowthKb(timeoutMs: number, pauseMs: number): number {
  const probe = `
const fs = require('node:fs');
const ivm = require('isolated-vm');
const rssKb = () => Number(/^VmRSS:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const isolate = new ivm.Isolate({ memoryLimit: 16 });
const fn = isolate.compileScriptSync('(function (x) { return x; })').runSync(isolate.createContextSync(), { reference: true });
const round = () => { for (let i = 0; i < ${SECTIONS}; i++) fn.applySync(undefined, [i], { timeout: ${timeoutMs} }); };
const pause = () => new Promise((resolve) => setTimeout(resolve, ${pauseMs}));
(async () => {
  round(); await pause();
  const before = rssKb();
  round(); await pause();
  round(); await pause();
  process.stdout.write(String(rssKb() - before));
})();`;
  const out = execFileSync(process.execPath, ['--no-node-snapshot', '-e', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return Number(out);
}

describe('isolated-vm keeps each timed section\'s timer until its timeout passes', () => {
  it('a bare isolate: sections whose timeouts are still running hold memory; once passed, the same sections add none', () => {
    // Control: a timeout far beyond the test, so every section's timer is still queued (measured +7.5 MB).
    expect(bareGrowthKb(600_000, 100)).toBeGreaterThan(4 * KB);
    // Timeouts that pass during each pause: each round reuses what the previous one freed (measured ≈0).
    expect(bareGrowthKb(200, 600)).toBeLessThan(2 * KB);
  }, 60_000);
});

// Through the real sandbox process: one plugin call making SECTIONS host calls in series is SECTIONS
// timed sections (one per answer), each armed with what is left of the call's CPU budget.
const FLOOD = `module.exports = class {
  async getFields(n) {
    let answered = 0;
    for (let i = 0; i < Number(n); i++) if (await __ps_host.call('test.echo', i)) answered++;
    return answered;
  }
};`;

let host: SandboxHost;
beforeAll(async () => {
  ({ host } = await startSandbox({ engine: 'isolated-vm', limits: { wallMsPerCall: 120_000 }, gate: { cpuMsPerWindow: 6_000_000, cpuWindowMs: 60_000 } }, recordingHandler(() => ({ ok: true, value: 1 }))));
  const r = await registerDir(host, writePlugin('section-flood', { 'index.js': FLOOD }));
  expect(r.ok, JSON.stringify(r)).toBe(true);
}, 60_000);
afterAll(async () => {
  await host?.close();
});

function rssKb(): number {
  const status = fs.readFileSync(`/proc/${host.processOf('section-flood')?.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]);
}

/** One flood with the given CPU budget, then a pause. */
async function flood(cpuMs: number, pauseMs: number): Promise<void> {
  const r = await host.invoke('section-flood', 'getFields', [SECTIONS], { cpuMs });
  expect(r, JSON.stringify(r).slice(0, 300)).toMatchObject({ ok: true, value: SECTIONS });
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
}

/** Growth of the sandbox process over `floods` floods (kB). */
async function growthKb(floods: number, cpuMs: number, pauseMs: number): Promise<number> {
  const before = rssKb();
  for (let i = 0; i < floods; i++) await flood(cpuMs, pauseMs);
  return rssKb() - before;
}

describe('the sandbox process holds them for as long as the call\'s CPU budget', () => {
  it('a short budget lets each flood\'s sections go before the next flood; a long one (as a cron run\'s) keeps them', async () => {
    const pid = host.processOf('section-flood')?.pid;
    // Warm-up: the process's own heap and the isolate's grow over the first floods whatever the budget.
    for (let i = 0; i < 3; i++) await flood(2000, 100);
    // 2 s of budget (room for a loaded machine: a flood uses a few hundred ms of it) and 2.5 s
    // after each flood: its timers have passed (measured +36 kB over three floods).
    const short = await growthKb(3, 2000, 2500);
    // Control: 600 s of budget, so no section's timer passes during the test: 80 000 sections
    // held (≈15 MB), less the memory the short floods' timers freed for reuse (measured +9.4 MB).
    const long = await growthKb(4, 600_000, 100);
    // Read against each other, not against fixed marks: on a loaded machine the process grows a
    // few MB more for other reasons (a CI run measured +2.9 MB over the short floods).
    expect(long - short).toBeGreaterThan(4 * KB);
    expect(short).toBeLessThan(long / 2);
    expect(host.processOf('section-flood')?.pid, 'the same process throughout').toBe(pid);
  }, 120_000);
});
