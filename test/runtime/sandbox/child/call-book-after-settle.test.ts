// Host-side work a plugin asks for after its call has settled (child/call-book.ts `charged`). A call
// that reports its result inside an entry leaves the rest of that entry's microtasks running: plugin
// code the call book still times, but no longer as a live call. On isolated-vm neither the
// isolate's clock nor its timeout sees time spent in the prelude's callbacks, so the callbacks of
// such code must still be charged against the settled call's budget. Before, a loop of RSA
// signatures there (host-side work that costs the isolate next to nothing) held the process — and
// every plugin grouped into it — ≈38× past the call's budget while the call reported ≈0.3 ms of
// CPU, until the watchdog killed the process under the first deadline to pass: a neighbour's,
// which was charged the crash. Through a real local host (real sandbox process, SQLite) on the
// engine of the matrix.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../../runtime/local/local-session.ts';
import type { LocalHost, LocalSessionOptions } from '../../../../runtime/local/local-session.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';

const RUNNER = `
class Runner {
  async getFields(lang, code) {
    const run = new Function('host', 'return (async () => { ' + code + ' })()');
    return run(globalThis.__ps_host);
  }
  async transfer() { return null; }
}
module.exports = Runner;`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const sign = (i: number) => crypto.sign('sha256', Buffer.from(`x${i}`), privateKey);

/** How many signatures cost this process `ms` of CPU (the sandbox process does the same work). */
function signaturesWorth(ms: number): number {
  const started = process.cpuUsage();
  for (let i = 0; i < 20; i++) sign(i);
  const used = process.cpuUsage(started);
  return Math.ceil(ms / ((used.user + used.system) / 1000 / 20));
}

/**
 * The call returns at once; a chain of microtasks left behind it waits until the call has settled
 * (its host calls refused with NO_CALL), then signs `n` times. What it got is kept in the isolate
 * for the next call to read.
 */
const signAfterSettling = (n: number) => `
  globalThis.__after = { started: false, signed: 0, refused: null };
  (async () => {
    for (let i = 0; i < 50; i++) await null;
    const ended = await host.call('config.get', { key: 'mode' }).then(() => null, (e) => e.code);
    if (ended !== 'NO_CALL') { globalThis.__after.refused = 'call still running: ' + ended; return; }
    globalThis.__after.started = true;
    for (let i = 0; i < ${n}; i++) {
      try {
        host.callSync('crypto.sign', { alg: 'sha256', data: [{ s: 'x' + i }], key: { s: ${JSON.stringify(PEM)} }, enc: 'hex' });
        globalThis.__after.signed++;
      } catch (e) {
        globalThis.__after.refused = e.code ?? e.message;
        return;
      }
    }
  })();
  return 'settled';`;

const dirs: string[] = [];
const hosts: LocalHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function runnerHost(keys: string[], sandbox: LocalSessionOptions['sandbox'] = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-after-settle-'));
  dirs.push(dir);
  const local = await openLocalHost({ storeUrl: `sqlite:${path.join(dir, 'store.db')}`, sandbox });
  hosts.push(local);
  for (const key of keys) await local.load(writePlugin(key, { 'index.js': RUNNER }), {});
  const run = (key: string, code: string, options: { cpuMs?: number; wallMs?: number } = {}) => local.sandbox.invoke(key, 'getFields', ['en', code], options);
  return { local, run };
}

const BUDGET_MS = 100;

/**
 * How the loop left behind a settled call was stopped, read by the plugin's next call: cut once its
 * callbacks had spent the settled call's budget, as the engine's own timer would have cut it there
 * (the plugin is loaded afresh, its globals gone; the call's own result stands) — or it ran on.
 */
function stopped(after: { ok: boolean; value?: unknown }, asked: number): string {
  if (!after.ok) return 'the next call failed';
  const state = after.value as { signed: number; refused: string | null } | null;
  if (state === null) return 'cut: plugin reset';
  return `ran on: ${state.signed} of ${asked} signed, refused: ${state.refused}`;
}

