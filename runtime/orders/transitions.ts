// The order status machine: which status may follow which, and who may make the move.
// The ten statuses are the platform's. Money moves (done / errorPayout out of inProgressPayout)
// belong to the payout flow — the orchestrator and the plugin's updateHistory — never to a
// merchant, and an administrator can make them only when no payout attempt is live.
import type { OrderStatus } from '../store/types.ts';

export type TransitionActor = 'admin' | 'system' | 'plugin';

const ADMIN: Record<OrderStatus, OrderStatus[]> = {
  new: ['waitPayment', 'inProgress', 'deleted'],
  waitPayment: ['inProgress', 'errorPayment', 'deleted'],
  errorPayment: ['waitPayment', 'inProgress', 'deleted'],
  inProgress: ['inProgressPayout', 'hold', 'returned', 'deleted'],
  inProgressPayout: ['hold', 'done', 'errorPayout'],   // done/errorPayout: manual payout, only with no live attempt
  errorPayout: ['inProgressPayout', 'hold', 'done', 'returned'],
  hold: ['inProgress', 'inProgressPayout', 'done', 'errorPayout', 'returned', 'deleted'],
  done: [],
  returned: [],
  deleted: [],
};

const SYSTEM: Partial<Record<OrderStatus, OrderStatus[]>> = {
  inProgressPayout: ['done', 'errorPayout', 'hold'],
};

const PLUGIN: Partial<Record<OrderStatus, OrderStatus[]>> = {
  inProgressPayout: ['done', 'errorPayout'],
};

const TABLES: Record<TransitionActor, Partial<Record<OrderStatus, OrderStatus[]>>> = { admin: ADMIN, system: SYSTEM, plugin: PLUGIN };

export function canTransition(actor: TransitionActor, from: OrderStatus, to: OrderStatus): boolean {
  return TABLES[actor][from]?.includes(to) ?? false;
}

export function allowedNext(actor: TransitionActor, from: OrderStatus): OrderStatus[] {
  return [...(TABLES[actor][from] ?? [])];
}

/** Moves out of inProgressPayout that settle money; an admin may make them only with no live attempt. */
export function isPayoutSettlement(from: OrderStatus, to: OrderStatus): boolean {
  return from === 'inProgressPayout' && (to === 'done' || to === 'errorPayout');
}

/** The customer's view: where the order page shows a return button, and with which status. */
export function finalOutcome(status: OrderStatus): 'success' | 'error' | null {
  if (status === 'done') return 'success';
  if (status === 'returned' || status === 'deleted' || status === 'errorPayment' || status === 'errorPayout') return 'error';
  return null;
}

export function describeTable(): Record<TransitionActor, Partial<Record<OrderStatus, OrderStatus[]>>> {
  return TABLES;
}
