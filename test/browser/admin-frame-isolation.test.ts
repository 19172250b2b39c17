// A hostile plugin settings page (test/fixtures/plugins/hostile-admin) in a real chromium: every way
// it tries to act as the administrator or get data out must fail. The loopback trap server is the
// judge for anything that would leave the frame: it must receive no byte. (It may see a bare TCP
// connection: Chromium preconnects to the target of a frame navigation before CSP cancels it —
// a browser side channel no page can close; see the admin page section of the README.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, Page } from 'playwright-core';
import { launchBrowser, screenshotPath } from './helpers/browser.ts';
import type { Browser } from './helpers/browser.ts';
import { ADMIN_TOKEN, startAdminServer } from './helpers/server.ts';
import type { AdminServer } from './helpers/server.ts';
import { startTrap } from './helpers/trap.ts';
import type { Trap } from './helpers/trap.ts';

let server: AdminServer;
let browser: Browser;
let trap: Trap;

beforeAll(async () => {
  trap = await startTrap();
  server = await startAdminServer();
  // The only way the fixture learns where the trap is: its own (non-secret) config.
  expect((await server.admin('POST', '/api/admin/merchant-and-payout/set-config-payout', { payoutKey: 'hostile-admin', key: 'trapUrl', value: trap.url })).status).toBe(200);
  browser = await launchBrowser();
  // Positive control: unrestricted, this browser does reach the trap, and the trap sees it.
  const control = await browser.context.newPage();
  await control.goto(`${trap.url}/control`);
  await control.close();
  await new Promise((r) => setTimeout(r, 300)); // the tab's favicon request, if any, lands now
  expect(trap.requests).toContain('GET /control HTTP/1.1');
  expect(trap.bytes).toBeGreaterThan(0);
  trap.reset();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await trap?.close();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.baseUrl}/admin/`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.plugin-card').first().waitFor();
}

async function settingsFrame(page: Page, key: string): Promise<Frame> {
  await page.locator('iframe.plugin-frame').waitFor();
  for (let i = 0; i < 100; i += 1) {
    const frame = page.frames().find((f) => f.url().includes(`/admin/plugin-frame/${key}`));
    if (frame) return frame;
    await page.waitForTimeout(50);
  }
  throw new Error(`no settings frame for ${key}`);
}

describe('plugin settings frame isolation', () => {
  it('serves the frame by URL with its own strict CSP and sandbox; the admin page frames nothing else', async () => {
    const info = (await server.admin('GET', '/api/admin/plugins/hostile-admin/frame')).json;
    expect(info.frameUrl).toMatch(/^\/admin\/plugin-frame\/hostile-admin\?t=/);
    const res = await fetch(server.baseUrl + info.frameUrl);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual([
      `${server.baseUrl}/admin/vendor/vue.global.js`, `${server.baseUrl}/admin/ui/frame/frame-runtime.js`,
      `${server.baseUrl}/admin/plugin-frame/hostile-admin/template.js`, "'unsafe-eval'",
    ]);
    expect(directives['connect-src']).toEqual(["'none'"]);
    expect(directives['img-src']).toEqual(['data:']);
    expect(directives['form-action']).toEqual(["'none'"]);
    expect(directives['base-uri']).toEqual(["'none'"]);
    expect(directives['frame-ancestors']).toEqual(["'self'"]);
    expect(directives.sandbox).toEqual(['allow-scripts']);
    expect(directives['style-src']).toEqual([`${server.baseUrl}/admin/ui/frame/frame.css`, "'unsafe-inline'"]);
    expect(directives['font-src']).toEqual(["'none'"]);
    expect(directives['frame-src']).toEqual(["'none'"]);
    expect(directives['worker-src']).toEqual(["'none'"]);
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script at all
    expect(html).not.toContain(ADMIN_TOKEN);

    const page = await fetch(`${server.baseUrl}/admin/`);
    const pageCsp = page.headers.get('content-security-policy') ?? '';
    expect(pageCsp).toContain("script-src 'self';");
    expect(pageCsp).not.toContain('unsafe-eval');
    expect(pageCsp).toContain(`frame-src ${server.baseUrl}/admin/plugin-frame/;`);
    expect(pageCsp).toContain("frame-ancestors 'none'");

    // No ticket, a forged one, or no token: nothing.
    expect((await fetch(`${server.baseUrl}/admin/plugin-frame/hostile-admin`)).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/admin/plugin-frame/hostile-admin?t=9999999999.forged`)).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/admin/plugin-frame/hostile-admin/template.js`)).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/api/admin/plugins/hostile-admin/frame`)).status).toBe(401);

    // Secrets reach the frame's props only as "set" (the mask) or "not set" ('').
    const nimbus = (await server.admin('GET', '/api/admin/plugins/nimbuspay/frame')).json;
    expect(nimbus.props.config.apiSecret).toBe('********');
    expect(JSON.stringify(nimbus)).not.toContain(server.provider.credentials.apiSecret);
    expect(info.props.config.apiSecret).toBe('');
  });

  it('runs the hostile template: every attempt fails, nothing reaches the trap, the token never enters the frame', async () => {
    const page = await browser.context.newPage();
    const popups: string[] = [];
    browser.context.on('page', (p) => popups.push(p.url()));
    await signIn(page);
    await page.goto(`${server.baseUrl}/admin/#/plugins/hostile-admin`);
    const adminUrl = page.url();
    expect(await page.locator('iframe.plugin-frame').getAttribute('sandbox')).toBe('allow-scripts');
    const frame = await settingsFrame(page, 'hostile-admin');
    await frame.locator('#hostile-state', { hasText: 'done' }).waitFor({ timeout: 90_000 });

    const hostile = await frame.evaluate(() => (globalThis as unknown as { __hostile: { results: { name: string; blocked: boolean; detail: string }[]; haystack: string } }).__hostile);
    const attempts = hostile.results.filter((r) => r.name !== 'save its own declared key');
    expect(attempts.length).toBeGreaterThan(35);
    for (const r of attempts) expect(r.blocked, `${r.name}: ${r.detail}`).toBe(true);
    // The bridge still works for what the frame may do, and alert() shows inside the frame.
    expect(hostile.results.find((r) => r.name === 'save its own declared key')).toMatchObject({ blocked: false });
    await frame.locator('#ps-notices', { hasText: 'Success' }).waitFor();

    // The same attacks with a real user gesture (a click by the admin).
    await frame.locator('#template-submit').click();
    await frame.locator('#template-top-link').click();
    await frame.locator('#template-blank-link').click();
    await page.waitForTimeout(1500);

    expect(trap.requests).toEqual([]);
    expect(trap.bytes).toBe(0);
    expect(page.url()).toBe(adminUrl);
    expect(popups).toEqual([]);
    expect(hostile.haystack).not.toContain(ADMIN_TOKEN);
    expect(await frame.content()).not.toContain(ADMIN_TOKEN);
    expect(await page.evaluate(() => sessionStorage.getItem('payout-sandbox.admin-token'))).toBe(ADMIN_TOKEN);

    // The parent refused the forged requests and says why.
    const activity = page.locator('ul.activity');
    await expect.poll(() => activity.textContent()).toContain('Saved note');
    const log = (await activity.textContent()) ?? '';
    expect(log).toContain('payoutKey "nimbuspay" refused');
    expect(log).toContain('key "adminToken" is not declared');
    expect(log).toContain('path "admin/plugins/hostile-admin/grants" is not allowed');

    // Nothing changed but the one declared key it saved.
    const nimbus = (await server.admin('GET', '/api/admin/plugins/nimbuspay')).json;
    const value = (p: { config: { key: string; value: unknown }[] }, k: string) => p.config.find((c) => c.key === k)?.value;
    expect(value(nimbus, 'apiUrl')).toBe(server.provider.url);
    expect(value(nimbus, 'debug')).toBe('0');
    const self = (await server.admin('GET', '/api/admin/plugins/hostile-admin')).json;
    expect(value(self, 'note')).toBe('saved by the settings page');
    expect(value(self, 'trapUrl')).toBe(trap.url);
    expect(self.network.granted).toEqual([]);
    const audit = (await server.admin('GET', '/api/admin/audit?capability=admin.config.set')).json.records as { plugin: string; summary: string }[];
    expect(audit.filter((r) => r.plugin === 'nimbuspay')).toEqual([]);
    expect(new Set(audit.filter((r) => r.plugin === 'hostile-admin').map((r) => r.summary))).toEqual(new Set(['note', 'trapUrl']));

    await page.screenshot({ path: screenshotPath('hostile-plugin-settings'), fullPage: true });
    await page.close();
  });

  it('stops the frame navigating itself: nothing is sent to an outside URL, and a second page in the frame gets nothing', async () => {
    const page = await browser.context.newPage();
    await signIn(page);
    await page.goto(`${server.baseUrl}/admin/#/plugins/hostile-admin`);
    const adminUrl = page.url();
    let frame = await settingsFrame(page, 'hostile-admin');
    await frame.locator('#hostile-state', { hasText: 'done' }).waitFor({ timeout: 90_000 });
    await frame.locator('#nav-self').click();
    await page.waitForTimeout(1500);
    expect(trap.requests).toEqual([]);
    expect(trap.bytes).toBe(0);
    expect(page.url()).toBe(adminUrl);

    // Reopen (the blocked navigation may have cost the frame its document), then navigate the
    // frame to another plugin's settings URL, which the page's frame-src does allow.
    await page.getByRole('button', { name: 'Reload settings page' }).click();
    frame = await settingsFrame(page, 'hostile-admin');
    await frame.locator('#hostile-state', { hasText: 'done' }).waitFor({ timeout: 90_000 });
    await frame.locator('#nav-other-frame').click();
    await page.locator('.settings-frame .state.error', { hasText: 'tried to load another page' }).waitFor();
    expect(await page.locator('iframe.plugin-frame').count()).toBe(0);
    expect(page.url()).toBe(adminUrl);
    await page.close();
  });

  it('opened directly in a tab, the frame is still sandboxed by its CSP: opaque origin, no storage, no bridge', async () => {
    const info = (await server.admin('GET', '/api/admin/plugins/nimbuspay/frame')).json;
    const page = await browser.context.newPage();
    await page.goto(server.baseUrl + info.frameUrl);
    expect(await page.evaluate(() => (globalThis as unknown as { origin: string }).origin)).toBe('null');
    expect(await page.evaluate(() => { try { return String(localStorage.length); } catch (err) { return (err as Error).name; } })).toBe('SecurityError');
    expect(await page.evaluate(() => {
      try {
        return (globalThis as unknown as { document: { cookie: string } }).document.cookie;
      } catch (err) {
        return (err as Error).name;
      }
    })).toBe('SecurityError');
    await page.locator('#ps-frame-status', { hasText: 'open it from the admin page' }).waitFor();
    await page.close();
  });
});
