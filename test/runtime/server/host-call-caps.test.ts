// The host-call caps through a real server (createHost + buildApp, as `start` builds it): the
// attack was one anonymous webhook delivery making 20 000 config.get calls. The caps come from the
// server options (per-call caps left at their defaults, hostCallsPerMinute set here), the audit
// rows are counted in the server's own SQLite file, and a second plugin's webhook is served fully
// while the first is at its per-minute cap. apiKey is a shown key: its reads are answered in the
// sandbox process (host-api/config-snapshot.ts), which applies the same caps with the same words
// and reports the reads and refusals with the call: one allowed record per call names the key and
// the count; the refusals are audited by the caps as before.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../runtime/server/host.ts';
import type { Host } from '../../../runtime/server/host.ts';
import { buildApp } from '../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';
import { freePort } from '../../../sdk/harness.ts';
import { writePlugin, fixtureRoot } from '../../helpers/plugin-fixture.ts';
import { ON_QUICKJS, TEST_ENGINE } from '../../helpers/engine.ts';

const config = (key: string) => `const config = require('../../../modules/config/payout.config.js')('${key}');`;

// One delivery: 20 000 config.get at once (5 000 on QuickJS: it interprets the flood ≈10× slower
// and its CPU clock is the wall clock, so on a loaded machine 20 000 were cut by the call's CPU
// budget before the caps this file is about; 5 000 is still 25 times the per-call cap); the
// answer says what came back.
const FLOOD = ON_QUICKJS ? 5_000 : 20_000;
const FLOOD_CALLBACKS = `${config('flood')}
module.exports = {
  notify: async (req, res, param) => {
    const all = await Promise.allSettled(Array.from({ length: ${FLOOD} }, () => config.get('apiKey')));
    const refused = all.filter((r) => r.status === 'rejected');
    const rules = {};
    for (const r of refused) rules[r.reason.rule] = (rules[r.reason.rule] || 0) + 1;
    res.set('Content-Type', 'application/json');
    res.end(JSON.stringify({ answered: all.length - refused.length, rules, first: refused[0] && refused[0].reason.message }));
  },
};`;

// A platform webhook's worth of host calls: six.
const BYSTANDER_CALLBACKS = `${config('bystander')}
module.exports = {
  ping: async (req, res, param) => {
    const all = await Promise.allSettled(Array.from({ length: 6 }, () => config.get('apiKey')));
    res.end(JSON.stringify({ ok: all.filter((r) => r.status === 'fulfilled' && r.value === 'bystander-key').length, refused: all.filter((r) => r.status === 'rejected').length }));
  },
};`;

const HOST_CALLS_PER_MINUTE = 1000;
let host: Host;
let app: FastifyInstance;
let baseUrl = '';
let dataDir = '';

