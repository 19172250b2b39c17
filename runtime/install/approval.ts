// The approval check the plugin registry runs before it loads a folder: the folder's content hash
// must equal the one an administrator approved (or that was recorded on first sight). A mismatch
// means the files changed after approval — by hand, by a deploy script, or by an attacker — and
// the plugin is refused until someone looks at it and approves it again.
//
// A folder with no record at all (the bundled examples, a folder copied by hand) is trusted on
// first use: it loads and is recorded, so any later change is caught. With requireApproval it is
// refused instead, until `payout-sandbox approve <key>` or an install records it.
import path from 'node:path';
import { PluginRejected } from '../plugin-errors.ts';
import { StoreConflictError } from '../store/errors.ts';
import { newId } from '../store/ids.ts';
import type { Store } from '../store/store.ts';
import type { PluginRecord, PluginVersion } from '../store/types.ts';
import { capabilitiesOf } from './capabilities.ts';
import type { ReviewedPlugin } from './capabilities.ts';
import { hashFolder, shortHash } from './content-hash.ts';
import { readPackageInfo } from './package-info.ts';

export type RecordStore = Pick<Store, 'getPluginRecord' | 'putPluginRecord'>;

export interface ApprovalEvent {
  kind: 'trusted_on_first_use' | 'tampered' | 'unapproved';
  key: string;
  dir: string;
  contentHash: string | null;
  message: string;
}

export const TOFU_ACTOR = 'trust-on-first-use';

const howToApprove = (key: string): string =>
  `review the files, then approve them with \`payout-sandbox approve ${key}\` (or Approve in the admin page: POST /api/admin/plugins/${key}/approve)`;

export function tamperedMessage(key: string, dir: string, record: PluginRecord, contentHash: string): string {
  const v = record.current;
  return `plugin folder ${dir} changed since it was approved: its files hash to ${shortHash(contentHash)}…, ` +
    `the approved ${v.packageName ? `${v.packageName}@${v.version ?? '?'}` : 'version'} to ${shortHash(v.contentHash)}… ` +
    `(approved by ${v.approvedBy ?? '?'} at ${v.approvedAt ?? '?'}). It is not loaded. If the change is intended, ${howToApprove(key)}; ` +
    'otherwise restore the approved files or install the package again';
}

export function unapprovedMessage(key: string, dir: string): string {
  return `plugin folder ${dir} has never been approved and this server refuses unknown folders (requireApproval). ` +
    `Install it with \`payout-sandbox install\`, or ${howToApprove(key)}`;
}

export interface FolderApproval { record: PluginRecord | null; contentHash: string }

/** Throws PluginRejected ('tampered' | 'unapproved' | 'hash_failed'); returns the record (null: first sight). */
export async function verifyFolderApproval(store: RecordStore, key: string, dir: string, opts: { requireApproval: boolean }): Promise<FolderApproval> {
  let contentHash: string;
  try {
    contentHash = hashFolder(dir);
  } catch (err) {
    throw new PluginRejected('hash_failed', `cannot hash plugin folder ${dir} to compare it with its approval: ${(err as Error).message}`);
  }
  const record = await store.getPluginRecord(key);
  if (!record) {
    if (opts.requireApproval) throw new PluginRejected('unapproved', unapprovedMessage(key, dir));
    return { record: null, contentHash };
  }
  if (record.current.contentHash !== contentHash) throw new PluginRejected('tampered', tamperedMessage(key, dir, record, contentHash));
  return { record, contentHash };
}

/** The version record of a folder as it is now (first use, or approved after a change). */
export function folderVersion(plugin: ReviewedPlugin, contentHash: string, kind: 'first-use' | 'approved-folder', actor: string, nowIso: string, base: PluginVersion | null = null): PluginVersion {
  const pkg = readPackageInfo(plugin.dir);
  return {
    id: newId(), packageName: pkg.name ?? base?.packageName ?? null, version: pkg.version ?? base?.version ?? null,
    integrity: null, contentHash, capabilities: capabilitiesOf(plugin), scriptsNotRun: pkg.scripts.map((s) => s.name),
    source: { kind, spec: path.resolve(plugin.dir), registry: null, tarballUrl: null },
    approvedBy: actor, approvedAt: nowIso, keptAt: null,
  };
}

/**
 * Records a folder seen for the first time. Two servers may race here: the loser re-reads, and is
 * fine if the winner recorded the same files, refused (tampered) if it recorded different ones.
 */
export async function trustOnFirstUse(store: RecordStore, plugin: ReviewedPlugin, contentHash: string): Promise<PluginRecord> {
  const version = folderVersion(plugin, contentHash, 'first-use', TOFU_ACTOR, new Date().toISOString());
  try {
    return await store.putPluginRecord({ key: plugin.key, revision: 0, current: version, previous: [], pending: null });
  } catch (err) {
    if (!(err instanceof StoreConflictError)) throw err;
    const winner = await store.getPluginRecord(plugin.key);
    if (winner && winner.current.contentHash === contentHash) return winner;
    if (winner) throw new PluginRejected('tampered', tamperedMessage(plugin.key, plugin.dir, winner, contentHash));
    throw err;
  }
}

export function firstUseMessage(key: string, dir: string, contentHash: string): string {
  return `plugin ${key}: folder ${dir} had no approval record; trusted on first use and recorded (content hash ${shortHash(contentHash)}…). ` +
    `From now on it is refused if its files change, until \`payout-sandbox approve ${key}\`. Set requireApproval to refuse unknown folders instead`;
}
