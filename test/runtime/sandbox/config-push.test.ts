// Config reads answered in the sandbox process (runtime/sandbox/config-push.ts, child/config-snapshot.ts),
// attacked through a real host: the real host API, a real sandbox process, SQLite. `probe` runs the
// code a test hands it (getFields(lang, code)) with `config` (the platform module) and `host` (the
// raw bridge). Each rule has a positive control: the same test with the local answers switched off
// (localConfigReads: false), or the condition that makes the attack fail removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost, LocalSessionOptions } from '../../../runtime/local/local-session.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { callAuditRows } from '../../helpers/audit-rows.ts';

const CONFIGURE = `
module.exports.type = 'payout';
module.exports.title = 'Probe';
module.exports.name = 'probe';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH'];
module.exports.default_config = { apiUrl: 'https://api.probe.example', mode: 'live', apiSecret: '' };
module.exports.required_config = { apiUrl: 1, mode: 1, apiSecret: 2 };
`;

const runner = (withConfigModule: boolean) => `
const id_key = __dirname.split('/').slice(-1)[0];
${withConfigModule ? "const config = require('../../../modules/config/payout.config.js')(id_key);" : 'const config = null;'}
class Probe {
  async getFields(lang, code) {
    const run = new Function('config', 'host', 'return (async () => { ' + code + ' })()');
    return run(config, globalThis.__ps_host);
  }
  async transfer() { return null; }
}
module.exports = Probe;`;

const SECRET = 'probe-secret-value-0123456789';

/** What a read gave back: its value, or its error's text, code and rule. */
const READ = `
  const read = async (key) => { try { return { value: await config.get(key) }; } catch (e) { return { error: { message: e.message, code: e.code, rule: e.rule } }; } };
  const raw = async (args) => { try { return { value: await host.call('config.get', args) }; } catch (e) { return { error: { message: e.message, code: e.code, rule: e.rule } }; } };`;

