// Host-call caps, attacked from inside a real sandbox, counted in a real SQLite audit table.
// `flood` runs whatever code a test hands it (getFields(lang, code)); `bystander` is a plugin whose
// host calls must keep working while flood is refused. Each describe builds its own host with the
// caps it needs, so one test's usage never decides another's.
// Every test runs twice, side by side: with flood's shown config answered in its sandbox process
// (host-api/config-snapshot.ts: the same caps, the same words, one audit record per call naming
// key×count) and with every read answered by the server (one audit record per read).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import type { HostCallLimits } from '../../host-api/host-call-limits.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';

const FLOOD = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
class Flood {
  async getFields(lang, code) {
    const run = new Function('config', 'host', 'return (async () => { ' + code + ' })()');
    return run(config, globalThis.__ps_host);
  }
  async transfer() { return null; }
  // A sweep's worth of host calls in one cron run.
  initCron() {
    return { schedule: '0 0 * * *', fn: async () => {
      const all = await Promise.allSettled(Array.from({ length: 300 }, () => config.get('apiKey')));
      return { answered: all.filter((r) => r.status === 'fulfilled').length, refused: all.filter((r) => r.status === 'rejected').length, rules: {} };
    } };
  }
}
module.exports = Flood;`;

// Makes n config.get calls (concurrently, as an attacker would) and reports what came back.
const BYSTANDER = `
const config = require('../../../modules/config/payout.config.js')('bystander');
class Bystander {
  async getFields(lang, n) {
    const all = await Promise.allSettled(Array.from({ length: Number(n) }, () => config.get('apiKey')));
    return { ok: all.filter((r) => r.status === 'fulfilled' && r.value === 'bystander-key').length, refused: all.filter((r) => r.status === 'rejected').length };
  }
  async transfer() { return null; }
}
module.exports = Bystander;`;

/** Plugin code: `n` config.get calls at once; what was answered, what was refused and how. */
const configGets = (n: number, key = 'apiKey') => `
  const all = await Promise.allSettled(Array.from({ length: ${n} }, () => config.get(${JSON.stringify(key)})));
  const refused = all.filter((r) => r.status === 'rejected');
  const rules = {};
  for (const r of refused) rules[r.reason.rule] = (rules[r.reason.rule] || 0) + 1;
  return { answered: all.length - refused.length, refused: refused.length, rules, first: refused[0] && { message: refused[0].reason.message, code: refused[0].reason.code, rule: refused[0].reason.rule } };`;

interface Outcome { answered: number; refused: number; rules: Record<string, number>; first?: { message: string; code: string; rule: string } }

const hosts: { local: LocalHost; dir: string }[] = [];
afterAll(async () => {
  for (const h of hosts) {
    await h.local.close();
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

/** Reads the audit rows say were answered: one per row from the server, key×count per row from the sandbox process. */
function auditedReads(rows: { capability: string; decision: string; summary: string }[]): number {
  let n = 0;
  for (const r of rows) {
    if (r.capability !== 'config.get' || r.decision !== 'allowed') continue;
    const local = /answered in the sandbox process: (.*)$/.exec(r.summary);
    n += local ? local[1].split(', ').reduce((sum, part) => sum + Number(part.split('×')[1]), 0) : 1;
  }
  return n;
}

for (const localReads of [true, false]) {
  describe(localReads ? 'config reads answered in the sandbox process' : 'config reads answered by the server', () => {

    async function hostWith(limits: Partial<HostCallLimits> = {}) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-caps-'));
      const dbFile = path.join(dir, 'store.db');
      // The CPU budget is raised so that only the caps stop the flood, never the isolate's CPU limit.
      const local = await openLocalHost({ storeUrl: `sqlite:${dbFile}`, hostCallLimits: limits, sandbox: { localConfigReads: localReads, limits: { cpuMsPerCall: 20_000, wallMsPerCall: 60_000 } } });
      hosts.push({ local, dir });
      await local.load(writePlugin('flood', { 'index.js': FLOOD }), { apiKey: 'flood-key', apiSecret: 'flood-secret-value-1234' });
      await local.load(writePlugin('bystander', { 'index.js': BYSTANDER }), { apiKey: 'bystander-key' });
      const run = async (code: string) => {
        const r = await local.sandbox.invoke('flood', 'getFields', ['en', code]);
        if (!r.ok) throw new Error(`flood failed: ${r.error.kind}: ${r.error.message}`);
        return { value: r.value as Outcome, callId: r.callId };
      };
      const bystander = async (n: number) => {
        const r = await local.sandbox.invoke('bystander', 'getFields', ['en', n]);
        if (!r.ok) throw new Error(`bystander failed: ${r.error.kind}: ${r.error.message}`);
        return { value: r.value as { ok: number; refused: number }, callId: r.callId };
      };
      /** Rows in the audit table of the SQLite file itself, after the audit log is flushed. */
      const auditRows = async (where: string, ...params: string[]) => {
        await local.host.audit.flush();
        const db = new DatabaseSync(dbFile, { readOnly: true });
        try {
          return db.prepare(`SELECT capability, decision, rule, summary FROM audit_log WHERE ${where}`).all(...params) as { capability: string; decision: string; rule: string | null; summary: string }[];
        } finally {
          db.close();
        }
      };
      return { local, run, bystander, auditRows };
    }
    type Host = Awaited<ReturnType<typeof hostWith>>;

    describe('per plugin call: the number of host calls', () => {
      let h: Host;
      beforeAll(async () => { h = await hostWith(); });

      it('positive control: 150 config.get in one call are all answered and each is audited', async () => {
        const { value, callId } = await h.run(configGets(150));
        expect(value).toMatchObject({ answered: 150, refused: 0 });
        const rows = await h.auditRows('callId = ?', callId);
        expect(rows).toHaveLength(localReads ? 1 : 150);
        expect(auditedReads(rows)).toBe(150);
        expect(rows.every((r) => r.capability === 'config.get' && r.decision === 'allowed')).toBe(true);
      });

      it('20 000 config.get in one call: 200 answered, the rest refused with one clear error, and the audit table holds 202 rows for the call', async () => {
        const { value, callId } = await h.run(configGets(20_000));
        expect(value.answered).toBe(200);
        expect(value.refused).toBe(19_800);
        expect(value.rules).toEqual({ 'host.calls-per-call': 19_800 });
        expect(value.first).toEqual({
          code: 'HOST_DENIED', rule: 'host.calls-per-call',
          message: "config.get refused: plugin 'flood' has made the 200 host calls allowed in one call (getFields); the host's administrator can raise the limit with the server option hostCallsPerCall",
        });
        const rows = await h.auditRows('callId = ?', callId);
        expect(auditedReads(rows)).toBe(200);
        const denied = rows.filter((r) => r.decision === 'denied');
        // The first refusal, then one record with the count of the others.
        expect(denied).toHaveLength(2);
        expect(denied[0]).toMatchObject({ capability: 'config.get', rule: 'host.calls-per-call' });
        expect(denied.map((r) => r.summary).join('\n')).toContain('19799 more host calls refused in this call after the one recorded (host.calls-per-call: 19799)');
        expect(rows).toHaveLength(localReads ? 3 : 202);
      });

      it('the cap is per call: the next call of the same plugin is answered again', async () => {
        const { value } = await h.run(configGets(10));
        expect(value).toMatchObject({ answered: 10, refused: 0 });
      });

      it('a cron run gets the larger cronHostCallsPerRun: 300 host calls, more than a webhook may make, are all answered', async () => {
        const r = await h.local.sandbox.invoke('flood', 'cron', []);
        expect(r.ok && r.value).toEqual({ answered: 300, refused: 0, rules: {} });
      });

      it('unknown capabilities count too: 1 000 calls to made-up names leave at most 200 denials and 2 cap records', async () => {
        const { callId } = await h.run(`
          const all = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => host.call('made.up.' + i, {})));
          return { answered: 0, refused: all.length, rules: {} };`);
        const rows = await h.auditRows('callId = ?', callId);
        expect(rows.filter((r) => r.rule === 'unknown-capability')).toHaveLength(200);
        expect(rows.filter((r) => r.rule === 'host.calls-per-call')).toHaveLength(2);
      });
    });

    describe('per plugin per minute: one plugin at its cap leaves the others untouched', () => {
      let h: Host;
      beforeAll(async () => { h = await hostWith({ hostCallsPerMinute: 500 }); });

      it('flood uses up its minute; the bystander\'s host calls are all answered meanwhile', async () => {
        const first = await h.run(configGets(200));
        const second = await h.run(configGets(200));
        expect(first.value.answered + second.value.answered).toBe(400);
        const third = await h.run(configGets(200));
        expect(third.value).toMatchObject({ answered: 100, refused: 100, rules: { 'host.calls-per-minute': 100 } });
        expect(third.value.first?.message).toBe("config.get refused: plugin 'flood' has made the 500 host calls allowed per minute; retry later, or the host's administrator can raise the limit with the server option hostCallsPerMinute");
        const later = await Promise.all([h.run(configGets(150)), h.run(configGets(150)), h.run(configGets(150))]);
        expect(later.map((l) => l.value.answered)).toEqual([0, 0, 0]);

        // Measured on the other plugin: every one of its calls answered, with its value, and audited as allowed.
        const other = await h.bystander(150);
        expect(other.value).toEqual({ ok: 150, refused: 0 });
        const rows = await h.auditRows('callId = ?', other.callId);
        expect(auditedReads(rows)).toBe(150);
      });

      it('per-minute refusals of a plugin leave one record per window, however many calls were refused', async () => {
        const rows = await h.auditRows("plugin = 'flood' AND rule = 'host.calls-per-minute'");
        expect(rows).toHaveLength(1);
        expect(rows[0].summary).toContain('counted, one record per 60 s');
        // The count of the 100 + 450 refusals after the recorded one is written at the latest at shutdown.
        await h.local.host.audit.flush({ final: true });
        const after = await h.auditRows("plugin = 'flood' AND capability = 'host.caps'");
        expect(after).toHaveLength(1);
        expect(after[0].summary).toContain('549 host calls of plugin \'flood\' refused by its per-minute caps');
      });
    });

    describe('bytes: one call\'s arguments, and arguments and results over a call', () => {
      let h: Host;
      beforeAll(async () => { h = await hostWith({ hostCallArgBytes: 64 * 1024, hostCallBytesPerCall: 64 * 1024 }); });

      it('an argument over hostCallArgBytes is refused before it is read; a small one in the same call works', async () => {
        const { value } = await h.run(`
          let big;
          try { await config.get('k'.repeat(100000)); } catch (e) { big = { rule: e.rule, code: e.code, message: e.message }; }
          const small = await config.get('apiKey');
          return { big, small };`);
        expect(value).toEqual({
          small: 'flood-key',
          big: { rule: 'host.arg-bytes', code: 'HOST_DENIED', message: "config.get refused: its arguments are over the 65536-byte limit for one host call; send less, or the host's administrator can raise the limit with the server option hostCallArgBytes" },
        });
      });

      it('results count towards hostCallBytesPerCall: large config values run out the call\'s budget', async () => {
        await h.local.host.config.set('flood', 'apiKey', 'v'.repeat(8000));
        try {
          // One at a time: a result is charged when it comes back (calls already admitted are not recalled).
          const { value, callId } = await h.run(`
            let answered = 0; const rules = {}; let first;
            for (let i = 0; i < 50; i++) {
              try { await config.get('apiKey'); answered++; } catch (e) { rules[e.rule] = (rules[e.rule] || 0) + 1; first = first || { message: e.message, code: e.code, rule: e.rule }; }
            }
            return { answered, refused: 50 - answered, rules, first };`);
          // 8 000-byte answers into a 64 KiB budget: the ninth call still starts under it, the tenth does not.
          expect(value.answered).toBe(9);
          expect(value.rules).toEqual({ 'host.bytes-per-call': 41 });
          expect(value.first?.message).toMatch(/^config\.get refused: plugin 'flood' has exchanged 72\d{3} bytes of host-call arguments and results in one call \(getFields\), and \d+ more would pass the 65536-byte limit; the host's administrator can raise it with the server option hostCallBytesPerCall$/);
          const rows = await h.auditRows('callId = ? AND decision = ?', callId, 'denied');
          expect(rows).toHaveLength(2);
        } finally {
          await h.local.host.config.set('flood', 'apiKey', 'flood-key');
        }
      });

      it('a burst of concurrent calls cannot pull large results past the budget before they are counted', async () => {
        await h.local.host.config.set('flood', 'apiKey', 'v'.repeat(8000));
        try {
          const { value } = await h.run(configGets(200));
          // At most hostCallsInFlightPerCall (16) run before the first results are counted; without the
          // turns all 200 would be admitted at once and answered (1.6 MB against a 64 KiB budget).
          expect(value.answered).toBeGreaterThanOrEqual(9);
          expect(value.answered).toBeLessThanOrEqual(16);
          expect(value.rules).toEqual({ 'host.bytes-per-call': 200 - value.answered });
        } finally {
          await h.local.host.config.set('flood', 'apiKey', 'flood-key');
        }
      });

      it('arguments count towards hostCallBytesPerCall too', async () => {
        const { value } = await h.run(`
          const out = [];
          for (let i = 0; i < 5; i++) { try { await host.call('made.up', { pad: 'p'.repeat(20000) }); } catch (e) { out.push(e.rule); } }
          return out;`);
        expect(value).toEqual(['unknown-capability', 'unknown-capability', 'unknown-capability', 'host.bytes-per-call', 'host.bytes-per-call']);
      });
    });
  });
}
