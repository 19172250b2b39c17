// `payout-sandbox check <pluginDir> [--json]`: bundle and load the plugin in a sandbox with no host
// access at all, dry-run its cron against an empty store (cron-dry-run.ts), and say what it is — or
// exactly why it cannot be accepted.
import { capabilitiesOf } from '../../install/capabilities.ts';
import { describeFiles } from '../../bundler/plugin-files.ts';
import { HOST_MODULES } from '../../bundler/host-modules.ts';
import { configKeys } from '../../manifest/manifest.ts';
import { loadPlugin } from '../../plugins/load-plugin.ts';
import type { LoadedPlugin } from '../../plugins/load-plugin.ts';
import { SandboxHost } from '../../sandbox/sandbox-host.ts';
import type { HostCallHandler } from '../../sandbox/sandbox-host.ts';
import { fail, printJson, section } from '../output.ts';
import { PluginRejected } from '../../plugin-errors.ts';
import { CheckHostHandler, describeFindings } from './cron-dry-run.ts';
import type { CronDryRun } from './cron-dry-run.ts';
import path from 'node:path';

/** Check runs the plugin's load and initCron with every host call refused. */
export function denyAllHandler(attempts: string[]): HostCallHandler {
  return {
    async handle(ctx, capability) {
      attempts.push(`${ctx.method}: ${capability}`);
      return { ok: false, error: { message: `${capability}: host calls are refused while checking a plugin`, code: 'HOST_DENIED' } };
    },
    log() {},
  };
}

/** A cron whose db calls the host refuses cannot settle a payout: check refuses the plugin. */
export function refuseRefusedCron(run: CronDryRun | null): void {
  const findings = describeFindings(run);
  if (!findings.length) return;
  throw new PluginRejected('cron_refused', `the cron job makes db calls the host refuses, so it would fail on every run:\n  ${findings.join('\n  ')}\nwrite them as the façade accepts (see README, db.OrderPayoutTxs)`);
}

function dryRunLines(run: CronDryRun | null): string[] {
  if (!run) return [];
  return [
    `${run.outcome === 'finished' ? 'finished' : `stopped: ${run.message}`} (empty store; db calls: ${run.dbCalls.join(', ') || 'none'})`,
    ...describeFindings(run),
    ...(run.notAnswered.length ? [`not answered in a dry run: ${[...new Set(run.notAnswered)].join(', ')}`] : []),
  ];
}

export function checkReport(p: LoadedPlugin, hostCallsAtLoad: string[], cronDryRun: CronDryRun | null = null) {
  const modules = [...new Set(p.bundle.scan.hostModules.map((m) => m.module))];
  return {
    ok: true,
    key: p.key,
    manifest: p.manifest,
    files: describeFiles(p.bundle.files),
    className: p.description.className,
    methods: p.description.methods,
    callbacks: p.description.callbacks,
    cron: p.cron,
    cronDryRun,
    hostModules: modules.map((m) => ({ module: m, provides: HOST_MODULES[m].provides })),
    // The set an approval records and the server serves (its cron context included).
    capabilities: capabilitiesOf(p).capabilities,
    network: {
      requested: p.manifest.network,
      originsInSource: [...new Set(p.bundle.scan.urlLiterals.map((u) => u.origin).filter(Boolean))],
    },
    config: configKeys(p.manifest),
    hostCallsAtLoad,
    bundle: { bytes: p.bundle.code.length, sha256: p.bundle.sha256, inputs: p.bundle.inputs },
    warnings: p.bundle.files.warnings,
    loadMs: Math.round(p.loadMs),
  };
}

function printText(r: ReturnType<typeof checkReport>): void {
  const out = [
    `✔ ${r.key}: ${r.manifest.title} (class ${r.className}) can be loaded in the sandbox`,
    section('Files', Object.entries(r.files).map(([k, v]) => `${k}: ${typeof v === 'object' && v ? JSON.stringify(v) : v ?? '—'}`)),
    section('Currencies (allow_XML)', [r.manifest.allow_XML.join(', ') || '(none)']),
    section('Config keys', r.config.map((c) => `${c.key}${c.secret ? ' (secret, write-only)' : ''}`)),
    section('Callbacks (POST /payout_call/' + r.key + '/<name>/)', r.callbacks),
    section('Cron', r.cron ? [`${r.cron.schedule}${r.cron.callWhenInit ? ' (also at start)' : ''}`] : []),
    ...(r.cronDryRun ? [section('Cron dry run', dryRunLines(r.cronDryRun))] : []),
    section('Host modules required', r.hostModules.map((m) => `${m.module}: ${m.provides}`)),
    section('Network: origins requested in the manifest', r.network.requested.map((n) => n.origin)),
    section('Network: origins spelled in the source (grant what it needs)', r.network.originsInSource as string[]),
    section('Warnings', r.warnings),
    `bundle: ${r.bundle.bytes} bytes, sha256 ${r.bundle.sha256}, loaded in ${r.loadMs} ms\n`,
  ];
  process.stdout.write(out.join('\n'));
}

/** Loads a plugin in a sandbox that refuses every host call, dry-runs its cron, and prints what `report` makes of it. */
export async function withCheckedPlugin(dir: string, json: boolean | undefined, report: (p: LoadedPlugin, hostCallsAtLoad: string[], cronDryRun: CronDryRun | null) => unknown, text: (r: never) => void): Promise<void> {
  const handler = new CheckHostHandler();
  const sandbox = new SandboxHost({ handler });
  try {
    const plugin = await loadPlugin(sandbox, dir, { apiUrl: 'http://127.0.0.1:3000/' });
    const cronDryRun = await handler.runCron(sandbox, plugin);
    const r = report(plugin, handler.attemptsAtLoad, cronDryRun);
    if (json) printJson(r);
    else text(r as never);
  } catch (err) {
    fail(Boolean(json), err, { key: path.basename(path.resolve(dir)) });
  } finally {
    await sandbox.close();
  }
}

export function runCheck(dir: string, options: { json?: boolean }): Promise<void> {
  return withCheckedPlugin(dir, options.json, (plugin, attempts, cronDryRun) => {
    refuseRefusedCron(cronDryRun);
    return checkReport(plugin, attempts, cronDryRun);
  }, printText);
}
