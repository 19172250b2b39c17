// The instance id is stable per data-folder slot: a restarted server gets its old id back (and so
// recognises its own leases); two live servers on one folder never share one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { claimInstanceSlot } from '../../../runtime/server/instance-slot.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });
function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-slot-'));
  dirs.push(d);
  return d;
}
function holdSlot(dir: string, n: number, pid: number, host = os.hostname()): void {
  fs.writeFileSync(path.join(dir, `instance-${n}.lock`), JSON.stringify({ pid, host }));
}

it('a released slot, or one whose process is gone, gives the same id again', () => {
  const dir = dataDir();
  const first = claimInstanceSlot(dir);
  expect(first.id).toMatch(/^ps-[0-9a-f]{10}-1$/);
  first.release();
  expect(claimInstanceSlot(dir).id).toBe(first.id);
  // Killed: the slot file is left behind naming a pid that no longer runs.
  holdSlot(dir, 1, 999_999_999);
  expect(claimInstanceSlot(dir, () => false).id).toBe(first.id);
});

it('a slot held by a live process (or by another host) is never taken: the next one is', () => {
  const dir = dataDir();
  const base = claimInstanceSlot(dir).id.replace(/-1$/, '');
  // Our own slot 1 is held by this live process: a second server here gets slot 2.
  expect(claimInstanceSlot(dir).id).toBe(`${base}-2`);
  holdSlot(dir, 3, 4242, 'another-host');
  holdSlot(dir, 4, 4343);
  expect(claimInstanceSlot(dir, (pid) => pid === 4343).id).toBe(`${base}-5`);
  // Positive control: the same pid reported dead frees slot 4.
  expect(claimInstanceSlot(dir, () => false).id).toBe(`${base}-4`);
});

it('a hand-edited instance-id is refused with one line saying how to fix it', () => {
  const dir = dataDir();
  fs.writeFileSync(path.join(dir, 'instance-id'), 'bad id with spaces\n');
  expect(() => claimInstanceSlot(dir)).toThrow(/instance-id holds .* delete the file to get a new one/);
});
