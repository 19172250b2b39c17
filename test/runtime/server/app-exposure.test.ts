// What a host tells an unauthenticated caller about the plugins it runs: /payout_call/ answers one
// 404 for an unknown plugin, a refused one and an unknown callback; /metrics names no plugin unless
// the caller holds the metrics token (or the admin token), and requires it once it is set.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../runtime/server/host.ts';
import type { Host } from '../../../runtime/server/host.ts';
import { buildApp } from '../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';
import type { ServerOptions } from '../../../runtime/server/options.ts';

const ADMIN = 'admin-token-for-exposure-tests-0123';
const METRICS = 'metrics-token-for-exposure-tests-4567';
const fixture = fileURLToPath(new URL('../../fixtures/plugins/minimal', import.meta.url));

async function startHost(overrides: Partial<ServerOptions>, warnings: string[]): Promise<{ host: Host; app: FastifyInstance; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-exposure-'));
  const pluginsDir = path.join(dir, 'plugins');
  fs.cpSync(fixture, path.join(pluginsDir, 'visible-probe'), { recursive: true });
  // Refused at load: configure.js throws, so the plugin is known to the host but not active.
  fs.mkdirSync(path.join(pluginsDir, 'refused-probe'));
  fs.writeFileSync(path.join(pluginsDir, 'refused-probe', 'configure.js'), "throw new Error('broken on purpose');\n");
  fs.writeFileSync(path.join(pluginsDir, 'refused-probe', 'index.js'), 'module.exports = class {};\n');
  fs.writeFileSync(path.join(pluginsDir, 'refused-probe', 'callbacks.js'), 'module.exports = { url_final: async (q, s) => s.end("x") };\n');
  const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line); } });
  const host = await createHost(defaultServerOptions({
    dataDir: dir, dbUrl: `sqlite:${path.join(dir, 'store.db')}`, adminToken: ADMIN, pluginsDir, ...overrides,
  }), { logger });
  await host.start();
  const app = await buildApp(host);
  return { host, app, dir };
}

describe('an open /metrics (no metrics token) and /payout_call/ probing', () => {
  let env: Awaited<ReturnType<typeof startHost>>;
  const warnings: string[] = [];
  beforeAll(async () => { env = await startHost({}, warnings); });
  afterAll(async () => {
    await env.app.close();
    await env.host.close();
    fs.rmSync(env.dir, { recursive: true, force: true });
  });

  it('answers the same 404 for an unknown plugin, a refused plugin and an unknown callback', async () => {
    expect(env.host.registry.get('refused-probe')?.status).toBe('rejected');
    const probe = (url: string) => env.app.inject({ method: 'POST', url, payload: 'id=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const answers = await Promise.all(['/payout_call/never-installed/url_final/', '/payout_call/refused-probe/url_final/', '/payout_call/visible-probe/no_such_name/'].map(probe));
    const shape = (r: Awaited<ReturnType<typeof probe>>) => [r.statusCode, r.body, r.headers['content-type'], r.headers['content-length']];
    expect(answers.map(shape)).toEqual(Array(3).fill([404, '{"statusCode":404,"code":"CALLBACK_NOT_FOUND","message":"no such payout callback here","error":{"code":"CALLBACK_NOT_FOUND","message":"no such payout callback here","field":null}}', 'application/json; charset=utf-8', '179']));
    // Positive control: the active plugin's real callback runs.
    const ok = await probe('/payout_call/visible-probe/url_final/');
    expect([ok.statusCode, ok.body]).toEqual([200, 'ok {"id":"1"}']);
  });

  it('serves /metrics to anyone with the per-plugin series summed, so no plugin is named', async () => {
    await env.app.inject({ method: 'POST', url: '/payout_call/visible-probe/url_final/', payload: '' });
    const open = await env.app.inject({ method: 'GET', url: '/metrics' });
    expect(open.statusCode).toBe(200);
    expect(open.body).toMatch(/payout_sandbox_webhooks_total\{status="200"\} [1-9]/);
    expect(open.body).not.toMatch(/visible-probe|refused-probe|plugin="/);
    // The admin token sees them per plugin (positive control: the names are there to hide).
    const full = await env.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(full.body).toMatch(/payout_sandbox_webhooks_total\{plugin="visible-probe",status="200"\} [1-9]/);
    expect(warnings.join('')).toMatch(/\/metrics answers anyone, with per-plugin series summed.*PAYOUT_SANDBOX_METRICS_TOKEN/);
  });
});

describe('/metrics with a metrics token', () => {
  let env: Awaited<ReturnType<typeof startHost>>;
  const warnings: string[] = [];
  beforeAll(async () => { env = await startHost({ metricsToken: METRICS }, warnings); });
  afterAll(async () => {
    await env.app.close();
    await env.host.close();
    fs.rmSync(env.dir, { recursive: true, force: true });
  });

  it('refuses a caller without it (401, one line saying what to send) and serves the per-plugin view to its holder', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: METRICS }]) {
      const refused = await env.app.inject({ method: 'GET', url: '/metrics', headers });
      expect([refused.statusCode, refused.headers['www-authenticate']]).toEqual([401, 'Bearer']);
      expect(refused.json().error.message).toMatch(/^metrics token missing or wrong: send Authorization: Bearer <token>/);
      expect(refused.body).not.toContain(METRICS);
    }
    await env.app.inject({ method: 'POST', url: '/payout_call/visible-probe/url_final/', payload: '' });
    for (const token of [METRICS, ADMIN]) {
      const ok = await env.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toMatch(/plugin="visible-probe"/);
    }
    expect(warnings.join('')).not.toMatch(/\/metrics answers anyone/);
  });
});

describe('a flood against a real host with a small inbox quota', () => {
  let env: Awaited<ReturnType<typeof startHost>>;
  beforeAll(async () => { env = await startHost({ webhookInboxMaxRows: 3, webhookRetentionMs: 1 }, []); });
  afterAll(async () => {
    await env.app.close();
    await env.host.close();
    fs.rmSync(env.dir, { recursive: true, force: true });
  });

  it('refuses beyond the quota without storing, counts every refusal in /metrics, audits them once per window, and takes deliveries again once retention ran', async () => {
    const post = () => env.app.inject({ method: 'POST', url: '/payout_call/visible-probe/url_final/', payload: 'id=flood', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await post()).statusCode);
    expect(statuses).toEqual([200, 200, 200, ...Array(7).fill(429)]);
    expect(await env.host.store.webhookUsage('visible-probe')).toMatchObject({ rows: 3 });
    const metrics = await env.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(metrics.body).toMatch(/payout_sandbox_webhook_quota_refusals_total\{plugin="visible-probe",limit="rows"\} 7/);
    await env.host.hostApi.audit.flush();
    const lines = await env.host.store.queryAudit({ capability: 'webhook.quota' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ plugin: 'visible-probe', decision: 'denied', actor: 'system' });
    expect(lines[0].summary).toMatch(/^webhook refused, not stored: the webhook inbox of this plugin holds its maximum of 3 deliveries/);

    await new Promise((r) => setTimeout(r, 5));
    const report = await env.host.retention.runOnce();
    expect(report.expired.webhooks).toBe(3);
    expect((await post()).statusCode).toBe(200);
  });
});
