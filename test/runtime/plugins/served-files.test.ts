// What the admin page serves from a plugin folder (the settings template, the icon) is the content
// approved and hashed when the plugin was loaded, held in memory: a file edited on disk afterwards
// is never served, and the next load refuses the folder as tampered, exactly as for index.js.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../runtime/server/host.ts';
import type { Host } from '../../../runtime/server/host.ts';
import { buildApp } from '../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import { PluginRegistry } from '../../../runtime/plugins/registry.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';

const ADMIN = 'admin-token-for-served-files-0123';
const minimal = fileURLToPath(new URL('../../fixtures/plugins/minimal', import.meta.url));
const icon = fileURLToPath(new URL('../../../plugins/nimbuspay/icon.png', import.meta.url));
const ADMIN_JS = "const fs = require('fs');\nmodule.exports = { template: fs.readFileSync(__dirname + '/admin.html', 'utf8'), props: { config: { type: Object } } };\n";

function writePlugin(dir: string, marker: string): void {
  fs.cpSync(minimal, dir, { recursive: true });
  fs.mkdirSync(path.join(dir, 'templates'));
  fs.writeFileSync(path.join(dir, 'templates', 'admin.js'), ADMIN_JS);
  fs.writeFileSync(path.join(dir, 'templates', 'admin.html'), `<p>${marker}</p>\n`);
  fs.copyFileSync(icon, path.join(dir, 'icon.png'));
}

let dir: string;
let host: Host;
let app: FastifyInstance;
const auth = { authorization: `Bearer ${ADMIN}` };

async function templateOf(key: string): Promise<{ status: number; body: string }> {
  const frame = await app.inject({ method: 'GET', url: `/api/admin/plugins/${key}/frame`, headers: auth });
  if (frame.statusCode !== 200) return { status: frame.statusCode, body: frame.body };
  const ticket = new URL(frame.json().frameUrl, 'http://x').searchParams.get('t')!;
  const res = await app.inject({ method: 'GET', url: `/admin/plugin-frame/${key}/template.js?t=${encodeURIComponent(ticket)}` });
  return { status: res.statusCode, body: res.body };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-served-'));
  const pluginsDir = path.join(dir, 'plugins');
  writePlugin(path.join(pluginsDir, 'edited-later'), 'APPROVED-TEMPLATE-A');
  writePlugin(path.join(pluginsDir, 'untouched'), 'APPROVED-TEMPLATE-B');
  host = await createHost(defaultServerOptions({ dataDir: dir, dbUrl: `sqlite:${path.join(dir, 'store.db')}`, adminToken: ADMIN, pluginsDir }), { logger: pino({ level: 'silent' }) });
  await host.start();
  app = await buildApp(host);
});
afterAll(async () => {
  await app.close();
  await host.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('files served from a plugin folder', () => {
  it('a template edited on disk after the plugin was approved and loaded is not served: the approved one is', async () => {
    const folder = path.join(dir, 'plugins', 'edited-later');
    // Edited before anyone opened the settings page, so nothing of it was read yet at request time.
    fs.writeFileSync(path.join(folder, 'templates', 'admin.html'), '<p>EDITED-ON-DISK</p><img src=x onerror=alert(1)>\n');
    const served = await templateOf('edited-later');
    expect(served.status).toBe(200);
    expect(served.body).toContain('APPROVED-TEMPLATE-A');
    expect(served.body).not.toContain('EDITED-ON-DISK');
    // Positive control: the untouched plugin serves its own approved template.
    expect((await templateOf('untouched')).body).toContain('APPROVED-TEMPLATE-B');
  });

  it('the icon is the approved one too', async () => {
    const original = fs.readFileSync(icon);
    fs.writeFileSync(path.join(dir, 'plugins', 'edited-later', 'icon.png'), Buffer.concat([original.subarray(0, 24), Buffer.from('not the approved icon')]));
    const res = await app.inject({ method: 'GET', url: '/api/admin/plugins/edited-later/icon', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(Buffer.compare(res.rawPayload, original)).toBe(0);
  });

  it('loading the edited folder again refuses it as tampered, like an edited index.js; the untouched one reloads and serves', async () => {
    const reload = await app.inject({ method: 'POST', url: '/api/admin/plugins/edited-later/reload', headers: auth });
    expect(reload.statusCode).toBe(200);
    const entry = host.registry.get('edited-later')!;
    expect(entry.status).toBe('rejected');
    expect(entry.error?.code).toBe('tampered');
    expect(entry.error?.message).toMatch(/^plugin folder .*edited-later changed since it was approved: its files hash to [0-9a-f]{12}…, the approved version to [0-9a-f]{12}… \(approved by trust-on-first-use at .*\)\. It is not loaded\. If the change is intended, review the files, then approve them with `payout-sandbox approve edited-later`/);
    expect((await templateOf('edited-later')).status).toBe(409);
    const again = await app.inject({ method: 'POST', url: '/api/admin/plugins/untouched/reload', headers: auth });
    expect(again.json()).toMatchObject({ status: 'active' });
    expect((await templateOf('untouched')).body).toContain('APPROVED-TEMPLATE-B');
  });
});

describe('a template changed while the plugin loads', () => {
  it('is caught by the second content hash of the load: the plugin is refused as tampered and nothing of it is served', async () => {
    const local = await openLocalHost();
    const folder = path.join(dir, 'racing', 'race-probe');
    try {
      await local.sandbox.start();
      writePlugin(folder, 'APPROVED-RACE');
      let writeDuringLoad = false;
      // The real sandbox, with a writer that changes the template while the plugin is being registered.
      const sandbox = new Proxy(local.sandbox, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop !== 'register' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            if (writeDuringLoad) fs.writeFileSync(path.join(folder, 'templates', 'admin.html'), '<p>SWAPPED-DURING-LOAD</p>\n');
            return value.apply(target, args);
          };
        },
      }) as SandboxHost;
      const registry = new PluginRegistry({ sandbox, store: local.store, load: { apiUrl: 'http://127.0.0.1:3000/' }, onApprovalEvent: () => {} });
      const first = await registry.load(folder);
      expect(first.status).toBe('active');
      expect(first.served?.adminTemplate).toMatchObject({ ok: true, bundle: { code: expect.stringContaining('APPROVED-RACE') } });
      writeDuringLoad = true;
      const second = await registry.load(folder);
      expect(second).toMatchObject({ status: 'rejected', served: null, error: { code: 'tampered' } });
      expect(second.error?.message).toMatch(/changed since it was approved/);
    } finally {
      await local.close();
    }
  });
});
