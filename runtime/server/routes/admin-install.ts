// Admin API for installing, updating, approving and rolling back plugins (runtime/install/). Shaped
// for a form: the platform's fields (package, folder name = key, deploy token, tag) are accepted as
// they are, empty strings count as "not given", every error is { error: { message, field } }.
//
//   POST /api/admin/plugins/install/stage     { package, key?, token?, tag? } or { source, key?, token? }
//        → { stagingId, key, action, report, widened, scripts, … }   (nothing installed yet)
//   POST /api/admin/plugins/install/confirm   { stagingId } → installed | updated | pending_approval
//   POST /api/admin/plugins/install/discard   { stagingId }
//   GET  /api/admin/plugins/install/records   every record in short (the admin page's plugins list)
//   GET  /api/admin/plugins/:key/record       what was approved: current, previous, pending
//   GET  /api/admin/plugins/:key/approval     what approve would approve, with the report
//   POST /api/admin/plugins/:key/approve      { contentHash? } a widened update, or a changed folder
//   POST /api/admin/plugins/:key/rollback     the previous kept version and its record
//
// A token in the body is used once, for that fetch: never stored, logged or echoed. Local paths are
// refused here (an HTTP caller must not read the server's disk); the command line takes them.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Installer } from '../../installer/installer.ts';
import type { InstallerStore } from '../../installer/installer.ts';
import type { InstallEgressOptions } from '../../install/install-egress.ts';
import { InstallError } from '../../install/install-errors.ts';
import type { InstallLimits } from '../../install/install-errors.ts';
import type { PluginRegistry } from '../../plugins/registry.ts';
import { StoreConflictError } from '../../store/errors.ts';
import type { PluginVersion } from '../../store/types.ts';
import { HttpError } from './admin-auth.ts';
import { ERRORS } from '../../errors.ts';
import { installErrorCode } from '../http-errors.ts';

export interface AdminInstallOptions {
  store: InstallerStore;
  registry: Pick<PluginRegistry, 'load'>;
  pluginsDir: string;
  /** npm registry base URL (default https://registry.npmjs.org). Not settable per request. */
  npmRegistry?: string;
  requireApproval?: boolean;
  limits?: Partial<InstallLimits>;
  keepVersions?: number;
  apiUrl?: string;
  /** The installer's egress policy: tarball origins besides the registry's, loopback (off by default). */
  installEgress?: InstallEgressOptions;
  /** Admin audit trail (e.g. host.hostApi.audit.record); summaries never hold the token. */
  audit?: (capability: string, plugin: string | null, summary: string, decision: 'allowed' | 'denied') => void;
  /** After a plugin's files changed, e.g. host.sandbox.resetBreaker. */
  onReloaded?: (key: string) => void;
}


const given = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());
const actor = 'admin';
const versionView = (v: PluginVersion) => ({
  id: v.id, packageName: v.packageName, version: v.version, integrity: v.integrity, contentHash: v.contentHash,
  source: v.source, scriptsNotRun: v.scriptsNotRun, approvedBy: v.approvedBy, approvedAt: v.approvedAt,
});

function asHttp(err: unknown, field: string | null): never {
  if (err instanceof InstallError) {
    // The status and code come from the registry (runtime/errors.ts): INSTALL_<code>.
    const code = installErrorCode(err);
    throw new HttpError(ERRORS[code].status, err.message, err.code === 'unauthorized' ? 'token' : err.code === 'bad_source' ? field : null, code);
  }
  if (err instanceof StoreConflictError) throw new HttpError(409, `${err.message}`, null, 'STORE_CONFLICT');
  throw err;
}

