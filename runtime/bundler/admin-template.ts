// Bundles a platform plugin's admin template (templates/admin.js + the files it reads) into one
// classic script for the admin page's sandboxed settings frame. The platform runs admin.js with
// Node's `fs` available; in the browser there is none, so every `fs.readFileSync(__dirname +
// '/file')` is resolved here, at bundle time: the named file is checked (inside templates/, a text
// type, size-capped) and inlined into a tiny `fs` stand-in that can return exactly those files.
// Any other require — Node built-ins, npm packages, even the plugin's own files — is refused with
// file:line, so what runs in the frame is exactly admin.js plus its template text.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { PluginRejected, PluginRejectedMany } from '../plugin-errors.ts';
import type { PluginFiles } from './plugin-files.ts';
import { VIRTUAL_PLUGIN_ROOT } from './bundle-plugin.ts';

/** The global the bundle assigns the template's exports to; the frame runtime reads it. */
export const ADMIN_TEMPLATE_GLOBAL = '__psAdminTemplate';
export const MAX_TEMPLATE_FILE_BYTES = 256 * 1024;
export const MAX_ADMIN_BUNDLE_BYTES = 1024 * 1024;
const TEXT_EXTENSIONS = new Set(['.html', '.htm', '.txt', '.css', '.svg', '.json', '.md']);
const FS_MODULES = new Set(['fs', 'node:fs']);
const UNDECIDABLE_REQUIRE = new Set(['unsupported-require-call', 'indirect-require', 'unsupported-dynamic-import']);

export interface AdminTemplateBundle {
  key: string;
  code: string;
  sha256: string;
  /** Files read at bundle time, relative to the plugin folder (admin.js and the inlined files). */
  inputs: string[];
}

