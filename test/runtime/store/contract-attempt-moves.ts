// Contract: the store refuses an attempt move the attempt table (design.md §6) does not allow,
// whichever adapter, before anything is written; a legal move of the same attempt still works.
import { expect, test } from 'vitest';
import { StoreTransitionError } from '../../../runtime/store/errors.ts';
import type { Store } from '../../../runtime/store/store.ts';
import type { AttemptState, PayoutAttempt } from '../../../runtime/store/types.ts';
import type { Fixture } from './contract-fixtures.ts';
import { sampleOrder } from './contract-fixtures.ts';

/** An attempt walked through legal moves to `path`'s last state (fence 1). */
async function attemptAt(store: Store, path: AttemptState[]): Promise<PayoutAttempt> {
  const order = await store.createOrder(sampleOrder());
  let attempt = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w1', leaseMs: 60_000 }))!;
  for (const state of path) attempt = (await store.updateAttempt(attempt._id, 1, [attempt.state], { state }))!;
  return attempt;
}

export function registerAttemptMoveContract(f: Fixture): void {
  test('updateAttempt refuses a move the attempt table does not allow, writes nothing, and a legal move still works', async () => {
    const store = await f.open();
    const prepared = await attemptAt(store, []);
    // transfer() has not run: the provider cannot have accepted anything.
    const skip = store.updateAttempt(prepared._id, 1, ['PREPARED'], { state: 'ACCEPTED', transaction: 'forged' });
    await expect(skip).rejects.toThrow(StoreTransitionError);
    await expect(store.updateAttempt(prepared._id, 1, ['PREPARED'], { state: 'ACCEPTED' }))
      .rejects.toThrow(/^updateAttempt: attempt [0-9a-f]{24} may not move from PREPARED to ACCEPTED; .*PREPARED → DISPATCHING \| FAILED .*Nothing was written$/);
    expect(await store.getAttempt(prepared._id)).toEqual(prepared);
    // Positive control: the same attempt, the same fence, a move the table allows.
    expect(await store.updateAttempt(prepared._id, 1, ['PREPARED'], { state: 'DISPATCHING' })).toMatchObject({ state: 'DISPATCHING', fence: 1 });
  });

  test('final states stay final; a reviewed payout only becomes FAILED (the administrator\'s resolution)', async () => {
    const store = await f.open();
    const succeeded = await attemptAt(store, ['DISPATCHING', 'SUCCEEDED']);
    for (const to of ['FAILED', 'NEEDS_REVIEW', 'UNKNOWN', 'DISPATCHING'] as const) {
      await expect(store.updateAttempt(succeeded._id, 1, ['SUCCEEDED'], { state: to })).rejects.toThrow(StoreTransitionError);
    }
    const failed = await attemptAt(store, ['DISPATCHING', 'FAILED']);
    await expect(store.updateAttempt(failed._id, 1, ['FAILED'], { state: 'SUCCEEDED' })).rejects.toThrow(/may not move from FAILED to SUCCEEDED; .*FAILED → nothing, it is final/);
    const review = await attemptAt(store, ['DISPATCHING', 'UNKNOWN', 'NEEDS_REVIEW']);
    await expect(store.updateAttempt(review._id, 1, ['NEEDS_REVIEW'], { state: 'SUCCEEDED' })).rejects.toThrow(StoreTransitionError);
    await expect(store.updateAttempt(review._id, 1, ['NEEDS_REVIEW'], { state: 'UNKNOWN' })).rejects.toThrow(StoreTransitionError);
    expect(await store.getAttempt(succeeded._id)).toEqual(succeeded);
    expect(await store.getAttempt(failed._id)).toEqual(failed);
    expect(await store.getAttempt(review._id)).toEqual(review);
    expect(await store.updateAttempt(review._id, 1, ['NEEDS_REVIEW'], { state: 'FAILED', reason: 'resolved: not paid' })).toMatchObject({ state: 'FAILED', live: false });
  });

  test('every state an update names must allow the move, not only the stored one', async () => {
    const store = await f.open();
    const dispatching = await attemptAt(store, ['DISPATCHING']);
    // The stored state (DISPATCHING) could move to UNKNOWN, but a caller that also names
    // NEEDS_REVIEW means a move the table forbids: refused as a whole.
    await expect(store.updateAttempt(dispatching._id, 1, ['DISPATCHING', 'NEEDS_REVIEW'], { state: 'UNKNOWN' }))
      .rejects.toThrow(/may not move from NEEDS_REVIEW to UNKNOWN/);
    expect(await store.getAttempt(dispatching._id)).toEqual(dispatching);
    expect(await store.updateAttempt(dispatching._id, 1, ['DISPATCHING'], { state: 'UNKNOWN' })).toMatchObject({ state: 'UNKNOWN' });
  });

  test('a patch without a state (evidence, a lease release) is not a move and is allowed in any state', async () => {
    const store = await f.open();
    const succeeded = await attemptAt(store, ['DISPATCHING', 'SUCCEEDED']);
    expect(await store.updateAttempt(succeeded._id, 1, ['SUCCEEDED'], { leaseUntil: null, reportedAmount: '99.25' }))
      .toMatchObject({ state: 'SUCCEEDED', leaseUntil: null, reportedAmount: '99.25' });
    // Staying in the same state by naming it is a move of nothing, and none is in the table.
    await expect(store.updateAttempt(succeeded._id, 1, ['SUCCEEDED'], { state: 'SUCCEEDED' })).rejects.toThrow(StoreTransitionError);
  });
}