export async function adminInstallRoutes(plain: FastifyInstance, opts: AdminInstallOptions): Promise<void> {
  // Request data is typed by each route's schema (the same schema validates it and documents it).
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const pluginsDir = path.resolve(opts.pluginsDir);
  const installer = new Installer({
    pluginsDir, store: opts.store, registry: opts.npmRegistry, limits: opts.limits, keepVersions: opts.keepVersions,
    requireApproval: opts.requireApproval, apiUrl: opts.apiUrl,
    egress: opts.installEgress,
  });
  const audit = (capability: string, key: string | null, summary: string, ok = true) => opts.audit?.(capability, key, summary, ok ? 'allowed' : 'denied');

  /** Loads the new files into the running server; an update that fails to load there is rolled back. */
  async function reload(key: string, rollbackOnFailure: boolean) {
    let entry = await opts.registry.load(path.join(pluginsDir, key));
    let rolledBack: string | null = null;
    if (entry.status !== 'active' && rollbackOnFailure) {
      const back = await installer.rollback(key);
      rolledBack = `${back.restored.packageName ?? key}@${back.restored.version ?? back.restored.id}`;
      const failure = entry.error;
      entry = await opts.registry.load(path.join(pluginsDir, key));
      audit('admin.plugin.rollback', key, `automatic: the new version did not load (${failure?.message})`);
      opts.onReloaded?.(key);
      throw new HttpError(422, `the new version of ${key} passed the checks but did not load in the server (${failure?.message}); rolled back to ${rolledBack}, which is ${entry.status}`);
    }
    opts.onReloaded?.(key);
    return { status: entry.status, error: entry.error };
  }

  const stageBody = Type.Object({
    source: Type.Optional(Type.String({ maxLength: 2048, description: 'npm spec (name, name@1.2.3, name@tag) or https tarball URL' })),
    package: Type.Optional(Type.String({ maxLength: 256, description: "the platform form's package name" })),
    tag: Type.Optional(Type.String({ maxLength: 128, description: 'dist-tag or exact version (default latest)' })),
    key: Type.Optional(Type.String({ maxLength: 64, description: 'folder name = plugin key (default: from the package name)' })),
    token: Type.Optional(Type.String({ maxLength: 4096, description: 'registry deploy token; used for this fetch only' })),
  }, { additionalProperties: false });

  app.post('/api/admin/plugins/install/stage', {
    schema: { tags: ['admin'], summary: 'Fetch, unpack and check a plugin package without installing it; returns the report to review', body: stageBody },
  }, async (request) => {
    const b = request.body;
    const pkg = given(b.package);
    const tag = given(b.tag);
    let source = given(b.source);
    if (source && pkg) throw new HttpError(400, 'give either source or package (with tag), not both', 'source');
    if (!source && !pkg) throw new HttpError(400, 'give the package to install (package, with an optional tag), or source (npm spec or https tarball URL)', 'package');
    if (pkg) {
      if (tag && pkg.lastIndexOf('@') > 0) throw new HttpError(400, `package ${pkg} already names a version or tag; leave tag empty or remove it from package`, 'tag');
      source = tag ? `${pkg}@${tag}` : pkg;
    } else if (tag) throw new HttpError(400, 'tag goes with package; with source write it into the spec (name@tag)', 'tag');
    try {
      const staged = await installer.stage({ source: source!, key: given(b.key), token: given(b.token), actor, allowLocal: false });
      audit('admin.plugin.stage', staged.key, `${staged.package.name ?? source}@${staged.package.version ?? '?'} ${staged.action}`);
      return staged;
    } catch (err) {
      audit('admin.plugin.stage', given(b.key) ?? null, `${source}: ${(err as Error).message}`, false);
      return asHttp(err, pkg ? 'package' : 'source');
    }
  });

  const stagingBody = Type.Object({ stagingId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

  app.post('/api/admin/plugins/install/confirm', {
    schema: { tags: ['admin'], summary: 'Install a staged package; an update that widens capabilities waits for approve', body: stagingBody },
  }, async (request) => {
    const { stagingId } = request.body;
    let result;
    try {
      result = await installer.confirm(stagingId, actor);
    } catch (err) {
      return asHttp(err, 'stagingId');
    }
    const v = result.version;
    audit('admin.plugin.install', result.key, `${result.status}: ${v.packageName ?? result.key}@${v.version ?? '?'} ${v.contentHash}`);
    const plugin = result.status === 'pending_approval' ? null : await reload(result.key, result.status === 'updated');
    return { status: result.status, key: result.key, version: versionView(v), widened: result.widened, plugin };
  });

  app.post('/api/admin/plugins/install/discard', { schema: { tags: ['admin'], summary: 'Drop a staged package', body: stagingBody } }, async (request) => {
    try {
      await installer.discard(request.body.stagingId);
      return { discarded: true };
    } catch (err) {
      return asHttp(err, 'stagingId');
    }
  });

  const keyParams = Type.Object({ key: Type.String({ maxLength: 64 }) });

  app.get('/api/admin/plugins/:key/record', { schema: { tags: ['admin'], summary: 'What was approved for a plugin: current, previous, pending', params: keyParams } }, async (request) => {
    const { key } = request.params;
    const record = await opts.store.getPluginRecord(key);
    if (!record) throw new HttpError(404, `plugin ${key} has no approval record (it has not been installed, approved or loaded yet)`, 'key');
    return record;
  });

  // One request for the plugins list instead of one :key/record per plugin: which updates wait for
  // approval (and what they ask for) and which plugins have a version to roll back to.
  app.get('/api/admin/plugins/install/records', { schema: { tags: ['admin'], summary: 'Every approval record in short: current, previous and pending versions' } }, async () => ({
    records: (await opts.store.listPluginRecords()).map((r) => ({
      key: r.key, updatedAt: r.updatedAt, current: versionView(r.current), previous: r.previous.map(versionView),
      pending: r.pending ? { stagingId: r.pending.stagingId, version: versionView(r.pending.version), widened: r.pending.widened, stagedBy: r.pending.stagedBy, stagedAt: r.pending.stagedAt } : null,
    })),
  }));

  app.get('/api/admin/plugins/:key/approval', { schema: { tags: ['admin'], summary: 'What approve would approve, with the report to review first', params: keyParams } }, async (request) => {
    try {
      const { checked: _checked, ...preview } = await installer.previewApproval(request.params.key);
      return preview;
    } catch (err) {
      return asHttp(err, 'key');
    }
  });

  app.post('/api/admin/plugins/:key/approve', {
    schema: {
      tags: ['admin'], params: keyParams,
      summary: 'Approve a waiting (widened) update, or a plugin folder whose files changed since approval. Optional body { contentHash }: the hash you reviewed (GET …/approval); refused if the files changed since',
    },
  }, async (request) => {
    const { key } = request.params;
    // The body is optional (a bare POST from a button), so it has no schema: it is `unknown` here
    // and checked by hand.
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'contentHash'))) {
      throw new HttpError(400, 'the body may only hold { contentHash }', 'body');
    }
    const contentHash = typeof body === 'object' && body !== null && 'contentHash' in body ? body.contentHash : undefined;
    if (contentHash !== undefined && typeof contentHash !== 'string') throw new HttpError(400, 'contentHash must be a string like sha256:<64 hex>', 'contentHash');
    const expect = given(contentHash);
    let approved;
    try {
      approved = await installer.approve(key, actor, expect);
    } catch (err) {
      audit('admin.plugin.approve', key, (err as Error).message, false);
      return asHttp(err, 'key');
    }
    audit('admin.plugin.approve', key, `${approved.preview.kind}: ${approved.record.current.contentHash}`);
    const plugin = await reload(key, approved.preview.kind === 'pending_update' && approved.record.previous.length > 0);
    return { status: 'approved', kind: approved.preview.kind, key, version: versionView(approved.record.current), plugin };
  });

  app.post('/api/admin/plugins/:key/rollback', { schema: { tags: ['admin'], summary: 'Restore the previous kept version of a plugin and its record', params: keyParams } }, async (request) => {
    const { key } = request.params;
    let back;
    try {
      back = await installer.rollback(key);
    } catch (err) {
      return asHttp(err, 'key');
    }
    audit('admin.plugin.rollback', key, `${back.replaced.version ?? back.replaced.id} → ${back.restored.version ?? back.restored.id}`);
    return { status: 'rolled_back', key, restored: versionView(back.restored), replaced: versionView(back.replaced), plugin: await reload(key, false) };
  });
}
