// The payout attempt state machine (design.md §6): which state may follow which, and why.
//   PREPARED → DISPATCHING → SUCCEEDED | ACCEPTED | FAILED | UNKNOWN,
//   ACCEPTED | UNKNOWN → SUCCEEDED | FAILED | NEEDS_REVIEW,
// plus the moves listed below with the reason each exists. The Store's updateAttempt refuses any
// other move (both adapters, through checkAttemptMove), and every state list of the payout code
// is derived from here, so a new move is added in one place, with its reason.
import type { AttemptState, OrderStatus } from './types.ts';
import { ATTEMPT_STATES, LIVE_ATTEMPT_STATES } from './types.ts';

/** Said of every move that follows an order the plugin or an administrator already settled. */
const FOLLOWS_ORDER = 'follows its order, settled meanwhile by the plugin (updateHistory, SDK webhook) or held by an administrator';

const MOVES: Record<AttemptState, Partial<Record<AttemptState, string>>> = {
  PREPARED: {
    DISPATCHING: 'written just before transfer() runs, so a crash during it is never mistaken for "not sent"',
    FAILED: 'the worker died before transfer() started (sweep recovery): nothing was sent, so a new attempt may start; '
      + `or ${FOLLOWS_ORDER} (errorPayout)`,
    SUCCEEDED: `${FOLLOWS_ORDER} (done) before transfer() started`,
    NEEDS_REVIEW: `${FOLLOWS_ORDER} (hold) before transfer() started`,
  },
  DISPATCHING: {
    SUCCEEDED: 'transfer() answered ok:1; or the SDK status/webhook reports paid after a crash; or it ' + `${FOLLOWS_ORDER} (done)`,
    ACCEPTED: 'transfer() answered ok:2 with a transaction; or the sweep recovers a crash after this attempt\'s tx was recorded',
    FAILED: 'a definite failure: no request left the sandbox, or an SDK provider refused; or never dispatched (the sandbox '
      + `refused transfer() before the plugin ran); or the SDK reports failed after a crash; or it ${FOLLOWS_ORDER} (errorPayout)`,
    UNKNOWN: 'transfer() failed after a request left the sandbox, or answered ok:2 without a transaction; or the sweep '
      + 'recovers a crash during transfer() with no tx recorded',
    NEEDS_REVIEW: `the provider reported an amount other than the order's; or it ${FOLLOWS_ORDER} (hold) while transfer() ran`,
  },
  ACCEPTED: {
    SUCCEEDED: 'the plugin\'s callback or cron (updateHistory) or the SDK status/webhook says paid',
    FAILED: 'the plugin\'s callback or cron (updateHistory) or the SDK status/webhook says failed',
    NEEDS_REVIEW: 'not finalised by its review deadline; or a reported amount other than the order\'s; or the order was held '
      + 'by an administrator or no longer exists',
  },
  UNKNOWN: {
    SUCCEEDED: 'reconciled as paid: the plugin (updateHistory) or the SDK status/webhook',
    FAILED: 'reconciled as failed: the plugin (updateHistory) or the SDK status/webhook',
    NEEDS_REVIEW: 'not reconciled by its review deadline; or a reported amount other than the order\'s; or the order was '
      + 'held by an administrator or no longer exists',
  },
  NEEDS_REVIEW: {
    FAILED: 'an administrator resolved the payout as not paid or retry (POST …/resolve): FAILED is what lets a new attempt start',
  },
  SUCCEEDED: {},
  FAILED: {},
};

export function canMoveAttempt(from: AttemptState, to: AttemptState): boolean {
  return MOVES[from]?.[to] !== undefined;
}

export function allowedAttemptMoves(from: AttemptState): AttemptState[] {
  return Object.keys(MOVES[from] ?? {}) as AttemptState[];
}

/** Why the move exists (the table's own words), or null when it is not allowed. */
export function whyAttemptMove(from: AttemptState, to: AttemptState): string | null {
  return MOVES[from]?.[to] ?? null;
}

/** Every state from which `to` may be reached: the fromStates of an update that writes `to`. */
export function attemptStatesMovingTo(to: AttemptState): AttemptState[] {
  return ATTEMPT_STATES.filter((from) => canMoveAttempt(from, to));
}

/** The live states (at most one per order, a unique index in both stores): the payout is under way. */
export const LIVE_STATES: readonly AttemptState[] = LIVE_ATTEMPT_STATES;

/** Written by transfer()'s caller while it holds the lease; a dead worker leaves them for the sweep's recovery. */
export const IN_DISPATCH_STATES: readonly AttemptState[] = ['PREPARED', 'DISPATCHING'];

/** The provider has the payout and its outcome is awaited: reconciled by the sweep, held for review by a deadline. */
export const AWAITING_OUTCOME_STATES: readonly AttemptState[] = LIVE_ATTEMPT_STATES.filter((s) => !IN_DISPATCH_STATES.includes(s));

/** Only FAILED allows a new attempt (design.md §6); every other state blocks one. */
export function blocksNewAttempt(state: AttemptState): boolean {
  return state !== 'FAILED';
}

/** The attempt state that matches an order the payout flow, the plugin or an administrator settled. */
export const ATTEMPT_STATE_FOR_ORDER: Partial<Record<OrderStatus, SettledAttemptState>> = {
  done: 'SUCCEEDED',
  errorPayout: 'FAILED',
  hold: 'NEEDS_REVIEW',
};

/** The states a payout ends in: moves into them are what the settle step writes. */
export type SettledAttemptState = 'SUCCEEDED' | 'FAILED' | 'NEEDS_REVIEW';

/** The order status a payout flow settlement moves the order to. */
export const ORDER_FOR_ATTEMPT_STATE: Record<SettledAttemptState, OrderStatus> = {
  SUCCEEDED: 'done',
  FAILED: 'errorPayout',
  NEEDS_REVIEW: 'hold',
};

/** The whole table with its reasons (documentation, the admin API). */
export function describeAttemptTable(): Record<AttemptState, Partial<Record<AttemptState, string>>> {
  return MOVES;
}
