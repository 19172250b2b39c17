// The audit rows one call left, read from the host's own SQLite file once its audit batch is
// written: what the config tests compare with what the call did.
import { DatabaseSync } from 'node:sqlite';
import type { LocalHost } from '../../runtime/local/local-session.ts';

export interface CallAuditRow { capability: string; decision: string; rule: string | null; summary: string }

export async function callAuditRows(local: LocalHost, dbFile: string, callId: string): Promise<CallAuditRow[]> {
  await local.host.audit.flush();
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    return db.prepare('SELECT capability, decision, rule, summary FROM audit_log WHERE callId = ? ORDER BY rowid').all(callId) as unknown as CallAuditRow[];
  } finally {
    db.close();
  }
}