// `fs.readFileSync(<arg>` — the argument must be __dirname + 'literal' (or the template-literal
// spelling) so that the file is known before anything runs.
const READ_CALL = /\breadFileSync\s*\(\s*([^,)]*)/g;
const STATIC_ARGS = [
  /^__dirname\s*\+\s*(['"])([^'"\\]+)\1$/,
  /^`\$\{__dirname\}([^`$\\]+)`$/,
];

interface TemplateContext {
  key: string;
  pluginDir: string;    // realpath
  templatesDir: string; // realpath
  virtualDir: string;   // what __dirname says inside the bundle
  inlined: Map<string, { file: string; text: string }>; // virtual path → file
}

function rel(ctx: TemplateContext, file: string): string {
  return path.relative(ctx.pluginDir, file).split(path.sep).join('/');
}

function lineOf(source: string, index: number): number {
  return source.slice(0, index).split('\n').length;
}

/** Finds every readFileSync in admin.js and inlines the file it names, or refuses with file:line. */
function collectTemplateFiles(ctx: TemplateContext, file: string, source: string): PluginRejected[] {
  const problems: PluginRejected[] = [];
  const where = (index: number) => ({ file: rel(ctx, file), line: lineOf(source, index) });
  for (const m of source.matchAll(READ_CALL)) {
    const arg = m[1].trim();
    let relative: string | null = null;
    for (const pattern of STATIC_ARGS) {
      const hit = pattern.exec(arg);
      if (hit) relative = hit[hit.length - 1];
    }
    if (relative === null) {
      problems.push(new PluginRejected('template_dynamic_read',
        `fs.readFileSync(${arg.slice(0, 80)}) cannot be resolved when the template is bundled: name the file as __dirname + '/admin.html' so the admin page can inline it`, where(m.index)));
      continue;
    }
    if (!relative.startsWith('/')) {
      problems.push(new PluginRejected('template_dynamic_read', `fs.readFileSync(${arg}): __dirname has no trailing '/'; write __dirname + '/${relative}'`, where(m.index)));
      continue;
    }
    const target = path.resolve(ctx.templatesDir, `.${relative}`);
    let real: string;
    try {
      real = fs.realpathSync(target);
    } catch {
      problems.push(new PluginRejected('template_missing_file', `fs.readFileSync(${arg}): ${rel(ctx, target)} does not exist`, where(m.index)));
      continue;
    }
    if (!real.startsWith(ctx.templatesDir + path.sep)) {
      problems.push(new PluginRejected('template_outside', `fs.readFileSync(${arg}) refused: it leaves the templates folder (through '..' or a symlink)`, where(m.index)));
      continue;
    }
    if (!TEXT_EXTENSIONS.has(path.extname(real).toLowerCase())) {
      problems.push(new PluginRejected('template_file_type', `fs.readFileSync(${arg}) refused: only text files (${[...TEXT_EXTENSIONS].join(' ')}) can be inlined into the admin page`, where(m.index)));
      continue;
    }
    const size = fs.statSync(real).size;
    if (size > MAX_TEMPLATE_FILE_BYTES) {
      problems.push(new PluginRejected('too_large', `${rel(ctx, real)} is ${size} bytes; template files are limited to ${MAX_TEMPLATE_FILE_BYTES}`, where(m.index)));
      continue;
    }
    const virtualPath = path.posix.join(ctx.virtualDir, path.relative(ctx.templatesDir, real).split(path.sep).join('/'));
    ctx.inlined.set(virtualPath, { file: real, text: fs.readFileSync(real, 'utf8') });
  }
  return problems;
}

/** The `fs` the template sees in the frame: the inlined files, nothing else. */
function fsStandIn(ctx: TemplateContext): string {
  const table: Record<string, string> = {};
  for (const [virtualPath, { text }] of ctx.inlined) table[virtualPath] = text;
  return `var FILES = ${JSON.stringify(table)};
function normalise(p) {
  var out = [];
  String(p).split('/').forEach(function (seg) {
    if (seg === '' || seg === '.') return;
    if (seg === '..') out.pop(); else out.push(seg);
  });
  return '/' + out.join('/');
}
function readFileSync(p) {
  var k = normalise(p);
  if (Object.prototype.hasOwnProperty.call(FILES, k)) return FILES[k];
  throw new Error("fs.readFileSync('" + String(p) + "'): only the template files named in admin.js are available in the admin page");
}
function existsSync(p) { return Object.prototype.hasOwnProperty.call(FILES, normalise(p)); }
module.exports = { readFileSync: readFileSync, existsSync: existsSync };
`;
}

function templatePlugin(ctx: TemplateContext, entry: string, problems: PluginRejected[]): esbuild.Plugin {
  return {
    name: 'payout-sandbox-admin-template',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return { path: entry, namespace: 'template' };
        if (FS_MODULES.has(args.path)) return { path: 'fs', namespace: 'template-fs' };
        return {
          errors: [{
            text: `require('${args.path}') refused: an admin template runs in the browser and may only require 'fs' to read its own template files (fs.readFileSync(__dirname + '/admin.html'))`,
          }],
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'template' }, (args) => {
        const size = fs.statSync(args.path).size;
        if (size > MAX_TEMPLATE_FILE_BYTES) return { errors: [{ text: `${rel(ctx, args.path)} is ${size} bytes; template files are limited to ${MAX_TEMPLATE_FILE_BYTES}` }] };
        const source = fs.readFileSync(args.path, 'utf8');
        problems.push(...collectTemplateFiles(ctx, args.path, source));
        // Same line as the template's first line, so esbuild's line numbers stay the plugin's own.
        const prefix = `var __dirname = ${JSON.stringify(ctx.virtualDir)}, __filename = ${JSON.stringify(path.posix.join(ctx.virtualDir, path.basename(args.path)))};`;
        return { contents: prefix + source, loader: 'js', resolveDir: path.dirname(args.path) };
      });
      build.onLoad({ filter: /.*/, namespace: 'template-fs' }, () => ({ contents: fsStandIn(ctx), loader: 'js' }));
    },
  };
}

/**
 * esbuild leaves a require it cannot decide (require(name), `const r = require`) as a call to its
 * __require helper, without a warning on this platform. Any use of it other than its own
 * definition, the CommonJS wrapper's name, or `typeof require` means a computed require.
 */
function computedRequires(code: string, ctx: TemplateContext, entry: string): PluginRejected[] {
  const uses = [...code.matchAll(/\b__require\b/g)].filter((m) => {
    const before = code.slice(Math.max(0, m.index - 9), m.index);
    const after = code.slice(m.index + '__require'.length, m.index + '__require'.length + 3);
    return !/(?:function |typeof\s*\(?\s*|var )$/.test(before) && after !== ' = ';
  });
  if (!uses.length) return [];
  const source = fs.readFileSync(entry, 'utf8');
  const at = /\brequire\b(?!\s*\(\s*(['"`])[^'"`]*\1\s*\))/.exec(source.replace(/typeof\s+require\b/g, (t) => ' '.repeat(t.length)));
  return [new PluginRejected('computed_require',
    `computed require refused: ${at ? source.split('\n')[lineOf(source, at.index) - 1].trim() : 'require used other than as require(\'fs\')'} — an admin template may only require('fs') by its literal name`,
    at ? { file: rel(ctx, entry), line: lineOf(source, at.index) } : null)];
}

