// `payout-sandbox check <pluginDir> [--json]`: bundle and load the plugin in a sandbox with no host
// access at all, dry-run its cron against an empty store (review/cron-dry-run.ts), and say what it is — or
// exactly why it cannot be accepted.
import { loadPlugin } from '../../plugins/load-plugin.ts';
import type { LoadedPlugin } from '../../plugins/load-plugin.ts';
import { SandboxHost } from '../../sandbox/sandbox-host.ts';
import { fail, printJson, section } from '../output.ts';
import { checkReport, refuseRefusedCron } from '../../review/check-report.ts';
import { CheckHostHandler, describeFindings } from '../../review/cron-dry-run.ts';
import type { CronDryRun } from '../../review/cron-dry-run.ts';
import path from 'node:path';
import { engineFromFlagOrEnv } from '../../plugins/engine-choice.ts';

function dryRunLines(run: CronDryRun | null): string[] {
  if (!run) return [];
  return [
    `${run.outcome === 'finished' ? 'finished' : `stopped: ${run.message}`} (empty store; db calls: ${run.dbCalls.join(', ') || 'none'})`,
    ...describeFindings(run),
    ...(run.notAnswered.length ? [`not answered in a dry run: ${[...new Set(run.notAnswered)].join(', ')}`] : []),
  ];
}

function printText(r: ReturnType<typeof checkReport> & { engine: string }): void {
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
    `bundle: ${r.bundle.bytes} bytes, sha256 ${r.bundle.sha256}, loaded in ${r.loadMs} ms on ${r.engine}\n`,
  ];
  process.stdout.write(out.join('\n'));
}

/** Loads a plugin in a sandbox that refuses every host call, dry-runs its cron, and prints what `report` makes of it. */
export async function withCheckedPlugin(dir: string, json: boolean | undefined, report: (p: LoadedPlugin, hostCallsAtLoad: string[], cronDryRun: CronDryRun | null) => unknown, text: (r: never) => void, engineFlag?: string): Promise<void> {
  const handler = new CheckHostHandler();
  let sandbox: SandboxHost | null = null;
  try {
    const engine = engineFromFlagOrEnv(engineFlag);
    sandbox = new SandboxHost({ handler, engine });
    const plugin = await loadPlugin(sandbox, dir, { apiUrl: 'http://127.0.0.1:3000/', engine });
    const cronDryRun = await handler.runCron(sandbox, plugin);
    const r = report(plugin, handler.attemptsAtLoad, cronDryRun);
    if (json) printJson(r);
    else text(r as never);
  } catch (err) {
    fail(Boolean(json), err, { key: path.basename(path.resolve(dir)) });
  } finally {
    await sandbox?.close();
  }
}

export function runCheck(dir: string, options: { json?: boolean; engine?: string }): Promise<void> {
  return withCheckedPlugin(dir, options.json, (plugin, attempts, cronDryRun) => {
    refuseRefusedCron(cronDryRun);
    return { ...checkReport(plugin, attempts, cronDryRun), engine: plugin.engine };
  }, printText, options.engine);
}
