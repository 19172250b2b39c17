// Shown config reads answered inside the entry that made them (child/prelude-callbacks.ts startAsync,
// child/sandbox-process.ts sendHostCall, prelude/bridge.isolate.js callAsync): the sandbox process
// answers the plugin's host call from its callback and the prelude settles the promise in the same
// entry. Through a real local host (real host API, real sandbox process, SQLite), on the engine of
// the matrix. "Settled in the entry" is observed from inside the plugin: the promise has settled
// after a few microtask turns, which an answer arriving on a later turn of the event loop (the
// server's, the control) never has. Each rule keeps its positive control.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost, LocalSessionOptions } from '../../../runtime/local/local-session.ts';
import { probeConfigure as configure, writePlugin } from '../../helpers/plugin-fixture.ts';
import { callAuditRows } from '../../helpers/audit-rows.ts';


// `early`: what a read made by the constructor (while the plugin loads, no host call of the
// host's is running) gave: it must not be answered locally.
const RUNNER = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
class Probe {
  constructor() {
    this.early = globalThis.__ps_host.call('config.get', { key: 'mode' }).then((value) => ({ value }), (e) => ({ error: e.rule ?? e.code ?? e.message }));
  }
  async getFields(lang, code) {
    const run = new Function('config', 'host', 'early', 'return (async () => { ' + code + ' })()');
    return run(config, globalThis.__ps_host, this.early);
  }
  async transfer() { return null; }
}
module.exports = Probe;`;

/** How a read settled: its value or refusal, and whether it had settled after 10 microtask turns. */
const PROBE = `
  const probe = async (args) => {
    let outcome = null;
    host.call('config.get', args).then((value) => { outcome = { value }; }, (e) => { outcome = { error: { code: e.code, rule: e.rule, message: e.message } }; });
    for (let i = 0; i < 10; i++) await null;
    const inEntry = outcome !== null;
    for (let i = 0; i < 200 && outcome === null; i++) await new Promise((r) => setTimeout(r, 5));
    return { ...outcome, inEntry };
  };`;

const SECRET = 'probe-secret-value-0123456789';
const dirs: string[] = [];
const hosts: LocalHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function probeHost(sandbox: LocalSessionOptions['sandbox'] = {}, limits: LocalSessionOptions['hostCallLimits'] = {}, keys = ['probe']) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-cfgentry-'));
  dirs.push(dir);
  const dbFile = path.join(dir, 'store.db');
  const local = await openLocalHost({ storeUrl: `sqlite:${dbFile}`, sandbox, hostCallLimits: limits });
  hosts.push(local);
  for (const key of keys) {
    await local.load(writePlugin(key, { 'configure.js': configure(`${key}Only`), 'index.js': RUNNER }), { mode: `${key}-mode`, [`${key}Only`]: `${key}-value`, apiSecret: SECRET });
  }
  const run = async (code: string, key = keys[0], cpuMs?: number) => {
    const r = await local.sandbox.invoke(key, 'getFields', ['en', PROBE + code], cpuMs ? { cpuMs } : {});
    if (!r.ok) return { failed: r.error.kind, callId: r.callId, value: null as never };
    return { value: r.value as any, callId: r.callId, failed: null };
  };
  const auditRows = (callId: string) => callAuditRows(local, dbFile, callId);
  return { local, run, auditRows };
}

describe('a shown key is answered in the entry that read it', () => {
  it('settled within the entry, the new value after a write; control: the server\'s answer settles on a later turn', async () => {
    const h = await probeHost();
    const first = await h.run(`return await probe({ key: 'mode' });`);
    expect(first.value).toEqual({ value: 'probe-mode', inEntry: true });
    await h.local.host.config.set('probe', 'mode', 'changed');
    const after = await h.run(`return await probe({ key: 'mode' });`);
    expect(after.value).toEqual({ value: 'changed', inEntry: true });
    expect((await h.auditRows(after.callId)).map((r) => r.summary)).toEqual(['getFields: answered in the sandbox process: key=mode×1']);
    // Control: the same read with local answers off is the server's, after a round trip.
    const server = await probeHost({ localConfigReads: false });
    expect((await server.run(`return await probe({ key: 'mode' });`)).value).toEqual({ value: 'probe-mode', inEntry: false });
  });

  it('a burst over the per-call cap: the first reads answered, the rest get the documented refusal, all in the entry; one audit record with the count, the refusals audited by the caps', async () => {
    const h = await probeHost({}, { hostCallsPerCall: 3 });
    const burst = await h.run(`return await Promise.all([0, 1, 2, 3, 4].map(() => probe({ key: 'mode' })));`);
    expect(burst.value.map((r: any) => r.value ?? r.error.rule)).toEqual(['probe-mode', 'probe-mode', 'probe-mode', 'host.calls-per-call', 'host.calls-per-call']);
    expect(burst.value.every((r: any) => r.inEntry)).toBe(true);
    expect(burst.value[3].error).toMatchObject({ code: 'HOST_DENIED', message: expect.stringContaining('hostCallsPerCall') });
    const rows = await h.auditRows(burst.callId);
    expect(rows.filter((r) => r.capability === 'config.get' && r.decision === 'allowed').map((r) => r.summary)).toEqual(['getFields: answered in the sandbox process: key=mode×3']);
    expect(rows.filter((r) => r.rule === 'host.calls-per-call').map((r) => r.capability)).toEqual(['config.get', 'host.caps']);
    // Control: the same burst with local answers off meets the same refusals (the server's).
    const server = await probeHost({ localConfigReads: false }, { hostCallsPerCall: 3 });
    const served = await server.run(`return await Promise.all([0, 1, 2, 3, 4].map(() => probe({ key: 'mode' })));`);
    expect(served.value.map((r: any) => r.value ?? r.error.rule)).toEqual(burst.value.map((r: any) => r.value ?? r.error.rule));
    expect(served.value[3].error.message).toBe(burst.value[3].error.message);
  });
});

describe('what is never answered locally goes to the server, as before', () => {
  it('a secret key: settles after a round trip, audited by the server per read; the shown key beside it (control) in the entry', async () => {
    const h = await probeHost();
    const { value, callId } = await h.run(`return { secret: await probe({ key: 'apiSecret' }), shown: await probe({ key: 'mode' }) };`);
    // The call's result is scrubbed of the plugin's own secret on its way out: the read itself did reach it.
    expect(value.secret).toEqual({ value: '[redacted:probe.apiSecret]', inEntry: false });
    expect(value.shown).toEqual({ value: 'probe-mode', inEntry: true });
    expect((await h.auditRows(callId)).filter((r) => r.capability === 'config.get').map((r) => r.summary)).toEqual(['getFields: key=apiSecret', 'getFields: answered in the sandbox process: key=mode×1']);
  });

  it('a non-string key, an undeclared key: the server\'s own refusal after a round trip', async () => {
    const h = await probeHost();
    const { value, callId } = await h.run(`return { number: await probe({ key: 42 }), undeclared: await probe({ key: 'nope' }), shown: await probe({ key: 'mode' }) };`);
    expect(value.number).toMatchObject({ error: { code: 'HOST_DENIED' }, inEntry: false });
    expect(value.undeclared).toMatchObject({ error: { rule: 'config.undeclared-key' }, inEntry: false });
    expect(value.shown).toEqual({ value: 'probe-mode', inEntry: true });
    expect((await h.auditRows(callId)).filter((r) => r.summary.includes('answered in the sandbox process')).map((r) => r.summary)).toEqual(['getFields: answered in the sandbox process: key=mode×1']);
  });

  it('a read made while the plugin loads (no call of the host running) is not answered locally; a read in a call (control) is', async () => {
    const h = await probeHost();
    // Sent to the server, which knows no such call: the load ends and its waiters are dropped, so it never settles.
    const { value } = await h.run(`return { early: await Promise.race([early, new Promise((r) => setTimeout(() => r('unsettled'), 100))]), now: await probe({ key: 'mode' }) };`);
    expect(value.now).toEqual({ value: 'probe-mode', inEntry: true });
    expect(value.early).toBe('unsettled');
  });

  it('in a shared group: another plugin\'s key gets the server\'s refusal, never its value; its own key (control) in the entry', async () => {
    const h = await probeHost({ groups: { shared: ['alpha', 'beta'] } }, {}, ['alpha', 'beta']);
    const beta = await h.run(`return { other: await probe({ key: 'alphaOnly' }), own: await probe({ key: 'betaOnly' }), mode: await probe({ key: 'mode' }) };`, 'beta');
    expect(beta.value.other).toMatchObject({ error: { rule: 'config.undeclared-key' }, inEntry: false });
    expect(JSON.stringify(beta.value)).not.toContain('alpha-value');
    expect(beta.value.own).toEqual({ value: 'beta-value', inEntry: true });
    expect(beta.value.mode).toEqual({ value: 'beta-mode', inEntry: true });
    const alpha = await h.run(`return await probe({ key: 'alphaOnly' });`, 'alpha');
    expect(alpha.value).toEqual({ value: 'alpha-value', inEntry: true });
  });
});

describe('time spent in the sandbox process on the plugin\'s behalf is the call\'s CPU', () => {
  // RSA signatures are host-side work (≈1 ms each) that costs the plugin next to nothing: on
  // isolated-vm, neither the isolate's CPU clock nor its timeout sees time spent in a callback.
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = JSON.stringify(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const signs = (n: number) => `
    for (let i = 0; i < ${n}; i++) host.callSync('crypto.sign', { alg: 'sha256', data: [{ s: 'x' + i }], key: { s: ${pem} }, enc: 'hex' });
    return 'signed';`;

  it('a loop of host-side work past the call\'s CPU budget is cut as cpu_limit; a few signatures (control) complete', async () => {
    const h = await probeHost();
    expect(await h.run(signs(5), 'probe', 1000)).toMatchObject({ value: 'signed', failed: null });
    expect((await h.run(signs(3000), 'probe', 100)).failed).toBe('cpu_limit');
  });
});
