// Fetches a package tarball the way npm would find it — GET <registry>/<name>, the dist-tag or exact
// version asked for, dist.tarball + dist.integrity — and verifies the sha512 SRI before a byte of it
// is unpacked. npm itself is never invoked, so no lifecycle script can run. Every download goes
// through the egress guard with the installer's policy (install-egress.ts): metadata from the
// registry's origin only, tarballs from there or an allowed tarball origin, each redirect re-checked.
//
// The token (from --registry-token-env or the admin form) is sent as a Bearer header to the registry's
// own origin only: not to a tarball host elsewhere, not across redirects, and never over plain http
// (plain http is accepted only for loopback registries allowed explicitly). It is never printed.
import crypto from 'node:crypto';
import { InstallError } from './install-errors.ts';
import type { InstallLimits } from './install-errors.ts';
import type { InstallEgress } from './install-egress.ts';

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org';
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/i;
const EXACT_VERSION = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;
const TAG = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

export interface NpmSpec { name: string; selector: { kind: 'tag' | 'version'; value: string } }

export function parseNpmSpec(spec: string): NpmSpec {
  const at = spec.lastIndexOf('@');
  const [name, wanted] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, 'latest'];
  if (!NAME.test(name) || name.length > 214) {
    throw new InstallError('bad_source', `'${spec.slice(0, 100)}' is not an npm package name (e.g. payout-nimbus, @acme/payout-nimbus@1.2.0, @acme/payout-nimbus@latest), nor an existing tarball or folder`);
  }
  const exact = EXACT_VERSION.exec(wanted);
  if (exact) return { name, selector: { kind: 'version', value: exact[1] } };
  if (TAG.test(wanted)) return { name, selector: { kind: 'tag', value: wanted } };
  throw new InstallError('bad_source', `'${wanted}' in ${spec} is neither an exact version (1.2.0) nor a dist-tag (latest, next); version ranges are not accepted, because what gets installed must be exactly what was reviewed`);
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Origin and path, without credentials or query (signed URLs carry secrets in the query). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(malformed URL)';
  }
}

export function checkFetchUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InstallError('bad_source', `${what} '${raw.slice(0, 200)}' is not a URL`);
  }
  if (url.username || url.password) throw new InstallError('bad_source', `${what} ${displayUrl(raw)} must not carry credentials in the URL; pass a token instead`);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  throw new InstallError('bad_source', `${what} ${displayUrl(raw)} must use https:// (plain http:// only for a registry on this machine, 127.0.0.1 or [::1], allowed with --allow-loopback-registry / npmAllowLoopback)`);
}

export function checkToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  // Never echo it: a bad character would otherwise end up in an error message from the HTTP client.
  if (!/^[\x21-\x7e]{1,4096}$/.test(token)) throw new InstallError('bad_source', 'the registry token has spaces, non-ASCII or control characters, or is over 4096 characters; check the value (it is not shown)');
  return token;
}

export interface ResolvedPackage { name: string; version: string; tarballUrl: string; integrity: string }

export async function resolveFromRegistry(spec: NpmSpec, registry: string, token: string | undefined, limits: InstallLimits, egress: InstallEgress): Promise<ResolvedPackage> {
  const base = checkFetchUrl(registry, 'the registry URL');
  const metaUrl = `${base.href.replace(/\/+$/, '')}/${spec.name.replace('/', '%2f')}`;
  const body = await egress.get(metaUrl, {
    purpose: 'metadata', token, maxBytes: limits.maxMetadataBytes, what: `the registry entry of ${spec.name}`,
    accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8',
  });
  let doc: { name?: unknown; 'dist-tags'?: Record<string, unknown>; versions?: Record<string, { name?: unknown; dist?: { tarball?: unknown; integrity?: unknown } }> };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InstallError('fetch_failed', `the registry entry of ${spec.name} at ${displayUrl(metaUrl)} is not JSON`);
  }
  const versions = doc.versions && typeof doc.versions === 'object' ? doc.versions : {};
  let version = spec.selector.value;
  if (spec.selector.kind === 'tag') {
    const tagged = doc['dist-tags']?.[version];
    if (typeof tagged !== 'string') {
      throw new InstallError('not_found', `${spec.name} has no dist-tag '${version}' in ${base.origin}; its tags: ${Object.keys(doc['dist-tags'] ?? {}).join(', ') || '(none)'}`);
    }
    version = tagged;
  }
  const manifest = Object.hasOwn(versions, version) ? versions[version] : undefined;
  if (!manifest) {
    throw new InstallError('not_found', `${spec.name}@${version} is not in ${base.origin}; newest versions: ${Object.keys(versions).slice(-8).join(', ') || '(none)'}`);
  }
  const tarball = manifest.dist?.tarball;
  const integrity = manifest.dist?.integrity;
  if (typeof tarball !== 'string') throw new InstallError('fetch_failed', `the registry entry of ${spec.name}@${version} has no dist.tarball`);
  if (typeof integrity !== 'string' || !sha512Digests(integrity).length) {
    throw new InstallError('integrity_mismatch', `the registry entry of ${spec.name}@${version} has no sha512 dist.integrity (only a sha1 shasum, or nothing); payout-sandbox installs only tarballs it can verify with sha512`);
  }
  return { name: spec.name, version, tarballUrl: new URL(tarball, base).href, integrity };
}

/** The base64 sha512 digests in an SRI string ("sha512-… sha1-…"); other algorithms are ignored. */
export function sha512Digests(sri: string): string[] {
  return sri.trim().split(/\s+/).filter((t) => t.startsWith('sha512-')).map((t) => t.slice(7).split('?')[0]);
}

export function sriOf(data: Buffer): string {
  return `sha512-${crypto.createHash('sha512').update(data).digest('base64')}`;
}

export function verifyIntegrity(data: Buffer, integrity: string, what: string): void {
  const actual = sriOf(data).slice(7);
  const expected = sha512Digests(integrity);
  if (!expected.includes(actual)) {
    throw new InstallError('integrity_mismatch', `the tarball of ${what} does not match its registry integrity: expected sha512-${expected[0]?.slice(0, 24)}…, got sha512-${actual.slice(0, 24)}…. The download was altered or the registry entry is wrong; nothing was installed`);
  }
}
