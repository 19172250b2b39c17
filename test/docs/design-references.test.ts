// Code comments and docs cite the design document as `design.md §N`: every citation must lead to a
// heading that exists in docs/design.md, so a reader can always follow it.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const design = fs.readFileSync(path.join(root, 'docs/design.md'), 'utf8');
const headings = new Set([...design.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]));
const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n')
  .filter((f) => /\.(ts|js|cjs|mjs|md)$/.test(f) && !f.startsWith('test/docs/'));

describe('design.md references', () => {
  it('the design document has its numbered sections (positive control)', () => {
    expect([...headings]).toEqual(expect.arrayContaining(['1', '4.1', '5', '6', '10']));
  });

  it('every `design.md §N` in the repository names a section that exists', () => {
    const broken: string[] = [];
    let count = 0;
    for (const file of tracked) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/design\.md §(\d+(?:\.\d+)?)/g)) {
        count++;
        if (!headings.has(m[1])) broken.push(`${file}: §${m[1]}`);
      }
    }
    expect(count).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });
});
