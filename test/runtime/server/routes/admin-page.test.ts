// The settings frame's ticket is typed `unknown` by its route's schema and checked by the route,
// not refused by the validator: a missing, forged or repeated `t` (an array in the parsed query)
// gets the frame's own 403 page, never a JSON 400 or a frame. The valid ticket is the control.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../../runtime/server/host.ts';
import type { Host } from '../../../../runtime/server/host.ts';
import { buildApp } from '../../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../../runtime/server/options.ts';

const ADMIN = 'admin-token-for-admin-page-0123';
const minimal = fileURLToPath(new URL('../../../fixtures/plugins/minimal', import.meta.url));
const KEY = 'framed';

let dir: string;
let host: Host;
let app: FastifyInstance;
let ticket: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-admin-page-'));
  const plugin = path.join(dir, 'plugins', KEY);
  fs.cpSync(minimal, plugin, { recursive: true });
  fs.mkdirSync(path.join(plugin, 'templates'));
  fs.writeFileSync(path.join(plugin, 'templates', 'admin.js'), "module.exports = { template: '<p>settings</p>' };\n");
  host = await createHost(defaultServerOptions({ dataDir: dir, dbUrl: `sqlite:${path.join(dir, 'store.db')}`, adminToken: ADMIN, pluginsDir: path.join(dir, 'plugins') }), { logger: pino({ level: 'silent' }) });
  await host.start();
  app = await buildApp(host);
  const frame = await app.inject({ method: 'GET', url: `/api/admin/plugins/${KEY}/frame`, headers: { authorization: `Bearer ${ADMIN}` } });
  expect(frame.statusCode, frame.body).toBe(200);
  ticket = encodeURIComponent(new URL(frame.json().frameUrl, 'http://x').searchParams.get('t')!);
});
afterAll(async () => {
  await app?.close();
  await host?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the settings frame ticket', () => {
  it('opens the frame and its template with the ticket the admin API issued (control)', async () => {
    const page = await app.inject({ method: 'GET', url: `/admin/plugin-frame/${KEY}?t=${ticket}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const template = await app.inject({ method: 'GET', url: `/admin/plugin-frame/${KEY}/template.js?t=${ticket}` });
    expect(template.statusCode).toBe(200);
  });

  it.each([
    ['missing', ''],
    ['forged', '?t=9999999999.AAAA'],
    ['repeated', `?t=${'$T'}&t=${'$T'}`],
  ])('a %s ticket gets the frame\'s own 403, not a validation error', async (_what, query) => {
    const q = query.replaceAll('$T', ticket);
    const page = await app.inject({ method: 'GET', url: `/admin/plugin-frame/${KEY}${q}` });
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('This settings link is missing, wrong or expired');
    const template = await app.inject({ method: 'GET', url: `/admin/plugin-frame/${KEY}/template.js${q}` });
    expect(template.statusCode).toBe(403);
    expect(template.body).toBe('/* settings link expired */\n');
  });
});

describe('the admin page\'s vendor files', () => {
  it('serves only the listed files: a name inherited from Object.prototype is a 404, not a fault', async () => {
    const listed = await app.inject({ method: 'GET', url: '/admin/vendor/vue.global.js' });
    expect(listed.statusCode).toBe(200); // control
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await app.inject({ method: 'GET', url: `/admin/vendor/${name}` });
      expect(res.statusCode, name).toBe(404);
      expect(res.json(), name).toMatchObject({ code: 'NOT_FOUND' });
    }
  });
});
