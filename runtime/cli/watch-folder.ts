// Watches a plugin folder for `dev` and says what changed. fs.watch alone is not enough: on Linux
// a recursive watch follows inodes, so once an editor's atomic save, `sed -i` or `git checkout`
// replaced a file by rename, later saves and `touch` of it went unseen. So the folder is compared
// with a snapshot (size, mtime, ctime, inode of every file): fs.watch events make the comparison
// run at once, and a poll runs it anyway, so a missed event costs at most one poll interval.
import fs from 'node:fs';
import path from 'node:path';

export interface FolderChange {
  /** Relative to the folder, with '/' separators. */
  file: string;
  kind: 'added' | 'changed' | 'removed';
}

export interface FolderWatcher {
  close(): void;
  /** Compares the folder with the last snapshot now (what a poll does). */
  rescan(): void;
}

export interface WatchFolderOptions {
  /** Quiet time after the last event before changes are reported (editors write in bursts). Default 150. */
  debounceMs?: number;
  /** How often the folder is compared even without events. Default 500. */
  pollMs?: number;
  /** Called when the folder could not be read (it was removed, permissions). */
  onError?: (message: string) => void;
}

/** Names never watched: dependencies, VCS and editor state, swap and backup files. */
export function ignoredName(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.') || name.endsWith('~') || /\.sw[a-p]$/.test(name) || /^\d+$/.test(name) || name.startsWith('#');
}

type Snapshot = Map<string, string>;

function snapshot(root: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string, prefix: string, depth: number) => {
    if (depth > 16) return;
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (ignoredName(e.name)) continue;
      const full = path.join(dir, e.name);
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(full, rel, depth + 1);
      else if (e.isFile()) {
        try {
          const s = fs.statSync(full);
          out.set(rel, `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`);
        } catch { /* removed between readdir and stat: the next scan sees it gone */ }
      }
    }
  };
  walk(root, '', 0);
  return out;
}

function diff(before: Snapshot, after: Snapshot): FolderChange[] {
  const changes: FolderChange[] = [];
  for (const [file, sig] of after) {
    const old = before.get(file);
    if (old === undefined) changes.push({ file, kind: 'added' });
    else if (old !== sig) changes.push({ file, kind: 'changed' });
  }
  for (const file of before.keys()) if (!after.has(file)) changes.push({ file, kind: 'removed' });
  return changes.sort((a, b) => a.file.localeCompare(b.file));
}

export function watchFolder(root: string, onChange: (changes: FolderChange[]) => void, o: WatchFolderOptions = {}): FolderWatcher {
  const dir = path.resolve(root);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
  let last = snapshot(dir);
  let closed = false;
  let debounce: NodeJS.Timeout | null = null;
  let missingReported = false;

  const rescan = () => {
    if (closed) return;
    if (!fs.existsSync(dir)) {
      if (!missingReported) o.onError?.(`${dir} is gone; recreate it and the watch goes on`);
      missingReported = true;
      return;
    }
    missingReported = false;
    const now = snapshot(dir);
    const changes = diff(last, now);
    last = now;
    if (changes.length) onChange(changes);
  };
  const soon = () => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => { debounce = null; rescan(); }, o.debounceMs ?? 150);
  };

  // Events only say "look now"; the snapshot says what changed. A watch that fails (too many
  // inotify watches, the folder replaced) leaves the poll doing the work.
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(dir, { recursive: true }, (_event, file) => {
      if (String(file ?? '').split(/[\\/]/).some(ignoredName)) return;
      soon();
    });
    watcher.on('error', () => { watcher?.close(); watcher = null; });
  } catch { watcher = null; }
  const poll = setInterval(() => { if (!debounce) rescan(); }, o.pollMs ?? 500);

  return {
    rescan,
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
    },
  };
}

/** "plugin.ts changed, lib/fees.ts added" */
export function describeChanges(changes: FolderChange[]): string {
  const shown = changes.slice(0, 5).map((c) => `${c.file} ${c.kind}`);
  return changes.length > 5 ? `${shown.join(', ')} and ${changes.length - 5} more` : shown.join(', ');
}
