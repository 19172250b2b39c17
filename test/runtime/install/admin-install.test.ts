// The admin install API, driven the way the platform's form would: package, folder name, deploy
// token and tag → stage (report) → confirm → the running registry serves it; a widened update waits
// for approve; rollback restores. The token is used for the fetch and never echoed or stored.
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../runtime/plugins/registry.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { HttpError } from '../../../runtime/server/routes/admin-auth.ts';
import { adminInstallRoutes } from '../../../runtime/server/routes/admin-install.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { DEFAULT_CONFIGURE } from '../../helpers/plugin-fixture.ts';
import { startSandbox } from '../../helpers/sandbox.ts';
import { packTgz, pluginPackage, startFakeRegistry, tmpDir } from './install-helpers.ts';
import type { FakeRegistry } from './install-helpers.ts';

const TOKEN = 'deploy-token-7f3a9c2e5b1d';
let app: FastifyInstance;
let store: Store;
let sandbox: SandboxHost;
let registry: PluginRegistry;
let npm: FakeRegistry;
let work: string;
const audit: string[] = [];

beforeAll(async () => {
  work = tmpDir('admin-install');
  store = await openStore('sqlite::memory:');
  sandbox = (await startSandbox()).host;
  registry = new PluginRegistry({ sandbox, store, load: { apiUrl: 'http://127.0.0.1:9/' } });
  npm = await startFakeRegistry({ token: TOKEN });
  app = Fastify();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: { message: err.message, field: err.field } });
    return reply.code(err.statusCode ?? 500).send({ error: { message: err.message, field: null } });
  });
  await app.register(adminInstallRoutes, {
    store, registry, pluginsDir: path.join(work, 'plugins'), npmRegistry: npm.url, installEgress: { allowLoopback: true },
    audit: (capability, plugin, summary, decision) => audit.push(`${capability} ${plugin} ${decision} ${summary}`),
  });
});
afterAll(async () => {
  await app.close();
  await npm.close();
  await sandbox.close();
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const post = (url: string, payload?: object) => app.inject({ method: 'POST', url, payload });
const label = async () => {
  const r = await sandbox.invoke('nimbus', 'getFields', ['en', 'CARDUAH']);
  return r.ok ? (r.value as { name: string }[])[0].name : r.error.message;
};

describe('admin install API', () => {
  it('stages from the platform form (package, folder name, token, tag), confirms, and the plugin runs', async () => {
    npm.publish('@acme/payout-nimbus', '1.0.0', packTgz(pluginPackage({ name: '@acme/payout-nimbus', version: '1.0.0', label: 'v1', marker: path.join(work, 'RAN') })), { tag: 'stable' });
    const staged = await post('/api/admin/plugins/install/stage', { package: '@acme/payout-nimbus', key: 'nimbus', token: TOKEN, tag: 'stable' });
    expect(staged.statusCode).toBe(200);
    const body = staged.json();
    expect(body).toMatchObject({
      stagingId: expect.stringMatching(/^[0-9a-f]{32}$/), key: 'nimbus', action: 'install', widened: null,
      scripts: [{ name: 'preinstall' }, { name: 'postinstall' }], report: { key: 'nimbus', title: 'Fixture' },
      package: { name: '@acme/payout-nimbus', version: '1.0.0' },
    });
    expect(staged.body).not.toContain(TOKEN);
    expect(fs.existsSync(path.join(work, 'plugins', 'nimbus'))).toBe(false);

    const confirmed = await post('/api/admin/plugins/install/confirm', { stagingId: body.stagingId });
    expect(confirmed.json()).toMatchObject({ status: 'installed', key: 'nimbus', version: { version: '1.0.0', approvedBy: 'admin' }, plugin: { status: 'active', error: null } });
    expect(await label()).toBe('v1');
    expect(fs.existsSync(path.join(work, 'RAN'))).toBe(false);
    const record = await app.inject({ method: 'GET', url: '/api/admin/plugins/nimbus/record' });
    expect(record.json()).toMatchObject({ key: 'nimbus', current: { packageName: '@acme/payout-nimbus', scriptsNotRun: ['preinstall', 'postinstall'] } });
    expect(record.body).not.toContain(TOKEN);
    expect(audit.join('\n')).not.toContain(TOKEN);
    expect(audit).toContainEqual(expect.stringMatching(/^admin\.plugin\.install nimbus allowed installed: @acme\/payout-nimbus@1\.0\.0 sha256:/));
  });

  it('a widened update waits (the old version serves), then approve installs it, and rollback restores v1', async () => {
    const wider = `${DEFAULT_CONFIGURE}\nmodule.exports.network = ['https://api.nimbus.example'];\n`;
    npm.publish('@acme/payout-nimbus', '2.0.0', packTgz(pluginPackage({ name: '@acme/payout-nimbus', version: '2.0.0', label: 'v2', configure: wider })), { tag: 'stable' });
    const staged = (await post('/api/admin/plugins/install/stage', { package: '@acme/payout-nimbus', key: 'nimbus', token: TOKEN, tag: 'stable' })).json();
    expect(staged).toMatchObject({ action: 'update-needs-approval', widened: { network: ['new origin https://api.nimbus.example:443'] } });
    const confirmed = (await post('/api/admin/plugins/install/confirm', { stagingId: staged.stagingId })).json();
    expect(confirmed).toMatchObject({ status: 'pending_approval', plugin: null });
    expect(await label()).toBe('v1');

    const preview = (await app.inject({ method: 'GET', url: '/api/admin/plugins/nimbus/approval' })).json();
    expect(preview).toMatchObject({ kind: 'pending_update', widened: { network: ['new origin https://api.nimbus.example:443'] } });
    const approved = await post('/api/admin/plugins/nimbus/approve', { contentHash: preview.contentHash });
    expect(approved.json()).toMatchObject({ status: 'approved', kind: 'pending_update', version: { version: '2.0.0' }, plugin: { status: 'active' } });
    expect(await label()).toBe('v2');

    const nothing = await post('/api/admin/plugins/nimbus/approve');
    expect(nothing.statusCode).toBe(409);
    expect(nothing.json().error.message).toMatch(/plugin nimbus is approved as it is .* no update is pending; nothing to approve/);

    const back = await post('/api/admin/plugins/nimbus/rollback');
    expect(back.json()).toMatchObject({ status: 'rolled_back', restored: { version: '1.0.0' }, replaced: { version: '2.0.0' }, plugin: { status: 'active' } });
    expect(await label()).toBe('v1');
    const none = await post('/api/admin/plugins/nimbus/rollback');
    expect(none.statusCode).toBe(409);
    expect(none.json().error.message).toMatch(/has no previous version kept/);
  });

  it('answers form mistakes with a status, a message and the field', async () => {
    const cases: [object, number, RegExp, string | null][] = [
      [{ key: 'x' }, 400, /give the package to install/, 'package'],
      [{ package: '@acme/payout-nimbus@1.0.0', tag: 'stable' }, 400, /already names a version or tag/, 'tag'],
      [{ package: '/etc/passwd' }, 400, /looks like a local path; over HTTP give an npm package or an https tarball URL/, 'package'],
      [{ package: '@acme/payout-nimbus', token: 'wrong-token' }, 400, /HTTP 401\): the token was not accepted/, 'token'],
      [{ package: '@acme/payout-nimbus', token: TOKEN, tag: 'nope' }, 404, /has no dist-tag 'nope'/, null],
      [{ package: 'x', registry: 'https://evil.example' }, 400, /must NOT have additional properties|additional/i, null],
    ];
    for (const [payload, status, message, field] of cases) {
      const res = await post('/api/admin/plugins/install/stage', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().error.message).toMatch(message);
      if (field) expect(res.json().error.field).toBe(field);
      expect(res.body).not.toContain('wrong-token');
    }
    const unknown = await post('/api/admin/plugins/install/confirm', { stagingId: 'f'.repeat(32) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toMatch(/no staged install f{32} .*: it was confirmed, discarded or expired; stage it again/);
    const traversal = await post('/api/admin/plugins/install/confirm', { stagingId: '../../etc' });
    expect(traversal.statusCode).toBe(400);
  });

  it('fetches a tarball URL through the egress guard: an allowed origin works, private addresses are refused before any socket opens', async () => {
    const data = packTgz(pluginPackage({ name: 'payout-direct', version: '0.9.0' }));
    npm.serveTarball('/direct/payout-direct.tgz', data);
    const ok = await post('/api/admin/plugins/install/stage', { source: `${npm.url}/direct/payout-direct.tgz`, token: TOKEN });
    expect(ok.json()).toMatchObject({ key: 'payout-direct', package: { version: '0.9.0', source: { kind: 'url' } } });
    await post('/api/admin/plugins/install/discard', { stagingId: ok.json().stagingId });
    for (const url of ['https://10.0.0.1/x.tgz', 'https://169.254.169.254/latest/meta-data', 'http://127.0.0.1:1/x.tgz']) {
      const res = await post('/api/admin/plugins/install/stage', { source: url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toMatchObject({ field: 'source', message: expect.stringMatching(/could not fetch the tarball .*: plugin install refused: .* is (private|link-local|a loopback address)/) });
    }
  });

  it('refuses a package that fails the checks with 422 and the reason', async () => {
    npm.publish('payout-bad', '1.0.0', packTgz(pluginPackage({ name: 'payout-bad', index: "require('child_process');\nmodule.exports = class {};" })));
    const res = await post('/api/admin/plugins/install/stage', { package: 'payout-bad', token: TOKEN });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.message).toMatch(/does not pass the checks of `payout-sandbox check` \(forbidden_require\): index\.js:1: require\('child_process'\) refused/);
  });
});
