// `payout-sandbox new <name> [--format sdk|platform] [--dir plugins]`: a plugin folder that loads,
// passes `check`, and passes its own tests out of the box — plugin files, a test file using the
// test kit, and a fake provider script that both the tests and `dev --fake-provider` use. The
// templates live in runtime/cli/scaffold/ (*.tmpl, so nothing compiles or runs them here).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { PLUGIN_KEY_PATTERN } from '../../bundler/plugin-files.ts';

export type PluginFormat = 'sdk' | 'platform';

export interface NewOptions {
  name: string;
  format?: PluginFormat;
  /** Where the plugin folder is created (default ./plugins). */
  dir?: string;
}

export interface NewResult {
  key: string;
  format: PluginFormat;
  dir: string;
  /** Relative to `dir`. */
  files: string[];
}

const SCAFFOLD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scaffold');

/** acme-pay → "Acme Pay" (title) and AcmePay (class name). */
export function namesFor(key: string): { title: string; className: string } {
  const words = key.split(/[-_]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1));
  const className = words.join('').replace(/^[0-9]/, (d) => `P${d}`);
  return { title: words.join(' '), className };
}

function walk(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    return d.isDirectory() ? walk(path.join(dir, d.name), rel) : [rel];
  });
}

export function scaffoldPlugin(o: NewOptions): NewResult {
  const key = o.name;
  const format = o.format ?? 'sdk';
  if (format !== 'sdk' && format !== 'platform') throw new Error(`--format ${String(format)}: use sdk or platform`);
  if (!PLUGIN_KEY_PATTERN.test(key)) {
    throw new Error(`'${key}' cannot be a plugin key: use 1-64 letters, digits, '_' or '-', starting with a letter or digit (it is the folder name and appears in /payout_call/<key>/ URLs)`);
  }
  const target = path.resolve(o.dir ?? 'plugins', key);
  if (fs.existsSync(target)) throw new Error(`${target} already exists; choose another name or remove it`);
  const { title, className } = namesFor(key);
  const fill = (text: string) => text.replaceAll('__KEY__', key).replaceAll('__TITLE__', title).replaceAll('__CLASS__', className);

  const sources: { from: string; to: string; binary?: boolean }[] = [
    ...walk(path.join(SCAFFOLD, format)).map((rel) => ({ from: path.join(SCAFFOLD, format, rel), to: rel.replace(/\.tmpl$/, '') })),
    { from: path.join(SCAFFOLD, 'fake-provider.ts.tmpl'), to: 'test/fake-provider.ts' },
    { from: path.join(SCAFFOLD, 'icon.png'), to: 'icon.png', binary: true },
  ];
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // Written into a sibling temp folder and renamed, so a failure never leaves half a plugin behind.
  const staging = fs.mkdtempSync(path.join(path.dirname(target), `.${key}-new-`));
  try {
    for (const s of sources) {
      const out = path.join(staging, s.to);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      if (s.binary) fs.copyFileSync(s.from, out);
      else fs.writeFileSync(out, fill(fs.readFileSync(s.from, 'utf8')));
    }
    fs.renameSync(staging, target);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return { key, format, dir: target, files: sources.map((s) => s.to).sort() };
}

export function runNew(name: string, flags: { format?: string; dir?: string }): void {
  let result: NewResult;
  try {
    result = scaffoldPlugin({ name, format: (flags.format ?? 'sdk') as PluginFormat, dir: flags.dir });
  } catch (err) {
    process.stderr.write(`payout-sandbox new: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const rel = path.relative(process.cwd(), result.dir) || '.';
  const next = [
    [`npx vitest run --dir ${rel}`, 'its tests, in the real sandbox'],
    [`npx payout-sandbox check ${rel}`, 'can a host accept it?'],
    [`npx payout-sandbox typecheck ${rel}`, 'its code against the SDK types (dev does it on every save)'],
    [`npx payout-sandbox dev ${rel} --fake-provider`, "run it on a local host, reloaded on every save; type 'trigger {}' there for a signed webhook"],
  ];
  const width = Math.max(...next.map(([c]) => c.length));
  process.stdout.write([
    `created ${rel} (${result.format} format):`,
    ...result.files.map((f) => `  ${f}`),
    '',
    'next:',
    ...next.map(([c, why]) => `  ${c.padEnd(width)}   # ${why}`),
    '',
    'the guide: sdk/README.md',
    '',
  ].join('\n'));
}

export function registerNewCommand(program: Command): void {
  program
    .command('new')
    .description('create a payout plugin folder that passes check and its own tests: plugin files, a test using the test kit, a fake provider')
    .argument('<name>', "the plugin key (its folder name): letters, digits, '_' or '-'")
    .option('--format <format>', 'sdk (typed, secrets stay host-side) or platform (configure.js + index.js, runs on exchanger platforms)', 'sdk')
    .option('--dir <dir>', 'where to create the plugin folder', 'plugins')
    .action((name: string, opts) => runNew(name, opts));
}
