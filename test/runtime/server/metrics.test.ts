// /metrics on a real host: the counters that used to stay empty (host calls, cron runs) get
// samples from a real payout and a real cron run; the alert gauges (held orders, paused plugins,
// queue depth, sandbox restarts) follow the live state; and every series the README's example
// alert rules use is served, so the documented rules cannot silently point at nothing.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost;

const METRICS_TOKEN = 'metrics-scraper-token-0123456789';
// With the metrics token the scrape sees the per-plugin series (without it they are summed).
beforeAll(async () => { t = await startTestHost({ metricsToken: METRICS_TOKEN }); });
afterAll(async () => { await t?.close(); });

async function scrape(): Promise<string> {
  const res = await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one sample, or null when the series has no such sample. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

async function paidOrder(): Promise<number> {
  const created = await t.api('POST', '/api/public/exchanger/order/create', {
    routeId: t.routeId, amount: '10', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }],
  });
  expect(created.status).toBe(200);
  const uid = created.json.uid as number;
  expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' })).status).toBe(200);
  expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
  return uid;
}

describe('/metrics', () => {
  it('the alert gauges start at zero (positive control for the changes below)', async () => {
    const text = await scrape();
    expect(sample(text, 'payout_sandbox_orders_held')).toBe(0);
    expect(sample(text, 'payout_sandbox_plugins_paused')).toBe(0);
    expect(sample(text, 'payout_sandbox_sandbox_restarts')).toBe(0);
    expect(sample(text, 'payout_sandbox_host_calls_total', { capability: 'http.request' })).toBeNull();
  });

  it('a payout counts its host calls; a cron run counts as a run', async () => {
    t.provider.setBehaviour({ outcome: 'DONE', afterMs: 100, webhook: 'auto' });
    const uid = await paidOrder();
    await t.waitFor('the payout', async () => (await t.admin('GET', `/api/admin/orders/${uid}`)).json.order.status === 'done');
    expect((await t.admin('POST', '/api/admin/plugins/nimbuspay/cron/run')).status).toBe(200);
    await t.host.hostApi.audit.flush();
    const text = await scrape();
    expect(sample(text, 'payout_sandbox_host_calls_total', { capability: 'http.request', decision: 'allowed' })).toBeGreaterThan(0);
    expect(sample(text, 'payout_sandbox_cron_runs_total', { plugin: 'nimbuspay', result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'payout_sandbox_plugin_calls_queued', { plugin: 'nimbuspay' })).toBe(0);
    expect(sample(text, 'payout_sandbox_plugin_paused', { plugin: 'nimbuspay' })).toBe(0);
  });

  it('a held order shows in payout_sandbox_orders_held, and leaves it when resolved', async () => {
    t.provider.setBehaviour({ outcome: 'DONE', afterPolls: 100_000, webhook: 'manual' });
    const uid = await paidOrder();
    await t.waitFor('the accepted payout', async () => (await t.admin('GET', `/api/admin/orders/${uid}`)).json.attempts.some((a: { state: string }) => a.state === 'ACCEPTED'));
    expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'hold' })).status).toBe(200);
    expect(sample(await scrape(), 'payout_sandbox_orders_held')).toBe(1);
    await t.waitFor('the review', async () => (await t.admin('GET', `/api/admin/orders/${uid}`)).json.order.statusLock === 'resolve-hold');
    expect((await t.admin('POST', `/api/admin/orders/${uid}/resolve`, { resolution: 'paid', comment: 'checked with the provider' })).status).toBe(200);
    expect(sample(await scrape(), 'payout_sandbox_orders_held')).toBe(0);
  });

  it('serves every series the README\'s example alert rules use', async () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### Metrics and alerts'));
    const rules = /```yaml\n([\s\S]*?)\n```/.exec(section)?.[1] ?? '';
    const used = [...new Set(rules.match(/payout_sandbox_[a-z_]+/g) ?? [])];
    expect(used.length).toBeGreaterThanOrEqual(6);
    const text = await scrape();
    for (const name of used) expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  });
});
