// The attempt table (design.md §6): every move the design names is allowed, the moves the code
// makes besides are there with a reason, and the rest is refused. The payout code keeps no state
// list of its own: they are all derived from the table.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  ATTEMPT_STATE_FOR_ORDER, AWAITING_OUTCOME_STATES, IN_DISPATCH_STATES, ORDER_FOR_ATTEMPT_STATE,
  allowedAttemptMoves, attemptStatesMovingTo, blocksNewAttempt, canMoveAttempt, describeAttemptTable, whyAttemptMove,
} from '../../../runtime/store/attempt-transitions.ts';
import { ATTEMPT_STATES, LIVE_ATTEMPT_STATES } from '../../../runtime/store/types.ts';
import type { AttemptState } from '../../../runtime/store/types.ts';

type Move = [AttemptState, AttemptState];

// design.md §6, word for word: PREPARED → DISPATCHING → SUCCEEDED | ACCEPTED | FAILED | UNKNOWN,
// then ACCEPTED | UNKNOWN → SUCCEEDED | FAILED | NEEDS_REVIEW.
const DESIGN: Move[] = [
  ['PREPARED', 'DISPATCHING'],
  ['DISPATCHING', 'SUCCEEDED'], ['DISPATCHING', 'ACCEPTED'], ['DISPATCHING', 'FAILED'], ['DISPATCHING', 'UNKNOWN'],
  ['ACCEPTED', 'SUCCEEDED'], ['ACCEPTED', 'FAILED'], ['ACCEPTED', 'NEEDS_REVIEW'],
  ['UNKNOWN', 'SUCCEEDED'], ['UNKNOWN', 'FAILED'], ['UNKNOWN', 'NEEDS_REVIEW'],
];

// What the code does besides, each for a reason the table states.
const BESIDES: Move[] = [
  ['PREPARED', 'FAILED'],          // the worker died before transfer() started: retried
  ['PREPARED', 'SUCCEEDED'],       // follows an order the plugin settled before transfer() started
  ['PREPARED', 'NEEDS_REVIEW'],    // follows an order an administrator put on hold
  ['DISPATCHING', 'NEEDS_REVIEW'], // amount mismatch, or an administrator's hold while transfer() ran
  ['NEEDS_REVIEW', 'FAILED'],      // resolved by an administrator as not paid / retry
];

const ILLEGAL: Move[] = [
  ['PREPARED', 'ACCEPTED'], ['PREPARED', 'UNKNOWN'], ['DISPATCHING', 'PREPARED'], ['ACCEPTED', 'DISPATCHING'],
  ['ACCEPTED', 'UNKNOWN'], ['UNKNOWN', 'ACCEPTED'], ['SUCCEEDED', 'FAILED'], ['SUCCEEDED', 'NEEDS_REVIEW'],
  ['FAILED', 'SUCCEEDED'], ['FAILED', 'PREPARED'], ['FAILED', 'UNKNOWN'], ['NEEDS_REVIEW', 'SUCCEEDED'],
  ['NEEDS_REVIEW', 'UNKNOWN'], ['NEEDS_REVIEW', 'DISPATCHING'], ['UNKNOWN', 'UNKNOWN'],
];

