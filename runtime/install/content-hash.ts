// The content hash that pins an approved plugin folder, and the folder walk under it. The hash is
// sha256 over every entry sorted by relative path: for a file "f\0<path>\0<size>\0<bytes>", for a
// symlink "l\0<path>\0<target>\0" (never followed), for anything else "o\0<path>\0" (never read:
// opening a FIFO would block). Any added, removed, renamed or edited file changes it; timestamps
// and modes do not, so a copy or a restore from backup keeps it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InstallError, mib } from './install-errors.ts';

export interface FolderEntry {
  rel: string;
  abs: string;
  kind: 'file' | 'symlink' | 'other';
  size: number;
}

export interface WalkLimits { maxFiles: number; maxTotalBytes: number; maxFileBytes?: number }

/** Hashing an existing plugin folder at start: bound the work, not the plugin (it may ship odd extras). */
export const HASH_LIMITS: WalkLimits = { maxFiles: 20_000, maxTotalBytes: 512 * 1024 * 1024 };

const byPath = (a: FolderEntry, b: FolderEntry): number => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);

export function walkFolder(root: string, limits: WalkLimits = HASH_LIMITS): FolderEntry[] {
  const out: FolderEntry[] = [];
  let total = 0;
  const visit = (dir: string, prefix: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, d.name);
      const rel = prefix ? `${prefix}/${d.name}` : d.name;
      if (d.isDirectory()) { visit(abs, rel); continue; }
      const st = fs.lstatSync(abs);
      const kind = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      if (out.length + 1 > limits.maxFiles) throw new InstallError('too_large', `${root} holds more than ${limits.maxFiles} files`);
      if (kind === 'file') {
        if (limits.maxFileBytes !== undefined && st.size > limits.maxFileBytes) {
          throw new InstallError('too_large', `${abs} is ${mib(st.size)}; the limit per file is ${mib(limits.maxFileBytes)}`);
        }
        total += st.size;
        if (total > limits.maxTotalBytes) throw new InstallError('too_large', `the files in ${root} add up to more than ${mib(limits.maxTotalBytes)}`);
      }
      out.push({ rel, abs, kind, size: kind === 'file' ? st.size : 0 });
    }
  };
  visit(root, '');
  return out.sort(byPath);
}

export function hashEntries(entries: FolderEntry[]): string {
  const h = crypto.createHash('sha256');
  for (const e of entries) {
    if (e.kind === 'file') {
      const data = fs.readFileSync(e.abs);
      h.update(`f\0${e.rel}\0${data.length}\0`);
      h.update(data);
    } else if (e.kind === 'symlink') {
      h.update(`l\0${e.rel}\0${fs.readlinkSync(e.abs)}\0`);
    } else {
      h.update(`o\0${e.rel}\0`);
    }
  }
  return `sha256:${h.digest('hex')}`;
}

export function hashFolder(root: string, limits: WalkLimits = HASH_LIMITS): string {
  return hashEntries(walkFolder(root, limits));
}

/** Copies a plugin folder for installation: regular files only, so a symlink cannot point the copy elsewhere. */
export function copyPluginFolder(src: string, dest: string, limits: WalkLimits & { maxFileBytes: number }): void {
  const root = path.resolve(src);
  const entries = walkFolder(root, limits);
  const bad = entries.find((e) => e.kind !== 'file');
  if (bad) {
    const what = bad.kind === 'symlink' ? `a symbolic link (to ${JSON.stringify(fs.readlinkSync(bad.abs))})` : 'not a regular file (device, FIFO or socket)';
    throw new InstallError('unsafe_archive', `${bad.rel} in ${root} is ${what}; plugin folders may hold only regular files and folders. Replace it with the file itself; nothing was installed`);
  }
  if (entries.length === 0) throw new InstallError('bad_source', `${root} is empty; give a plugin folder with configure.js and index.js`);
  for (const e of entries) {
    const target = path.join(dest, e.rel);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    fs.copyFileSync(e.abs, target, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(target, 0o644);
  }
}

export const shortHash = (hash: string): string => hash.replace(/^sha256:/, '').slice(0, 12);
