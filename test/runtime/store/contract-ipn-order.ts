// Contract: an order's IPNs are claimed in creation order (never one before an earlier unsent or
// interrupted one), and a restarted instance takes back the leases its previous life left behind.
import { expect, test } from 'vitest';
import type { Fixture } from './contract-fixtures.ts';
import { ipnFor, iso, sampleOrder, T0 } from './contract-fixtures.ts';

export function registerIpnOrderContract(f: Fixture): void {
  test('IPN order: a message waits while an earlier one of its order is pending, retrying or interrupted', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const other = await store.createOrder(sampleOrder());
    const first = await store.enqueueIpn(ipnFor(order, 'inProgress', 3));
    const second = await store.enqueueIpn(ipnFor(order, 'inProgressPayout', 3));
    const elsewhere = await store.enqueueIpn(ipnFor(other, 'inProgress', 3));
    // Positive control: all three are due; only the first of `order` and the one of `other` go.
    expect((await store.claimDueIpns(10, 1000, 'A')).map((m) => m._id)).toEqual([first._id, elsewhere._id]);
    expect(await store.completeIpn(elsewhere._id, { state: 'sent', lastError: null, attempt: 1 })).toBe(true);
    // Interrupted (the claimer died): the first is claimed again before the second.
    f.clock.advance(1000);
    expect((await store.claimDueIpns(10, 1000, 'B')).map((m) => m._id)).toEqual([first._id]);
    // A retry scheduled later still holds the second back.
    expect(await store.completeIpn(first._id, { state: 'pending', lastError: 'HTTP 500', nextAttemptAt: iso(T0 + 60_000), attempt: 2 })).toBe(true);
    expect(await store.claimDueIpns(10, 1000, 'B')).toEqual([]);
    f.clock.advance(59_000);
    expect((await store.claimDueIpns(10, 1000, 'B')).map((m) => m._id)).toEqual([first._id]);
    expect(await store.completeIpn(first._id, { state: 'sent', lastError: null, attempt: 3 })).toBe(true);
    expect((await store.claimDueIpns(10, 1000, 'B')).map((m) => m._id)).toEqual([second._id]);
  });

  test('IPN order: a message that failed for good does not hold the later ones back', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const first = await store.enqueueIpn(ipnFor(order, 'inProgress', 1));
    const second = await store.enqueueIpn(ipnFor(order, 'done', 1));
    expect((await store.claimDueIpns(10, 1000)).map((m) => m._id)).toEqual([first._id]);
    expect(await store.completeIpn(first._id, { state: 'failed', lastError: 'HTTP 404', attempt: 1 })).toBe(true);
    expect((await store.claimDueIpns(10, 1000)).map((m) => m._id)).toEqual([second._id]);
  });

  test('reclaimLeasesOf ends the IPN claims, attempt leases and named leases of one owner and its sub-owners only', async () => {
    const store = await f.open();
    const mine = await store.createOrder(sampleOrder());
    const theirs = await store.createOrder(sampleOrder());
    await store.enqueueIpn(ipnFor(mine, 'inProgress'));
    await store.enqueueIpn(ipnFor(theirs, 'inProgress'));
    await store.claimDueIpns(1, 60_000, 'ps-a-1');
    await store.claimDueIpns(1, 60_000, 'ps-a-10');
    const attempt = (await store.createAttempt({ orderId: mine._id, plugin: 'alpha', owner: 'ps-a-1/settle', leaseMs: 60_000 }))!;
    const foreign = (await store.createAttempt({ orderId: theirs._id, plugin: 'alpha', owner: 'ps-a-10', leaseMs: 60_000 }))!;
    expect(await store.acquireLease('cron:alpha', 'ps-a-1', 60_000)).toBe(true);
    expect(await store.acquireLease('cron:beta', 'ps-a-10', 60_000)).toBe(true);
    // Positive control: before the reclaim, nothing of ps-a-1 is free.
    expect(await store.claimDueIpns(10, 60_000, 'ps-a-1')).toEqual([]);
    expect(await store.acquireAttemptLease(attempt._id, 'ps-b-1', 1000)).toBeNull();
    expect(await store.acquireLease('cron:alpha', 'ps-b-1', 1000)).toBe(false);

    expect(await store.reclaimLeasesOf('ps-a-1')).toEqual({ ipns: 1, attempts: 1, named: 1 });
    expect((await store.claimDueIpns(10, 60_000, 'ps-a-1')).map((m) => m.orderId)).toEqual([mine._id]);
    expect(await store.acquireAttemptLease(attempt._id, 'ps-a-1', 1000)).toMatchObject({ leaseOwner: 'ps-a-1' });
    expect(await store.acquireLease('cron:alpha', 'ps-b-1', 1000)).toBe(true);
    // ps-a-10 is another instance (a prefix match would be wrong): its leases stay.
    expect(await store.acquireAttemptLease(foreign._id, 'ps-b-1', 1000)).toBeNull();
    expect(await store.acquireLease('cron:beta', 'ps-b-1', 1000)).toBe(false);
  });
}
