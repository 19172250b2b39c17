// Whose timed section a shared sandbox process is in, readable by the server while the process is
// blocked (design.md §5). A plugin in a shared group may hold the process for as long as its own
// limits allow; a neighbour called meanwhile waits and its watchdog fires first. The server cannot
// ask a blocked process anything, so the process writes the plugin's key into its own title before
// each timed section (call-book.ts `timed`) and puts the previous title back after it; Linux shows
// the title in /proc/<pid>/cmdline, which the supervisor reads before a watchdog kill.
//
// Only our sandbox process code writes it: plugin code runs in an isolate (or a QuickJS module)
// with no `process`, and no host capability or local service touches the title. Measured ≈0.45 µs
// per write; written only while the process holds more than one plugin (a process per plugin needs
// no marker: its only plugin is the culprit). Elsewhere than Linux nothing is read: the watchdog's
// own rule applies (crash-attribution.ts).
import fs from 'node:fs';

const PREFIX = 'ps-section:';
/** Closes the key: a title cut short by the room the kernel gives it must not name a shorter key. */
const END = ';';

/** Plugins whose engines are alive in this process; the marker is written only past one. */
let liveEngines = 0;

export function engineOpened(): void {
  liveEngines++;
}

export function engineClosed(): void {
  liveEngines = Math.max(0, liveEngines - 1);
}

/**
 * Marks the start of `plugin`'s timed section when the process is shared; returns what to hand
 * to `leaveSection` (the title before, or null when nothing was written).
 */
export function enterSection(plugin: string): string | null {
  if (liveEngines < 2) return null;
  const before = process.title;
  process.title = `${PREFIX}${plugin}${END}`;
  return before;
}

export function leaveSection(before: string | null): void {
  if (before !== null) process.title = before;
}

/** The plugin a title or cmdline names as in its section, or null. */
export function parseSectionMarker(cmdline: string): string | null {
  const first = cmdline.split('\0', 1)[0];
  if (!first.startsWith(PREFIX)) return null;
  const end = first.indexOf(END, PREFIX.length);
  if (end <= PREFIX.length) return null;
  return first.slice(PREFIX.length, end);
}

/** Reads the marker of a running sandbox process; null where there is none or it cannot be read. */
export function readSectionMarker(pid: number): string | null {
  try {
    return parseSectionMarker(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return null; // not Linux, or the process is gone
  }
}
