// What the host serves from a plugin folder besides running its code — the admin settings
// template (admin.js bundled with the files it reads) and icon.png — taken once, when the plugin is
// loaded, and kept in memory with the loaded plugin. The registry takes it between the two content
// hashes of a load (before bundling, and after), so what is kept is the approved, hashed content:
// a file edited on disk afterwards is never read again until the next load, which refuses the
// folder as tampered (install/approval.ts), exactly as an edited index.js is.
import fs from 'node:fs';
import { bundleAdminTemplate } from '../bundler/admin-template.ts';
import type { AdminTemplateBundle } from '../bundler/admin-template.ts';
import type { LoadedPlugin } from './load-plugin.ts';

/** An icon larger than this is not kept (the admin page shows its placeholder). */
export const MAX_ICON_BYTES = 1024 * 1024;

export type AdminTemplateSnapshot = { ok: true; bundle: AdminTemplateBundle } | { ok: false; error: string };

export interface ServedFiles {
  /** icon.png as approved; null when the plugin has none (or it is not a usable PNG, or too large). */
  icon: Buffer | null;
  /** The settings template bundle, or why it could not be bundled; null when the plugin has no templates/admin.js. */
  adminTemplate: AdminTemplateSnapshot | null;
}

export async function snapshotServedFiles(plugin: LoadedPlugin): Promise<ServedFiles> {
  const files = plugin.bundle.files;
  let icon: Buffer | null = null;
  if (files.icon) {
    // Gone or replaced since the folder was hashed: the second hash of the load refuses the folder.
    let bytes: Buffer | null = null;
    try {
      bytes = fs.readFileSync(files.icon.file);
    } catch {
      bytes = null;
    }
    icon = bytes && bytes.length <= MAX_ICON_BYTES ? bytes : null;
  }
  let adminTemplate: AdminTemplateSnapshot | null = null;
  if (files.templates?.adminJs) {
    // A template that does not bundle leaves the plugin loaded: the admin page says why instead.
    try {
      adminTemplate = { ok: true, bundle: await bundleAdminTemplate(files) };
    } catch (err) {
      adminTemplate = { ok: false, error: (err as Error).message };
    }
  }
  return { icon, adminTemplate };
}
