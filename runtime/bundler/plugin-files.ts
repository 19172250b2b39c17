// Finds the files of a platform-format plugin folder. Both spellings seen in the wild are
// accepted: callbacks.js (documented) / callback.js (seen), templates/ (documented) / template/.
import fs from 'node:fs';
import path from 'node:path';
import { PluginRejected } from '../plugin-errors.ts';
import { readPngSize } from './png-size.ts';

export const PLUGIN_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const MIN_ICON_SIDE = 150;

export interface PluginFiles {
  dir: string;
  key: string;
  /** platform: configure.js + index.js; sdk: plugin.ts (or plugin.js) with definePayoutPlugin. */
  format: 'platform' | 'sdk';
  /** configure.js (platform only). */
  configure: string | null;
  /** index.js (platform) or plugin.ts / plugin.js (sdk). */
  index: string;
  callbacks: string | null;
  templates: { dir: string; adminHtml: string | null; adminJs: string | null } | null;
  icon: { file: string; width: number; height: number } | null;
  warnings: string[];
}

function firstExisting(dir: string, names: string[]): string | null {
  for (const name of names) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

export function locatePluginFiles(pluginDir: string): PluginFiles {
  const dir = path.resolve(pluginDir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new PluginRejected('not_found', `plugin folder ${dir} does not exist`);
  }
  if (!stat.isDirectory()) throw new PluginRejected('not_a_folder', `${dir} is not a folder; pass the plugin's folder`);
  const key = path.basename(dir);
  if (!PLUGIN_KEY_PATTERN.test(key)) {
    throw new PluginRejected('bad_key',
      `plugin folder name '${key}' cannot be a plugin key: use 1-64 letters, digits, '_' or '-' (it appears in /payout_call/<key>/ URLs)`);
  }
  const configure = firstExisting(dir, ['configure.js']);
  const sdkEntry = configure ? null : firstExisting(dir, ['plugin.ts', 'plugin.js']);
  if (!configure && !sdkEntry) {
    throw new PluginRejected('missing_file', `configure.js is missing in ${dir}; a platform-format plugin declares its manifest there (an SDK-format plugin has plugin.ts instead)`);
  }
  const index = sdkEntry ?? firstExisting(dir, ['index.js']);
  if (!index) throw new PluginRejected('missing_file', `index.js is missing in ${dir}; it must export the plugin class`);

  const warnings: string[] = [];
  const callbacks = firstExisting(dir, ['callbacks.js', 'callback.js']);
  if (fs.existsSync(path.join(dir, 'callbacks.js')) && fs.existsSync(path.join(dir, 'callback.js'))) {
    warnings.push('both callbacks.js and callback.js exist; callbacks.js is used and callback.js is ignored');
  }
  const templatesDir = firstExisting(dir, ['templates', 'template']);
  const templates = templatesDir
    ? { dir: templatesDir, adminHtml: firstExisting(templatesDir, ['admin.html']), adminJs: firstExisting(templatesDir, ['admin.js']) }
    : null;
  if (!templates && !sdkEntry) warnings.push('no templates/ folder: the admin page will show a generic settings form');

  let icon: PluginFiles['icon'] = null;
  const iconFile = firstExisting(dir, ['icon.png']);
  if (!iconFile) {
    warnings.push('icon.png is missing; a placeholder is shown in the admin page');
  } else {
    const size = readPngSize(fs.readFileSync(iconFile));
    if (!size) warnings.push('icon.png is not a valid PNG file; a placeholder is shown');
    else {
      icon = { file: iconFile, ...size };
      if (size.width < MIN_ICON_SIDE || size.height < MIN_ICON_SIDE) {
        warnings.push(`icon.png is ${size.width}×${size.height}; the format asks for at least ${MIN_ICON_SIDE}×${MIN_ICON_SIDE}`);
      }
    }
  }
  return { dir, key, format: sdkEntry ? 'sdk' : 'platform', configure, index, callbacks: sdkEntry ? null : callbacks, templates, icon, warnings };
}

/** Paths relative to the plugin folder, for reports. */
export function describeFiles(files: PluginFiles): Record<string, unknown> {
  const rel = (f: string | null) => (f ? path.relative(files.dir, f) : null);
  return {
    format: files.format,
    configure: rel(files.configure),
    index: rel(files.index),
    callbacks: rel(files.callbacks),
    templates: files.templates
      ? { dir: rel(files.templates.dir), adminHtml: rel(files.templates.adminHtml), adminJs: rel(files.templates.adminJs) }
      : null,
    icon: files.icon ? { file: rel(files.icon.file), width: files.icon.width, height: files.icon.height } : null,
  };
}
