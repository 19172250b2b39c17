// The Swagger UI at /docs in a real chromium: every admin operation references the admin bearer
// scheme, so after "Authorize" a "Try it out" call on an admin route is sent with the token and
// answers 200 (before it, 401 — the positive control), and the 401 answer is documented.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN } from './helpers/server.ts';
import type { AdminServer } from './helpers/server.ts';
import { openAdminSession } from './helpers/session.ts';
import type { AdminSession } from './helpers/session.ts';

let server: AdminServer;
let page: Page;
let session: AdminSession;

beforeAll(async () => {
  session = await openAdminSession();
  ({ server, page } = session);
});
afterAll(async () => { await session?.close(); });

type Operation = { security?: unknown; responses?: Record<string, unknown> };

describe('Swagger UI and the admin API', () => {
  it('documents the admin scheme and the 401 on every admin operation, and on no public one', async () => {
    const doc = (await (await fetch(`${server.baseUrl}/docs/json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const admin = Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/admin/'));
    expect(admin.length).toBeGreaterThan(20);
    for (const [p, ops] of admin) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.security, `${method} ${p}`).toEqual([{ admin: [] }]);
        expect(op.responses?.['401'], `${method} ${p}`).toMatchObject({ description: expect.stringMatching(/^The admin token is missing or wrong/) });
      }
    }
    const create = doc.paths['/api/public/exchanger/order/create'].post;
    expect(create.security).toBeUndefined();
  });

  async function tryPluginsList(): Promise<string> {
    const op = page.locator('#operations-admin-get_api_admin_plugins');
    const tryOut = op.getByRole('button', { name: 'Try it out' });
    const execute = op.getByRole('button', { name: 'Execute' });
    // The operation opens with an animation: wait for its buttons rather than look once.
    if (!(await execute.isVisible())) {
      if (!(await tryOut.isVisible())) await op.locator('.opblock-summary').click();
      await tryOut.or(execute).first().waitFor();
      if (await tryOut.isVisible()) await tryOut.click();
    }
    await execute.click();
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    const text = (await status.textContent())!.trim();
    await op.getByRole('button', { name: 'Clear' }).click();
    return text;
  }

  it('"Try it out" on an admin route: 401 before Authorize, 200 with the token after it', async () => {
    await page.goto(`${server.baseUrl}/docs`);
    await page.locator('#operations-admin-get_api_admin_plugins').waitFor();
    expect(await tryPluginsList()).toMatch(/^401/);

    await page.locator('.btn.authorize').first().click();
    const dialog = page.locator('.dialog-ux');
    await dialog.locator('input[type="text"], input[type="password"]').first().fill(ADMIN_TOKEN);
    await dialog.locator('button.modal-btn.auth.authorize').click();
    await dialog.locator('button.btn-done').click();

    expect(await tryPluginsList()).toMatch(/^200/);
  });
});
