// A reviewer's view of the plugin's own source: which host modules it requires and where, and
// which URLs it spells out. Regex-level on purpose: it reports what a human would grep for; the
// bundler, not this scan, is what enforces the require rules. Computed once, when the plugin is
// bundled: the reviewer's report never reads the plugin's files again.
import fs from 'node:fs';
import path from 'node:path';
import { HOST_MODULES, decideRequire } from './host-modules.ts';
import type { HostModuleId } from './host-modules.ts';
import type { PluginFiles } from './plugin-files.ts';
import { bridgeUses, buildsCodeFromStrings, helperConfigReads, unsafeSignatureCompares } from './source-review.ts';

/** Every capability name a host module reaches: what a direct bridge call could ask for. */
export const KNOWN_CAPABILITIES: ReadonlySet<string> = new Set(Object.values(HOST_MODULES).flatMap((m) => m.capabilities as readonly string[]));

export interface SourceScan {
  hostModules: { module: HostModuleId; request: string; file: string; line: number; provides: string }[];
  urlLiterals: { url: string; origin: string | null; file: string; line: number }[];
  /** Config keys read with config.get('literal'), or through a helper (`via`: its name) called with a literal. */
  configKeysRead: { key: string; file: string; line: number; via?: string }[];
  /** db.OrderPayoutTxs operations used. */
  dbOperations: { operation: string; file: string; line: number }[];
  /** Direct use of the host bridge: each capability name spelled in a file that names it (null: none spelled). */
  bridge: { capability: string | null; file: string; line: number }[];
  /** A value computed by createHmac/digest compared with == / === (not constant-time). */
  unsafeCompares: { file: string; line: number; text: string }[];
  /** Files that build code from strings (eval, new Function). */
  dynamicCode: string[];
  /** A platform plugin's source names initCron: the host hands its cron context ({ db, updateHistory }) to it. */
  mentionsInitCron: boolean;
}

const REQUIRE_RE = /\brequire\s*\(\s*(['"])([^'"]+)\1\s*\)/g;
// ES imports (SDK-format plugins): `import x from 'm'`, `import { a } from 'm'`, `import 'm'`.
// `import type` is erased before the code runs, so it loads nothing.
const IMPORT_RE = /\bimport\s+(?!type\s)(?:[^'";]*?\s+from\s+)?(['"])([^'"]+)\1/g;
const URL_RE = /\bhttps?:\/\/[^\s'"`<>)\\]+/g;
const CONFIG_GET_RE = /\bconfig\.get\(\s*(['"])([^'"]+)\1/g;
const SECRET_REF_RE = /\b(?:bearer|key|passwordKey|secretKey)\s*:\s*(['"])([A-Za-z_][\w.-]*)\1/g;
const DB_OP_RE = /\bOrderPayoutTxs\s*\.\s*(find|findOne|findById|countDocuments|updateOne|updateMany|create|insertMany|deleteOne|deleteMany|aggregate)\b/g;

function lineOf(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export function scanSources(files: PluginFiles, inputs: string[], used: Set<HostModuleId>): SourceScan {
  const scan: SourceScan = { hostModules: [], urlLiterals: [], configKeysRead: [], dbOperations: [], bridge: [], unsafeCompares: [], dynamicCode: [], mentionsInitCron: false };
  const all = new Set([...inputs, ...(files.configure ? [path.relative(files.dir, files.configure)] : [])]);
  for (const rel of all) {
    // Every plugin source the bundle holds: a .cjs/.mjs file can reach the bridge as well as a .js one.
    if (!/\.[cm]?[jt]s$/.test(rel)) continue;
    const source = fs.readFileSync(path.join(files.dir, rel), 'utf8');
    for (const m of [...source.matchAll(REQUIRE_RE), ...source.matchAll(IMPORT_RE)]) {
      const decision = decideRequire(m[2]);
      if (decision.kind === 'host' && used.has(decision.moduleId)) {
        scan.hostModules.push({ module: decision.moduleId, request: m[2], file: rel, line: lineOf(source, m.index), provides: HOST_MODULES[decision.moduleId].provides });
      }
    }
    for (const m of source.matchAll(URL_RE)) {
      scan.urlLiterals.push({ url: m[0], origin: originOf(m[0]), file: rel, line: lineOf(source, m.index) });
    }
    for (const m of source.matchAll(CONFIG_GET_RE)) scan.configKeysRead.push({ key: m[2], file: rel, line: lineOf(source, m.index) });
    if (files.format === 'sdk') for (const m of source.matchAll(SECRET_REF_RE)) scan.configKeysRead.push({ key: m[2], file: rel, line: lineOf(source, m.index) });
    for (const m of source.matchAll(DB_OP_RE)) scan.dbOperations.push({ operation: m[1], file: rel, line: lineOf(source, m.index) });
    for (const r of helperConfigReads(source)) scan.configKeysRead.push({ key: r.key, file: rel, line: r.line, via: r.helper });
    for (const b of bridgeUses(source, KNOWN_CAPABILITIES)) scan.bridge.push({ ...b, file: rel });
    for (const u of unsafeSignatureCompares(source)) scan.unsafeCompares.push({ ...u, file: rel });
    if (buildsCodeFromStrings(source)) scan.dynamicCode.push(rel);
    if (files.format !== 'sdk' && /\binitCron\b/.test(source)) scan.mentionsInitCron = true;
  }
  return scan;
}
