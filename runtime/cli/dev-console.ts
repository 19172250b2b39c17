// What `dev` streams to the author while the plugin runs: every webhook delivery (status, ms),
// every request the plugin made (origin and path, status, ms) and every refusal with its rule,
// each signature verdict, cron runs with their results and when the next one is due, and type
// errors after each reload. Read from the host's own records (audit log, the HTTP server, the
// cron events in its log), so what dev shows is what a server would record.
import type http from 'node:http';
import type { Store } from '../store/store.ts';
import type { CronEvent } from '../cron/scheduler.ts';
import type { AuditRecord } from '../store/types.ts';

/** Webhook deliveries to the plugin as the HTTP server answers them. Returns a stop function. */
export function observeDeliveries(server: http.Server, key: string, print: (line: string) => void): () => void {
  const prefix = `/payout_call/${encodeURIComponent(key)}/`;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!req.url?.startsWith(prefix)) return;
    const started = performance.now();
    const path = req.url.split('?')[0];
    res.once('finish', () => print(`← webhook ${req.method} ${path} → ${res.statusCode} (${Math.round(performance.now() - started)} ms)`));
  };
  server.on('request', onRequest);
  return () => server.off('request', onRequest);
}

/** One console line for an audit record worth showing, or null. */
export function auditLine(r: AuditRecord): string | null {
  const what = r.summary.replace(/^\S+: /, ''); // without the method label (callback:webhook: …)
  const ms = `(${Math.round(r.durationMs)} ms)`;
  if (r.decision === 'denied') return `✖ ${r.capability} refused (${r.rule}): ${what}`;
  if (r.decision === 'error') return `✖ ${r.capability} failed (${r.rule}): ${what} ${ms}`;
  if (r.capability === 'http.request') return `→ http ${what} ${ms}`;
  if (r.capability === 'webhook.verify') return `  signature ${what.replace(/^.*: (verified|not verified: \w+)$/, '$1')}`;
  return null;
}

/** Polls the plugin's audit records and prints the new ones. Returns a stop function. */
export function streamAudit(store: Pick<Store, 'queryAudit'>, flush: () => Promise<void>, key: string, print: (line: string) => void, everyMs = 250): () => void {
  const seen = new Set<string>();
  let since = new Date(Date.now() - 1000).toISOString();
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await flush();
      const records = (await store.queryAudit({ plugin: key, limit: 500 })).filter((r) => r.at >= since && !seen.has(r._id)).reverse();
      for (const r of records) {
        seen.add(r._id);
        const line = auditLine(r);
        if (line) print(line);
      }
      if (records.length) since = records[records.length - 1].at;
      if (seen.size > 5000) seen.clear();
    } catch { /* the store is closing */ } finally { busy = false; }
  };
  const timer = setInterval(() => void tick(), everyMs);
  return () => clearInterval(timer);
}

const clock = (iso: string) => iso.slice(11, 19);

/** A cron event from the host's log as a console line, with the next run when known. */
export function cronLine(e: CronEvent, nextRun: string | null): string | null {
  const next = nextRun ? `; next run ${clock(nextRun)} (in ${Math.max(0, Math.round((Date.parse(nextRun) - Date.now()) / 1000))} s)` : '';
  if (e.kind === 'run') return e.ok ? `⏱ cron (${e.trigger}) ok in ${Math.round(e.durationMs)} ms${next}` : `✖ cron (${e.trigger}) failed after ${Math.round(e.durationMs)} ms: ${e.errorKind ?? ''} ${e.error ?? ''}`.trim() + next;
  if (e.kind === 'skip') return `⏱ cron (${e.trigger}) skipped: ${e.message}${next}`;
  if (e.kind === 'invalid') return `✖ cron schedule refused: ${e.error}`;
  return null;
}
