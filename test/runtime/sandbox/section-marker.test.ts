// The record of whose timed section a shared sandbox process is in (section-marker.ts): its
// format, when it is written, that the supervisor reads what the process wrote, and that the
// process writes to no descriptor that is not that record.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  engineClosed, engineOpened, enterSection, leaveSection, openSectionMarker, parseSectionMarker, useSectionMarker,
} from '../../../runtime/sandbox/section-marker.ts';
import type { SectionMarkerFile } from '../../../runtime/sandbox/section-marker.ts';

let opened = 0;
const markers: SectionMarkerFile[] = [];
function openEngines(n: number): void {
  for (let i = 0; i < n; i++) engineOpened();
  opened += n;
}
function record(): SectionMarkerFile {
  const marker = openSectionMarker();
  if (!marker) throw new Error('no section record could be made');
  markers.push(marker);
  return marker;
}
afterEach(() => {
  for (; opened > 0; opened--) engineClosed();
  useSectionMarker(-1);
  for (const m of markers.splice(0)) m.close();
});

describe('section marker', () => {
  it('names a plugin only when the record holds a whole key', () => {
    expect(parseSectionMarker('holder;\0\0\0')).toBe('holder');
    expect(parseSectionMarker('hold\0\0\0')).toBeNull(); // torn or cut short: not a shorter key
    expect(parseSectionMarker(';\0\0')).toBeNull();
    expect(parseSectionMarker('\0'.repeat(80))).toBeNull(); // between sections
    expect(parseSectionMarker('../x;')).toBeNull();
  });

  it('is written only while the process holds more than one plugin, and put back after each section', () => {
    const marker = record();
    useSectionMarker(marker.fd);
    openEngines(1);
    expect(enterSection('holder')).toBeNull(); // a process per plugin: nothing written
    expect(marker.read()).toBeNull();
    openEngines(1);
    const before = enterSection('holder');
    expect(marker.read()).toBe('holder');
    const inner = enterSection('holder'); // a section entered from inside one (the prelude's forget)
    leaveSection(inner);
    expect(marker.read()).toBe('holder');
    leaveSection(before);
    expect(marker.read()).toBeNull();
    // A longer key, then a shorter one: the record names the shorter one whole.
    leaveSection(enterSection('a-much-longer-plugin-key'));
    const short = enterSection('b');
    expect(marker.read()).toBe('b');
    leaveSection(short);
  });

  it('is reachable by no name: the record is unlinked before any process gets it', () => {
    expect(fs.fstatSync(record().fd).nlink).toBe(0);
  });

  it('writes to no descriptor that is not a record the supervisor made', () => {
    openEngines(2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-marker-test-'));
    try {
      const other = path.join(dir, 'other');
      fs.writeFileSync(other, 'not a marker');
      const fd = fs.openSync(other, 'r+');
      try {
        useSectionMarker(fd);
        expect(enterSection('holder')).toBeNull();
        expect(fs.readFileSync(other, 'utf8')).toBe('not a marker');
      } finally {
        fs.closeSync(fd);
      }
      // Control: the supervisor's record is taken.
      const marker = record();
      useSectionMarker(marker.fd);
      const before = enterSection('holder');
      expect(before).not.toBeNull();
      expect(marker.read()).toBe('holder');
      leaveSection(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads nothing once closed', () => {
    const marker = record();
    marker.close();
    expect(marker.read()).toBeNull();
  });
});
