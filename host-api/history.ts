// history: what a plugin may do with `updateHistory(...)` — finish its own payout, nothing else.
//  - the order must be this plugin's (order.payoutModule) and have a live payout attempt or an
//    active payout tx of this plugin;
//  - the stored status must be inProgressPayout, and equal `oldStatus` when the plugin gives it
//    (compare-and-set: a stale or replayed update changes nothing);
//  - the only moves are inProgressPayout → done and inProgressPayout → errorPayout;
//  - order update, history entry and IPN enqueue happen in one atomic store step, and the payout
//    attempt is settled right after (the reconciliation sweep settles it if we crash in between).
// Every refusal is audited with the rule that decided it.
import type { Capability, HostCallContext } from './capability.ts';
import { CapabilityArgumentError, PolicyDenied } from './capability.ts';
import type { Store } from '../runtime/store/store.ts';
import type { NewIpn, Order, OrderStatus } from '../runtime/store/types.ts';
import { crashPoint } from '../runtime/testing-seams/crash-hook.ts';

export const PLUGIN_SETTLE_STATUSES: OrderStatus[] = ['done', 'errorPayout'];
const MAX_TEXT = 2000;

export interface HistoryArgs {
  orderId: string;
  oldStatus: string | null;
  status: 'done' | 'errorPayout';
  payoutStatus: string | null;
  orderNote: string | null;
  comment: string | null;
}

export interface HistoryDeps {
  store: Pick<Store, 'getOrder' | 'getLiveAttempt' | 'countPayoutTxs' | 'transitionOrder'>;
  buildIpn(order: Order, status: OrderStatus): NewIpn | null;
  /** Settles the payout attempt after the order moved (the orchestrator's part). */
  settleAttempt?(order: Order, plugin: string, outcome: 'done' | 'errorPayout'): Promise<void>;
}

function optionalText(raw: Record<string, unknown>, field: string): string | null {
  const v = raw[field];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new CapabilityArgumentError('history.update', field, 'must be a string');
  return v.length > MAX_TEXT ? v.slice(0, MAX_TEXT) : v;
}

export function historyCapability(deps: HistoryDeps): Capability<HistoryArgs, unknown> {
  return {
    name: 'history.update',
    // orderNote, comment and payoutStatus end up in the order, its history and the admin page.
    storesPluginText: true,
    parse(raw) {
      const r = (raw ?? {}) as Record<string, unknown>;
      if (typeof r.orderId !== 'string' || !r.orderId) throw new CapabilityArgumentError('history.update', 'orderId', 'must be the order id');
      const status = r.status;
      if (typeof status !== 'string') throw new CapabilityArgumentError('history.update', 'status', 'must be a status string');
      if (!PLUGIN_SETTLE_STATUSES.includes(status as OrderStatus)) {
        throw new PolicyDenied('history.forbidden-status', `updateHistory refused: a plugin may only move an order to done or errorPayout, not '${status}'`);
      }
      return {
        orderId: r.orderId, status: status as HistoryArgs['status'], oldStatus: optionalText(r, 'oldStatus'),
        payoutStatus: optionalText(r, 'payoutStatus'), orderNote: optionalText(r, 'orderNote'), comment: optionalText(r, 'comment'),
      };
    },
    summarize: (a) => `order=${a.orderId} ${a.oldStatus ?? '?'}→${a.status}`,
    async invoke(ctx: HostCallContext, a) {
      // Not found and not yours give the same answer: a plugin learns nothing about other orders.
      const notYours = () => new PolicyDenied('history.not-own-order', `updateHistory refused: order ${a.orderId} is not a payout of plugin '${ctx.plugin}'`);
      const order = await deps.store.getOrder(a.orderId);
      if (!order || order.payoutModule !== ctx.plugin) throw notYours();
      const attempt = await deps.store.getLiveAttempt(order._id);
      const ownsAttempt = attempt !== null && attempt.plugin === ctx.plugin;
      const activeTxs = ownsAttempt ? 1 : await deps.store.countPayoutTxs({ plugin: ctx.plugin, conditions: [{ field: 'order', op: 'eq', value: order._id }, { field: 'active', op: 'eq', value: true }] });
      if (!ownsAttempt && activeTxs === 0) {
        throw new PolicyDenied('history.no-live-payout', `updateHistory refused: order ${a.orderId} has no payout of plugin '${ctx.plugin}' in progress`);
      }
      if (a.oldStatus !== null && a.oldStatus !== order.status) {
        throw new PolicyDenied('history.stale-old-status', `updateHistory refused: oldStatus '${a.oldStatus}' does not match the order's status '${order.status}'`);
      }
      if (order.status !== 'inProgressPayout') {
        throw new PolicyDenied('history.wrong-current-status', `updateHistory refused: order ${a.orderId} is '${order.status}', and only an order in inProgressPayout can be settled by a plugin`);
      }
      const moved = { ...order, status: a.status };
      const result = await deps.store.transitionOrder({
        orderId: order._id, expectStatus: ['inProgressPayout'], expectPayoutModule: ctx.plugin, toStatus: a.status,
        patch: { payoutStatus: a.payoutStatus, orderNote: a.orderNote ?? order.orderNote },
        history: { actor: `plugin:${ctx.plugin}`, comment: a.comment, payoutStatus: a.payoutStatus },
        ipn: deps.buildIpn(moved, a.status),
      });
      if (!result.ok) {
        throw new PolicyDenied('history.stale-old-status', `updateHistory refused: the order changed meanwhile (now '${result.current?.status ?? 'missing'}')`);
      }
      crashPoint('history-after-transition');
      await deps.settleAttempt?.(result.order, ctx.plugin, a.status);
      return { ok: true, orderId: order._id, status: a.status };
    },
  };
}
