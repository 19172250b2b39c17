// The admin page's install and approval views in a real chromium against a real server: the
// platform-style form stages a package from a fake npm registry on 127.0.0.1 and shows the report
// (skipped install scripts included) before anything is installed; Confirm installs it; a widened
// update waits while the old version keeps serving, and is approved from the plugins list after its
// review; a folder changed on disk is refused as tampered, reviewed and approved from the plugin
// page; Rollback restores the kept version. The deploy token never stays in the DOM or in storage.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshotPath } from './helpers/browser.ts';
import type { Browser } from './helpers/browser.ts';
import { ADMIN_TOKEN, startAdminServer } from './helpers/server.ts';
import type { AdminServer } from './helpers/server.ts';
import { DEFAULT_CONFIGURE } from '../helpers/plugin-fixture.ts';
import { packTgz, pluginPackage, startFakeRegistry, tmpDir } from '../runtime/install/install-helpers.ts';
import type { FakeRegistry } from '../runtime/install/install-helpers.ts';

const DEPLOY_TOKEN = 'npm-deploy-token-4c8e1a7f93b2d6';
const PKG = '@acme/payout-acmepay';
const KEY = 'acmepay';
const ORIGIN = 'https://api.acmepay.example:443';
const CONFIGURE_V1 = DEFAULT_CONFIGURE.replace("title = 'Fixture'", "title = 'AcmePay'");
// v2 asks for more: a network origin and a new secret config key.
const CONFIGURE_V2 = `${CONFIGURE_V1
  .replace("default_config = { apiKey: '', apiSecret: '' }", "default_config = { apiKey: '', apiSecret: '', webhookSecret: '' }")
  .replace('required_config = { apiKey: 1, apiSecret: 2 }', 'required_config = { apiKey: 1, apiSecret: 2, webhookSecret: 2 }')}
module.exports.network = ['https://api.acmepay.example'];
`;

let server: AdminServer;
let npm: FakeRegistry;
let browser: Browser;
let page: Page;
let work: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  work = tmpDir('admin-install-browser');
  npm = await startFakeRegistry({ token: DEPLOY_TOKEN });
  // The server's registry is the fake one; loopback must be allowed for it explicitly.
  server = await startAdminServer({ npmRegistry: npm.url, npmAllowLoopback: true });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('dialog', (dialog) => void dialog.accept()); // the page's own confirm() before a rollback
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Console errors other than the browser's note on each refused API request (CSP violations, Vue warnings).
  page.on('console', (msg) => { if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text()); });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await npm?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const marker = () => path.join(work, 'INSTALL-SCRIPT-RAN');
