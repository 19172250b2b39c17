// Whose fault a watchdog kill in a shared sandbox group is (crash-attribution.ts culpritOf, the
// supervisor's watchdog, section-marker.ts). A plugin may hold the group's process for as long as
// its own limits allow (a cron run: cronCpuMs, 30 s by default); a neighbour called meanwhile
// waits, and its watchdog (its deadline + 2 s) fires first. The kill was charged to the neighbour,
// whose code never ran. Now the process marks whose timed section it is in, the supervisor reads
// that before the kill, and the plugin that held the process is charged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const RUNNER = `
class Runner {
  async getFields(lang, code) { return new Function(code)(); }
  async transfer() { return null; }
}
module.exports = Runner;`;

const dirs: string[] = [];
const hosts: LocalHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function groupHost() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-group-blame-'));
  dirs.push(dir);
  const local = await openLocalHost({ storeUrl: `sqlite:${path.join(dir, 'store.db')}`, sandbox: { groups: { shared: ['holder', 'neighbour'] } } });
  hosts.push(local);
  for (const key of ['holder', 'neighbour']) await local.load(writePlugin(key, { 'index.js': RUNNER }), {});
  return local;
}

/**
 * The holder holds its group's process (inside its own 10 s CPU budget and 20 s deadline) while
 * the neighbour is called with a 500 ms deadline: the neighbour's watchdog still kills the process
 * (nothing else can end the hold), but its call counts as never run and the holder is charged.
 */
async function expectHolderCharged(local: LocalHost, holderCode: string) {
  const holding = local.sandbox.invoke('holder', 'getFields', ['en', holderCode], { cpuMs: 10_000, wallMs: 20_000 });
  const neighbour = await local.sandbox.invoke('neighbour', 'getFields', ['en', 'return "here";'], { wallMs: 500 });
  await holding;
  expect(neighbour).toMatchObject({ ok: false, error: { kind: 'sandbox_unavailable' } });
  const plugins = local.sandbox.health().plugins;
  expect(plugins.neighbour.recentFaults).toBe(0);
  expect(plugins.holder.recentFaults).toBe(1);
}

describe('a watchdog kill in a shared group', () => {
  it('is charged to the plugin whose entry held the process within its own limits, not to the neighbour that waited', async () => {
    const local = await groupHost();
    // Control: the neighbour answers on its own.
    expect(await local.sandbox.invoke('neighbour', 'getFields', ['en', 'return "here";'], { wallMs: 500 })).toMatchObject({ ok: true });
    // 4 s of its process, inside its own 10 s CPU budget and 20 s deadline (a cron run may do more).
    await expectHolderCharged(local, 'const end = Date.now() + 4000; while (Date.now() < end) {} return "held";');
  });

  it('still charges the plugin that held the process itself, past its own watchdog (control)', async () => {
    const local = await groupHost();
    // The neighbour holds the process in its own section, past its own deadline + 2 s; the other
    // plugin has a call waiting with a long deadline of its own.
    const neighbour = local.sandbox.invoke('neighbour', 'getFields', ['en', 'const end = Date.now() + 4000; while (Date.now() < end) {} return "held";'], { cpuMs: 10_000, wallMs: 500 });
    const waiting = await local.sandbox.invoke('holder', 'getFields', ['en', 'return "here";'], { wallMs: 20_000 });
    expect(await neighbour).toMatchObject({ ok: false });
    expect(waiting).toMatchObject({ ok: false, error: { kind: 'sandbox_unavailable' } });
    const plugins = local.sandbox.health().plugins;
    expect(plugins.neighbour.recentFaults).toBe(1);
    expect(plugins.holder.recentFaults).toBe(0);
  });

  it('cannot be turned on the neighbour by a holder that writes the marker itself', async () => {
    const local = await groupHost();
    // The record is the sandbox process's fd 4 (section-marker.ts). Plugin code has no file
    // system, no descriptor and only the prelude's frozen `process` shim: every way it could
    // write the neighbour's name fails, and the holder is charged as without the attempt.
    const framing = (holdMs: number) => `
      const reached = [];
      const tries = {
        'require fs': () => require('fs').writeSync(4, 'neighbour;', 0),
        'process.binding': () => process.binding('fs'),
        'constructor escape': () => (function () {}).constructor('return process')().binding('fs'),
        'process.title': () => { process.title = 'neighbour;'; if (process.title !== 'neighbour;') throw new Error('unchanged'); },
      };
      for (const [name, write] of Object.entries(tries)) { try { write(); reached.push(name); } catch {} }
      const end = Date.now() + ${holdMs}; while (Date.now() < end) {}
      return { reached, platform: process.platform };`;
    expect(await local.sandbox.invoke('holder', 'getFields', ['en', framing(0)], { wallMs: 2000 })).toMatchObject({ ok: true, value: { reached: [], platform: 'sandbox' } });
    await expectHolderCharged(local, framing(4000));
  });
});
