// `payout-sandbox audit <pluginDir> [--json] [--grant ORIGIN]...`: the security reviewer's report
// (review/audit-report.ts) on a plugin loaded in a sandbox that refuses every host call, as text or JSON.
import { auditReport } from '../../review/audit-report.ts';
import { describeFindings } from '../../review/cron-dry-run.ts';
import { originGrant } from '../../local/local-session.ts';
import { withCheckedPlugin } from './check.ts';
import { section } from '../output.ts';

function printText(r: ReturnType<typeof auditReport>): void {
  process.stdout.write([
    r.summary,
    `Audit of ${r.key} (${r.title}) — bundle sha256 ${r.bundle.sha256}`,
    section('Host modules required', r.hostModules.map((m) => `${m.at}  require('${m.request}') → ${m.provides}`)),
    section('Capabilities reachable', r.capabilities),
    section('Network: requested by the manifest', r.network.requested),
    section('Network: granted', r.network.granted),
    section('Network: URL literals in the source', r.network.urlLiterals.map((u) => `${u.at}  ${u.url}`)),
    section('Network: set by config', r.network.configOrigins.map((o) => `${o.text}${o.default ? ` (default ${o.default})` : ''}`)),
    section('Config keys', r.config.map((c) => `${c.key}${c.secret ? ' [secret]' : ''}${c.readAt.length ? `  read at ${c.readAt.join(', ')}` : ''}`)),
    section(`Secrets read (${r.secrets.coverage})`, r.secrets.reads.map((x) => `${x.key}: ${x.readAt.join(', ') || 'no read site found'}`)),
    section('Direct host bridge calls', r.bridge.map((b) => `${b.at}  ${b.capability ?? '(no capability name spelled)'}${b.granted ? '' : ' — refused at run time'}`)),
    section('Config keys read but not declared (will be refused)', r.configReadButUndeclared),
    section('db.OrderPayoutTxs operations', r.dbOperations.map((d) => `${d.at}  ${d.operation}`)),
    section('Callbacks', r.callbacks.map((c) => `POST ${c.path}`)),
    section('Cron', r.cron ? [r.cron.schedule] : []),
    ...(r.cronDryRun ? [section('Cron dry run (empty store, no network)', [
      `${r.cronDryRun.outcome === 'finished' ? 'finished' : `stopped: ${r.cronDryRun.message}`}; db calls: ${r.cronDryRun.dbCalls.join(', ') || 'none'}`,
      ...describeFindings(r.cronDryRun),
    ])] : []),
    section('Risk flags', r.risks.map((f) => `[${f.severity}] ${f.flag}: ${f.detail}`)),
  ].join('\n'));
}

export function runAudit(dir: string, options: { json?: boolean; grant?: string[]; engine?: string }): Promise<void> {
  return withCheckedPlugin(dir, options.json, (plugin, _attempts, cronDryRun) => auditReport(plugin, (options.grant ?? []).map(originGrant), cronDryRun), printText, options.engine);
}
