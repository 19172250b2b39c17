// An order whose payout is in flight, then held for review, on the admin page in a real chromium:
// the page offers only the moves the server accepts (pause while the payout runs; nothing but the
// Resolve form once it waits for review), follows the payout without a reload, and a move the
// server refuses meanwhile reloads the page instead of pointing at an API path.
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
  session = await openAdminSession({ signIn: true, acceptDialogs: true });
  ({ server, page } = session);
});
afterAll(async () => { await session?.close(); });

const moveButtons = () => page.getByRole('button', { name: /^Move to / });

async function paidOrder(): Promise<number> {
  const { uid } = await server.createOrder('10');
  expect((await server.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' })).status).toBe(200);
  expect((await server.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
  return uid;
}

describe('an order with a payout in flight, then on hold', () => {
  it('follows a running payout to done without a reload', async () => {
    server.provider.setBehaviour({ outcome: 'DONE', afterMs: 2500, webhook: 'auto' });
    const uid = await paidOrder();
    await page.goto(`${server.baseUrl}/admin/#/orders/${uid}`);
    await page.getByRole('button', { name: 'Run payout now' }).click();
    await page.getByRole('status').filter({ hasText: 'Payout in progress: this page updates itself' }).waitFor();
    // Positive control: while the payout runs, the server's only move is a pause.
    await page.locator('h1 .badge', { hasText: 'inProgressPayout' }).waitFor();
    // (The page shows the order a moment before the attempt that locks it: wait for both.)
    await expect.poll(() => moveButtons().allTextContents()).toEqual(['Move to hold']);
    // No reload from here on: the provider's webhook settles it and the page shows it.
    await page.locator('h1 .badge', { hasText: 'done' }).waitFor({ timeout: 20_000 });
    await page.locator('section.card', { has: page.getByRole('heading', { name: 'Payout attempts' }) }).getByText('SUCCEEDED').waitFor();
    expect(await page.getByText('this page updates itself').count()).toBe(0);
  });

  it('a held payout waiting for review offers no status move, only the Resolve form', async () => {
    // Accepted by the provider, never confirmed: the attempt stays live until the hold.
    server.provider.setBehaviour({ outcome: 'DONE', afterPolls: 100_000, webhook: 'manual' });
    const uid = await paidOrder();
    await page.goto(`${server.baseUrl}/admin/#/orders/${uid}`);
    await page.getByRole('button', { name: 'Run payout now' }).click();
    await page.locator('section.card', { has: page.getByRole('heading', { name: 'Payout attempts' }) }).getByText('ACCEPTED').waitFor();
    await expect.poll(() => moveButtons().allTextContents()).toEqual(['Move to hold']);

    await page.getByRole('button', { name: 'Move to hold' }).click();
    // The sweep turns the attempt into one waiting for review; the page follows without a reload.
    await page.getByText('its status changes only through "Resolve the hold" above').waitFor({ timeout: 20_000 });
    expect(await moveButtons().count()).toBe(0);
    const detail = (await server.admin('GET', `/api/admin/orders/${uid}`)).json;
    expect(detail.order).toMatchObject({ status: 'hold', nextStatuses: [], statusLock: 'resolve-hold' });
    // What the page no longer offers, the server indeed refuses.
    expect((await server.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'done' })).status).toBe(409);
    // The reviewer sees that the payout request left and what the provider answered.
    const attempts = page.locator('section.card', { has: page.getByRole('heading', { name: 'Payout attempts' }) });
    await attempts.getByText(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/payouts .*→ 20\d/).waitFor();
    await page.screenshot({ path: screenshotPath('order-held'), fullPage: true });

    await page.getByLabel('Outcome').selectOption('paid');
    await page.getByLabel('Why (checked with the provider?)').fill('provider dashboard shows it paid');
    await page.getByRole('button', { name: 'Resolve hold' }).click();
    await page.locator('h1 .badge', { hasText: 'done' }).waitFor();
  });

  it('a move the server refuses because the order changed meanwhile reloads the page', async () => {
    server.provider.setBehaviour({ outcome: 'DONE', afterPolls: 100_000, webhook: 'manual' });
    const { uid } = await server.createOrder('10');
    expect((await server.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' })).status).toBe(200);
    await page.goto(`${server.baseUrl}/admin/#/orders/${uid}`);
    await page.getByRole('button', { name: 'Move to hold' }).waitFor();
    // Meanwhile another administrator moves it on and its payout starts.
    expect((await server.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
    expect((await server.admin('POST', `/api/admin/orders/${uid}/payout`)).status).toBe(200);
    await page.getByRole('button', { name: 'Move to returned' }).click();
    await page.locator('h1 .badge', { hasText: 'inProgressPayout' }).waitFor();
    // (The page shows the order a moment before the attempt that locks it: wait for both.)
    await expect.poll(() => moveButtons().allTextContents()).toEqual(['Move to hold']);
  });
});
