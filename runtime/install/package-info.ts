// What a package's package.json says that matters to an installer that never runs npm: its name and
// version, and the lifecycle scripts npm would have run on the server during `npm install` — which we
// never run, and report so that the administrator knows what the author expected to happen.
import fs from 'node:fs';
import path from 'node:path';

/** Scripts npm runs when it installs a package (prepare & co. for git and folder installs). */
export const LIFECYCLE_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare'] as const;

export interface SkippedScript { name: string; command: string }

export interface PackageInfo {
  name: string | null;
  version: string | null;
  /** Lifecycle scripts present in package.json: none of them was run. */
  scripts: SkippedScript[];
  /** Declared dependencies: never installed (a plugin may only require what the sandbox provides). */
  dependencies: string[];
  warnings: string[];
}

const MAX_PACKAGE_JSON = 1024 * 1024;

export function readPackageInfo(dir: string): PackageInfo {
  const info: PackageInfo = { name: null, version: null, scripts: [], dependencies: [], warnings: [] };
  const file = path.join(dir, 'package.json');
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st?.isFile() && st.size <= MAX_PACKAGE_JSON) {
    let pkg: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) pkg = parsed as Record<string, unknown>;
      else info.warnings.push('package.json is not a JSON object; it was ignored');
    } catch (err) {
      info.warnings.push(`package.json is not valid JSON (${(err as Error).message}); it was ignored`);
    }
    if (typeof pkg.name === 'string') info.name = pkg.name;
    if (typeof pkg.version === 'string') info.version = pkg.version;
    const scripts = pkg.scripts && typeof pkg.scripts === 'object' ? pkg.scripts as Record<string, unknown> : {};
    for (const name of LIFECYCLE_SCRIPTS) {
      if (typeof scripts[name] === 'string') info.scripts.push({ name, command: scripts[name] as string });
    }
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies'] as const) {
      const deps = pkg[field];
      if (deps && typeof deps === 'object') info.dependencies.push(...Object.keys(deps as object));
    }
  } else if (st && !st.isFile()) {
    info.warnings.push('package.json is not a regular file; it was ignored');
  } else if (st) {
    info.warnings.push(`package.json is larger than ${MAX_PACKAGE_JSON} bytes; it was ignored`);
  }
  // npm runs `node-gyp rebuild` for a package with binding.gyp and no install script of its own.
  if (fs.existsSync(path.join(dir, 'binding.gyp')) && !info.scripts.some((s) => s.name === 'install' || s.name === 'preinstall')) {
    info.scripts.push({ name: 'install', command: 'node-gyp rebuild (implicit: the package has binding.gyp)' });
  }
  info.dependencies = [...new Set(info.dependencies)].sort();
  return info;
}
