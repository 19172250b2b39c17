// Why an install, update, approval or rollback was refused, and the limits it was measured against.
// Every message names what was refused, where (entry, file, URL) and what to do instead, because
// the reader is an administrator who did not write the package.

export type InstallErrorCode =
  | 'bad_source'          // the source cannot be understood (spec, path, URL, key)
  | 'fetch_failed'        // the registry or tarball URL could not be read
  | 'not_found'           // package, version, tag, folder or staging not found
  | 'unauthorized'        // the registry refused the token
  | 'integrity_mismatch'  // tarball bytes differ from the registry's SRI
  | 'unsafe_archive'      // path escapes, links, devices, duplicates, corrupt headers
  | 'too_large'           // file count, file size, total size, download size, compression ratio
  | 'check_failed'        // the same checks as `payout-sandbox check` refused it
  | 'tampered'            // files changed after they were checked or approved
  | 'conflict'            // someone else changed the record or the folder in between
  | 'nothing_to_do';      // nothing pending, nothing changed, nothing kept

export class InstallError extends Error {
  readonly code: InstallErrorCode;
  constructor(code: InstallErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InstallError';
    this.code = code;
  }
}

export interface InstallLimits {
  /** Files in one package (directories do not count). */
  maxFiles: number;
  /** Bytes of one file. */
  maxFileBytes: number;
  /** Bytes of all files together, unpacked. */
  maxTotalBytes: number;
  /** Bytes of the downloaded or given .tgz. */
  maxTarballBytes: number;
  /** Unpacked tar bytes per gzip byte, checked once the tar passes 1 MiB. */
  maxCompressionRatio: number;
  /** Bytes of one relative path inside the package. */
  maxPathBytes: number;
  /** Bytes of registry metadata (the package document). */
  maxMetadataBytes: number;
  /** Per HTTP request (connect + headers + body). */
  fetchTimeoutMs: number;
}

export const DEFAULT_INSTALL_LIMITS: InstallLimits = {
  maxFiles: 2000,
  maxFileBytes: 8 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxTarballBytes: 32 * 1024 * 1024,
  maxCompressionRatio: 100,
  maxPathBytes: 1024,
  maxMetadataBytes: 32 * 1024 * 1024,
  fetchTimeoutMs: 60_000,
};

export function installLimits(overrides: Partial<InstallLimits> = {}): InstallLimits {
  return { ...DEFAULT_INSTALL_LIMITS, ...overrides };
}

export const mib = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB` : `${bytes} bytes`;