describe('host-side work after the call settled is charged to that call', () => {
  it('a loop of signatures worth 10× the budget is cut at the budget (the plugin reset) and charged to the call; a few signatures (control) all run', async () => {
    const h = await runnerHost(['signer']);
    expect(await h.run('signer', signAfterSettling(3), { cpuMs: BUDGET_MS })).toMatchObject({ ok: true, value: 'settled' });
    expect(await h.run('signer', 'return globalThis.__after;')).toMatchObject({ ok: true, value: { started: true, signed: 3, refused: null } });

    const n = signaturesWorth(10 * BUDGET_MS);
    const settled = await h.run('signer', signAfterSettling(n), { cpuMs: BUDGET_MS });
    expect(settled).toMatchObject({ ok: true, value: 'settled' });
    // Its reply leaves once the entry has returned, so it carries what the whole entry spent: the
    // process CPU the kernel counted in the cut entry (≈ the budget; less on a machine too busy to
    // run it), where it said ≈0.1–0.3 ms for ≈1 s of signatures before.
    expect(settled.stats?.cpuMs).toBeGreaterThanOrEqual(1);
    expect(stopped(await h.run('signer', 'return globalThis.__after;'), n)).toBe('cut: plugin reset');
  });

  it('in a shared group, a neighbour called meanwhile answers: the settled call cannot hold the process past its budget', async () => {
    const h = await runnerHost(['greedy', 'neighbour'], { groups: { shared: ['greedy', 'neighbour'] } });
    // Control: the neighbour answers on its own.
    expect(await h.run('neighbour', 'return "here";', { wallMs: 1000 })).toMatchObject({ ok: true, value: 'here' });
    // Signatures worth far more than the neighbour's deadline plus the watchdog's grace (2 s): held
    // that long (before the fix: ≈11 s, until the isolate's own timeout saw 300 ms of its own
    // time), the shared process misses the neighbour's deadline and is killed under it.
    const n = signaturesWorth(20_000);
    const greedy = h.run('greedy', signAfterSettling(n), { cpuMs: 300 });
    // Sent right behind it on the same channel: handled once the greedy entry returns.
    const neighbour = h.run('neighbour', 'return "here";', { wallMs: 1000 });
    expect(await neighbour).toMatchObject({ ok: true, value: 'here' });
    expect(await greedy).toMatchObject({ ok: true, value: 'settled' });
    expect(stopped(await h.run('greedy', 'return globalThis.__after;'), n)).toBe('cut: plugin reset');
    // In a group the plugin's CPU window is charged from its calls' stats: the entry's work is the
    // greedy plugin's (before the fix: 0 ms), none of it the neighbour's.
    const plugins = h.local.sandbox.health().plugins;
    expect(plugins.greedy.cpuMsInWindow).toBeGreaterThanOrEqual(1);
    expect(plugins.neighbour.recentFaults).toBe(0);
  });

  it('in a shared group, signatures inside the call are cut as that plugin\'s own cpu_limit (not the machine\'s); the neighbour called meanwhile answers and is charged nothing', async () => {
    const h = await runnerHost(['cutme', 'bystander'], { groups: { shared: ['cutme', 'bystander'] } });
    const n = signaturesWorth(20_000);
    const inCall = `for (let i = 0; i < ${n}; i++) host.callSync('crypto.sign', { alg: 'sha256', data: [{ s: 'x' + i }], key: { s: ${JSON.stringify(PEM)} }, enc: 'hex' }); return 'signed';`;
    const cut = h.run('cutme', inCall, { cpuMs: BUDGET_MS });
    const bystander = h.run('bystander', 'return "here";', { wallMs: 1000 });
    expect(await bystander).toMatchObject({ ok: true, value: 'here' });
    const outcome = await cut;
    expect(outcome).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
    expect(!outcome.ok && outcome.error.overloaded).toBeFalsy();
    const plugins = h.local.sandbox.health().plugins;
    expect([plugins.cutme.recentFaults, plugins.bystander.recentFaults]).toEqual([1, 0]);
  });
});
