// Where the installer keeps things, all inside the plugins folder so that every move is a rename
// within one file system (atomic: a folder is either the old version or the new one, never half):
//   <plugins>/.staging/<stagingId>/stage.json        what was staged, checked and by whom (no token)
//   <plugins>/.staging/<stagingId>/plugin/<key>/     the checked files (the folder name is the key,
//                                                    as the bundler and the plugin itself derive it)
//   <plugins>/.versions/<key>/<versionId>/           previous versions kept for rollback
// The registry skips folders whose names start with '.', so none of these is ever loaded as a plugin.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { newId } from '../store/ids.ts';
import type { PluginVersion } from '../store/types.ts';
import { InstallError } from './install-errors.ts';
import type { SkippedScript } from './package-info.ts';

export const STAGING_DIR = '.staging';
export const VERSIONS_DIR = '.versions';
const STAGING_ID = /^[0-9a-f]{32}$/;

/** What stage.json holds: enough to confirm later, from another request or another process. */
export interface StagedInstall {
  stagingId: string;
  key: string;
  createdAt: string;
  stagedBy: string;
  candidate: PluginVersion;
  scripts: SkippedScript[];
  dependencies: string[];
  warnings: string[];
  report: unknown;
}

export const newStagingId = (): string => crypto.randomBytes(16).toString('hex');

export function stagingRoot(pluginsDir: string, id: string): string {
  if (!STAGING_ID.test(id)) throw new InstallError('bad_source', `'${String(id).slice(0, 60)}' is not a staging id (32 hex characters, as returned by the stage step)`);
  return path.join(pluginsDir, STAGING_DIR, id);
}

export const stagedPluginDir = (pluginsDir: string, id: string, key: string): string => path.join(stagingRoot(pluginsDir, id), 'plugin', key);

export function writeStaged(pluginsDir: string, staged: StagedInstall): void {
  fs.writeFileSync(path.join(stagingRoot(pluginsDir, staged.stagingId), 'stage.json'), JSON.stringify(staged), { mode: 0o600 });
}

export function readStaged(pluginsDir: string, id: string): StagedInstall {
  const file = path.join(stagingRoot(pluginsDir, id), 'stage.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InstallError('not_found', `no staged install ${id} in ${path.join(pluginsDir, STAGING_DIR)}: it was confirmed, discarded or expired; stage it again`);
  }
  return JSON.parse(text) as StagedInstall;
}

export function removeStaging(pluginsDir: string, id: string): void {
  fs.rmSync(stagingRoot(pluginsDir, id), { recursive: true, force: true });
}

/** Drops stagings older than ttlMs, except those a pending update still points at. */
export function pruneStaging(pluginsDir: string, ttlMs: number, keep: Set<string>, nowMs = Date.now()): void {
  const root = path.join(pluginsDir, STAGING_DIR);
  if (!fs.existsSync(root)) return;
  for (const d of fs.readdirSync(root, { withFileTypes: true })) {
    if (!STAGING_ID.test(d.name) || keep.has(d.name)) continue;
    const st = fs.statSync(path.join(root, d.name), { throwIfNoEntry: false });
    if (st && nowMs - st.mtimeMs > ttlMs) fs.rmSync(path.join(root, d.name), { recursive: true, force: true });
  }
}

/** A relative kept-version path that does not exist yet. */
function freeVersionRel(pluginsDir: string, key: string, id: string): string {
  let rel = path.posix.join(VERSIONS_DIR, key, id);
  while (fs.existsSync(path.join(pluginsDir, rel))) rel = path.posix.join(VERSIONS_DIR, key, `${id}-${newId()}`);
  return rel;
}

/**
 * Puts `source` in place as <plugins>/<key>. The folder there (if any) is kept under .versions and its
 * relative path returned. Two renames: between them the key has no folder for a moment, which only a
 * server starting at that very instant could notice (it would skip the plugin until its next reload).
 */
export function swapIntoPlace(pluginsDir: string, key: string, source: string, keptId: string): string | null {
  const target = path.join(pluginsDir, key);
  let keptRel: string | null = null;
  if (fs.existsSync(target)) {
    keptRel = freeVersionRel(pluginsDir, key, keptId);
    fs.mkdirSync(path.dirname(path.join(pluginsDir, keptRel)), { recursive: true, mode: 0o700 });
    fs.renameSync(target, path.join(pluginsDir, keptRel));
  }
  try {
    fs.renameSync(source, target);
  } catch (err) {
    if (keptRel) fs.renameSync(path.join(pluginsDir, keptRel), target);
    throw new InstallError('conflict', `could not move ${source} to ${target}: ${(err as Error).message}; the previous folder was put back`, { cause: err });
  }
  return keptRel;
}

/** Rollback: the kept folder goes back in place; the folder it replaces is deleted. */
export function restoreKept(pluginsDir: string, key: string, keptRel: string): void {
  const target = path.join(pluginsDir, key);
  const discarded = swapIntoPlace(pluginsDir, key, path.join(pluginsDir, keptRel), `discarded-${newId()}`);
  if (discarded) fs.rmSync(path.join(pluginsDir, discarded), { recursive: true, force: true });
  if (!fs.existsSync(target)) throw new InstallError('conflict', `restoring ${keptRel} to ${target} failed`);
}

export function removeKept(pluginsDir: string, keptRel: string | null): void {
  if (!keptRel || !keptRel.startsWith(`${VERSIONS_DIR}/`) || keptRel.split('/').includes('..')) return;
  fs.rmSync(path.join(pluginsDir, keptRel), { recursive: true, force: true });
}