const pluginDir = () => path.join(server.host.options.pluginsDir, KEY);
/** What the running plugin answers: tells the versions apart. */
async function label(): Promise<string> {
  const r = await server.host.sandbox.invoke(KEY, 'getFields', ['en', 'CARDUAH']);
  return r.ok ? (r.value as { name: string }[])[0].name : `error: ${r.error.message}`;
}
function publish(version: string, name: string, configure: string) {
  // Tarball URLs on the registry's own origin, as npmjs.org serves them (and so the token goes there).
  npm.publish(PKG, version, packTgz(pluginPackage({ name: PKG, version, label: name, configure, marker: marker() })), { tag: 'stable' });
}
async function fillForm(token: string) {
  await page.goto(`${server.baseUrl}/admin/#/install`);
  await page.reload(); // a fresh form even when the page already showed #/install (a hash change alone keeps it)
  await page.getByLabel('Package name').fill(PKG);
  await page.getByLabel('Folder name (key)').fill(KEY);
  await page.getByLabel('Deploy token').fill(token);
  await page.getByLabel('Tag or version').fill('stable');
  await page.getByRole('button', { name: 'Check package' }).click();
}
/** The token must be nowhere the page keeps things once the stage request has left. */
async function expectTokenGone() {
  const kept = await page.evaluate(() => {
    const g = globalThis as unknown as { sessionStorage: Storage; localStorage: Storage; document: { documentElement: { outerHTML: string }; cookie: string; querySelectorAll(s: string): { value: string }[] } };
    const dump = (s: Storage) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`).join('\n');
    return [dump(g.sessionStorage), dump(g.localStorage), g.document.cookie, g.document.documentElement.outerHTML,
      Array.from(g.document.querySelectorAll('input')).map((i) => i.value).join('\n')].join('\n');
  });
  expect(kept).not.toContain(DEPLOY_TOKEN);
  expect(page.url()).not.toContain(DEPLOY_TOKEN);
}

describe('install and approve plugins from the admin page', () => {
  it('signs in; a refused deploy token shows the API\'s message and is cleared from the form', async () => {
    publish('1.0.0', 'Card v1', CONFIGURE_V1);
    await page.goto(`${server.baseUrl}/admin/`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.plugin-card').first().waitFor();
    await page.getByRole('link', { name: 'Install plugin' }).first().click();
    await page.getByRole('heading', { name: 'Install plugin' }).waitFor();

    await fillForm('not-the-deploy-token');
    await page.getByRole('alert').filter({ hasText: 'the token was not accepted' }).waitFor();
    expect(await page.getByLabel('Deploy token').inputValue()).toBe('');
    await page.screenshot({ path: screenshotPath('install-form'), fullPage: true });
    expect(await page.getByLabel('Deploy token').getAttribute('aria-invalid')).toBe('true');
    expect(await page.content()).not.toContain('not-the-deploy-token');
    expect(fs.existsSync(pluginDir())).toBe(false);
  });

  it('stages through the form and shows the report before anything is installed; Confirm installs it', async () => {
    await fillForm(DEPLOY_TOKEN);
    const report = page.locator('.install-report');
    await report.waitFor();
    await expectTokenGone();
    expect(await page.getByLabel('Deploy token').count()).toBe(0);
    // The registry got the token, as a Bearer header.
    expect(npm.requests.filter((r) => r.authorization === `Bearer ${DEPLOY_TOKEN}`).map((r) => r.url)).toEqual([
      '/@acme%2fpayout-acmepay', '/tarballs/@acme-payout-acmepay-1.0.0.tgz',
    ]);

    await report.getByRole('heading', { name: `Review ${PKG}@1.0.0 new install` }).waitFor();
    const scripts = report.locator('section.card', { has: page.getByRole('heading', { name: 'Lifecycle scripts that were NOT run' }) });
    expect(await scripts.locator('tbody tr').allInnerTexts()).toEqual([
      'preinstall\tnode scripts/install-hook.js preinstall', 'postinstall\tnode scripts/install-hook.js postinstall',
    ]);
    await scripts.getByText('left-pad').waitFor();
    await report.locator('section.card', { hasText: 'Warnings' }).getByText(/dependencies are never installed \(left-pad\)/).waitFor();
    const asks = report.locator('section.card', { has: page.getByRole('heading', { name: 'What it asks for' }) });
    await asks.getByText('apiSecret (secret)').waitFor();
    const review = report.locator('section.card', { has: page.getByRole('heading', { name: "Reviewer's report" }) });
    await review.getByText('reads secret config (apiSecret) inside the sandbox').waitFor();
    // The one-line summary on top, and where each secret is read, from the approved capability set.
    await review.locator('.report-summary').getByText(/reads secrets apiSecret/).waitFor();
    await review.locator('dd, td, div.mono', { hasText: /^apiSecret at / }).first().waitFor();
    await review.locator('tr', { hasText: 'apiKey' }).waitFor();
    // Staged only: no folder yet, no script ran.
    expect(fs.existsSync(pluginDir())).toBe(false);
    expect(fs.existsSync(marker())).toBe(false);
    await page.screenshot({ path: screenshotPath('install-report'), fullPage: true });

    await page.getByRole('button', { name: 'Confirm' }).click();
    const result = page.locator('.install-result[data-status="installed"]');
    await result.getByText(`Plugin ${KEY} is active.`).waitFor();
    expect(await label()).toBe('Card v1');
    expect(fs.existsSync(marker())).toBe(false);
    await page.screenshot({ path: screenshotPath('install-result'), fullPage: true });

    await result.getByRole('link', { name: `Open ${KEY}` }).click();
    await page.getByRole('heading', { name: `AcmePay ${KEY}` }).waitFor();
    // Running, with its settings still empty (nothing was configured yet).
    await page.locator('main h1 + div .badge', { hasText: 'not configured' }).waitFor();
    const versions = page.locator('section.versions');
    await versions.locator('tr', { hasText: `${PKG}@1.0.0` }).getByText('approved, running').waitFor();
    await versions.getByText('preinstall, postinstall').waitFor();

    await page.goto(`${server.baseUrl}/admin/#/plugins`);
    await page.locator(`.plugin-card[data-plugin="${KEY}"]`).getByText('not configured', { exact: true }).waitFor();
    await expectTokenGone();
  });

  it('a widened update is shown as needing approval and waits; the old version keeps serving until it is approved from the list', async () => {
    publish('2.0.0', 'Card v2', CONFIGURE_V2);
    await fillForm(DEPLOY_TOKEN);
    const report = page.locator('.install-report');
    await report.getByRole('heading', { name: `Review ${PKG}@2.0.0 update that needs approval` }).waitFor();
    const widened = report.locator('section.card', { has: page.getByRole('heading', { name: 'What widens compared with the approved version' }) });
    expect(await widened.locator('ul.widened li').allTextContents()).toEqual([`new origin ${ORIGIN}`, 'new config key webhookSecret (secret)']);
    await report.getByText(`${PKG}@1.0.0`).first().waitFor(); // "Replaces"
    await expectTokenGone();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.install-result[data-status="pending_approval"]').getByText('waiting for approval').first().waitFor();

    // Nothing changed for the running plugin.
    expect(await label()).toBe('Card v1');
    const record = (await server.admin('GET', `/api/admin/plugins/${KEY}/record`)).json;
    expect(record).toMatchObject({ current: { version: '1.0.0' }, pending: { version: { version: '2.0.0' } } });
    // What the plugins list reads in one request (the route added for it).
    const records = (await server.admin('GET', '/api/admin/plugins/install/records')).json;
    expect(records.records.find((r: { key: string }) => r.key === KEY)).toMatchObject({
      current: { version: '1.0.0' }, previous: [], pending: { version: { version: '2.0.0' }, widened: { network: [`new origin ${ORIGIN}`] }, stagedBy: 'admin' },
    });
    expect(JSON.stringify(records)).not.toContain(DEPLOY_TOKEN);

    await page.goto(`${server.baseUrl}/admin/#/plugins`);
    const card = page.locator(`.plugin-card[data-plugin="${KEY}"]`);
    await card.getByText(`update ${PKG}@2.0.0 waiting for approval`).waitFor();
    const panel = card.locator('.approval[data-kind="pending_update"]');
    expect(await panel.locator('ul.widened li').allTextContents()).toEqual([`new origin ${ORIGIN}`, 'new config key webhookSecret (secret)']);
    // Approve only appears with the review on screen.
    expect(await panel.getByRole('button', { name: 'Approve', exact: true }).count()).toBe(0);
    await panel.getByRole('button', { name: 'Review for approval' }).click();
    const review = panel.locator('.approval-review');
    await review.getByText('Review: a staged update that asks for more than the approved version').waitFor();
    await review.getByText("Reviewer's report").waitFor();
    await review.getByText('https://api.acmepay.example').first().waitFor();
    expect(await label()).toBe('Card v1');
    await page.screenshot({ path: screenshotPath('approval-pending-update'), fullPage: true });
    await review.getByRole('button', { name: 'Approve', exact: true }).click();
    await card.getByRole('status').filter({ hasText: `Approved ${PKG}@2.0.0; the plugin is active.` }).waitFor();
    expect(await label()).toBe('Card v2');
    expect((await server.admin('GET', `/api/admin/plugins/${KEY}/record`)).json).toMatchObject({ current: { version: '2.0.0' }, previous: [{ version: '1.0.0' }], pending: null });
  });

  it('a folder changed on disk is refused as tampered; it is approved from the plugin page after review', async () => {
    const index = path.join(pluginDir(), 'index.js');
    fs.writeFileSync(index, fs.readFileSync(index, 'utf8').replace('Card v2', 'Card edited on the server'));
    await page.goto(`${server.baseUrl}/admin/#/plugins/${KEY}`);
    await page.getByRole('button', { name: 'Reload plugin' }).click();
    await page.locator('main h1 + div .badge', { hasText: 'files changed since approval' }).waitFor();
    await page.locator('.faults', { hasText: 'Refused (tampered)' }).waitFor();
    expect(await label()).not.toBe('Card edited on the server');

    const panel = page.locator('main .approval');
    expect(await panel.getAttribute('data-kind')).toBe('tampered');
    await panel.getByRole('heading', { name: 'Files changed since approval' }).waitFor();
    await panel.getByRole('button', { name: 'Review for approval' }).click();
    const review = panel.locator('.approval-review');
    await review.getByText('Review: the plugin folder as it is now: its files differ from the approved ones').waitFor();
    const preview = (await server.admin('GET', `/api/admin/plugins/${KEY}/approval`)).json;
    await review.getByText(preview.contentHash).waitFor();
    await review.getByText(`${PKG}@2.0.0 by admin`).waitFor();
    await page.screenshot({ path: screenshotPath('approval-tampered'), fullPage: true });
    await review.getByRole('button', { name: 'Approve', exact: true }).click();
    await panel.getByRole('status').filter({ hasText: /^Approved .*; the plugin is active\.$/ }).waitFor();
    expect(await label()).toBe('Card edited on the server');
    expect((await server.admin('GET', `/api/admin/plugins/${KEY}/record`)).json.current.source.kind).toBe('approved-folder');
  });

  it('rolls back to the kept version from the plugin page; API errors are shown', async () => {
    const versions = page.locator('section.versions');
    await versions.getByRole('button', { name: `Roll back to ${PKG}@1.0.0` }).click();
    await versions.getByText('No previous version is kept, so there is nothing to roll back to.').waitFor();
    await versions.locator('tr', { hasText: `${PKG}@1.0.0` }).getByText('approved, running').waitFor();
    expect(await label()).toBe('Card v1');

    // Discarding a staging that is gone: the server's own message, on the page.
    await fillForm(DEPLOY_TOKEN);
    await page.locator('.install-report').waitFor();
    // The staged files disappear behind the page's back (expired, or another administrator discarded them).
    const staging = path.join(server.host.options.pluginsDir, '.staging');
    for (const d of fs.readdirSync(staging)) fs.rmSync(path.join(staging, d), { recursive: true, force: true });
    await page.getByRole('button', { name: 'Discard' }).click();
    await page.locator('.install-actions .inline-error').filter({ hasText: /no staged install/ }).waitFor();
    await expectTokenGone();
    expect(fs.existsSync(marker())).toBe(false);
    expect(pageErrors).toEqual([]);
  });
});
