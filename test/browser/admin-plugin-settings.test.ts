// A plugin's status and settings on the admin page in a real chromium: a loaded plugin with empty
// settings is "not configured", not "active"; every declared key can be set from the stored
// configuration table, also one the plugin's own settings page has no field for; a plugin with no
// grant says its requests are refused and which origins its code names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

let server: AdminServer;
let page: Page;
let session: AdminSession;

beforeAll(async () => {
  session = await openAdminSession({ signIn: true, acceptDialogs: true });
  ({ server, page } = session);
});
afterAll(async () => { await session?.close(); });

const config = async (key: string) => (await server.admin('GET', `/api/admin/plugins/${key}`)).json.config as { key: string; value: unknown; set: boolean }[];

describe('plugin status and settings', () => {
  it('a plugin with empty settings is "not configured", a configured one "active"', async () => {
    const seed = page.locator('.plugin-card[data-plugin="seedstyle"]');
    const badge = seed.getByText('not configured', { exact: true });
    await badge.waitFor();
    expect(await badge.getAttribute('title')).toContain('Empty settings: apiKey, apiSecret');
    expect(await seed.getByText('active', { exact: true }).count()).toBe(0);
    await page.locator('.plugin-card[data-plugin="nimbuspay"]').getByText('active', { exact: true }).waitFor();
  });

  it('sets a key the settings page has no field for, and a secret, from the stored configuration table', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/seedstyle`);
    await page.getByRole('alert').filter({ hasText: 'Not configured: apiKey, apiSecret are empty.' }).waitFor();
    const row = (key: string) => page.locator('tr', { has: page.getByLabel(`New value for ${key}`) });
    await page.getByLabel('New value for apiKey').fill('seed-key-1');
    await row('apiKey').getByRole('button', { name: 'Save' }).click();
    await row('apiKey').getByText('seed-key-1').waitFor();
    await page.getByLabel('New value for apiSecret').fill('seed-secret-value-1');
    await row('apiSecret').getByRole('button', { name: 'Save' }).click();
    await row('apiSecret').getByText('set', { exact: true }).waitFor();
    expect(await page.getByText('seed-secret-value-1').count()).toBe(0);
    expect((await config('seedstyle')).find((c) => c.key === 'apiSecret')).toMatchObject({ set: true, value: null });
    await page.locator('h1 + div').getByText('active', { exact: true }).waitFor();
    expect(await page.getByText('Not configured:').count()).toBe(0);

    // nimbuspay has its own settings page; the table still sets any declared key.
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay`);
    await page.getByLabel('New value for debug').fill('1');
    await row('debug').getByRole('button', { name: 'Save' }).click();
    await row('debug').getByText('Saved').waitFor();
    expect((await config('nimbuspay')).find((c) => c.key === 'debug')?.value).toBe('1');
  });

  it('with no grant, says every request is refused and names the origins its code uses', async () => {
    const granted = (await server.admin('GET', '/api/admin/plugins/nimbuspay')).json.network.granted as { origin: string }[];
    for (const g of granted) expect((await server.admin('POST', '/api/admin/plugins/nimbuspay/grants/revoke', { origin: g.origin })).status).toBe(200);
    await page.reload();
    await page.getByText('No origin is granted: every request it makes is refused. Its code names https://api.nimbuspay.example:443').waitFor();
    expect(await page.getByText('asks for no network access').count()).toBe(0);
  });
});
