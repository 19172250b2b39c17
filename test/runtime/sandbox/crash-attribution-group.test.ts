// Whose fault a watchdog kill in a shared sandbox group is (crash-attribution.ts culpritOf, the
// supervisor's watchdog). A plugin may hold the group's process for as long as its own limits
// allow (a cron run: cronCpuMs, 30 s by default); a neighbour called meanwhile waits, and its
// watchdog (its deadline + 2 s) fires first. The kill is then charged to the neighbour, whose code
// never ran, not to the plugin whose entry held the process. An open hole, documented here as
// `it.fails`: the server cannot tell from outside whose entry a blocked process is in.
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

describe('a watchdog kill in a shared group', () => {
  it.fails('is charged to the plugin whose entry held the process within its own limits, not to the neighbour that waited', async () => {
    const local = await groupHost();
    // Control: the neighbour answers on its own.
    expect(await local.sandbox.invoke('neighbour', 'getFields', ['en', 'return "here";'], { wallMs: 500 })).toMatchObject({ ok: true });
    // 4 s of its process, inside its own 10 s CPU budget and 20 s deadline (a cron run may do more).
    const holding = local.sandbox.invoke('holder', 'getFields', ['en', 'const end = Date.now() + 4000; while (Date.now() < end) {} return "held";'], { cpuMs: 10_000, wallMs: 20_000 });
    const neighbour = await local.sandbox.invoke('neighbour', 'getFields', ['en', 'return "here";'], { wallMs: 500 });
    await holding;
    // What happens today: the neighbour's watchdog kills the process and the neighbour is charged.
    expect(neighbour.ok).toBe(false);
    const plugins = local.sandbox.health().plugins;
    expect(plugins.neighbour.recentFaults).toBe(0);
    expect(plugins.holder.recentFaults).toBe(1);
  });
});
