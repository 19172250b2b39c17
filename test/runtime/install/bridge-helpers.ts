// Copies a plugin folder (what a path around approval would do to the files in place).
import fs from 'node:fs';

export function copyFolder(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
}
