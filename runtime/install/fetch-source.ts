// Turns what the administrator gave — an npm spec, a tarball URL, a local .tgz or a local folder —
// into plugin files in an empty staging folder, within the install limits, without running anything.
import fs from 'node:fs';
import path from 'node:path';
import type { PluginSource } from '../store/types.ts';
import { copyPluginFolder } from './content-hash.ts';
import { InstallError, mib } from './install-errors.ts';
import type { InstallLimits } from './install-errors.ts';
import type { InstallEgress } from './install-egress.ts';
import { checkFetchUrl, checkToken, displayUrl, parseNpmSpec, resolveFromRegistry, sriOf, verifyIntegrity } from './npm-registry.ts';
import { readTarball, writeArchive } from './tar.ts';

export interface SourceRequest {
  source: string;
  /** Used once, for this fetch; never stored, printed or returned. */
  token?: string;
  registry: string;
  /** Local paths are for the command line only: an HTTP caller must not read the server's disk. */
  allowLocal: boolean;
  limits: InstallLimits;
  /** Every download goes through it: the egress guard with the installer's policy per purpose. */
  egress: InstallEgress;
}

export interface FetchedSource {
  source: PluginSource;
  /** For npm: the name and version the registry resolved. */
  registryName: string | null;
  registryVersion: string | null;
  integrity: string | null;
  /** The folder the files sat in, for a default key (folder sources). */
  folderName: string | null;
}

const LOOKS_LOCAL = /^(\.{1,2}([/\\]|$)|\/|~|[A-Za-z]:[/\\])|\.(tgz|tar\.gz|tar)$/i;

export async function fetchSource(req: SourceRequest, dest: string): Promise<FetchedSource> {
  const raw = req.source.trim();
  if (raw === '') throw new InstallError('bad_source', 'no source given: pass an npm package (name, name@version, name@tag), a tarball URL, or (command line only) a .tgz file or a plugin folder');
  const token = checkToken(req.token);

  if (/^https?:\/\//i.test(raw)) {
    checkFetchUrl(raw, 'the tarball');
    const data = await req.egress.get(raw, { purpose: 'url', token, maxBytes: req.limits.maxTarballBytes, what: 'the tarball' });
    writeArchive(await readTarball(data, req.limits, displayUrl(raw)), dest);
    return { source: { kind: 'url', spec: displayUrl(raw), registry: null, tarballUrl: displayUrl(raw) }, registryName: null, registryVersion: null, integrity: sriOf(data), folderName: null };
  }

  const local = path.resolve(raw);
  const st = req.allowLocal ? fs.statSync(local, { throwIfNoEntry: false }) : undefined;
  if (st?.isDirectory()) {
    copyPluginFolder(local, dest, req.limits);
    return { source: { kind: 'folder', spec: local, registry: null, tarballUrl: null }, registryName: null, registryVersion: null, integrity: null, folderName: path.basename(local) };
  }
  if (st?.isFile()) {
    if (st.size > req.limits.maxTarballBytes) throw new InstallError('too_large', `${local} is ${mib(st.size)}; the limit for a tarball is ${mib(req.limits.maxTarballBytes)}`);
    const data = fs.readFileSync(local);
    writeArchive(await readTarball(data, req.limits, path.basename(local)), dest);
    return { source: { kind: 'tarball', spec: local, registry: null, tarballUrl: null }, registryName: null, registryVersion: null, integrity: sriOf(data), folderName: null };
  }
  if (st) throw new InstallError('bad_source', `${local} is neither a file nor a folder`);
  if (LOOKS_LOCAL.test(raw)) {
    if (!req.allowLocal) throw new InstallError('bad_source', `'${raw.slice(0, 200)}' looks like a local path; over HTTP give an npm package or an https tarball URL (local files and folders are installed with the command line)`);
    throw new InstallError('not_found', `${local} does not exist; give an existing .tgz file or plugin folder, or an npm package name`);
  }

  const spec = parseNpmSpec(raw);
  const resolved = await resolveFromRegistry(spec, req.registry, token, req.limits, req.egress);
  const what = `${resolved.name}@${resolved.version}`;
  // Registry data chooses this URL: it is held to the registry's origin (or an allowed tarball origin).
  const data = await req.egress.get(resolved.tarballUrl, { purpose: 'tarball', token, maxBytes: req.limits.maxTarballBytes, what: `the tarball of ${what}` });
  verifyIntegrity(data, resolved.integrity, what);
  writeArchive(await readTarball(data, req.limits, `the tarball of ${what}`), dest);
  return {
    source: { kind: 'npm', spec: raw, registry: req.registry.replace(/\/+$/, ''), tarballUrl: displayUrl(resolved.tarballUrl) },
    registryName: resolved.name, registryVersion: resolved.version, integrity: resolved.integrity, folderName: null,
  };
}
