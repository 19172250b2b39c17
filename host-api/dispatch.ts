// The one door between plugins and the host: every host call goes through `handle`, which first
// asks the host-call caps (host-call-caps.ts) whether the call may run at all, then the plugin's
// approved capability set (capability-set.ts) whether it may make this one, then finds the
// capability (unknown ones are denied), validates arguments, runs policy and implementation, and
// writes exactly one audit record — allowed, denied (with the rule) or error. A call the caps
// refuse is audited by the caps, aggregated per plugin call and per minute, so that refusals cannot
// grow the audit log faster than the caps let successful calls grow it. What goes back
// to the plugin is scrubbed of that plugin's own secret values (never of others': see
// Scrubber.scrubFor); host internals never reach it. Arguments a capability stores (order notes,
// history comments, tx notes) are scrubbed of the plugin's secrets before they are stored.
import type { IdleCronAudit } from './idle-cron-audit.ts';
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, CapabilityError, PolicyDenied } from './capability.ts';
import type { AuditLog } from './audit.ts';
import type { HostCallCaps } from './host-call-caps.ts';
import type { CapabilitySetGate } from './capability-set.ts';
import type { PluginLog } from './log.ts';
import type { Scrubber } from '../runtime/secrets/scrubber.ts';
import type { HostCallHandler, HostCallReply } from './capability.ts';
import type { ConfigSnapshotSource } from './config-snapshot.ts';
import { CONFIG_GET, checkedReadStats } from './config-snapshot.ts';
import type { SharedCapRule } from './host-call-limits.ts';

const NO_KEYS: ReadonlySet<string> = new Set();

export interface HostApiDeps {
  capabilities: Capability[];
  audit: AuditLog;
  pluginLog: PluginLog;
  scrubber: Scrubber;
  /** Caps per plugin call and per plugin per minute, checked before anything else. */
  caps: HostCallCaps;
  /** The approved capability set of each plugin, checked right after the caps; refusals audited there. */
  capabilitySet: CapabilitySetGate;
  /** Where unexpected host-side failures are reported (the server's logger). */
  onInternalError?: (capability: string, err: unknown) => void;
  /** Folds the audit records of idle cron runs (idle-cron-audit.ts); without it every call is recorded. */
  idleCron?: IdleCronAudit;
  /** Non-secret config values the sandbox process may answer itself; without it, none. */
  configSnapshots?: ConfigSnapshotSource;
}

export interface HostApi extends HostCallHandler {
  capabilityNames(): string[];
}

