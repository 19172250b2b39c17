// Install, update, approve and roll back plugins without running their code outside a sandbox.
//
// stage   fetch (npm / URL / .tgz / folder) → unpack with limits → `check` in a deny-all sandbox →
//         content hash + capability set + reviewer's report, kept in <plugins>/.staging/<id>/
// confirm the administrator saw the report: a first install moves the files into <plugins>/<key>;
//         an update that asks for nothing new replaces the running version (which is kept for
//         rollback); an update that widens what was approved waits, staged, for `approve`
// approve a pending widened update, or a folder whose files changed since approval (tampered),
//         or a folder never recorded (requireApproval): shows the report, then records it
// rollback the previous kept version and its record come back
//
// The store record is written before the files move: its compare-and-set lets exactly one of two
// racing installers (this process or another) go on. Within one process, calls per key are serialised.
import fs from 'node:fs';
import path from 'node:path';
import { PLUGIN_KEY_PATTERN } from '../bundler/plugin-files.ts';
import { newId } from '../store/ids.ts';
import type { Store } from '../store/store.ts';
import type { PluginRecord, PluginSource, PluginVersion } from '../store/types.ts';
import type { Grant } from '../../host-api/http.ts';
import { TOFU_ACTOR, folderVersion } from '../install/approval.ts';
import { widening } from '../install/capabilities.ts';
import type { Widening } from '../install/capabilities.ts';
import { HASH_LIMITS, hashFolder, shortHash } from '../install/content-hash.ts';
import { fetchSource } from '../install/fetch-source.ts';
import { InstallError, installLimits } from '../install/install-errors.ts';
import type { InstallLimits } from '../install/install-errors.ts';
import {
  STAGING_DIR, newStagingId, pruneStaging, readStaged, removeKept, removeStaging, restoreKept, stagedPluginDir, stagingRoot,
  swapIntoPlace, writeStaged,
} from '../install/install-dirs.ts';
import type { StagedInstall } from '../install/install-dirs.ts';
import { DEFAULT_REGISTRY } from '../install/npm-registry.ts';
import { InstallEgress } from '../install/install-egress.ts';
import type { InstallEgressOptions } from '../install/install-egress.ts';
import { readPackageInfo } from '../install/package-info.ts';
import type { SkippedScript } from '../install/package-info.ts';
import { checkPluginFolder } from './plugin-check.ts';
import type { AuditReport, CheckedPlugin } from './plugin-check.ts';

export type InstallerStore = Pick<Store, 'getPluginRecord' | 'putPluginRecord' | 'listPluginRecords'> & Partial<Pick<Store, 'listGrants'>>;

export interface InstallerOptions {
  pluginsDir: string;
  store: InstallerStore;
  /** npm registry base URL (default https://registry.npmjs.org). */
  registry?: string;
  limits?: Partial<InstallLimits>;
  /** Previous versions kept for rollback (default 3). */
  keepVersions?: number;
  /** Unconfirmed stagings older than this are deleted (default 24 h); pending updates are kept. */
  stagingTtlMs?: number;
  /** As the server's option: a folder with no record is not trusted on first use. */
  requireApproval?: boolean;
  /** API_URL given to the plugin while it is checked. */
  apiUrl?: string;
  /**
   * The installer's egress policy: extra tarball origins, loopback (off by default), and for tests
   * the resolver and connector. Registry, tarballs and typed URLs all go through the egress guard.
   */
  egress?: InstallEgressOptions;
}

export interface StageRequest {
  source: string;
  key?: string;
  /** Bearer token for the registry (or the tarball URL): used for this fetch only. */
  token?: string;
  actor: string;
  /** Local .tgz files and folders: the command line only. */
  allowLocal?: boolean;
}

export interface StageResult {
  stagingId: string;
  key: string;
  /** What confirm will do, as things stand now. */
  action: 'install' | 'update' | 'update-needs-approval';
  package: { name: string | null; version: string | null; integrity: string | null; source: PluginSource };
  contentHash: string;
  capabilities: PluginVersion['capabilities'];
  widened: Widening | null;
  /** Lifecycle scripts in package.json: none was run, none will be. */
  scripts: SkippedScript[];
  dependencies: string[];
  warnings: string[];
  replaces: { packageName: string | null; version: string | null; contentHash: string; approvedBy: string | null; approvedAt: string | null } | null;
  report: AuditReport;
  check: CheckedPlugin['check'];
}

