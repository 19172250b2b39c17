// `payout-sandbox install | approve | rollback`: install and update plugins from npm, a tarball or a
// folder without running their code outside a sandbox (runtime/install/), re-approve a changed
// folder, restore the previous version. Each shows the reviewer's report before it changes anything
// and asks (or takes --yes). They work on the plugins folder and the store; a running server picks
// the change up on its next start or POST /api/admin/plugins/<key>/reload (the admin API does both).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { describeWidening } from '../../install/capabilities.ts';
import { Installer } from '../../installer/installer.ts';
import type { StageResult } from '../../installer/installer.ts';
import { DEFAULT_REGISTRY } from '../../install/npm-registry.ts';
import type { AuditReport } from '../../installer/plugin-check.ts';
import { openStore, resolveStoreUrl } from '../../store/open-store.ts';
import type { Store } from '../../store/store.ts';
import type { PluginVersion } from '../../store/types.ts';
import { errorInfo, section } from '../output.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Asks on the terminal; null when there is no terminal to ask on. */
  ask(question: string): Promise<boolean> | null;
}

export interface CommonFlags { plugins?: string; data?: string; db?: string; json?: boolean; yes?: boolean }
export interface InstallFlags extends CommonFlags {
  key?: string; registry?: string; registryTokenEnv?: string;
  /** Origins besides the registry's that dist.tarball may point at. */
  tarballOrigin?: string[];
  /** The registry (and tarball origins) may be loopback: a mirror on this machine, tests. */
  allowLoopbackRegistry?: boolean;
  /** The registry (and tarball origins) may resolve to a private network: an internal mirror. */
  allowPrivateRegistry?: boolean;
}

export function processIo(): CliIo {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    ask: (question) => {
      if (!process.stdin.isTTY) return null;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      return rl.question(`${question} [y/N] `).then((a) => /^y(es)?$/i.test(a.trim())).finally(() => rl.close());
    },
  };
}

function cliActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

async function openFor(flags: CommonFlags): Promise<{ store: Store; pluginsDir: string }> {
  const dataDir = path.resolve(flags.data ?? './data');
  const url = resolveStoreUrl(flags.db, { ...process.env, PAYOUT_SANDBOX_DB: process.env.PAYOUT_SANDBOX_DB ?? `sqlite:${path.join(dataDir, 'payout-sandbox.db')}` });
  if (url.startsWith('sqlite:') && url !== 'sqlite::memory:') fs.mkdirSync(path.dirname(path.resolve(url.slice('sqlite:'.length))), { recursive: true, mode: 0o700 });
  const pluginsDir = path.resolve(flags.plugins ?? './plugins');
  fs.mkdirSync(pluginsDir, { recursive: true });
  return { store: await openStore(url), pluginsDir };
}

/** --yes confirms; otherwise a terminal is asked; without one nothing changes. */
async function confirmed(io: CliIo, flags: CommonFlags, question: string): Promise<boolean | 'no_terminal'> {
  if (flags.yes) return true;
  const answer = io.ask(question);
  return answer === null ? 'no_terminal' : answer;
}

export function formatReport(r: AuditReport): string {
  return [
    r.summary,
    section('Host modules required', r.hostModules.map((m) => `${m.at}  require('${m.request}') → ${m.provides}`)),
    section('Capabilities reachable', r.capabilities),
    section('Direct host bridge calls', r.bridge.map((b) => `${b.at}  ${b.capability ?? '(no capability name spelled)'}${b.granted ? '' : ' — refused at run time'}`)),
    section('Network: requested by the manifest', r.network.requested),
    section('Network: granted', r.network.granted),
    section('Network: URL literals in the source', r.network.urlLiterals.map((u) => `${u.at}  ${u.url}`)),
    section('Network: set by config', r.network.configOrigins.map((o) => o.text)),
    section('Config keys', r.config.map((c) => `${c.key}${c.secret ? ' [secret]' : ''}${c.readAt.length ? `  read at ${c.readAt.join(', ')}` : ''}`)),
    section('Callbacks', r.callbacks.map((c) => `POST ${c.path}`)),
    section('Cron', r.cron ? [r.cron.schedule] : []),
    section('Risk flags', r.risks.map((f) => `[${f.severity}] ${f.flag}: ${f.detail}`)),
  ].join('\n');
}

const named = (v: Pick<PluginVersion, 'packageName' | 'version'> | { name: string | null; version: string | null }, key: string) =>
  `${('packageName' in v ? v.packageName : v.name) ?? key}@${v.version ?? '?'}`;