export function createHostApi(deps: HostApiDeps): HostApi {
  const byName = new Map(deps.capabilities.map((c) => [c.name, c]));
  if (byName.size !== deps.capabilities.length) throw new Error('two host capabilities share a name');

  async function handle(ctx: HostCallContext, name: string, raw: unknown): Promise<HostCallReply> {
    // Before anything is read or awaited: the caps count calls in the order they arrive.
    let refused = deps.caps.admit(ctx, name, raw);
    if (refused instanceof Promise) refused = await refused;
    if (refused) return { ok: false, error: { message: deps.scrubber.scrubFor(ctx.plugin, refused.message), code: 'HOST_DENIED', rule: refused.rule } };
    try {
      // Unknown names are left to run(), which refuses them as such.
      const outside = byName.has(name) ? deps.capabilitySet.check(ctx, name) : null;
      if (outside) return { ok: false, error: { message: deps.scrubber.scrubFor(ctx.plugin, outside.message), code: 'HOST_DENIED', rule: outside.rule } };
      return await run(ctx, name, raw);
    } finally {
      deps.caps.done(ctx);
    }
  }

  async function run(ctx: HostCallContext, name: string, raw: unknown): Promise<HostCallReply> {
    const started = performance.now();
    const capability = byName.get(name);
    let summary = '';
    let decision: 'allowed' | 'denied' | 'error' = 'allowed';
    let rule: string | null = null;
    let reply: HostCallReply;
    // Text going back into the plugin: only its own secrets are redacted. Redacting another
    // plugin's secret (or the admin token) would confirm a guess the plugin itself put there.
    const toPlugin = (text: string) => deps.scrubber.scrubFor(ctx.plugin, text);
    try {
      if (!capability) throw new PolicyDenied('unknown-capability', `no host capability named '${String(name).slice(0, 80)}'`);
      // A careless plugin may write its own secret into what the host keeps (updateHistory's
      // comment, a tx note): it must not reach the database, the admin page or the merchant's IPN.
      const args = capability.parse(capability.storesPluginText ? deps.scrubber.scrubDeepFor(ctx.plugin, raw) : raw);
      summary = capability.summarize(args);
      const value = await capability.invoke(ctx, args);
      if (capability.summarizeResult) summary += capability.summarizeResult(value);
      reply = { ok: true, value: value === undefined ? null : value };
      deps.caps.chargeResult(ctx, reply.value);
    } catch (err) {
      if (err instanceof PolicyDenied || err instanceof CapabilityArgumentError) {
        decision = 'denied';
        rule = err instanceof PolicyDenied ? err.rule : err.rule;
        reply = { ok: false, error: { message: toPlugin(err.message), code: 'HOST_DENIED', rule } };
        if (!summary) summary = `refused before the arguments were read: ${deps.scrubber.scrub(err.message).slice(0, 300)}`;
      } else if (err instanceof CapabilityError) {
        decision = 'error';
        rule = err.code;
        const extra = (err as CapabilityError & { response?: unknown }).response;
        // An error can carry a provider's whole answer (http.request): it counts like a result.
        if (extra !== undefined) deps.caps.chargeResult(ctx, extra);
        reply = { ok: false, error: { message: toPlugin(err.message), code: err.code, ...(extra !== undefined ? { response: deps.scrubber.scrubDeepFor(ctx.plugin, extra) } : {}) } };
      } else {
        decision = 'error';
        rule = 'internal';
        deps.onInternalError?.(name, err);
        reply = { ok: false, error: { message: `${name} failed inside the host; the administrator can find details in the server log`, code: 'HOST_ERROR' } };
      }
    }
    const record = {
      plugin: ctx.plugin, actor: `plugin:${ctx.plugin}`, callId: ctx.callId, capability: String(name).slice(0, 80),
      decision, rule, summary: `${ctx.method}: ${summary}`, durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    };
    if (deps.idleCron) deps.idleCron.record(ctx, { ...record, at: new Date().toISOString() });
    else deps.audit.record(record);
    return reply;
  }

  return {
    handle,
    log(plugin, callId, level, text) {
      deps.pluginLog.write(plugin, callId, level, text);
    },
    configSnapshots: deps.configSnapshots,
    noteLocalHostCalls(ctx, total) {
      deps.caps.noteLocalCalls(ctx, total);
    },
    recordConfigReads(ctx, raw) {
      // One record per plugin call for the reads its sandbox process answered: keys and counts,
      // never values (there is nothing secret among them, but the log is not a config history).
      const reads = checkedReadStats(raw, deps.configSnapshots?.shownKeys(ctx.plugin) ?? NO_KEYS);
      // Once per call that read anything, on the server's path of every such call: one pass, no
      // intermediate arrays (the record itself, its scrub and its insert are the audit's cost).
      let answered = 0;
      let keys = '';
      for (const key in reads.keys) {
        const n = reads.keys[key];
        answered += n;
        keys += `${keys ? ', ' : ''}key=${key}×${n}`;
      }
      deps.caps.noteLocalCalls(ctx, { calls: answered, bytes: reads.bytes });
      if (answered > 0) {
        const record = {
          plugin: ctx.plugin, actor: `plugin:${ctx.plugin}`, callId: ctx.callId, capability: CONFIG_GET, decision: 'allowed' as const, rule: null,
          summary: `${ctx.method}: answered in the sandbox process: ${keys}`, durationMs: 0, at: new Date().toISOString(),
        };
        // An idle cron run that only read its config is folded like one whose reads the server answered.
        if (deps.idleCron) deps.idleCron.record(ctx, record);
        else deps.audit.record(record);
      }
      // Refused by the count caps in the sandbox process: audited by the caps, as their own refusals.
      for (const rule in reads.refused) deps.caps.recordLocalRefusals(ctx, CONFIG_GET, rule as SharedCapRule, reads.refused[rule as SharedCapRule] ?? 0);
    },
    hostCallsLeftThisMinute: (ctx) => deps.caps.grantMinute(ctx),
    recordLocalCalls(ctx, localCalls) {
      // Reported once, when the plugin call has ended: the caps' refusal count is written now.
      deps.caps.endCall(ctx);
      deps.capabilitySet.endCall(ctx);
      const entries = Object.entries(localCalls);
      deps.idleCron?.endCall(ctx, entries.length > 0);
      if (!entries.length) return;
      deps.audit.record({
        plugin: ctx.plugin, actor: `plugin:${ctx.plugin}`, callId: ctx.callId, capability: 'sandbox.local',
        decision: 'allowed', rule: null, summary: `${ctx.method}: ${entries.map(([k, n]) => `${k}×${n}`).join(', ')}`, durationMs: 0,
      });
    },
    scrub: (text) => deps.scrubber.scrub(text),
    scrubFor: (plugin, value) => deps.scrubber.scrubDeepFor(plugin, value),
    capabilityNames: () => [...byName.keys()],
  };
}
