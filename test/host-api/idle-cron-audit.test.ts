// An idle cron run (only allowed reads of the plugin's own data) is audited in full once per
// window; later idle runs are counted into one record. Anything more — a request, an update, a
// refusal, a sandbox-local service, a call that is not a cron tick — is audited call by call.
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../host-api/audit.ts';
import { newCounters } from '../../host-api/capability.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import { IdleCronAudit } from '../../host-api/idle-cron-audit.ts';
import { Scrubber } from '../../runtime/secrets/scrubber.ts';
import type { NewAuditRecord } from '../../runtime/store/types.ts';

function setup() {
  const rows: NewAuditRecord[] = [];
  const audit = new AuditLog({ appendAudit: async (batch: NewAuditRecord[]) => { rows.push(...batch); } }, new Scrubber());
  const idle = new IdleCronAudit(audit);
  let seq = 0;
  const call = (method = 'cron'): HostCallContext => ({ plugin: 'nimbus', callId: `c${++seq}`, method, deadline: Date.now() + 1000, counters: newCounters() });
  const hostCall = (ctx: HostCallContext, capability: string, decision: 'allowed' | 'denied' = 'allowed') =>
    idle.record(ctx, { plugin: ctx.plugin, actor: `plugin:${ctx.plugin}`, callId: ctx.callId, capability, decision, rule: null, summary: `${ctx.method}: ${capability}`, durationMs: 0, at: new Date().toISOString() });
  const idleRun = () => {
    const ctx = call();
    hostCall(ctx, 'payoutTxs.count');
    ctx.ended = true;
    idle.endCall(ctx, false);
  };
  return { rows, audit, idle, call, hostCall, idleRun };
}

describe('idle cron audit', () => {
  it('records the first idle run call by call and folds the rest of the window into one record', async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) t.idleRun();
    await t.audit.flush();
    expect(t.rows.map((r) => r.capability)).toEqual(['payoutTxs.count']); // the first run only
    await t.audit.flush({ final: true });
    expect(t.rows.map((r) => r.capability)).toEqual(['payoutTxs.count', 'cron.idle']);
    expect(t.rows[1].summary).toMatch(/^cron: 4 more idle runs since .*\(payoutTxs\.count×4\)/);
  });

  it('a run that does more than read is audited call by call, its reads included', async () => {
    const t = setup();
    t.idleRun(); // opens the window
    const busy = t.call();
    t.hostCall(busy, 'payoutTxs.find');
    t.hostCall(busy, 'http.request');
    t.hostCall(busy, 'payoutTxs.count');
    busy.ended = true;
    t.idle.endCall(busy, false);
    const refused = t.call();
    t.hostCall(refused, 'payoutTxs.count', 'denied');
    refused.ended = true;
    t.idle.endCall(refused, false);
    const local = t.call();
    t.hostCall(local, 'config.get');
    local.ended = true;
    t.idle.endCall(local, true); // used a sandbox-local service (a digest)
    await t.audit.flush({ final: true });
    expect(t.rows.map((r) => `${r.callId}:${r.capability}:${r.decision}`)).toEqual([
      'c1:payoutTxs.count:allowed',
      'c2:payoutTxs.find:allowed', 'c2:http.request:allowed', 'c2:payoutTxs.count:allowed',
      'c3:payoutTxs.count:denied',
      'c4:config.get:allowed',
    ]);
  });

  it('reads outside a cron tick are never folded', async () => {
    const t = setup();
    t.idleRun();
    const webhook = t.call('callback:final');
    t.hostCall(webhook, 'payoutTxs.find');
    await t.audit.flush();
    expect(t.rows.map((r) => r.callId)).toEqual(['c1', 'c2']);
  });

  it('a run that never ended (its sandbox died) is still written', async () => {
    const t = setup();
    const ctx = t.call();
    t.hostCall(ctx, 'payoutTxs.count');
    ctx.ended = true; // ended by the host, never reported by the sandbox
    await t.audit.flush({ final: true });
    expect(t.rows.map((r) => r.capability)).toEqual(['payoutTxs.count']);
  });
});
