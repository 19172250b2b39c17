// A stub sandbox for payout-flow tests: each call of a plugin (or of one order) takes the next
// scripted answer, the last one repeating; failures can claim requests were started.
import type { FailureKind } from '../../../runtime/sandbox/protocol.ts';
import type { InvokeResult } from '../../../runtime/sandbox/sandbox-host.ts';
import type { LoadedPlugin } from '../../../runtime/plugins/load-plugin.ts';
import { newCounters } from '../../../host-api/capability.ts';

export type Answer = { kind: 'ok'; value: unknown } | { kind: FailureKind; requests?: number };

/**
 * Scripts are looked up as `plugin:orderId`, then `plugin.method`, then `plugin`; without one a
 * transfer pays (ok:1).
 */
export class StubSandbox {
  readonly calls: { plugin: string; method: string; orderId: string }[] = [];
  private readonly script = new Map<string, Answer[]>();
  answer(key: string, ...answers: Answer[]): void { this.script.set(key, answers); }
  async invoke(plugin: string, method: string, args: unknown): Promise<InvokeResult> {
    const orderId = String((args as { _id?: string; orderId?: string }[])[0]?._id ?? (args as { orderId?: string }[])[0]?.orderId);
    this.calls.push({ plugin, method, orderId });
    const queue = this.script.get(`${plugin}:${orderId}`) ?? this.script.get(`${plugin}.${method}`) ?? this.script.get(plugin) ?? [{ kind: 'ok', value: { ok: 1, transaction: 'tx-1' } }];
    const next = queue.length > 1 ? (queue.shift() as Answer) : queue[0];
    const ctx = { plugin, callId: `c${this.calls.length}`, method, deadline: 0, counters: newCounters() };
    if (next.kind === 'ok') return { ok: true, value: next.value, callId: ctx.callId, ctx, stats: null };
    ctx.counters.requestsStarted = next.requests ?? 0;
    ctx.counters.outboundRequests = next.requests ?? 0;
    return { ok: false, error: { kind: next.kind, message: `stub ${next.kind}` }, callId: ctx.callId, ctx, stats: null };
  }
  transfersRun(orderId: string): number {
    return this.calls.filter((c) => c.method === 'transfer' && c.orderId === orderId).length;
  }
}

export function stubPlugin(key: string, options: { format?: 'sdk'; status?: boolean } = {}): LoadedPlugin {
  return { key, manifest: { format: options.format ?? 'platform' }, description: { methods: { getFields: true, transfer: true, initCron: false, status: options.status ?? false } } } as unknown as LoadedPlugin;
}
