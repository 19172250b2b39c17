// `payout-sandbox audit <pluginDir> [--json] [--grant ORIGIN]...`: the security reviewer's report.
// What the plugin's code asks for (host modules, URLs it spells, config keys, db operations,
// callbacks, cron), compared with what it declares and what has been granted, with risk flags.
import fs from 'node:fs';
import path from 'node:path';
import { HOST_MODULES } from '../../bundler/host-modules.ts';
import { configKeys } from '../../manifest/manifest.ts';
import type { LoadedPlugin } from '../../plugins/load-plugin.ts';
import { normaliseGrant } from '../../../host-api/http.ts';
import type { Grant } from '../../../host-api/http.ts';
import { originGrant } from '../local-session.ts';
import { withCheckedPlugin } from './check.ts';
import { describeFindings } from './cron-dry-run.ts';
import type { CronDryRun } from './cron-dry-run.ts';
import { section } from '../output.ts';

export interface RiskFlag { flag: string; severity: 'info' | 'review' | 'high'; detail: string }

const DYNAMIC_CODE = /\b(eval\s*\(|new\s+Function\s*\(|Function\s*\(\s*['"`])/;

function canonical(origin: string | null): string | null {
  if (!origin) return null;
  try {
    return normaliseGrant({ origin, pathPrefix: null, methods: null }).origin;
  } catch {
    return null;
  }
}

export function auditReport(p: LoadedPlugin, granted: Grant[], cronDryRun: CronDryRun | null = null) {
  const scan = p.bundle.scan;
  const requested = p.manifest.network.map((n) => canonical(n.origin)).filter(Boolean) as string[];
  const grantedOrigins = granted.map((g) => canonical(g.origin)).filter(Boolean) as string[];
  const inSource = [...new Set(scan.urlLiterals.map((u) => canonical(u.origin)).filter(Boolean) as string[])];
  const modules = [...new Set(scan.hostModules.map((m) => m.module))];
  const keys = configKeys(p.manifest);
  const flags: RiskFlag[] = [];
  const uses = (m: string) => modules.includes(m as never);
  if (uses('axios')) flags.push({ flag: 'network', severity: 'review', detail: 'sends HTTP requests (only to granted origins)' });
  for (const origin of inSource) {
    if (!requested.includes(origin) && !grantedOrigins.includes(origin)) flags.push({ flag: 'origin-not-granted', severity: 'info', detail: `${origin} appears in the source but is neither requested nor granted; requests to it will be refused` });
  }
  for (const origin of grantedOrigins) {
    if (!requested.includes(origin) && !inSource.includes(origin)) flags.push({ flag: 'grant-unused', severity: 'info', detail: `${origin} is granted but not seen in the source (configured at run time?)` });
  }
  if (scan.urlLiterals.some((u) => u.url.startsWith('http://') && !/^http:\/\/(127\.0\.0\.1|localhost)/.test(u.url))) {
    flags.push({ flag: 'plain-http', severity: 'review', detail: 'spells an http:// (unencrypted) URL' });
  }
  if (keys.some((k) => k.secret)) flags.push({ flag: 'reads-secrets', severity: 'review', detail: `reads secret config (${keys.filter((k) => k.secret).map((k) => k.key).join(', ')}) inside the sandbox` });
  if (uses('updateHistory')) flags.push({ flag: 'settles-orders', severity: 'high', detail: 'can move its own orders from inProgressPayout to done or errorPayout' });
  if (uses('db')) flags.push({ flag: 'payout-txs', severity: 'info', detail: `uses its own payout txs (${[...new Set(scan.dbOperations.map((d) => d.operation))].join(', ') || 'via initCron'})` });
  if (p.description.callbacks.length) flags.push({ flag: 'webhooks', severity: 'review', detail: `accepts unauthenticated POSTs at ${p.description.callbacks.map((c) => `/payout_call/${p.key}/${c}/`).join(', ')}; check that it verifies them` });
  for (const finding of describeFindings(cronDryRun)) flags.push({ flag: 'cron-refused', severity: 'high', detail: `the cron dry run (empty store) hit a refusal: ${finding}` });
  const dynamic = p.bundle.inputs.filter((f) => f.endsWith('.js') && DYNAMIC_CODE.test(fs.readFileSync(path.join(p.dir, f), 'utf8')));
  if (dynamic.length) flags.push({ flag: 'dynamic-code', severity: 'review', detail: `builds code from strings (eval / new Function) in ${dynamic.join(', ')}; contained by the isolate, but hard to review` });

  return {
    ok: true,
    key: p.key,
    title: p.manifest.title,
    bundle: { sha256: p.bundle.sha256, bytes: p.bundle.code.length, files: p.bundle.inputs },
    hostModules: scan.hostModules.map((m) => ({ module: m.module, request: m.request, at: `${m.file}:${m.line}`, provides: HOST_MODULES[m.module].provides })),
    capabilities: [...new Set(modules.flatMap((m) => HOST_MODULES[m].capabilities))].sort(),
    network: {
      requested, granted: grantedOrigins, inSource,
      urlLiterals: scan.urlLiterals.map((u) => ({ url: u.url, at: `${u.file}:${u.line}` })),
      ungrantedInSource: inSource.filter((o) => !grantedOrigins.includes(o)),
    },
    config: keys.map((k) => ({ ...k, readAt: scan.configKeysRead.filter((r) => r.key === k.key).map((r) => `${r.file}:${r.line}`) })),
    configReadButUndeclared: [...new Set(scan.configKeysRead.map((r) => r.key).filter((k) => !keys.some((d) => d.key === k)))],
    dbOperations: scan.dbOperations.map((d) => ({ operation: d.operation, at: `${d.file}:${d.line}` })),
    callbacks: p.description.callbacks.map((c) => ({ name: c, path: `/payout_call/${p.key}/${c}/` })),
    cron: p.cron,
    cronDryRun,
    risks: flags,
  };
}

function printText(r: ReturnType<typeof auditReport>): void {
  process.stdout.write([
    `Audit of ${r.key} (${r.title}) — bundle sha256 ${r.bundle.sha256}`,
    section('Host modules required', r.hostModules.map((m) => `${m.at}  require('${m.request}') → ${m.provides}`)),
    section('Capabilities reachable', r.capabilities),
    section('Network: requested by the manifest', r.network.requested),
    section('Network: granted', r.network.granted),
    section('Network: URL literals in the source', r.network.urlLiterals.map((u) => `${u.at}  ${u.url}`)),
    section('Config keys', r.config.map((c) => `${c.key}${c.secret ? ' [secret]' : ''}${c.readAt.length ? `  read at ${c.readAt.join(', ')}` : ''}`)),
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

export function runAudit(dir: string, options: { json?: boolean; grant?: string[] }): Promise<void> {
  return withCheckedPlugin(dir, options.json, (plugin, _attempts, cronDryRun) => auditReport(plugin, (options.grant ?? []).map(originGrant), cronDryRun), printText);
}
