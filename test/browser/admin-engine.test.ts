// The engine on the admin page in a real chromium: the plugin list names each plugin's engine, the
// plugin page shows it with where the choice comes from and offers exactly the engines the server
// reports; switching reloads the plugin there, and a switch the new engine refuses leaves the
// plugin running on its old one with the reason on the page.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

// Loads on isolated-vm and is refused on quickjs for a real reason (it needs Intl while loading).
const V8_ONLY_PLUGIN = path.resolve(import.meta.dirname, '../fixtures/plugins/intl-amounts');
let server: AdminServer;
let page: Page;
let session: AdminSession;

beforeAll(async () => {
  session = await openAdminSession({ signIn: true, acceptDialogs: true });
  ({ server, page } = session);
  expect(await server.host.registry.load(V8_ONLY_PLUGIN)).toMatchObject({ status: 'active' });
});
afterAll(async () => { await session?.close(); });

const engineCard = () => page.getByRole('region', { name: 'Engine' });
const runningOn = () => engineCard().locator('[data-engine]').getAttribute('data-engine');

describe('engine on the admin page', () => {
  it('the plugin list and the plugin page name the engine; only the server\'s engines are offered', async () => {
    await page.locator('.plugin-card[data-plugin="nimbuspay"]').getByText('engine: isolated-vm', { exact: true }).waitFor();
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay`);
    await engineCard().getByText("the server's default (option engine)", { exact: false }).waitFor();
    expect(await runningOn()).toBe('isolated-vm');
    const offered = await engineCard().getByLabel('Engine').locator('option').allTextContents();
    expect(offered).toEqual((await server.admin('GET', '/api/admin/plugins/nimbuspay')).json.engine.available);
    expect(offered).toEqual(['isolated-vm', 'quickjs']);
    // Nothing to switch to while the current engine is selected.
    expect(await engineCard().getByRole('button', { name: 'Switch engine' }).isDisabled()).toBe(true);
  });

  it('a switch the new engine refuses shows the reason and the plugin stays where it was', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/intl-amounts`);
    await engineCard().getByLabel('Engine').selectOption('quickjs');
    await engineCard().getByRole('button', { name: 'Switch engine' }).click();
    await engineCard().getByRole('alert').filter({ hasText: 'the plugin did not load on engine quickjs; it keeps running on isolated-vm' }).filter({ hasText: "'Intl' is not defined" }).waitFor();
    expect(await runningOn()).toBe('isolated-vm');
    expect((await server.admin('GET', '/api/admin/plugins/intl-amounts')).json).toMatchObject({ status: 'active', engine: { name: 'isolated-vm' } });
  });

  it('switching to an engine it loads on reloads it there', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay`);
    await engineCard().getByLabel('Engine').selectOption('quickjs');
    await engineCard().getByRole('button', { name: 'Switch engine' }).click();
    await engineCard().getByText('chosen on this page', { exact: false }).waitFor();
    expect(await runningOn()).toBe('quickjs');
    expect((await server.admin('GET', '/api/admin/plugins/nimbuspay')).json).toMatchObject({ status: 'active', health: { engine: 'quickjs' } });
  });

  it('an admin choice shows as such and can be handed back to the server options', async () => {
    expect((await server.admin('POST', '/api/admin/plugins/nimbuspay/engine', { engine: 'isolated-vm' })).status).toBe(200);
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay`);
    await page.reload();
    await engineCard().getByText('chosen on this page', { exact: false }).waitFor();
    await engineCard().getByRole('button', { name: "Use the server's setting" }).click();
    await engineCard().getByText("the server's default (option engine)", { exact: false }).waitFor();
    expect(await runningOn()).toBe('isolated-vm');
    expect(await engineCard().getByRole('button', { name: "Use the server's setting" }).count()).toBe(0);
    const audit = (await server.admin('GET', '/api/admin/audit?plugin=nimbuspay&capability=admin.plugin.engine')).json.records as { summary: string }[];
    expect(audit[0].summary).toBe('isolated-vm -> isolated-vm (choice cleared, options decide)');
  });
});
