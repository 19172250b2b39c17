// The security reviewer's report on a plugin: what its code asks for (host modules, URLs it
// spells, config keys, db operations, callbacks, cron), compared with what it declares and what has
// been granted, with risk flags. `payout-sandbox audit`, the installer and the admin page all show it,
// so it lives here, below all three (design.md §2). Its capability part is the very set an approval
// records and the server enforces (install/capabilities.ts), so what the reviewer reads is what the
// plugin will be served. Everything here comes from the bundle's scan, made once when the plugin was
// bundled: building the report reads no file (the admin page builds it per request).
import { HOST_MODULES } from '../bundler/host-modules.ts';
import { BRIDGE_NAME } from '../bundler/source-review.ts';
import { capabilitiesOf } from '../install/capabilities.ts';
import { configKeys } from '../manifest/manifest.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import { normaliseGrant } from '../../host-api/http.ts';
import type { Grant } from '../../host-api/http.ts';
import { describeFindings } from './cron-dry-run.ts';
import type { CronDryRun } from './cron-dry-run.ts';

export interface RiskFlag { flag: string; severity: 'info' | 'review' | 'high'; detail: string }

/** What the secret read sites below cover, shown with them. */
export const SECRET_READS_COVERAGE = "config.get('key') with a literal key, and one level of helper (a function whose parameter goes to config.get, called with a literal); " +
  'for SDK plugins, where a secret is named for host-side use (auth, sign); not covered: keys built at run time, helpers of helpers';

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
  if (scan.dynamicCode.length) flags.push({ flag: 'dynamic-code', severity: 'review', detail: `builds code from strings (eval / new Function) in ${scan.dynamicCode.join(', ')}; contained by the isolate, but hard to review` });
  const set = capabilitiesOf(p);
  const bridge = scan.bridge.map((b) => ({ capability: b.capability, at: `${b.file}:${b.line}`, granted: b.capability !== null && set.capabilities.includes(b.capability) }));
  if (bridge.length) {
    const outside = [...new Set(bridge.filter((b) => !b.granted).map((b) => b.capability ?? '(name not spelled)'))];
    flags.push({ flag: 'bridge-call', severity: 'high', detail: `calls the host bridge (${BRIDGE_NAME}) directly at ${[...new Set(bridge.map((b) => b.at))].join(', ')}` +
      (outside.length ? `; requested that way: ${outside.join(', ')} — refused at run time: only required host modules grant capabilities` : '; only for capabilities its required modules grant') });
  }
  for (const u of scan.unsafeCompares) {
    flags.push({ flag: 'signature-compare', severity: 'high', detail: `${u.file}:${u.line} compares a value computed by createHmac/digest with == / === (not constant-time: leaks how much of a forged signature matches); use crypto.timingSafeEqual: ${u.text}` });
  }
  const configOrigins = (set.configOrigins ?? []).map((key) => ({ key, default: p.manifest.default_config?.[key] ?? null, text: `connects to whatever \`${key}\` holds` }));
  const readAt = (key: string) => scan.configKeysRead.filter((r) => r.key === key).map((r) => `${r.file}:${r.line}${r.via ? ` via ${r.via}()` : ''}`);
  const secrets = keys.filter((k) => k.secret).map((k) => ({ key: k.key, readAt: readAt(k.key) }));
  const summary = summaryLine(p.key, set, configOrigins.map((o) => o.key), secrets.map((x) => x.key), bridge, flags);

  return {
    ok: true,
    key: p.key,
    title: p.manifest.title,
    summary,
    /** The set an approval records and the server enforces. */
    capabilitySet: set,
    bundle: { sha256: p.bundle.sha256, bytes: p.bundle.code.length, files: p.bundle.inputs },
    hostModules: scan.hostModules.map((m) => ({ module: m.module, request: m.request, at: `${m.file}:${m.line}`, provides: HOST_MODULES[m.module].provides })),
    capabilities: set.capabilities,
    network: {
      requested, granted: grantedOrigins, inSource,
      urlLiterals: scan.urlLiterals.map((u) => ({ url: u.url, at: `${u.file}:${u.line}` })),
      ungrantedInSource: inSource.filter((o) => !grantedOrigins.includes(o)),
      configOrigins,
    },
    config: keys.map((k) => ({ ...k, readAt: readAt(k.key) })),
    secrets: { reads: secrets, coverage: SECRET_READS_COVERAGE },
    bridge,
    signatureCompares: scan.unsafeCompares.map((u) => ({ at: `${u.file}:${u.line}`, text: u.text })),
    configReadButUndeclared: [...new Set(scan.configKeysRead.map((r) => r.key).filter((k) => !keys.some((d) => d.key === k)))],
    dbOperations: scan.dbOperations.map((d) => ({ operation: d.operation, at: `${d.file}:${d.line}` })),
    callbacks: p.description.callbacks.map((c) => ({ name: c, path: `/payout_call/${p.key}/${c}/` })),
    cron: p.cron,
    cronDryRun,
    risks: flags,
  };
}

function summaryLine(key: string, set: ReturnType<typeof capabilitiesOf>, origins: string[], secrets: string[], bridge: { capability: string | null; granted: boolean }[], flags: RiskFlag[]): string {
  const parts = [`${key}: host capabilities ${set.capabilities.filter((c) => c !== 'crypto').join(', ') || 'none'}`];
  if (set.capabilities.includes('history.update')) parts.push('settles its orders');
  const reach = [...set.network.map((n) => n.origin), ...origins.map((k) => `whatever \`${k}\` holds`)];
  parts.push(reach.length ? `connects to ${reach.join(', ')}` : 'no network');
  parts.push(secrets.length ? `reads secrets ${secrets.join(', ')}` : 'no secrets');
  if (set.callbacks?.length) parts.push(`${set.callbacks.length} callback${set.callbacks.length === 1 ? '' : 's'}`);
  if (set.cron) parts.push(`cron ${set.cron}`);
  const outside = [...new Set(bridge.filter((b) => !b.granted).map((b) => b.capability ?? '?'))];
  if (outside.length) parts.push(`calls the host bridge directly for ${outside.join(', ')} (refused at run time)`);
  const high = flags.filter((f) => f.severity === 'high').length;
  const review = flags.filter((f) => f.severity === 'review').length;
  parts.push(`${high} high and ${review} review flag${review === 1 ? '' : 's'}`);
  return parts.join('; ');
}
