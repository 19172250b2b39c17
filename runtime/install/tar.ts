// A small reader for npm package tarballs (.tgz): gunzip with a size and ratio cap, then ustar with
// the pax and GNU long-name extensions. It accepts regular files and folders only, and refuses
// everything that could write outside the staging folder or smuggle something in: absolute paths,
// '..' segments, backslashes, symlinks, hardlinks, devices, FIFOs, duplicate paths, and corrupt
// headers. It never touches the file system; writeArchive does, with 'wx' so nothing is overwritten.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { InstallError, mib } from './install-errors.ts';
import type { InstallLimits } from './install-errors.ts';

const gunzip = promisify(zlib.gunzip);
const BLOCK = 512;
const RATIO_FLOOR = 1024 * 1024;

export interface ArchiveFile { path: string; data: Buffer }
export interface Archive {
  files: ArchiveFile[];
  directories: string[];
  /** The single top-level folder every entry sat in ('package' for npm tarballs), removed from paths. */
  strippedPrefix: string | null;
}

const unsafe = (label: string, message: string): never => { throw new InstallError('unsafe_archive', `${label}: ${message}; nothing was installed`); };
const tooLarge = (label: string, message: string): never => { throw new InstallError('too_large', `${label}: ${message}; nothing was installed`); };

/** The most a tar of maxTotalBytes in maxFiles files can take: contents, headers, pax records, padding. */
function tarCap(limits: InstallLimits): number {
  return limits.maxTotalBytes + (limits.maxFiles * 2 + 16) * 3 * BLOCK;
}

export async function gunzipLimited(gz: Buffer, limits: InstallLimits, label: string): Promise<Buffer> {
  if (gz.length > limits.maxTarballBytes) tooLarge(label, `the tarball is ${mib(gz.length)}; the limit is ${mib(limits.maxTarballBytes)}`);
  if (gz.length < 18 || gz[0] !== 0x1f || gz[1] !== 0x8b) unsafe(label, 'is not a gzip-compressed tarball (.tgz): it does not start with the gzip signature');
  const cap = tarCap(limits);
  const byRatio = Math.max(RATIO_FLOOR, gz.length * limits.maxCompressionRatio);
  const maxOutputLength = Math.min(cap, byRatio);
  try {
    return await gunzip(gz, { maxOutputLength });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      if (byRatio < cap) {
        tooLarge(label, `unpacks to more than ${limits.maxCompressionRatio} times its compressed size (${mib(gz.length)} → over ${mib(maxOutputLength)}): a decompression bomb`);
      }
      tooLarge(label, `unpacks to more than ${mib(cap)}; the limit is ${mib(limits.maxTotalBytes)} of files`);
    }
    return unsafe(label, `is not a valid gzip file: ${(err as Error).message}`);
  }
}

function cstring(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

function octal(field: Buffer, what: string, label: string, at: number): number {
  if (field[0] & 0x80) return tooLarge(label, `the entry at byte ${at} gives its ${what} in base-256 form, used only for entries over 8 GiB`);
  const text = cstring(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) unsafe(label, `corrupt tar header at byte ${at}: ${what} '${text.slice(0, 20)}' is not an octal number`);
  return parseInt(text, 8);
}

function verifyChecksum(h: Buffer, label: string, at: number): void {
  const stored = octal(h.subarray(148, 156), 'checksum', label, at);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) unsafe(label, `corrupt tar header at byte ${at}: checksum mismatch (the file is damaged or not a tar archive)`);
}

/** pax extended header records: "<length> <key>=<value>\n". */
function parsePax(data: Buffer, label: string, at: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    const len = space < 0 ? NaN : Number(data.subarray(i, space).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) unsafe(label, `corrupt pax header at byte ${at}`);
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** A relative path with '/' separators, or null for the archive root itself ('./'). */
export function safeRelativePath(raw: string, label: string, maxBytes: number): string | null {
  const shown = JSON.stringify(raw.slice(0, 200));
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\ufffd]/.test(raw)) unsafe(label, `entry ${shown} has control characters or invalid UTF-8 in its name`);
  if (raw.startsWith('/')) unsafe(label, `entry ${shown} has an absolute path; package files must stay inside the package folder`);
  if (/^[A-Za-z]:/.test(raw)) unsafe(label, `entry ${shown} has a drive-letter path; package files must stay inside the package folder`);
  if (raw.includes('\\')) unsafe(label, `entry ${shown} contains a backslash; tar paths use '/' and a backslash could be read as a separator elsewhere`);
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) unsafe(label, `entry ${shown} escapes the package folder: its path has a '..' segment`);
  const rel = segments.join('/');
  if (Buffer.byteLength(rel) > maxBytes) tooLarge(label, `entry ${shown} has a path of ${Buffer.byteLength(rel)} bytes; the limit is ${maxBytes}`);
  return rel === '' ? null : rel;
}

const REFUSED_TYPES: Record<string, string> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '6': 'a FIFO (named pipe)',
};