export function registerRequestLeftContract(f: Fixture): void {
  test('markAttemptRequestLeft writes the durable "a request may have left" only for DISPATCHING under the holder\'s fence', async () => {
    const store = await f.open();
    const prepared = await attemptAt(store, []);
    expect(prepared).toMatchObject({ requestLeftAt: null, callId: null });
    // transfer() has not started: nothing may leave, so nothing is marked.
    expect(await store.markAttemptRequestLeft(prepared._id, 1, 'call-1')).toBe(false);
    const dispatching = (await store.updateAttempt(prepared._id, 1, ['PREPARED'], { state: 'DISPATCHING' }))!;
    // A stale fence (a sweeper took the lease after a crash) refuses the marker: the request must not go.
    expect(await store.markAttemptRequestLeft(dispatching._id, 0, 'call-1')).toBe(false);
    expect(await store.getAttempt(dispatching._id)).toMatchObject({ requestLeftAt: null, callId: null });
    // Positive control: the holder's fence marks it; the fence is not bumped.
    expect(await store.markAttemptRequestLeft(dispatching._id, 1, 'call-1')).toBe(true);
    const marked = (await store.getAttempt(dispatching._id))!;
    expect(marked).toMatchObject({ fence: 1, state: 'DISPATCHING', callId: 'call-1' });
    expect(Number.isNaN(Date.parse(marked.requestLeftAt as string))).toBe(false);
    // A second request keeps the first marker and call id; the holder's next write still applies.
    expect(await store.markAttemptRequestLeft(dispatching._id, 1, 'call-2')).toBe(true);
    expect(await store.getAttempt(dispatching._id)).toMatchObject({ requestLeftAt: marked.requestLeftAt, callId: 'call-1' });
    expect(await store.updateAttempt(dispatching._id, 1, ['DISPATCHING'], { state: 'UNKNOWN' })).toMatchObject({ state: 'UNKNOWN', requestLeftAt: marked.requestLeftAt });
    // Settled or moved on: no marker any more.
    expect(await store.markAttemptRequestLeft(dispatching._id, 1, 'call-3')).toBe(false);
  });

  test('a lease takeover makes the previous holder\'s marker refused', async () => {
    const store = await f.open();
    const dispatching = await attemptAt(store, ['DISPATCHING']);
    await store.updateAttempt(dispatching._id, 1, ['DISPATCHING'], { leaseUntil: new Date(Date.now() - 1000).toISOString() });
    const taken = (await store.acquireAttemptLease(dispatching._id, 'sweeper', 60_000))!;
    expect(taken.fence).toBe(2);
    expect(await store.markAttemptRequestLeft(dispatching._id, 1, 'call-old')).toBe(false);
    expect((await store.getAttempt(dispatching._id))!.requestLeftAt).toBeNull();
  });
}
