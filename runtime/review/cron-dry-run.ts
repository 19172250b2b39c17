// The cron dry run of `check` and `audit`: once the plugin has loaded (with every host call refused),
// its cron job runs once more in the same sandbox against an empty in-memory store, so that a db query
// the host will refuse (an operator outside the façade, a value mongoose could not cast) shows when
// the plugin is checked, not on every tick after it was installed. Only what can be known without a
// provider is learnt: db calls go through the real payout-txs capabilities (over no txs), config.get
// answers the manifest's defaults (secrets are empty), and every other host call — network,
// updateHistory — is refused, so nothing leaves the sandbox. A refused db call is a finding; a cron
// that stops for another reason (no config, no network) is reported, not held against the plugin.
import { CapabilityArgumentError, PolicyDenied } from '../../host-api/capability.ts';
import type { Capability, HostCallContext } from '../../host-api/capability.ts';
import { payoutTxCapabilities } from '../../host-api/payout-txs.ts';
import type { PluginManifest } from '../manifest/manifest.ts';
import { configKeys } from '../manifest/manifest.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { HostCallHandler, HostCallReply, SandboxHost } from '../sandbox/sandbox-host.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';

/** Long enough for a cron that finds nothing to do; a cron still busy then is reported as such. */
export const CRON_DRY_RUN_WALL_MS = 5000;

export interface CronFinding {
  capability: string;
  rule: string;
  message: string;
  /** The plugin's file:line of the call, as the db shim reports it in the plugin log. */
  at: string | null;
}
const SHIM_REFUSAL = /^db\.OrderPayoutTxs refused a call at (\S+:\d+): ([\s\S]*)$/;
export interface CronDryRun {
  /** 'finished': the job returned; 'stopped': it threw or ran out of time (message says why). */
  outcome: 'finished' | 'stopped';
  message: string | null;
  /** db calls the job made, in order (capability names). */
  dbCalls: string[];
  /** db calls the host refused: each will be refused at run time too. */
  refused: CronFinding[];
  /** Other host calls the dry run did not answer (network, updateHistory, …). */
  notAnswered: string[];
}

const denied = (message: string, rule: string): HostCallReply => ({ ok: false, error: { message, code: 'HOST_DENIED', rule } });

/**
 * The host-call handler of check and audit: refuses everything while the plugin loads (recording
 * each attempt), then answers the cron dry run as described above.
 */
export class CheckHostHandler implements HostCallHandler {
  readonly attemptsAtLoad: string[] = [];
  private dryRun: { manifest: PluginManifest; result: CronDryRun; capabilities: Map<string, Capability> } | null = null;

  async handle(ctx: HostCallContext, capability: string, args: unknown): Promise<HostCallReply> {
    const run = this.dryRun;
    if (!run) {
      this.attemptsAtLoad.push(`${ctx.method}: ${capability}`);
      return { ok: false, error: { message: `${capability}: host calls are refused while checking a plugin`, code: 'HOST_DENIED' } };
    }
    if (capability === 'config.get') return this.configDefault(run.manifest, args);
    const cap = run.capabilities.get(capability);
    if (!cap) {
      run.result.notAnswered.push(capability);
      return denied(`${capability}: not answered in the cron dry run of check (no network, no orders)`, 'check.dry-run');
    }
    run.result.dbCalls.push(capability);
    try {
      return { ok: true, value: (await cap.invoke(ctx, cap.parse(args))) ?? null };
    } catch (err) {
      if (err instanceof PolicyDenied || err instanceof CapabilityArgumentError) {
        run.result.refused.push({ capability, rule: err.rule, message: err.message, at: null });
        return denied(err.message, err.rule);
      }
      return { ok: false, error: { message: `${capability} failed in the cron dry run: ${(err as Error).message}`, code: 'HOST_ERROR' } };
    }
  }

  log(_plugin: string, _callId: string, _level: string, text: string): void {
    const m = this.dryRun ? SHIM_REFUSAL.exec(text) : null;
    if (!m) return;
    const finding = this.dryRun!.result.refused.find((f) => f.at === null && f.message === m[2]);
    if (finding) finding.at = m[1];
  }

  private configDefault(manifest: PluginManifest, args: unknown): HostCallReply {
    const key = (args as { key?: unknown } | null)?.key;
    const declared = configKeys(manifest).find((k) => k.key === key);
    if (!declared) return denied(`config.get: key '${String(key)}' is not declared in configure.js`, 'config.undeclared-key');
    const value = declared.secret ? '' : manifest.default_config[declared.key];
    return { ok: true, value: value === undefined || value === null ? '' : value };
  }

  /** Runs the plugin's cron job once against an empty store; null when it has none. */
  async runCron(sandbox: SandboxHost, plugin: LoadedPlugin): Promise<CronDryRun | null> {
    if (!plugin.cron) return null;
    const store: Store = await openStore('sqlite::memory:');
    const result: CronDryRun = { outcome: 'finished', message: null, dbCalls: [], refused: [], notAnswered: [] };
    this.dryRun = { manifest: plugin.manifest, result, capabilities: new Map(payoutTxCapabilities(store).map((c) => [c.name, c])) };
    try {
      const r = await sandbox.invoke(plugin.key, 'cron', [], { wallMs: CRON_DRY_RUN_WALL_MS });
      if (!r.ok) Object.assign(result, { outcome: 'stopped', message: `${r.error.kind}: ${r.error.message}` });
      return result;
    } finally {
      this.dryRun = null;
      await store.close();
    }
  }
}

/** One line per refused call, for check's refusal and audit's risk flags. */
export function describeFindings(run: CronDryRun | null): string[] {
  return (run?.refused ?? []).map((f) => `${f.at ? `${f.at}: ` : ''}${f.capability} refused (${f.rule}): ${f.message}`);
}