describe('attempt transition table', () => {
  test('every move of design.md §6 is allowed', () => {
    for (const [from, to] of DESIGN) expect(canMoveAttempt(from, to), `${from} → ${to}`).toBe(true);
  });

  test('the moves the code makes besides are allowed, each with its reason', () => {
    for (const [from, to] of BESIDES) expect(whyAttemptMove(from, to), `${from} → ${to}`).toMatch(/\w{3,}/);
    expect(whyAttemptMove('NEEDS_REVIEW', 'FAILED')).toMatch(/administrator/);
    expect(whyAttemptMove('PREPARED', 'FAILED')).toMatch(/before transfer\(\) started/);
    expect(whyAttemptMove('DISPATCHING', 'FAILED')).toMatch(/never dispatched/);
    expect(whyAttemptMove('DISPATCHING', 'UNKNOWN')).toMatch(/crash/);
  });

  test('nothing else: the table is exactly the design plus the listed moves', () => {
    const all = Object.entries(describeAttemptTable()).flatMap(([from, tos]) => Object.keys(tos).map((to) => `${from} → ${to}`));
    expect(all.sort()).toEqual([...DESIGN, ...BESIDES].map(([a, b]) => `${a} → ${b}`).sort());
  });

  test('a sample of illegal moves is refused', () => {
    for (const [from, to] of ILLEGAL) {
      expect(canMoveAttempt(from, to), `${from} → ${to}`).toBe(false);
      expect(whyAttemptMove(from, to)).toBeNull();
    }
  });

  test('shape: final states are final, nothing returns to PREPARED, no state moves to itself', () => {
    expect(allowedAttemptMoves('SUCCEEDED')).toEqual([]);
    expect(allowedAttemptMoves('FAILED')).toEqual([]);
    expect(attemptStatesMovingTo('PREPARED')).toEqual([]);
    for (const s of ATTEMPT_STATES) expect(canMoveAttempt(s, s)).toBe(false);
  });

  test('a move into a live state starts from a live one, so an update can never make a second live attempt', () => {
    for (const to of LIVE_ATTEMPT_STATES) {
      for (const from of attemptStatesMovingTo(to)) expect(LIVE_ATTEMPT_STATES, `${from} → ${to}`).toContain(from);
    }
  });

  test('every live state can end: it reaches SUCCEEDED, FAILED or NEEDS_REVIEW', () => {
    const reach = (from: AttemptState, seen = new Set<AttemptState>()): Set<AttemptState> => {
      for (const to of allowedAttemptMoves(from)) if (!seen.has(to)) { seen.add(to); reach(to, seen); }
      return seen;
    };
    for (const s of LIVE_ATTEMPT_STATES) expect([...reach(s)]).toEqual(expect.arrayContaining(['SUCCEEDED', 'FAILED', 'NEEDS_REVIEW']));
  });

  test('the derived lists', () => {
    expect([...IN_DISPATCH_STATES].sort()).toEqual(['DISPATCHING', 'PREPARED']);
    expect([...AWAITING_OUTCOME_STATES].sort()).toEqual(['ACCEPTED', 'UNKNOWN']);
    expect(ATTEMPT_STATES.filter(blocksNewAttempt)).toEqual(ATTEMPT_STATES.filter((s) => s !== 'FAILED'));
    expect(attemptStatesMovingTo('NEEDS_REVIEW').sort()).toEqual(['ACCEPTED', 'DISPATCHING', 'PREPARED', 'UNKNOWN']);
    for (const [status, state] of Object.entries(ATTEMPT_STATE_FOR_ORDER)) expect(ORDER_FOR_ATTEMPT_STATE[state!]).toBe(status);
  });

  test('the payout code keeps no attempt state list of its own (they derive from the table)', () => {
    const files = [
      'runtime/payouts/orchestrator.ts', 'runtime/payouts/payout-steps.ts', 'runtime/payouts/payout-sweep.ts',
      'runtime/payouts/sdk-reconcile.ts', 'runtime/payouts/settle.ts', 'runtime/payouts/deferral.ts',
      'runtime/server/routes/admin-orders.ts', 'runtime/orders/order-service.ts', 'host-api/history.ts',
    ];
    const state = `'(?:${ATTEMPT_STATES.join('|')})'`;
    // A list literal naming two states, or a Set of them: the shapes the inline lists had.
    const list = new RegExp(`[\\[(]\\s*${state}\\s*,\\s*${state}`);
    for (const file of files) expect(readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8'), file).not.toMatch(list);
    // Positive control: the pattern finds the kind of list it forbids.
    expect(`moveAttempt(deps, attempt, ['ACCEPTED', 'UNKNOWN'], {})`).toMatch(list);
  });
});