export function parseTar(tar: Buffer, limits: InstallLimits, label: string): Archive {
  const files = new Map<string, Buffer>();
  const dirs = new Set<string>();
  let total = 0;
  let pax: Record<string, string> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker; anything after it is ignored, as tar does
    verifyChecksum(h, label, at);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    const size = pax?.size !== undefined ? Number(pax.size) : octal(h.subarray(124, 136), 'size', label, at);
    if (!Number.isSafeInteger(size) || size < 0) unsafe(label, `corrupt tar header at byte ${at}: bad size`);
    const start = at + BLOCK;
    if (start + size > tar.length) unsafe(label, `the archive is truncated: the entry at byte ${at} needs ${size} bytes that are not there`);
    const data = tar.subarray(start, start + size);
    const headerAt = at;
    at = start + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > 1024 * 1024) tooLarge(label, `a ${type === 'L' || type === 'K' ? 'GNU long-name' : 'pax'} header at byte ${headerAt} is ${mib(size)}`);
      if (type === 'x') pax = parsePax(data, label, headerAt);
      else if (type === 'L') longName = cstring(data);
      else if (type === 'K') longLink = cstring(data);
      continue; // 'g' (global pax header) carries nothing we use
    }

    let raw = pax?.path ?? longName ?? cstring(h.subarray(0, 100));
    if (pax?.path === undefined && longName === null && h.subarray(257, 262).toString('latin1') === 'ustar') {
      const prefix = cstring(h.subarray(345, 500));
      if (prefix) raw = `${prefix}/${raw}`;
    }
    const linkTarget = pax?.linkpath ?? longLink ?? cstring(h.subarray(157, 257));
    pax = null;
    longName = null;
    longLink = null;

    const rel = safeRelativePath(raw, label, limits.maxPathBytes);
    const shown = JSON.stringify(raw.slice(0, 200));
    if (REFUSED_TYPES[type]) {
      const target = type === '1' || type === '2' ? ` (to ${JSON.stringify(linkTarget.slice(0, 200))})` : '';
      unsafe(label, `entry ${shown} is ${REFUSED_TYPES[type]}${target}; plugin packages may hold only regular files and folders`);
    }
    if (type === '5') {
      if (rel !== null) dirs.add(rel);
      continue;
    }
    if (type !== '0' && type !== '7') unsafe(label, `entry ${shown} has tar type '${type}', which is not supported; plugin packages may hold only regular files and folders`);
    if (rel === null) unsafe(label, `a file entry at byte ${headerAt} has an empty name`);
    if (files.has(rel!)) unsafe(label, `entry ${shown} appears twice; a later copy would silently replace the one that was reviewed`);
    if (files.size + 1 > limits.maxFiles) tooLarge(label, `the package has more than ${limits.maxFiles} files`);
    if (size > limits.maxFileBytes) tooLarge(label, `file ${shown} is ${mib(size)}; the limit per file is ${mib(limits.maxFileBytes)}`);
    total += size;
    if (total > limits.maxTotalBytes) tooLarge(label, `the files add up to more than ${mib(limits.maxTotalBytes)} unpacked`);
    files.set(rel!, data);
  }
  return stripTopFolder(files, dirs, label);
}

/** npm packs everything under 'package/'; other packers use the project's folder name. Strip it when it is shared. */
function stripTopFolder(files: Map<string, Buffer>, dirs: Set<string>, label: string): Archive {
  const paths = [...files.keys()];
  if (paths.length === 0) unsafe(label, 'the archive holds no files');
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (files.has(parts.slice(0, i).join('/'))) unsafe(label, `'${parts.slice(0, i).join('/')}' is both a file and a folder in the archive`);
    }
  }
  const tops = new Set(paths.map((p) => p.split('/')[0]));
  const top = tops.size === 1 && paths.every((p) => p.includes('/')) ? [...tops][0] : null;
  const strip = (p: string) => (top ? p.slice(top.length + 1) : p);
  return {
    files: paths.sort().map((p) => ({ path: strip(p), data: files.get(p)! })),
    directories: [...dirs].filter((d) => !top || d.startsWith(`${top}/`)).map(strip).sort(),
    strippedPrefix: top,
  };
}

export async function readTarball(gz: Buffer, limits: InstallLimits, label: string): Promise<Archive> {
  return parseTar(await gunzipLimited(gz, limits, label), limits, label);
}

/** Writes into an empty folder. Modes are ours (0644 / 0755): no executable bits, setuid or odd owners from the archive. */
export function writeArchive(archive: Archive, dest: string): void {
  const root = path.resolve(dest);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const inside = (rel: string): string => {
    const target = path.resolve(root, rel);
    if (!target.startsWith(root + path.sep)) throw new InstallError('unsafe_archive', `entry '${rel}' resolves outside ${root}`);
    return target;
  };
  for (const d of archive.directories) fs.mkdirSync(inside(d), { recursive: true, mode: 0o755 });
  for (const f of archive.files) {
    const target = inside(f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    fs.writeFileSync(target, f.data, { flag: 'wx', mode: 0o644 });
  }
}
