// The audit page in a real chromium at a laptop's width: every column stays on screen (long
// unbroken summaries wrap instead of widening the table), and "Older records" pages through the
// log past any one page without repeating a record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshotPath } from './helpers/browser.ts';
import { signIn } from './helpers/server.ts';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

let session: AdminSession;
let server: AdminServer;
let page: Page;

beforeAll(async () => {
  session = await openAdminSession();
  ({ server, page } = session);
  for (let i = 0; i < 120; i += 1) {
    server.host.hostApi.audit.record({
      plugin: 'pager', actor: 'plugin:pager', callId: `call-${i}-0123456789abcdef`, capability: 'http.request', decision: 'denied', rule: 'http.not-granted',
      summary: i === 119 ? `GET https://${'a'.repeat(300)}.example/${'b'.repeat(300)}` : `record ${i}`, durationMs: 1.5,
    });
  }
  await server.host.hostApi.audit.flush();
  // Signed in only now, so that the page's first load already sees the records.
  await page.setViewportSize({ width: 1024, height: 800 });
  await signIn(page, server.baseUrl);
});

afterAll(async () => { await session?.close(); });

type El = { scrollWidth: number; clientWidth: number; getBoundingClientRect(): { right: number } };
/** The page and the audit table: neither may be wider than what shows of it. */
const widths = () => page.evaluate(() => {
  const doc = (globalThis as unknown as { document: { documentElement: El; querySelector(s: string): El } }).document;
  const wrap = doc.querySelector('.table-wrap');
  const table = doc.querySelector('table.grid.audit');
  return { page: doc.documentElement.scrollWidth - doc.documentElement.clientWidth, table: table.scrollWidth - wrap.clientWidth, right: table.getBoundingClientRect().right };
});

describe('audit page', () => {
  it('fits the window with a 600-character unbroken summary, and pages with Older records', async () => {
    await page.goto(`${server.baseUrl}/admin/#/audit?plugin=pager&limit=50`);
    const rows = page.locator('table.grid.audit tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByText('a'.repeat(50), { exact: false }).first().waitFor(); // the long summary is on this page
    const w = await widths();
    expect(w.page).toBeLessThanOrEqual(0);
    expect(w.table).toBeLessThanOrEqual(0);
    expect(w.right).toBeLessThanOrEqual(1024);

    await page.getByRole('button', { name: 'Older records' }).click();
    await expect.poll(() => rows.count()).toBe(100);
    await page.getByRole('button', { name: 'Older records' }).click();
    await expect.poll(() => rows.count()).toBe(120);
    await page.getByText('120 records shown — the oldest that match.').waitFor();
    expect(await page.getByRole('button', { name: 'Older records' }).count()).toBe(0);
    const calls = await page.locator('table.grid.audit tbody tr td:nth-child(7)').allTextContents();
    expect(new Set(calls).size).toBe(120);
    expect((await widths()).table).toBeLessThanOrEqual(0);
    await page.screenshot({ path: screenshotPath('audit-log') });
  });
});
