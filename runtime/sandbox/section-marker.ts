// Whose timed section a shared sandbox process is in, readable by the server while the process is
// blocked (design.md §5). A plugin in a shared group may hold the process for as long as its own
// limits allow; a neighbour called meanwhile waits and its watchdog fires first. The server cannot
// ask a blocked process anything, so the process writes the plugin's key into a small record
// before each timed section (call-book.ts `timed`) and puts the previous record back after it; the
// supervisor reads the record before a watchdog kill.
//
// The record is a file the supervisor creates and unlinks before the process starts: both hold
// it only as a descriptor (the process's fd 4), so nothing can open it by name. Its process
// title was the first idea, but writing it replaces the command line the kernel shows
// (/proc/<pid>/cmdline loses the node flags operators and tests read there), and a file works
// everywhere, not only where /proc does. Only our sandbox process code writes it: plugin code runs
// in an isolate (or a QuickJS module) with no file system and no descriptor. One positional write
// per mark, two per section (measured ≈1.6 µs a section on a loaded machine, against ≈35 µs for
// the quickest call on a shared group), made only while the process holds more than one plugin: a
// process per plugin needs no marker, its only plugin is the culprit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The sandbox process's descriptor of the record (stdio index 4 of its spawn). */
export const SECTION_MARKER_FD = 4;
/** A key (PLUGIN_KEY_PATTERN: 64 characters at most) and its terminator, zero-padded. */
const RECORD_BYTES = 80;
/** Closes the key: a record torn or cut short names no shorter key. */
const END = ';';
const IDLE = Buffer.alloc(RECORD_BYTES);

// ---- the sandbox process's side ------------------------------------------------------------

let markerFd: number | null = null;
/** Plugins whose engines are alive in this process; the marker is written only past one. */
let liveEngines = 0;
/** The record last written: what a section puts back when it ends. */
let current: Buffer = IDLE;
const records = new Map<string, Buffer>();

/**
 * Called once by the sandbox process: marks go to `fd` if it is the record the supervisor made (a
 * regular file of its size). Started without one, that number may be a descriptor Node or an
 * engine opened for itself, which must never be written to: then nothing is marked.
 */
export function useSectionMarker(fd: number): void {
  try {
    const stat = fs.fstatSync(fd);
    markerFd = stat.isFile() && stat.size === RECORD_BYTES ? fd : null;
  } catch {
    markerFd = null;
  }
}

export function engineOpened(): void {
  liveEngines++;
}

export function engineClosed(): void {
  liveEngines = Math.max(0, liveEngines - 1);
}

/**
 * Marks the start of `plugin`'s timed section when the process is shared; returns what to hand
 * to `leaveSection` (the record before, or null when nothing was written).
 */
export function enterSection(plugin: string): Buffer | null {
  if (markerFd === null || liveEngines < 2) return null;
  let record = records.get(plugin);
  if (!record) {
    record = Buffer.alloc(RECORD_BYTES);
    record.write(`${plugin}${END}`.slice(0, RECORD_BYTES), 'latin1');
    records.set(plugin, record);
  }
  const before = current;
  return write(record) ? before : null;
}

export function leaveSection(before: Buffer | null): void {
  if (before !== null) write(before);
}

function write(record: Buffer): boolean {
  try {
    fs.writeSync(markerFd as number, record, 0, RECORD_BYTES, 0);
    current = record;
    return true;
  } catch {
    markerFd = null; // no record to write to (started without one): the watchdog's rule applies
    return false;
  }
}

// ---- the supervisor's side -----------------------------------------------------------------

/** The plugin a record names, or null. */
export function parseSectionMarker(record: string): string | null {
  const end = record.indexOf(END);
  if (end <= 0) return null;
  const key = record.slice(0, end);
  return /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(key) ? key : null;
}

export interface SectionMarkerFile {
  /** The descriptor to hand the process as its fd SECTION_MARKER_FD. */
  readonly fd: number;
  /** The plugin whose section the process is in, or null (between sections, unreadable). */
  read(): string | null;
  close(): void;
}

/** A fresh record for one sandbox process, already unlinked; null if none could be made. */
export function openSectionMarker(): SectionMarkerFile | null {
  let dir: string | null = null;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-marker-'));
    const file = path.join(dir, 'section');
    const fd = fs.openSync(file, 'w+', 0o600);
    fs.writeSync(fd, IDLE, 0, RECORD_BYTES, 0);
    fs.unlinkSync(file);
    let open = true;
    const buf = Buffer.alloc(RECORD_BYTES);
    return {
      fd,
      read() {
        if (!open) return null;
        try {
          const n = fs.readSync(fd, buf, 0, RECORD_BYTES, 0);
          return parseSectionMarker(buf.toString('latin1', 0, n));
        } catch {
          return null;
        }
      },
      close() {
        if (!open) return;
        open = false;
        try { fs.closeSync(fd); } catch { /* already closed */ }
      },
    };
  } catch {
    return null; // no temporary folder: the process runs without a marker (the watchdog's rule)
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
