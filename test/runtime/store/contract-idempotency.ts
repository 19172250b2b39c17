// Contract: createOrderOnce — one order per idempotency key, the same order for the same
// fingerprint, a conflict (nothing written) for another, one order under concurrent calls.
import { expect, test } from 'vitest';
import type { Fixture } from './contract-fixtures.ts';
import { sampleOrder } from './contract-fixtures.ts';

export function registerIdempotencyContract(f: Fixture): void {
  test('createOrderOnce: created once, replayed for the same fingerprint, conflict for another', async () => {
    const store = await f.open();
    const key = { key: 'merchant-key-0000000001', fingerprint: 'f1' };
    const first = await store.createOrderOnce(sampleOrder(), key);
    expect(first).toMatchObject({ outcome: 'created', order: { uid: 1 } });
    const again = await store.createOrderOnce(sampleOrder(), key);
    expect(again).toEqual({ outcome: 'replayed', order: (first as { order: unknown }).order });
    expect(await store.createOrderOnce(sampleOrder(), { ...key, fingerprint: 'f2' })).toEqual({ outcome: 'conflict' });
    expect(await store.findOrderByIdempotencyKey(key.key)).toEqual({ order: (first as { order: unknown }).order, fingerprint: 'f1' });
    expect(await store.findOrderByIdempotencyKey('merchant-key-unknown-01')).toBeNull();
    expect(await store.listOrders({ limit: 10 })).toHaveLength(1);
    await expect(store.createOrderOnce(sampleOrder(), { key: 'short', fingerprint: 'f' })).rejects.toThrow(/key must be 16-128 visible ASCII/);
  });

  test('createOrderOnce: concurrent calls with one key, on two store instances, create one order', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const key = { key: 'merchant-key-concurrent-1', fingerprint: 'f' };
    const results = await Promise.all([one, two, one, two].map((s) => s.createOrderOnce(sampleOrder(), key)));
    const ids = new Set(results.map((r) => (r as { order: { _id: string } }).order._id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(await one.listOrders({ limit: 10 })).toHaveLength(1);
  });
}
