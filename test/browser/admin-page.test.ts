// The admin page in a real chromium against a real server: sign-in, plugins (icon, currencies,
// network approvals), a plugin's own settings page saving through the bridge, orders (status
// moves, manual payout, resolving a hold), the plugin log and the audit log. Screenshots of the
// main pages go to test-artifacts/screenshots/; UPDATE_DOCS_SCREENSHOTS=1 also refreshes
// docs/admin-plugins.png for the README.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, Page } from 'playwright-core';
import { screenshotPath } from './helpers/browser.ts';
import { ADMIN_TOKEN } from './helpers/server.ts';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

let session: AdminSession;
let server: AdminServer;
let page: Page;

beforeAll(async () => {
  // Not signed in: the first test signs in. Dialogs: the page's own confirm() before status moves.
  session = await openAdminSession({ acceptDialogs: true });
  ({ server, page } = session);
});

afterAll(async () => { await session?.close(); });

/**
 * The settings frame of `key`. After a reload, pass the frame that was there: until the new
 * document replaces it, the old one is still listed, and a test acting on it waits for a notice
 * that never comes.
 */
async function frameOf(key: string, replaced?: Frame): Promise<Frame> {
  await page.locator('iframe.plugin-frame').waitFor();
  for (let i = 0; i < 100; i += 1) {
    const frame = page.frames().find((f) => f !== replaced && !f.isDetached() && f.url().includes(`/admin/plugin-frame/${key}`));
    if (frame) return frame;
    await page.waitForTimeout(50);
  }
  throw new Error(`no settings frame for ${key}`);
}

const configValue = async (key: string, name: string) => {
  const p = (await server.admin('GET', `/api/admin/plugins/${key}`)).json as { config: { key: string; value: unknown; set: boolean }[] };
  return p.config.find((c) => c.key === name);
};

async function waitForOrder(uid: number, status: string) {
  for (let i = 0; i < 200; i += 1) {
    const d = (await server.admin('GET', `/api/admin/orders/${uid}`)).json;
    if (d.order.status === status) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`order ${uid} never reached ${status}`);
}

