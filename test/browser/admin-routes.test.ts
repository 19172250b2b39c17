// The Routes page in a real chromium against a real server: the list, creating a route (with the
// server's own refusal shown beside the field first), editing it, and disabling it — checked
// through the merchant API, which must then refuse orders on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshotPath } from './helpers/browser.ts';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

let server: AdminServer;
let page: Page;
let session: AdminSession;

beforeAll(async () => {
  session = await openAdminSession({ signIn: true });
  ({ server, page } = session);
});
afterAll(async () => { await session?.close(); });

const routes = async () => (await server.admin('GET', '/api/admin/routes')).json.routes as Array<Record<string, unknown>>;

const orderOn = (routeId: string) => fetch(`${server.baseUrl}/api/public/exchanger/order/create`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ routeId, amount: '20', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }] }),
});

describe('Routes page', () => {
  it('lists the existing route from the navigation', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Routes' }).click();
    await page.getByRole('heading', { name: 'Routes', level: 1 }).waitFor();
    const row = page.locator('tr', { hasText: server.routeId });
    await row.getByText('USDTTRC20 → CARDUAH').waitFor();
    expect(await row.getByText('nimbuspay').count()).toBe(1);
    expect(await row.getByText('by hand').count()).toBe(1); // the helper's route has autoPayout off
  });

  it('creates a route; a refused one shows the server\'s reason and keeps what was typed', async () => {
    const form = page.getByRole('form', { name: 'New route' });
    await form.getByLabel('From (customer pays)').fill('BTC');
    await form.getByLabel('To (paid out)').fill('CARDUAH');
    await form.getByLabel('Payout currency').fill('UAH');
    await form.getByLabel('Rate').fill('4000000');
    await form.getByLabel('Min amount').fill('1');
    await form.getByLabel('Max amount').fill('0.5');
    await form.getByLabel('Payout plugin').selectOption('nimbuspay');
    await form.getByRole('button', { name: 'Create route' }).click();
    await form.getByRole('alert').filter({ hasText: 'minAmount 1 is greater than maxAmount 0.5' }).waitFor();
    expect(await form.getByLabel('Min amount').getAttribute('aria-invalid')).toBe('true');
    expect((await routes()).length).toBe(1); // positive control for the create below

    await form.getByLabel('Min amount').fill('0.001');
    await form.getByRole('button', { name: 'Create route' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved route BTC → CARDUAH' }).waitFor();
    const created = (await routes()).find((r) => r.fromXml === 'BTC');
    expect(created).toMatchObject({ toXml: 'CARDUAH', outSymbol: 'UAH', rate: '4000000', minAmount: '0.001', maxAmount: '0.5', payoutPlugin: 'nimbuspay', autoPayout: true, active: true });
    await page.locator('tr', { hasText: String(created!._id) }).waitFor();
    expect(await form.getByLabel('From (customer pays)').inputValue()).toBe(''); // the form is ready for the next one
  });

  it('edits a route: only the changed fields are sent, and the list shows the new values', async () => {
    const id = String((await routes()).find((r) => r.fromXml === 'BTC')!._id);
    await page.locator('tr', { hasText: id }).getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit route' });
    expect(await form.getByLabel('Rate').inputValue()).toBe('4000000');
    await form.getByLabel('Rate').fill('3900000');
    await form.getByLabel('Pay out automatically').uncheck();
    await form.getByRole('button', { name: 'Save route' }).click();
    await page.locator('tr', { hasText: id }).getByText('3900000 UAH').waitFor();
    expect((await routes()).find((r) => r._id === id)).toMatchObject({ rate: '3900000', autoPayout: false, fromXml: 'BTC' });
    const audit = (await server.admin('GET', '/api/admin/audit?capability=admin.route.update')).json.records as Array<{ summary: string }>;
    expect(audit[0].summary).toBe(`${id}: rate, autoPayout`);
  });

  it('disables a route (the merchant API then refuses orders on it) and enables it again', async () => {
    const ok = await orderOn(server.routeId);
    expect(ok.status).toBe(200); // positive control: the route takes orders before it is disabled
    const row = page.locator('tr', { hasText: server.routeId });
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    const refused = await orderOn(server.routeId);
    expect(refused.status).toBe(409);
    await page.screenshot({ path: screenshotPath('admin-routes'), fullPage: true });
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByText('open', { exact: true }).waitFor();
    expect((await orderOn(server.routeId)).status).toBe(200);
  });
});
