// One admin page in a real chromium against a real server: what most browser tests start from.
import type { Page } from 'playwright-core';
import { launchBrowser } from './browser.ts';
import type { Browser } from './browser.ts';
import { signIn, startAdminServer } from './server.ts';
import type { AdminServer } from './server.ts';

export interface AdminSession {
  server: AdminServer;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** `signIn`: signed in and on the plugin list; `acceptDialogs`: the page's own confirm()s are accepted. */
export async function openAdminSession(o: { signIn?: boolean; acceptDialogs?: boolean } = {}): Promise<AdminSession> {
  const server = await startAdminServer();
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  if (o.acceptDialogs) page.on('dialog', (dialog) => void dialog.accept());
  if (o.signIn) await signIn(page, server.baseUrl);
  return {
    server, browser, page,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