function locationOf(msg: esbuild.Message, ctx: TemplateContext) {
  if (!msg.location) return null;
  const file = msg.location.file.replace(/^template:/, '');
  return { file: path.isAbsolute(file) ? rel(ctx, file) : file, line: msg.location.line, column: msg.location.column };
}

function refusal(msg: esbuild.Message, ctx: TemplateContext): PluginRejected {
  if (UNDECIDABLE_REQUIRE.has(msg.id)) {
    return new PluginRejected('computed_require', `computed require refused: ${msg.location?.lineText.trim() ?? ''} — an admin template may only require('fs')`, locationOf(msg, ctx));
  }
  return new PluginRejected(msg.pluginName ? 'forbidden_require' : 'syntax_error', msg.text, locationOf(msg, ctx));
}

function throwAll(problems: PluginRejected[]): never {
  throw problems.length === 1 ? problems[0] : new PluginRejectedMany(problems);
}

export async function bundleAdminTemplate(files: PluginFiles): Promise<AdminTemplateBundle> {
  if (!files.templates?.adminJs) {
    throw new PluginRejected('no_admin_template', `plugin '${files.key}' has no templates/admin.js; the admin page shows its config without a custom settings page`);
  }
  const pluginDir = fs.realpathSync(files.dir);
  const templatesDir = fs.realpathSync(files.templates.dir);
  const entry = fs.realpathSync(files.templates.adminJs);
  const ctx: TemplateContext = {
    key: files.key, pluginDir, templatesDir, inlined: new Map(),
    virtualDir: path.posix.join(VIRTUAL_PLUGIN_ROOT, files.key, path.relative(pluginDir, templatesDir).split(path.sep).join('/')),
  };
  const problems: PluginRejected[] = [];
  let result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] };
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: ADMIN_TEMPLATE_GLOBAL,
      platform: 'browser',
      target: 'es2020',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      outfile: 'admin-template.js',
      plugins: [templatePlugin(ctx, entry, problems)],
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    if (Array.isArray(failure.errors) && failure.errors.length) throwAll([...problems, ...failure.errors.map((e) => refusal(e, ctx))]);
    throw err;
  }
  problems.push(...result.warnings.filter((w) => UNDECIDABLE_REQUIRE.has(w.id)).map((w) => refusal(w, ctx)));
  const code = result.outputFiles[0].text;
  problems.push(...computedRequires(code, ctx, entry));
  if (problems.length) throwAll(problems);
  if (code.length > MAX_ADMIN_BUNDLE_BYTES) {
    throw new PluginRejected('too_large', `the admin template bundles to ${code.length} bytes; the limit is ${MAX_ADMIN_BUNDLE_BYTES}`);
  }
  return {
    key: files.key,
    code,
    sha256: crypto.createHash('sha256').update(code).digest('hex'),
    inputs: [rel(ctx, entry), ...[...ctx.inlined.values()].map((f) => rel(ctx, f.file))],
  };
}
