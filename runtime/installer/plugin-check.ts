// Runs exactly what `payout-sandbox check` runs on a staged folder — bundle, configure.js in a
// throwaway isolate, load and construct in a sandbox where every host call is refused, read the
// cron descriptor, dry-run the cron against an empty store — in a sandbox of its own, so that a package under review never replaces (or
// shares an isolate process with) the plugins the server is running.
import { auditReport } from '../review/audit-report.ts';
import { checkReport, refuseRefusedCron } from '../review/check-report.ts';
import { CheckHostHandler } from '../review/cron-dry-run.ts';
import { loadPlugin } from '../plugins/load-plugin.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import { SandboxHost } from '../sandbox/sandbox-host.ts';
import type { Grant } from '../../host-api/http.ts';
import type { PluginCapabilitySet } from '../store/types.ts';
import { capabilitiesOf } from '../install/capabilities.ts';
import { InstallError } from '../install/install-errors.ts';

export type AuditReport = ReturnType<typeof auditReport>;

export interface CheckedPlugin {
  plugin: LoadedPlugin;
  capabilities: PluginCapabilitySet;
  /** The reviewer's report (`payout-sandbox audit`) of the staged files. */
  report: AuditReport;
  check: { className: string; callbacks: string[]; cron: LoadedPlugin['cron']; files: unknown; hostCallsAtLoad: string[]; warnings: string[] };
}

/** `what` names the thing checked, `outcome` says what the refusal means ("nothing was installed"). */
export async function checkPluginFolder(dir: string, grants: Grant[], what: string, outcome: string, apiUrl = 'http://127.0.0.1:3000/'): Promise<CheckedPlugin> {
  const handler = new CheckHostHandler();
  const attempts = handler.attemptsAtLoad;
  const sandbox = new SandboxHost({ handler });
  try {
    const plugin = await loadPlugin(sandbox, dir, { apiUrl });
    const cronDryRun = await handler.runCron(sandbox, plugin);
    refuseRefusedCron(cronDryRun);
    const check = checkReport(plugin, attempts, cronDryRun);
    return {
      plugin, capabilities: capabilitiesOf(plugin), report: auditReport(plugin, grants, cronDryRun),
      check: { className: check.className, callbacks: check.callbacks, cron: check.cron, files: check.files, hostCallsAtLoad: attempts, warnings: check.warnings },
    };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    throw new InstallError('check_failed', `${what} does not pass the checks of \`payout-sandbox check\`${typeof e.code === 'string' ? ` (${e.code})` : ''}: ${String(e.message ?? err)}; ${outcome}`, { cause: err });
  } finally {
    await sandbox.close();
  }
}