function formatStage(s: StageResult): string {
  const lines = [
    `Staged plugin ${s.key}: ${named(s.package, s.key)} from ${s.package.source.kind} ${s.package.source.spec ?? ''}`,
    `  integrity ${s.package.integrity ?? '(none: a folder)'}`,
    `  content   ${s.contentHash}`,
    s.replaces ? `  replaces  ${named(s.replaces, s.key)} approved by ${s.replaces.approvedBy} at ${s.replaces.approvedAt}` : '  a new plugin',
    '',
    section('Lifecycle scripts (NOT run: payout-sandbox never runs npm or package scripts)', s.scripts.map((x) => `${x.name}: ${x.command}`)),
    formatReport(s.report),
    section('Warnings', s.warnings),
  ];
  if (s.widened) lines.push(section('WIDENED compared with the approved version (the update waits for `approve`)', describeWidening(s.widened)));
  return `${lines.join('\n')}\n`;
}

function failWith(io: CliIo, json: boolean | undefined, err: unknown, extra: Record<string, unknown> = {}): number {
  const info = errorInfo(err);
  if (json) io.out(`${JSON.stringify({ ok: false, ...extra, error: { code: info.code, message: info.message } }, null, 2)}\n`);
  else io.err(`error: ${info.message}\n`);
  return 1;
}

const notConfirmed = (verb: string) => Object.assign(new Error(`not confirmed: nothing was ${verb}. Answer y on a terminal, or pass --yes to confirm non-interactively`), { code: 'not_confirmed' });
const reloadHint = (key: string) => `A running server loads it at its next start, or now with POST /api/admin/plugins/${key}/reload.`;

export async function runInstall(source: string, flags: InstallFlags, io: CliIo = processIo()): Promise<number> {
  let token: string | undefined;
  if (flags.registryTokenEnv) {
    token = process.env[flags.registryTokenEnv];
    if (!token) return failWith(io, flags.json, new Error(`--registry-token-env ${flags.registryTokenEnv}: that environment variable is not set or empty`));
  }
  let opened: Awaited<ReturnType<typeof openFor>> | null = null;
  try {
    opened = await openFor(flags);
    const installer = new Installer({
      pluginsDir: opened.pluginsDir, store: opened.store, registry: flags.registry ?? DEFAULT_REGISTRY,
      egress: { tarballOrigins: flags.tarballOrigin ?? [], allowLoopback: Boolean(flags.allowLoopbackRegistry), allowPrivateNetwork: Boolean(flags.allowPrivateRegistry) },
    });
    const staged = await installer.stage({ source, key: flags.key, token, actor: cliActor(), allowLocal: true });
    if (!flags.json) io.out(formatStage(staged));
    const ok = await confirmed(io, flags, `${staged.replaces ? 'Update' : 'Install'} plugin ${staged.key} (${named(staged.package, staged.key)})?`);
    if (ok !== true) {
      await installer.discard(staged.stagingId);
      return failWith(io, flags.json, notConfirmed('installed'), { stage: staged });
    }
    const result = await installer.confirm(staged.stagingId, cliActor());
    if (flags.json) io.out(`${JSON.stringify({ ok: true, status: result.status, key: result.key, stage: staged, version: result.version }, null, 2)}\n`);
    else if (result.status === 'pending_approval') {
      io.out(`The update of ${result.key} asks for more than was approved; it is staged and waits for approval (the current version keeps running):\n` +
        `  payout-sandbox approve ${result.key}    (or Approve in the admin page)\n`);
    } else io.out(`✔ ${result.status} ${result.key}: ${named(result.version, result.key)}, ${result.version.contentHash}\n${reloadHint(result.key)}\n`);
    return 0;
  } catch (err) {
    return failWith(io, flags.json, err, { source });
  } finally {
    await opened?.store.close();
  }
}