beforeAll(async () => {
  writePlugin('flood', { 'callbacks.js': FLOOD_CALLBACKS });
  writePlugin('bystander', { 'callbacks.js': BYSTANDER_CALLBACKS });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-caps-server-'));
  const port = await freePort();
  host = await createHost(defaultServerOptions({
    port, dataDir, dbUrl: `sqlite:${path.join(dataDir, 'store.db')}`, adminToken: 'caps-test-admin-token-0123456789', pluginsDir: fixtureRoot(),
    publicUrl: `http://127.0.0.1:${port}/`, sweepIntervalMs: 60_000, hostCallsPerMinute: HOST_CALLS_PER_MINUTE, engine: TEST_ENGINE,
    // The server's time on 140 000 refused host calls is charged to the plugin's CPU budget; on a
    // busy machine that budget, not the caps under test, would refuse the deliveries first.
    pluginCpuMsPerWindow: 600_000,
  }), { logger: pino({ level: 'silent' }) });
  await host.start();
  expect(host.registry.active('flood') && host.registry.active('bystander')).toBeTruthy();
  await host.hostApi.config.set('flood', 'apiKey', 'flood-key');
  await host.hostApi.config.set('bystander', 'apiKey', 'bystander-key');
  app = await buildApp(host);
  await app.listen({ port, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await app?.close();
  await host?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function deliver(plugin: string, callback: string) {
  const res = await fetch(`${baseUrl}/payout_call/${plugin}/${callback}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text);
}

/** Audit rows of a plugin in the server's SQLite file, after the audit log is flushed. */
async function auditRows(plugin: string) {
  await host.hostApi.audit.flush();
  const db = new DatabaseSync(path.join(dataDir, 'store.db'), { readOnly: true });
  try {
    return db.prepare('SELECT capability, decision, rule, callId, summary FROM audit_log WHERE plugin = ?').all(plugin) as { capability: string; decision: string; rule: string | null; callId: string | null; summary: string }[];
  } finally {
    db.close();
  }
}

/**
 * The webhook's answer goes out at res.end, a moment before its plugin call ends and the call's
 * refusal count is written: read the rows once the count records of `calls` calls are there.
 */
async function auditRowsAfter(plugin: string, calls: number) {
  for (let i = 0; i < 100; i++) {
    const rows = await auditRows(plugin);
    if (rows.filter((r) => r.capability === 'host.caps').length >= calls) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return auditRows(plugin);
}

describe('an anonymous webhook delivery making 20 000 config.get', () => {
  it('is stopped at the default 200 host calls per call, with two refusal records in the audit table', async () => {
    const answer = await deliver('flood', 'notify');
    expect(answer).toEqual({
      answered: 200, rules: { 'host.calls-per-call': FLOOD - 200 },
      first: "config.get refused: plugin 'flood' has made the 200 host calls allowed in one call (callback:notify); the host's administrator can raise the limit with the server option hostCallsPerCall",
    });
    const rows = await auditRowsAfter('flood', 1);
    expect(rows.filter((r) => r.decision === 'allowed').map((r) => [r.capability, r.summary])).toEqual([['config.get', 'callback:notify: answered in the sandbox process: key=apiKey×200']]);
    expect(rows.filter((r) => r.decision === 'denied').map((r) => [r.capability, r.rule])).toEqual([
      ['config.get', 'host.calls-per-call'], ['host.caps', 'host.calls-per-call'],
    ]);
  });

  it('repeated deliveries hit the per-minute cap; the other plugin\'s webhook is served in full meanwhile', async () => {
    // 200 answered per delivery until the plugin's minute (1 000 host calls) is used up.
    const answered = [];
    for (let i = 0; i < 5; i++) answered.push((await deliver('flood', 'notify')).answered);
    expect(answered).toEqual([200, 200, 200, 200, 0]);
    expect((await deliver('flood', 'notify')).rules).toEqual({ 'host.calls-per-minute': FLOOD });

    const other = await deliver('bystander', 'ping');
    expect(other).toEqual({ ok: 6, refused: 0 });
    // Written when the call ends, a moment after res.end sent the answer.
    let otherRows = await auditRows('bystander');
    for (let i = 0; i < 100 && otherRows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      otherRows = await auditRows('bystander');
    }
    expect(otherRows.map((r) => [r.decision, r.summary])).toEqual([['allowed', 'callback:ping: answered in the sandbox process: key=apiKey×6']]);

    // 7 deliveries, 7 × FLOOD host calls asked: 1 000 answered (one row for each delivery that read),
    // two rows for each delivery refused by the per-call cap, one for the plugin's per-minute refusals.
    const rows = await auditRowsAfter('flood', 5);
    expect(rows.filter((r) => r.decision === 'allowed')).toHaveLength(HOST_CALLS_PER_MINUTE / 200);
    expect(rows.filter((r) => r.rule === 'host.calls-per-call')).toHaveLength(5 * 2);
    expect(rows.filter((r) => r.rule === 'host.calls-per-minute')).toHaveLength(1);
    expect(rows).toHaveLength(HOST_CALLS_PER_MINUTE / 200 + 11);
  });
});
