// The marker a shared sandbox process writes into its title while a plugin's timed section runs
// (section-marker.ts): its format, when it is written, and that only the marker module writes the
// title anywhere in the runtime.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  engineClosed, engineOpened, enterSection, leaveSection, parseSectionMarker, readSectionMarker,
} from '../../../runtime/sandbox/section-marker.ts';

const titleAtStart = process.title;
let opened = 0;
function openEngines(n: number): void {
  for (let i = 0; i < n; i++) engineOpened();
  opened += n;
}
afterEach(() => {
  for (; opened > 0; opened--) engineClosed();
  process.title = titleAtStart;
});

describe('section marker', () => {
  it('names the plugin only when the title is a whole marker', () => {
    expect(parseSectionMarker('ps-section:holder;\0\0\0')).toBe('holder');
    expect(parseSectionMarker('ps-section:holder;')).toBe('holder');
    // Cut short by the room the kernel gives the title: no terminator, no name (not a shorter key).
    expect(parseSectionMarker('ps-section:hold')).toBeNull();
    expect(parseSectionMarker('ps-section:;')).toBeNull();
    // An ordinary command line, or the marker text as a later argument.
    expect(parseSectionMarker('/usr/bin/node\0--no-node-snapshot\0/tmp/x/sandbox-process.mjs\0')).toBeNull();
    expect(parseSectionMarker('node\0ps-section:holder;\0')).toBeNull();
  });

  it('is written only while the process holds more than one plugin, and the title is put back after', () => {
    openEngines(1);
    expect(enterSection('holder')).toBeNull(); // a process per plugin: nothing written
    expect(process.title).toBe(titleAtStart);
    openEngines(1);
    const before = enterSection('holder');
    expect(parseSectionMarker(process.title)).toBe('holder');
    const inner = enterSection('holder'); // a section entered from inside one (the prelude's forget)
    leaveSection(inner);
    expect(parseSectionMarker(process.title)).toBe('holder');
    leaveSection(before);
    expect(process.title).toBe(titleAtStart);
  });

  it.runIf(process.platform === 'linux')('is what the kernel shows for the process', () => {
    openEngines(2);
    const before = enterSection('holder');
    try {
      expect(readSectionMarker(process.pid)).toBe('holder');
    } finally {
      leaveSection(before);
    }
    expect(readSectionMarker(process.pid)).toBeNull(); // control: between sections
  });

  it('reads nothing from a process that is not there', () => {
    expect(readSectionMarker(2 ** 22 + 12345)).toBeNull();
  });

  it('is the only writer of the process title in the runtime (plugins reach none of them)', () => {
    const root = path.resolve(import.meta.dirname, '../../../runtime');
    const writers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/\.(ts|js)$/.test(entry.name) && /process\s*\.\s*title\s*=(?!=)|process\s*,\s*['"]title['"]|process\s*\[\s*['"]title['"]\s*\]\s*=(?!=)/.test(fs.readFileSync(full, 'utf8'))) writers.push(path.relative(root, full));
      }
    };
    walk(root);
    // The marker module itself is found: the search can see a writer.
    expect(writers).toEqual([path.join('sandbox', 'section-marker.ts')]);
  });
});
