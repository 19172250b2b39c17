// The capability set: what the approved version of a plugin may ask the host for. dispatch.ts asks
// it about every host call, right after the host-call caps and before the capability runs, so it
// holds whatever path the call took: a shim, the SDK, or plugin code calling the host bridge
// (`__ps_host`) directly. The set is the one derived when the plugin was bundled and checked from
// the host modules it requires (runtime/install/capabilities.ts), narrowed to what its approval
// record holds; a plugin with no set loaded gets nothing. Besides the capability names, host calls
// made while running a callback the approved version did not have, or a cron it did not have, are
// refused too.
// A refusal is audited like the caps' (host-call-caps.ts): the first one of a plugin call writes
// one record, later ones are counted and written in one record when the call ends, so a plugin
// probing the bridge in a loop cannot grow the audit log faster than its host-call caps allow.
import type { AuditLog } from './audit.ts';
import type { HostCallContext } from './capability.ts';

export const CAPABILITY_SET_RULE = 'capability-set';
/** The capability name aggregated refusal records are filed under. */
export const CAPABILITY_SET_AUDIT_CAPABILITY = 'host.capability-set';

export interface ApprovedCapabilitySet {
  /** Host capability names the plugin may call (e.g. config.get, history.update). */
  capabilities: ReadonlySet<string>;
  /** Callback names the approved version has; null: not recorded (no check). */
  callbacks: ReadonlySet<string> | null;
  /** Whether the approved version has a cron; null: not recorded (no check). */
  cron: boolean | null;
}

export interface CapabilitySetSource {
  /** The set of the plugin's loaded, approved version; undefined: none (every host call is refused). */
  capabilitySetOf(plugin: string): ApprovedCapabilitySet | undefined;
}

export interface CapabilitySetRefusal { rule: typeof CAPABILITY_SET_RULE; message: string }

interface CallRefusals { recorded: boolean; unrecorded: Map<string, number> }

export function approvedCapabilitySet(capabilities: Iterable<string>, callbacks: Iterable<string> | null = null, cron: boolean | null = null): ApprovedCapabilitySet {
  return Object.freeze({
    capabilities: new Set(capabilities),
    callbacks: callbacks === null ? null : new Set(callbacks),
    cron,
  });
}

export class CapabilitySetGate {
  private readonly source: CapabilitySetSource;
  private readonly audit: Pick<AuditLog, 'record'>;
  private readonly calls = new WeakMap<HostCallContext, CallRefusals>();
  /** Calls with counted refusals not yet written. */
  private readonly pending = new Set<HostCallContext>();

  constructor(source: CapabilitySetSource, audit: Pick<AuditLog, 'record'>) {
    this.source = source;
    this.audit = audit;
  }

  /** Null when the call is inside the plugin's set; the refusal (audited or counted) otherwise. */
  check(ctx: HostCallContext, capability: string): CapabilitySetRefusal | null {
    const name = String(capability).slice(0, 80);
    const reason = this.reasonToRefuse(ctx, name);
    if (!reason) return null;
    const refusal: CapabilitySetRefusal = { rule: CAPABILITY_SET_RULE, message: `${name} refused: ${reason}` };
    let call = this.calls.get(ctx);
    if (!call) {
      call = { recorded: false, unrecorded: new Map() };
      this.calls.set(ctx, call);
    }
    if (!call.recorded) {
      call.recorded = true;
      this.record(ctx, name, `${ctx.method}: ${refusal.message} (further refusals in this call are counted in one record when it ends)`);
    } else {
      call.unrecorded.set(name, (call.unrecorded.get(name) ?? 0) + 1);
      this.pending.add(ctx);
    }
    return refusal;
  }

  /** The plugin call has ended: its count of further refusals, if any, is written now. */
  endCall(ctx: HostCallContext): void {
    if (this.pending.has(ctx)) this.writeCount(ctx);
  }

  /** Writes the counts of ended calls; with `final` (shutdown), of every call. */
  settle(final = false): void {
    for (const ctx of [...this.pending]) if (final || ctx.ended) this.writeCount(ctx);
  }

  private reasonToRefuse(ctx: HostCallContext, name: string): string | null {
    const set = this.source.capabilitySetOf(ctx.plugin);
    const who = `plugin '${ctx.plugin}'`;
    if (!set) return `${who} has no approved capability set loaded, so it may call nothing on the host; load (or approve) the plugin again`;
    if (!set.capabilities.has(name)) {
      const granted = [...set.capabilities].sort().join(', ') || 'none';
      return `it is not in the capability set approved for ${who} (granted: ${granted}). Capabilities come only from the host modules a plugin requires; ` +
        'require the module that provides it, and the update will wait for an administrator to approve it';
    }
    if (ctx.method.startsWith('callback:') && set.callbacks && !set.callbacks.has(ctx.method.slice('callback:'.length))) {
      return `the approved version of ${who} has no callback '${ctx.method.slice('callback:'.length, 80)}'`;
    }
    if (ctx.method === 'cron' && set.cron === false) return `the approved version of ${who} has no cron`;
    return null;
  }

  private writeCount(ctx: HostCallContext): void {
    this.pending.delete(ctx);
    const call = this.calls.get(ctx);
    if (!call || call.unrecorded.size === 0) return;
    let total = 0;
    for (const n of call.unrecorded.values()) total += n;
    const byCapability = [...call.unrecorded].map(([name, n]) => `${name}: ${n}`).join(', ');
    call.unrecorded.clear();
    this.record(ctx, CAPABILITY_SET_AUDIT_CAPABILITY, `${ctx.method}: ${total} more host calls refused in this call by the capability set after the one recorded (${byCapability})`);
  }

  private record(ctx: HostCallContext, capability: string, summary: string): void {
    this.audit.record({ plugin: ctx.plugin, actor: `plugin:${ctx.plugin}`, callId: ctx.callId, capability, decision: 'denied', rule: CAPABILITY_SET_RULE, summary, durationMs: 0 });
  }
}