const hosts: { local: LocalHost; dir: string }[] = [];
afterAll(async () => {
  for (const h of hosts) {
    await h.local.close();
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

async function probeHost(sandbox: LocalSessionOptions['sandbox'] = {}, limits: LocalSessionOptions['hostCallLimits'] = {}, key = 'probe') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-cfgpush-'));
  const dbFile = path.join(dir, 'store.db');
  const local = await openLocalHost({ storeUrl: `sqlite:${dbFile}`, sandbox, hostCallLimits: limits });
  hosts.push({ local, dir });
  const pluginDir = writePlugin(key, { 'configure.js': CONFIGURE, 'index.js': runner(true) });
  await local.load(pluginDir, { mode: 'test', apiSecret: SECRET });
  const run = async (code: string) => {
    const r = await local.sandbox.invoke(key, 'getFields', ['en', READ + code]);
    if (!r.ok) throw new Error(`${key} failed: ${r.error.kind}: ${r.error.message}`);
    return { value: r.value as Record<string, unknown>, callId: r.callId };
  };
  const auditRows = (callId: string) => callAuditRows(local, dbFile, callId);
  return { local, run, auditRows, pluginDir, key };
}

/** Whether the call's reads were answered in the sandbox process (its audit says so). */
const answeredLocally = (rows: { capability: string; summary: string }[]) => rows.some((r) => r.capability === 'config.get' && r.summary.includes('answered in the sandbox process'));

describe('invalidation: a change is seen by the very next call', () => {
  it('an admin write (ConfigService.set) reaches the next call; the reads before and after were answered locally', async () => {
    const h = await probeHost();
    const before = await h.run(`return await read('mode');`);
    expect(before.value).toEqual({ value: 'test' });
    expect(answeredLocally(await h.auditRows(before.callId))).toBe(true);
    await h.local.host.config.set('probe', 'mode', 'changed');
    const after = await h.run(`return await read('mode');`);
    expect(after.value).toEqual({ value: 'changed' });
    expect(answeredLocally(await h.auditRows(after.callId))).toBe(true);
  });

  it('a write during a call: reads after it in the same call see the new value (the drop is sent at once)', async () => {
    const h = await probeHost();
    await h.run(`return await read('mode');`);
    // The plugin says (a log line) when its first read is answered, then reads until the value changes.
    const call = h.run(`
      const first = await read('mode');
      console.log('first read done');
      for (let i = 0; i < 150; i++) {
        const now = await read('mode');
        if (now.value !== first.value) return { first, then: now };
        await new Promise((r) => setTimeout(r, 20));
      }
      return { first, then: 'unchanged' };`);
    for (let i = 0; i < 300; i++) {
      await h.local.host.pluginLog.flush();
      if ((await h.local.store.queryPluginLog({ plugin: 'probe' })).some((l) => l.text === 'first read done')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await h.local.host.config.set('probe', 'mode', 'mid-call');
    expect((await call).value).toEqual({ first: { value: 'test' }, then: { value: 'mid-call' } });
  });

  it('a write by another server on the same store is read again once the pushed values are older than configSnapshotMaxAgeMs', async () => {
    const fresh = await probeHost({ configSnapshotMaxAgeMs: 0 });
    await fresh.run(`return await read('mode');`);
    await fresh.local.store.setConfig({ plugin: 'probe', key: 'mode', secret: false, value: 'peer-write' });
    expect((await fresh.run(`return await read('mode');`)).value).toEqual({ value: 'peer-write' });
    // Positive control: within the age the pushed value is still answered (this is the bound, documented).
    const held = await probeHost({ configSnapshotMaxAgeMs: 600_000 });
    await held.run(`return await read('mode');`);
    await held.local.store.setConfig({ plugin: 'probe', key: 'mode', secret: false, value: 'peer-write' });
    expect((await held.run(`return await read('mode');`)).value).toEqual({ value: 'test' });
  });

  it('a crashed sandbox process never answers from what it held: the restarted one gets the current values', async () => {
    const h = await probeHost();
    await h.run(`return await read('mode');`);
    const proc = h.local.sandbox.processOf('probe');
    const pid = proc?.pid as number;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && proc?.running && proc.pid === pid; i++) await new Promise((r) => setTimeout(r, 10));
    // Written while no process runs: the drop has nowhere to go.
    await h.local.host.config.set('probe', 'mode', 'after-crash');
    const after = await h.run(`return await read('mode');`);
    expect(after.value).toEqual({ value: 'after-crash' });
    expect(h.local.sandbox.processOf('probe')?.pid).not.toBe(pid);
    expect(answeredLocally(await h.auditRows(after.callId))).toBe(true);
  });

  it('a new version without config.get in its capability set: local answers stop, the server refuses the raw call', async () => {
    const h = await probeHost();
    const before = await h.run(`return await raw({ key: 'mode' });`);
    expect(before.value).toEqual({ value: 'test' }); // positive control: the raw bridge call is answered while granted
    expect(answeredLocally(await h.auditRows(before.callId))).toBe(true);
    // The update no longer requires the config module, so its set has no config.get.
    writePlugin('probe', { 'configure.js': CONFIGURE, 'index.js': runner(false) });
    await h.local.load(h.pluginDir);
    expect(h.local.capabilitySets.capabilitySetOf('probe')?.capabilities.has('config.get')).toBe(false);
    const after = await h.run(`return await raw({ key: 'mode' });`);
    expect(after.value).toMatchObject({ error: { code: 'HOST_DENIED', rule: 'capability-set' } });
    expect(answeredLocally(await h.auditRows(after.callId))).toBe(false);
  });
});

describe('audit and caps: every local read is audited once per call and counted', () => {
  it('N reads in a call → one record naming each key and its count, no value', async () => {
    const h = await probeHost();
    const { callId } = await h.run(`
      for (let i = 0; i < 3; i++) await read('mode');
      await read('apiUrl'); await read('apiUrl');
      return null;`);
    const rows = await h.auditRows(callId);
    expect(rows).toEqual([{ capability: 'config.get', decision: 'allowed', rule: null, summary: 'getFields: answered in the sandbox process: key=mode×3, key=apiUrl×2' }]);
    expect(JSON.stringify(rows)).not.toContain('api.probe.example');
  });

  it('local and server reads share the per-call cap: 3 secret reads (server) + 5 shown reads under a cap of 5 → 2 shown answered', async () => {
    const h = await probeHost({}, { hostCallsPerCall: 5 });
    const { value, callId } = await h.run(`
      const secrets = []; for (let i = 0; i < 3; i++) secrets.push(await read('apiSecret'));
      const shown = []; for (let i = 0; i < 5; i++) shown.push(await read('mode'));
      return { secrets: secrets.filter((r) => 'value' in r).length, shown: shown.map((r) => r.value ?? r.error.rule) };`);
    expect(value).toEqual({ secrets: 3, shown: ['test', 'test', 'host.calls-per-call', 'host.calls-per-call', 'host.calls-per-call'] });
    const rows = await h.auditRows(callId);
    expect(rows.filter((r) => r.summary.includes('key=mode×2'))).toHaveLength(1);
    // The first refusal in a record, the others counted in one more (as the server's own).
    expect(rows.filter((r) => r.rule === 'host.calls-per-call').map((r) => r.capability)).toEqual(['config.get', 'host.caps']);
  });

  it('and the other way round: 5 shown reads answered locally use up the cap, so the server refuses the secret read after them', async () => {
    const h = await probeHost({}, { hostCallsPerCall: 5 });
    const { value } = await h.run(`
      for (let i = 0; i < 5; i++) await read('mode');
      return await read('apiSecret');`);
    expect(value).toMatchObject({ error: { code: 'HOST_DENIED', rule: 'host.calls-per-call' } });
    // Positive control: with the reads sent to the server the same code meets the same refusal.
    const server = await probeHost({ localConfigReads: false }, { hostCallsPerCall: 5 });
    expect((await server.run(`for (let i = 0; i < 5; i++) await read('mode'); return await read('apiSecret');`)).value).toEqual(value);
  });
});

describe('errors: whatever the process cannot answer gets the server\'s own words', () => {
  const CASES = `
    return {
      undeclared: await read('nope'),
      empty: await raw({ key: '' }),
      number: await raw({ key: 42 }),
      missing: await raw({}),
      notObject: await raw('mode'),
      tooLong: await raw({ key: 'k'.repeat(65) }),
      protoKey: await raw({ key: '__proto__' }),
      shown: await read('mode'),
    };`;

  it('undeclared keys and bad arguments: the same text, code and rule with and without local answers', async () => {
    const local = await probeHost();
    const server = await probeHost({ localConfigReads: false });
    const a = await local.run(CASES);
    const b = await server.run(CASES);
    expect(a.value).toEqual(b.value);
    expect(a.value.undeclared).toMatchObject({ error: { rule: 'config.undeclared-key' } });
    expect(a.value.empty).toMatchObject({ error: { code: 'HOST_DENIED' } });
    expect(a.value.shown).toEqual({ value: 'test' });
    // Positive control: only the shown read was answered locally, and only with local answers on.
    expect((await local.auditRows(a.callId)).filter((r) => r.summary.includes('answered in the sandbox process')).map((r) => r.summary)).toEqual(['getFields: answered in the sandbox process: key=mode×1']);
    expect(answeredLocally(await server.auditRows(b.callId))).toBe(false);
  });

  it('an unknown plugin (its manifest gone from the host): the same error on both paths, nothing answered locally', async () => {
    const local = await probeHost({}, {}, 'ghost');
    const server = await probeHost({ localConfigReads: false }, {}, 'ghost');
    for (const h of [local, server]) {
      await h.run(`return await read('mode');`);
      h.local.manifests.delete('ghost');
    }
    const a = await local.run(`return await read('mode');`);
    const b = await server.run(`return await read('mode');`);
    expect(a.value).toEqual(b.value);
    expect(a.value).toEqual({ error: { message: "config: plugin 'ghost' is not registered", code: 'HOST_DENIED', rule: 'config.unknown-plugin' } });
  });
});

describe('long cron runs: local answers last the whole run', () => {
  // A sweep's host calls to the server (provider answers, tx writes) count against the run's share
  // of the minute too; with the 1 MiB share every call gets, a sweep's reads crossed to the server
  // after a few hundred txs. A cron run's share is a quarter of the minute (host-call-caps.ts).
  const FLOODING = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
// 20 host calls of 60 000 characters each go to the server (a key that long is never answered
// locally; the server refuses it): 1.2 MB of the call's bytes, past the 1 MiB share of any call.
const flood = async () => { for (let i = 0; i < 20; i++) { try { await globalThis.__ps_host.call('config.get', { key: 'k'.repeat(60000) }); } catch (e) {} } };
const reads = async () => { for (let i = 0; i < 3; i++) await config.get('mode'); };
class Flooding {
  initCron() { return { schedule: '0 0 * * * *', fn: async () => { await flood(); await reads(); return 'swept'; } }; }
  async getFields() { await flood(); await reads(); return []; }
  async transfer() { return null; }
}
module.exports = Flooding;`;

  it('after 1.2 MB of host calls sent to the server, a cron run still answers shown keys itself; a callback-sized share (the control) does not', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-cfgpush-cron-'));
    const dbFile = path.join(dir, 'store.db');
    const local = await openLocalHost({ storeUrl: `sqlite:${dbFile}` });
    hosts.push({ local, dir });
    await local.load(writePlugin('flooding', { 'configure.js': CONFIGURE, 'index.js': FLOODING }), { mode: 'test', apiSecret: SECRET });
    expect(await local.sandbox.invoke('flooding', 'initCron', [])).toMatchObject({ ok: true });
    const cron = await local.sandbox.invoke('flooding', 'cron', []);
    const fields = await local.sandbox.invoke('flooding', 'getFields', ['en', 'CARDUAH']);
    expect(cron).toMatchObject({ ok: true, value: 'swept' });
    expect(fields).toMatchObject({ ok: true, value: [] });
    await local.host.audit.flush();
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      const rows = (callId: string) => db.prepare('SELECT capability, summary FROM audit_log WHERE callId = ?').all(callId) as { capability: string; summary: string }[];
      expect(rows(cron.callId).filter((r) => r.summary.includes('answered in the sandbox process: key=mode×3'))).toHaveLength(1);
      // Control: the same calls in getFields pass its 1 MiB share, and its reads are the server's, one record each.
      expect(answeredLocally(rows(fields.callId))).toBe(false);
      expect(rows(fields.callId).filter((r) => r.summary === 'getFields: key=mode')).toHaveLength(3);
    } finally {
      db.close();
    }
  });
});