describe('admin page', () => {
  it('signs in: a wrong token shows the server\'s message; the right one is kept in this tab\'s sessionStorage only', async () => {
    await page.goto(`${server.baseUrl}/admin/`);
    await page.getByLabel('Admin token').fill('not-the-admin-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'admin token missing or wrong' }).waitFor();
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.plugin-card').first().waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('payout-sandbox.admin-token'))).toBe(ADMIN_TOKEN);
    expect(await page.evaluate(() => [localStorage.length, (globalThis as unknown as { document: { cookie: string } }).document.cookie])).toEqual([0, '']);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
  });

  it('lists plugins with icon, currencies and status; a requested origin waits for approval, and can be approved and revoked', async () => {
    const nimbus = page.locator('.plugin-card[data-plugin="nimbuspay"]');
    await expect.poll(() => nimbus.locator('img.plugin-icon').evaluate((el) => {
      const img = el as unknown as { complete: boolean; naturalWidth: number };
      return img.complete ? img.naturalWidth : 0;
    })).toBeGreaterThan(0);
    expect(await nimbus.locator('img.plugin-icon').getAttribute('src')).toMatch(/^blob:/);
    expect(await nimbus.locator('.chip').allTextContents()).toEqual(['CARDUAH', 'USDTTRC20', 'USDTERC20', 'BTC']);
    await nimbus.getByText('active', { exact: true }).waitFor();

    const hostile = page.locator('.plugin-card[data-plugin="hostile-admin"]');
    await hostile.getByText('network: 1 waiting for approval').waitFor();
    const row = hostile.locator('tr', { hasText: 'https://api.hostile.example:443' });
    await row.getByText('waiting for approval').waitFor();
    await page.screenshot({ path: screenshotPath('plugins'), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
      fs.mkdirSync(path.resolve('docs'), { recursive: true });
      await page.screenshot({ path: path.resolve('docs/admin-plugins.png') });
    }

    await row.getByRole('button', { name: 'Approve' }).click();
    await row.getByText('approved', { exact: true }).waitFor();
    let grants = (await server.admin('GET', '/api/admin/plugins/hostile-admin')).json.network;
    expect(grants.granted.map((g: { origin: string }) => g.origin)).toEqual(['https://api.hostile.example:443']);
    expect(grants.waitingApproval).toEqual([]);

    // What the registry does when an update widens the request (here: more methods): the approval
    // is withdrawn, and the page shows the origin waiting again.
    const [{ updatedAt: _, ...grant }] = await server.host.store.listGrants('hostile-admin');
    await server.host.store.upsertGrant({ ...grant, methods: ['POST', 'PUT', 'DELETE'], approved: false, approvedBy: null, approvedAt: null });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row.getByText('waiting for approval').waitFor();
    await row.getByText('POST, PUT, DELETE').waitFor();
    await row.getByRole('button', { name: 'Approve' }).click();
    await row.getByText('approved', { exact: true }).waitFor();
  });

  it('revokes an approved origin: it goes back to waiting for approval', async () => {
    const row = page.locator('.plugin-card[data-plugin="hostile-admin"] tr', { hasText: 'https://api.hostile.example:443' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.locator('.badge', { hasText: 'waiting for approval' }).or(row.locator('.inline-error')).waitFor();
    expect(await row.locator('.inline-error').count(), `the server refused the revoke: ${await row.locator('.inline-error').allTextContents()}`).toBe(0);
    const grants = (await server.admin('GET', '/api/admin/plugins/hostile-admin')).json.network;
    expect(grants.granted).toEqual([]);
    expect(grants.waitingApproval).toEqual(['https://api.hostile.example:443']);
  });

  it('shows the API\'s own error when an action is refused', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/hostile-admin`);
    await page.getByPlaceholder('https://api.provider.example').fill('ftp://files.example');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    const error = page.locator('.network .inline-error');
    await error.waitFor();
    expect((await error.textContent())?.length).toBeGreaterThan(10);
  });

  it('orders: list, status moves offered from nextStatuses, a manual payout, history and attempts', async () => {
    const a = await server.createOrder('10');
    const b = await server.createOrder('25');
    const c = await server.createOrder('7');
    await page.goto(`${server.baseUrl}/admin/#/orders`);
    await page.locator('table.grid tbody tr').nth(2).waitFor();
    await page.screenshot({ path: screenshotPath('orders'), fullPage: true });

    await page.locator('table.grid tbody tr', { hasText: `#${a.uid}` }).click();
    await page.getByRole('heading', { name: `Order #${a.uid}` }).waitFor();
    const offered = async () => (await page.locator('button', { hasText: /^Move to / }).allTextContents()).map((t) => t.replace('Move to ', ''));
    const detail = (await server.admin('GET', `/api/admin/orders/${a.uid}`)).json;
    expect(await offered()).toEqual(detail.order.nextStatuses);

    await page.getByLabel('Comment (optional, kept in the history)').fill('customer paid');
    await page.getByRole('button', { name: 'Move to inProgress', exact: true }).click();
    await page.getByRole('button', { name: 'Move to inProgressPayout' }).waitFor();
    expect(await offered()).toEqual((await server.admin('GET', `/api/admin/orders/${a.uid}`)).json.order.nextStatuses);
    // The route has no autoPayout: entering inProgressPayout waits for the administrator to run
    // the payout; the example provider then settles it by webhook.
    await page.getByRole('button', { name: 'Move to inProgressPayout' }).click();
    await page.getByRole('button', { name: 'Run payout now' }).click();
    await waitForOrder(a.uid, 'done');
    await page.reload();
    await page.locator('h1 .badge', { hasText: 'done' }).waitFor();
    const sections = (name: string) => page.locator('section.card', { has: page.getByRole('heading', { name }) });
    expect(await sections('History').locator('tbody tr').count()).toBe(3);
    await sections('History').getByText('customer paid').waitFor();
    await sections('Payout attempts').getByText('SUCCEEDED').waitFor();
    expect(await sections('Payout transactions').locator('tbody tr').count()).toBe(1);
    await sections('Merchant notifications (IPN)').locator('tbody tr').first().waitFor();
    await page.getByText('done is final: no further status moves.').waitFor();
    await page.screenshot({ path: screenshotPath('order-detail'), fullPage: true });

    // Manual payout: an order that reached inProgressPayout without its payout being started
    // (as after a restart with the plugin down) waits until the administrator runs it.
    expect((await server.admin('POST', `/api/admin/orders/${c.uid}/status`, { status: 'inProgress' })).status).toBe(200);
    const moved = await server.host.store.transitionOrder({ orderId: c.orderId, expectStatus: ['inProgress'], toStatus: 'inProgressPayout', history: { actor: 'system', comment: 'test: entered payout without a start' } });
    expect(moved.ok).toBe(true);
    await page.goto(`${server.baseUrl}/admin/#/orders/${c.uid}`);
    await page.getByRole('button', { name: 'Run payout now' }).click();
    await page.getByRole('status').filter({ hasText: /^Payout / }).first().waitFor(); // the result, and the live 'in progress' hint while it runs
    await waitForOrder(c.uid, 'done');

    // A hold, resolved by the administrator with a reason.
    await page.goto(`${server.baseUrl}/admin/#/orders/${b.uid}`);
    await page.getByRole('button', { name: 'Move to inProgress', exact: true }).click();
    await page.getByRole('button', { name: 'Move to hold' }).click();
    await page.getByRole('button', { name: 'Resolve hold' }).waitFor();
    await page.getByLabel('Outcome').selectOption('not_paid');
    await page.getByRole('button', { name: 'Resolve hold' }).click();
    await page.getByRole('alert').filter({ hasText: 'Say why' }).waitFor();
    await page.getByLabel('Why (checked with the provider?)').fill('provider confirmed nothing was sent');
    await page.getByRole('button', { name: 'Resolve hold' }).click();
    await page.locator('h1 .badge', { hasText: 'errorPayout' }).waitFor();
    const held = (await server.admin('GET', `/api/admin/orders/${b.uid}`)).json;
    expect(held.order.status).toBe('errorPayout');
    expect(held.history.at(-1).comment).toContain('provider confirmed nothing was sent');
  });

  it('the example plugin\'s own settings page saves a key through the bridge; secrets stay write-only', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay`);
    const frame = await frameOf('nimbuspay');
    await frame.locator('#nimbus-api-key').waitFor();
    expect(await frame.locator('code').textContent()).toBe(`${server.baseUrl}/payout_call/nimbuspay/url_final/`);
    expect(await frame.locator('#nimbus-api-secret').getAttribute('placeholder')).toBe('Set (type a new value to replace it)');
    expect(await frame.content()).not.toContain(server.provider.credentials.apiSecret);

    await frame.locator('#nimbus-api-key').fill('key-from-the-admin-page');
    await frame.locator('#nimbus-api-key + button').click();
    await frame.getByText('Saved: apiKey').waitFor();
    expect((await configValue('nimbuspay', 'apiKey'))?.value).toBe('key-from-the-admin-page');
    await page.locator('ul.activity li.saved', { hasText: 'Saved apiKey = "key-from-the-admin-page"' }).waitFor();
    await page.locator('section.card', { hasText: 'Stored configuration' }).getByText('key-from-the-admin-page').waitFor();

    await frame.locator('#nimbus-api-secret').fill('a-new-api-secret-typed-by-the-admin');
    await frame.locator('#nimbus-api-secret + button').click();
    await frame.getByText('Saved: apiSecret').waitFor();
    expect(await server.host.hostApi.config.get('nimbuspay', 'apiSecret')).toBe('a-new-api-secret-typed-by-the-admin');
    await page.locator('ul.activity li.saved', { hasText: 'Saved apiSecret (secret, value not shown)' }).waitFor();
    expect(await page.locator('ul.activity').textContent()).not.toContain('a-new-api-secret-typed-by-the-admin');
    expect(await frame.locator('#nimbus-api-secret').inputValue()).toBe('');
    await page.screenshot({ path: screenshotPath('plugin-settings'), fullPage: true });
  });

  it('a template in the platform\'s documented style works unchanged: props, alert(\'Success\'), the secret mask', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/seedstyle`);
    let frame = await frameOf('seedstyle');
    await frame.locator('#seed-api-key').waitFor();
    expect(await frame.locator('#seed-webhook').textContent()).toBe(`http://127.0.0.1:${new URL(server.baseUrl).port}/payout_call/seedstyle/url_final/`);
    expect(await frame.locator('#seed-api-secret').getAttribute('placeholder')).toBe('');
    await frame.locator('#seed-api-key').fill('seed-key');
    await frame.locator('#seed-save-api-key').click();
    await frame.locator('#ps-notices').getByText('Success').waitFor();
    await frame.locator('#seed-api-secret').fill('seed-secret-value');
    await frame.locator('#seed-save-api-secret').click();
    await frame.locator('#ps-notices').getByText('Success').nth(1).waitFor();
    expect((await configValue('seedstyle', 'apiKey'))?.value).toBe('seed-key');
    expect(await server.host.hostApi.config.get('seedstyle', 'apiSecret')).toBe('seed-secret-value');

    // Reopened: the stored secret shows as the mask, never its value; saving the mask is refused.
    await page.getByRole('button', { name: 'Reload settings page' }).click();
    frame = await frameOf('seedstyle', frame);
    await frame.locator('#seed-api-secret').waitFor();
    expect(await frame.locator('#seed-api-secret').getAttribute('placeholder')).toBe('********');
    expect(await frame.content()).not.toContain('seed-secret-value');
    await frame.locator('#seed-api-secret').fill('********');
    await frame.locator('#seed-save-api-secret').click();
    await frame.locator('#ps-notices').getByText('Error').waitFor();
    await page.locator('ul.activity li.refused', { hasText: 'apiSecret is a secret' }).waitFor();
    expect(await server.host.hostApi.config.get('seedstyle', 'apiSecret')).toBe('seed-secret-value');
    await page.screenshot({ path: screenshotPath('plugin-settings-platform-style'), fullPage: true });
  });

  it('plugin log and audit log with filters', async () => {
    await page.goto(`${server.baseUrl}/admin/#/plugins/nimbuspay/log`);
    await page.getByRole('heading', { name: 'Plugin log: nimbuspay' }).waitFor();
    await page.locator('main table.grid, main .state.empty').first().waitFor();
    expect(await page.locator('main .state.error').count()).toBe(0);
    await page.screenshot({ path: screenshotPath('plugin-log'), fullPage: true });

    await page.goto(`${server.baseUrl}/admin/#/audit`);
    await page.locator('table.grid tbody tr').first().waitFor();
    await page.getByLabel('Capability').fill('admin.config.set');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain('capability=admin.config.set');
    await expect.poll(async () => new Set(await page.locator('table.grid tbody tr td:nth-child(4)').allTextContents())).toEqual(new Set(['admin.config.set']));
    await page.getByLabel('Plugin').fill('seedstyle');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => new Set(await page.locator('table.grid tbody tr td:nth-child(3)').allTextContents())).toEqual(new Set(['seedstyle']));
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(async () => (await page.locator('table.grid tbody tr td:nth-child(4)').allTextContents()).length).toBeGreaterThan(3);
    await page.getByLabel('Decision').selectOption('denied');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain('decision=denied');
    // The table is replaced when the filtered page arrives: wait for that, not for the old one.
    await expect.poll(async () => {
      if (await page.locator('.state.empty').count()) return true;
      const decisions = await page.locator('table.grid tbody tr td:nth-child(5) .badge:first-child').allTextContents();
      return decisions.length > 0 && decisions.every((d) => d === 'denied');
    }).toBe(true);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('table.grid tbody tr').first().waitFor();
    await page.screenshot({ path: screenshotPath('audit'), fullPage: true });
  });

  it('signs out: the token is gone from the tab', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('payout-sandbox.admin-token'))).toBeNull();
  });
});