export async function runApprove(key: string, flags: CommonFlags, io: CliIo = processIo()): Promise<number> {
  let opened: Awaited<ReturnType<typeof openFor>> | null = null;
  try {
    opened = await openFor(flags);
    const installer = new Installer({ pluginsDir: opened.pluginsDir, store: opened.store });
    const { checked: _checked, ...preview } = await installer.previewApproval(key);
    if (preview.kind === 'unchanged') {
      if (flags.json) io.out(`${JSON.stringify({ ok: true, status: 'unchanged', preview }, null, 2)}\n`);
      else io.out(`${key} is approved as it is (${preview.contentHash}) and no update is pending; nothing to approve.\n`);
      return 0;
    }
    if (!flags.json) {
      const what = { pending_update: 'a staged update that widens the approved capabilities', changed_folder: 'files that changed since they were approved', unrecorded_folder: 'a folder that was never approved' }[preview.kind];
      io.out(`Approve ${key}: ${what}\n  content ${preview.contentHash}\n\n${preview.report ? formatReport(preview.report) : ''}` +
        `${preview.widened ? section('Widened compared with the approved version', describeWidening(preview.widened)) : ''}`);
    }
    if ((await confirmed(io, flags, `Approve ${key}?`)) !== true) return failWith(io, flags.json, notConfirmed('approved'), { preview });
    const done = await installer.approve(key, cliActor(), preview.contentHash);
    if (flags.json) io.out(`${JSON.stringify({ ok: true, status: 'approved', kind: preview.kind, preview, version: done.record.current }, null, 2)}\n`);
    else io.out(`✔ approved ${key}: ${done.record.current.contentHash}\n${reloadHint(key)}\n`);
    return 0;
  } catch (err) {
    return failWith(io, flags.json, err, { key });
  } finally {
    await opened?.store.close();
  }
}

export async function runRollback(key: string, flags: CommonFlags, io: CliIo = processIo()): Promise<number> {
  let opened: Awaited<ReturnType<typeof openFor>> | null = null;
  try {
    opened = await openFor(flags);
    const installer = new Installer({ pluginsDir: opened.pluginsDir, store: opened.store });
    const record = await opened.store.getPluginRecord(key);
    const prev = record?.previous[0];
    if (record && prev && !flags.json) io.out(`Roll ${key} back from ${named(record.current, key)} to ${named(prev, key)} (approved by ${prev.approvedBy} at ${prev.approvedAt})\n`);
    if (record && prev && (await confirmed(io, flags, `Roll ${key} back?`)) !== true) return failWith(io, flags.json, notConfirmed('rolled back'), { key });
    const back = await installer.rollback(key);
    if (flags.json) io.out(`${JSON.stringify({ ok: true, status: 'rolled_back', key, restored: back.restored, replaced: back.replaced }, null, 2)}\n`);
    else io.out(`✔ ${key} is back at ${named(back.restored, key)} (${back.restored.contentHash})\n${reloadHint(key)}\n`);
    return 0;
  } catch (err) {
    return failWith(io, flags.json, err, { key });
  } finally {
    await opened?.store.close();
  }
}

/** Called from main.ts. */
export function registerInstallCommands(program: Command): void {
  const common = (c: Command) => c
    .option('--plugins <dir>', 'plugin folders (default ./plugins)')
    .option('--data <dir>', 'data folder holding the SQLite file (default ./data)')
    .option('--db <url>', 'store: sqlite:<file> | mongodb://host/db (default sqlite:<data>/payout-sandbox.db; or PAYOUT_SANDBOX_DB)')
    .option('--json', 'print one JSON object')
    .option('--yes', 'confirm without asking');
  common(program
    .command('install')
    .description('install or update a plugin from an npm package, a .tgz or a folder, never running its scripts: fetch, verify, unpack with limits, check, show the report, then install')
    .argument('<source>', 'npm spec (name, name@1.2.3, name@tag), https tarball URL, .tgz file, or plugin folder')
    .option('--key <folder name>', 'plugin key = folder name under --plugins (default: from the package name)')
    .option('--registry <url>', `npm registry (default ${DEFAULT_REGISTRY})`)
    .option('--registry-token-env <VAR>', 'environment variable holding the registry token (sent as Bearer; never printed or stored)')
    .option('--tarball-origin <origin>', "an origin besides the registry's that its tarballs may come from (repeatable)", (v: string, all: string[] = []) => [...all, v])
    .option('--allow-loopback-registry', 'the registry (and --tarball-origin) may be on this machine: http://127.0.0.1:PORT (off by default)')
    .option('--allow-private-registry', 'the registry (and --tarball-origin) may resolve to a private network (10/8, 172.16/12, 192.168/16, fc00::/7), over https (off by default)'))
    .action(async (source: string, opts: InstallFlags) => { process.exitCode = await runInstall(source, opts); });
  common(program
    .command('approve')
    .description('approve a waiting (widened) update, or a plugin folder whose files changed since approval, after showing its report')
    .argument('<key>', 'plugin key (folder name)'))
    .action(async (key: string, opts: CommonFlags) => { process.exitCode = await runApprove(key, opts); });
  common(program
    .command('rollback')
    .description('restore the previous kept version of a plugin and its approval record')
    .argument('<key>', 'plugin key (folder name)'))
    .action(async (key: string, opts: CommonFlags) => { process.exitCode = await runRollback(key, opts); });
}
