// The dev watcher keeps seeing saves after a file was replaced by rename (editors' atomic save,
// `sed -i`, `git checkout`), sees touch, new and deleted files, and says which file changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeChanges, watchFolder } from '../../../runtime/cli/watch-folder.ts';
import type { FolderChange, FolderWatcher } from '../../../runtime/cli/watch-folder.ts';

let watcher: FolderWatcher | null = null;
afterEach(() => watcher?.close());

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-watch-'));
  fs.writeFileSync(path.join(dir, 'plugin.ts'), 'export default 1;\n');
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', 'fees.ts'), 'export const fee = 1;\n');
  const seen: FolderChange[][] = [];
  watcher = watchFolder(dir, (c) => seen.push(c), { debounceMs: 30, pollMs: 200 });
  return { dir, seen };
}

async function next(seen: FolderChange[][], count: number): Promise<FolderChange[]> {
  const deadline = Date.now() + 10_000;
  while (seen.length < count) {
    if (Date.now() > deadline) throw new Error(`no change reported (${seen.length} reports so far: ${JSON.stringify(seen)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return seen[count - 1];
}

// How atomic-save editors and `sed -i` write: a new file renamed over the old one.
function renameSave(file: string, text: string) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp${process.hrtime.bigint()}`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

describe('watchFolder', () => {
  it('keeps seeing saves and touch after rename-style saves', async () => {
    const { dir, seen } = setup();
    const file = path.join(dir, 'plugin.ts');
    renameSave(file, 'export default 2;\n');
    expect(await next(seen, 1)).toEqual([{ file: 'plugin.ts', kind: 'changed' }]);
    renameSave(file, 'export default 3;\n');
    expect(await next(seen, 2)).toEqual([{ file: 'plugin.ts', kind: 'changed' }]);
    // The file is now a different inode than the one first watched: a plain write and a touch.
    fs.writeFileSync(file, 'export default 4;\n');
    expect(await next(seen, 3)).toEqual([{ file: 'plugin.ts', kind: 'changed' }]);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    expect(await next(seen, 4)).toEqual([{ file: 'plugin.ts', kind: 'changed' }]);
    // In a sub-folder too.
    renameSave(path.join(dir, 'lib', 'fees.ts'), 'export const fee = 2;\n');
    expect(await next(seen, 5)).toEqual([{ file: 'lib/fees.ts', kind: 'changed' }]);
    fs.appendFileSync(path.join(dir, 'lib', 'fees.ts'), '// again\n');
    expect(await next(seen, 6)).toEqual([{ file: 'lib/fees.ts', kind: 'changed' }]);
  });

  it('reports new and deleted files and folders, and ignores editor and dependency files', async () => {
    const { dir, seen } = setup();
    fs.writeFileSync(path.join(dir, '.plugin.ts.swp'), 'x');
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'node_modules', 'x.js'), 'x');
    fs.writeFileSync(path.join(dir, 'plugin.ts~'), 'x');
    fs.mkdirSync(path.join(dir, 'extra'));
    fs.writeFileSync(path.join(dir, 'extra', 'a.ts'), 'export {};\n');
    expect(await next(seen, 1)).toEqual([{ file: 'extra/a.ts', kind: 'added' }]);
    fs.rmSync(path.join(dir, 'lib'), { recursive: true });
    expect(await next(seen, 2)).toEqual([{ file: 'lib/fees.ts', kind: 'removed' }]);
    // `git checkout` of another branch: the whole file replaced and another one appears.
    fs.rmSync(path.join(dir, 'plugin.ts'));
    renameSave(path.join(dir, 'plugin.ts'), 'export default 9;\n');
    fs.writeFileSync(path.join(dir, 'extra', 'b.ts'), 'export {};\n');
    const changes = await next(seen, 3);
    expect(changes).toEqual([{ file: 'extra/b.ts', kind: 'added' }, { file: 'plugin.ts', kind: 'changed' }]);
    expect(describeChanges(changes)).toBe('extra/b.ts added, plugin.ts changed');
  });

  it('the poll alone finds a change (positive control for a lost event)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-watch-'));
    fs.writeFileSync(path.join(dir, 'plugin.ts'), 'a');
    const seen: FolderChange[][] = [];
    watcher = watchFolder(dir, (c) => seen.push(c), { debounceMs: 60_000, pollMs: 100 });
    fs.writeFileSync(path.join(dir, 'plugin.ts'), 'bb');
    // The events' debounce never ends within the test; only a rescan (what the poll does) reports.
    watcher.rescan();
    expect(seen).toEqual([[{ file: 'plugin.ts', kind: 'changed' }]]);
  });
});