export interface ConfirmResult {
  status: 'installed' | 'updated' | 'pending_approval';
  key: string;
  version: PluginVersion;
  widened: Widening | null;
  record: PluginRecord;
}

export interface ApprovalPreview {
  key: string;
  /** pending_update: a staged widened update; changed_folder: files differ from the approved ones; unrecorded_folder: never approved; unchanged: nothing to approve. */
  kind: 'pending_update' | 'changed_folder' | 'unrecorded_folder' | 'unchanged';
  contentHash: string;
  widened: Widening | null;
  report: AuditReport | null;
  current: PluginVersion | null;
}

export class Installer {
  readonly pluginsDir: string;
  private readonly options: InstallerOptions;
  private readonly limits: InstallLimits;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(options: InstallerOptions) {
    this.options = options;
    this.pluginsDir = path.resolve(options.pluginsDir);
    this.limits = installLimits(options.limits);
  }

  private get keep(): number { return this.options.keepVersions ?? 3; }

  /** Serialises install/approve/rollback of one key within this process. */
  private async locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.catch(() => {}).then(work);
    this.locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === run) this.locks.delete(key);
    }
  }

  private async grants(key: string): Promise<Grant[]> {
    const all = this.options.store.listGrants ? await this.options.store.listGrants(key) : [];
    return all.filter((g) => g.approved).map((g) => ({ origin: g.origin, pathPrefix: g.pathPrefix, methods: g.methods }));
  }

  private async check(dir: string, what: string, outcome: string): Promise<CheckedPlugin> {
    return checkPluginFolder(dir, await this.grants(path.basename(dir)), what, outcome, this.options.apiUrl);
  }

  private pickKey(given: string | undefined, folderName: string | null, packageName: string | null): string {
    const derived = given ?? folderName ?? packageName?.replace(/^@[^/]+\//, '') ?? null;
    if (!derived) throw new InstallError('bad_source', 'cannot tell the plugin key: the package has no package.json name; pass --key <folder name> (key in the API)');
    if (!PLUGIN_KEY_PATTERN.test(derived)) {
      throw new InstallError('bad_source', `'${derived.slice(0, 80)}' cannot be a plugin key (folder name): use 1-64 letters, digits, '_' or '-'${given ? '' : '; pass --key <folder name> (key in the API)'}`);
    }
    return derived;
  }

  async stage(req: StageRequest): Promise<StageResult> {
    const pending = new Set((await this.options.store.listPluginRecords()).flatMap((r) => (r.pending ? [r.pending.stagingId] : [])));
    pruneStaging(this.pluginsDir, this.options.stagingTtlMs ?? 24 * 3600_000, pending);
    const stagingId = newStagingId();
    const root = stagingRoot(this.pluginsDir, stagingId);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    try {
      const unpacked = path.join(root, 'unpacked');
      const registry = this.options.registry ?? DEFAULT_REGISTRY;
      const fetched = await fetchSource({
        source: req.source, token: req.token, registry, allowLocal: Boolean(req.allowLocal), limits: this.limits,
        egress: new InstallEgress(registry, this.limits, this.options.egress),
      }, unpacked);
      const pkg = readPackageInfo(unpacked);
      const key = this.pickKey(req.key, fetched.folderName, fetched.registryName ?? pkg.name);
      const dir = stagedPluginDir(this.pluginsDir, stagingId, key);
      fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
      fs.renameSync(unpacked, dir);
      const checked = await this.check(dir, `the package (as plugin ${key})`, 'nothing was installed');
      const contentHash = hashFolder(dir, this.limits);
      const warnings = [...pkg.warnings, ...checked.check.warnings];
      if (fetched.registryName && pkg.name && pkg.name !== fetched.registryName) warnings.push(`package.json names the package ${pkg.name}, but the registry entry is ${fetched.registryName}`);
      if (pkg.dependencies.length) warnings.push(`dependencies are never installed (${pkg.dependencies.join(', ')}); the plugin may require only what the sandbox provides`);
      const record = await this.recordOrAdopt(key, warnings);
      const candidate: PluginVersion = {
        id: newId(), packageName: fetched.registryName ?? pkg.name, version: fetched.registryVersion ?? pkg.version,
        integrity: fetched.integrity, contentHash, capabilities: checked.capabilities, scriptsNotRun: pkg.scripts.map((s) => s.name),
        source: fetched.source, approvedBy: null, approvedAt: null, keptAt: null,
      };
      const widened = record ? widening(record.current.capabilities, candidate.capabilities) : null;
      const staged: StagedInstall = {
        stagingId, key, createdAt: new Date().toISOString(), stagedBy: req.actor, candidate, scripts: pkg.scripts,
        dependencies: pkg.dependencies, warnings, report: checked.report,
      };
      writeStaged(this.pluginsDir, staged);
      const c = record?.current;
      return {
        stagingId, key, action: !record ? 'install' : widened ? 'update-needs-approval' : 'update',
        package: { name: candidate.packageName, version: candidate.version, integrity: candidate.integrity, source: candidate.source },
        contentHash, capabilities: candidate.capabilities, widened, scripts: pkg.scripts, dependencies: pkg.dependencies, warnings,
        replaces: c ? { packageName: c.packageName, version: c.version, contentHash: c.contentHash, approvedBy: c.approvedBy, approvedAt: c.approvedAt } : null,
        report: checked.report, check: checked.check,
      };
    } catch (err) {
      fs.rmSync(root, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The record to compare an update with. A folder already in place with no record is what a server
   * would trust on first use, so it is recorded the same way (if it passes the checks); with
   * requireApproval, or when it does not load, it has no standing and is simply replaced.
   */
  private async recordOrAdopt(key: string, warnings: string[]): Promise<PluginRecord | null> {
    const record = await this.options.store.getPluginRecord(key);
    const existing = path.join(this.pluginsDir, key);
    if (record || !fs.existsSync(existing)) return record;
    if (!this.options.requireApproval) {
      try {
        const hash = hashFolder(existing);
        const checked = await this.check(existing, `the folder already at ${existing}`, 'it was not recorded');
        const current = folderVersion(checked.plugin, hash, 'first-use', TOFU_ACTOR, new Date().toISOString());
        return await this.options.store.putPluginRecord({ key, revision: 0, current, previous: [], pending: null });
      } catch (err) {
        warnings.push(`the folder already at ${existing} could not be recorded (${(err as Error).message})`);
      }
    }
    warnings.push(`${existing} has no approval record; it will be kept under .versions but cannot be rolled back to`);
    return null;
  }

  async confirm(stagingId: string, actor: string): Promise<ConfirmResult> {
    const staged = readStaged(this.pluginsDir, stagingId);
    return this.locked(staged.key, async () => {
      const dir = this.verifiedStagedDir(staged);
      const record = await this.options.store.getPluginRecord(staged.key);
      const widened = record ? widening(record.current.capabilities, staged.candidate.capabilities) : null;
      if (record && widened) {
        if (record.pending && record.pending.stagingId !== stagingId) removeStaging(this.pluginsDir, record.pending.stagingId);
        const saved = await this.options.store.putPluginRecord({
          ...record, pending: { stagingId, version: staged.candidate, widened, stagedBy: staged.stagedBy, stagedAt: staged.createdAt },
        });
        return { status: 'pending_approval', key: staged.key, version: staged.candidate, widened, record: saved };
      }
      const saved = await this.activate(staged, dir, record, actor);
      return { status: record ? 'updated' : 'installed', key: staged.key, version: saved.current, widened: null, record: saved };
    });
  }

  /** The staged files must still be the ones that were checked and shown. */
  private verifiedStagedDir(staged: StagedInstall): string {
    const dir = stagedPluginDir(this.pluginsDir, staged.stagingId, staged.key);
    if (!fs.existsSync(dir)) throw new InstallError('not_found', `the files of staged install ${staged.stagingId} are gone from ${path.join(this.pluginsDir, STAGING_DIR)}; stage it again`);
    const now = hashFolder(dir, this.limits);
    if (now !== staged.candidate.contentHash) {
      removeStaging(this.pluginsDir, staged.stagingId);
      throw new InstallError('tampered', `the staged files of ${staged.key} changed after they were checked (${shortHash(staged.candidate.contentHash)}… → ${shortHash(now)}…); the staging was discarded: stage it again`);
    }
    return dir;
  }

  /** Record first (compare-and-set), then the files: the folder in place goes to .versions, the staged one takes its place. */
  private async activate(staged: StagedInstall, dir: string, record: PluginRecord | null, actor: string): Promise<PluginRecord> {
    const key = staged.key;
    const target = path.join(this.pluginsDir, key);
    const hadFolder = fs.existsSync(target);
    const keptId = record?.current.id ?? `unrecorded-${newId()}`;
    const current: PluginVersion = { ...staged.candidate, approvedBy: actor, approvedAt: new Date().toISOString(), keptAt: null };
    const older = record?.previous ?? [];
    // The kept path is decided by swapIntoPlace; the record names the path it will use.
    const keptRel = hadFolder && record ? path.posix.join('.versions', key, keptId) : null;
    const previous = [...(keptRel && record ? [{ ...record.current, keptAt: keptRel }] : []), ...older].slice(0, this.keep);
    const dropped = older.filter((v) => !previous.includes(v));
    let saved = await this.options.store.putPluginRecord({ key, revision: record?.revision ?? 0, current, previous, pending: null });
    let actualKept: string | null;
    try {
      actualKept = swapIntoPlace(this.pluginsDir, key, dir, keptId);
    } catch (err) {
      if (record) await this.options.store.putPluginRecord({ ...record, revision: saved.revision }).catch(() => {});
      throw err;
    }
    if (keptRel && actualKept !== keptRel) {
      // A folder of that name was already kept (the same version installed twice): record the real one.
      saved = await this.options.store.putPluginRecord({ ...saved, previous: [{ ...previous[0], keptAt: actualKept }, ...previous.slice(1)] });
    }
    for (const v of dropped) removeKept(this.pluginsDir, v.keptAt);
    if (record?.pending && record.pending.stagingId !== staged.stagingId) removeStaging(this.pluginsDir, record.pending.stagingId);
    removeStaging(this.pluginsDir, staged.stagingId);
    return saved;
  }

  /** What `approve` would approve, with the report to show first. */
  async previewApproval(key: string): Promise<ApprovalPreview & { checked?: CheckedPlugin }> {
    const record = await this.options.store.getPluginRecord(key);
    if (record?.pending) {
      const staged = readStaged(this.pluginsDir, record.pending.stagingId);
      return { key, kind: 'pending_update', contentHash: staged.candidate.contentHash, widened: record.pending.widened, report: staged.report as AuditReport, current: record.current };
    }
    const dir = path.join(this.pluginsDir, key);
    if (!PLUGIN_KEY_PATTERN.test(key) || !fs.existsSync(dir)) throw new InstallError('not_found', `no plugin folder ${dir} and no pending update for ${key}; nothing to approve`);
    const contentHash = hashFolder(dir, HASH_LIMITS);
    if (record && record.current.contentHash === contentHash) return { key, kind: 'unchanged', contentHash, widened: null, report: null, current: record.current };
    const checked = await this.check(dir, `plugin folder ${dir}`, 'it was not approved');
    return {
      key, kind: record ? 'changed_folder' : 'unrecorded_folder', contentHash, report: checked.report, current: record?.current ?? null,
      widened: record ? widening(record.current.capabilities, checked.capabilities) : null, checked,
    };
  }

  /** Approves what previewApproval shows. `expectHash` (what the administrator reviewed) guards against a change in between. */
  async approve(key: string, actor: string, expectHash?: string): Promise<{ preview: ApprovalPreview; record: PluginRecord }> {
    return this.locked(key, async () => {
      const { checked, ...preview } = await this.previewApproval(key);
      if (expectHash && expectHash !== preview.contentHash) {
        throw new InstallError('conflict', `plugin ${key} changed since it was reviewed (reviewed ${shortHash(expectHash)}…, now ${shortHash(preview.contentHash)}…); review it again`);
      }
      if (preview.kind === 'unchanged') throw new InstallError('nothing_to_do', `plugin ${key} is approved as it is (content hash ${shortHash(preview.contentHash)}…) and no update is pending; nothing to approve`);
      const record = await this.options.store.getPluginRecord(key);
      if (preview.kind === 'pending_update') {
        const staged = readStaged(this.pluginsDir, record!.pending!.stagingId);
        return { preview, record: await this.activate(staged, this.verifiedStagedDir(staged), record, actor) };
      }
      const dir = path.join(this.pluginsDir, key);
      if (hashFolder(dir, HASH_LIMITS) !== preview.contentHash) throw new InstallError('conflict', `plugin folder ${dir} changed while it was being checked; approve it again once nothing writes to it`);
      const current = folderVersion(checked!.plugin, preview.contentHash, 'approved-folder', actor, new Date().toISOString(), record?.current ?? null);
      const saved = await this.options.store.putPluginRecord({
        key, revision: record?.revision ?? 0, current, previous: record?.previous ?? [], pending: record?.pending ?? null,
      });
      return { preview, record: saved };
    });
  }

  /** Restores the newest kept version and its record; the version it replaces is deleted. */
  async rollback(key: string): Promise<{ restored: PluginVersion; replaced: PluginVersion; record: PluginRecord }> {
    return this.locked(key, async () => {
      if (!PLUGIN_KEY_PATTERN.test(key)) throw new InstallError('bad_source', `'${key.slice(0, 80)}' is not a plugin key (1-64 letters, digits, '_' or '-')`);
      const record = await this.options.store.getPluginRecord(key);
      const prev = record?.previous[0];
      if (!record || !prev) throw new InstallError('nothing_to_do', `plugin ${key} has no previous version kept; nothing to roll back to (versions are kept when an install replaces one)`);
      const kept = path.join(this.pluginsDir, prev.keptAt ?? '');
      // keptAt comes from the database: it must name a folder under .versions/<key>/, nothing else.
      const keptOk = prev.keptAt !== null && new RegExp(`^\\.versions/${key}/[A-Za-z0-9-]+$`).test(prev.keptAt) && fs.existsSync(kept);
      if (!keptOk) throw new InstallError('not_found', `the kept copy of ${key} ${prev.version ?? prev.id} (${kept}) is missing; reinstall that version instead`);
      const hash = hashFolder(kept, HASH_LIMITS);
      if (hash !== prev.contentHash) {
        throw new InstallError('tampered', `the kept copy of ${key} ${prev.version ?? prev.id} at ${kept} changed since it was approved (${shortHash(prev.contentHash)}… → ${shortHash(hash)}…); it is not restored`);
      }
      const restored: PluginVersion = { ...prev, keptAt: null };
      const saved = await this.options.store.putPluginRecord({ key, revision: record.revision, current: restored, previous: record.previous.slice(1), pending: null });
      restoreKept(this.pluginsDir, key, prev.keptAt!);
      if (record.pending) removeStaging(this.pluginsDir, record.pending.stagingId);
      return { restored, replaced: record.current, record: saved };
    });
  }

  /** Drops a staged install (and the pending update that points at it, if any). */
  async discard(stagingId: string): Promise<void> {
    const staged = readStaged(this.pluginsDir, stagingId);
    await this.locked(staged.key, async () => {
      const record = await this.options.store.getPluginRecord(staged.key);
      if (record?.pending?.stagingId === stagingId) await this.options.store.putPluginRecord({ ...record, pending: null });
      removeStaging(this.pluginsDir, stagingId);
    });
  }

  readStaged(stagingId: string): StagedInstall {
    return readStaged(this.pluginsDir, stagingId);
  }
}
