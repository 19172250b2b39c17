// What `payout-sandbox check` reports on a plugin, and the checks the installer runs with it: the
// plugin loaded in a sandbox that refuses every host call (denyAllHandler), its cron dry-run refused
// when it makes db calls the host refuses. Shared by the CLI, the installer and the SDK harness, so it
// lives here, below all of them (design.md §2).
import { capabilitiesOf } from '../install/capabilities.ts';
import { describeFiles } from '../bundler/plugin-files.ts';
import { HOST_MODULES } from '../bundler/host-modules.ts';
import { configKeys } from '../manifest/manifest.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { HostCallHandler } from '../sandbox/sandbox-host.ts';
import { PluginRejected } from '../plugin-errors.ts';
import { describeFindings } from './cron-dry-run.ts';
import type { CronDryRun } from './cron-dry-run.ts';

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
