// The inbox quota on its own: what it admits, what it refuses and why, a concurrent burst against
// one read of the store, release of a reservation that was not stored, and re-reading after retention.
import { describe, expect, it } from 'vitest';
import { WebhookQuota } from '../../../runtime/retention/webhook-quota.ts';

function storeUsage(initial: { rows: number; bytes: number }) {
  const state = { ...initial, reads: 0 };
  return { state, usage: async () => { state.reads++; await new Promise((r) => setImmediate(r)); return { rows: state.rows, bytes: state.bytes }; } };
}

describe('webhook inbox quota', () => {
  it('admits up to the row count, then refuses with limit rows', async () => {
    const { usage } = storeUsage({ rows: 8, bytes: 0 });
    const quota = new WebhookQuota({ usage, maxRows: 10, maxBytes: 1_000_000 });
    expect((await quota.admit('alpha', 10)).ok).toBe(true);
    expect((await quota.admit('alpha', 10)).ok).toBe(true);
    expect(await quota.admit('alpha', 10)).toMatchObject({ ok: false, limit: 'rows', message: expect.stringMatching(/maximum of 10 deliveries/) });
    // Another plugin has its own quota.
    expect((await quota.admit('beta', 10)).ok).toBe(true);
  });

  it('refuses by bytes when the delivery would pass the byte quota, and a delivery larger than the whole quota', async () => {
    const { usage } = storeUsage({ rows: 0, bytes: 900 });
    const quota = new WebhookQuota({ usage, maxRows: 100, maxBytes: 1000 });
    expect(await quota.admit('alpha', 101)).toMatchObject({ ok: false, limit: 'bytes' });
    expect((await quota.admit('alpha', 100)).ok).toBe(true);
    expect(await quota.admit('alpha', 1)).toMatchObject({ ok: false, limit: 'bytes' });
    expect(await quota.admit('beta', 1001)).toMatchObject({ ok: false, limit: 'bytes' });
  });

  it('a concurrent burst shares one read of the store and cannot overshoot', async () => {
    const { usage, state } = storeUsage({ rows: 0, bytes: 0 });
    const quota = new WebhookQuota({ usage, maxRows: 25, maxBytes: 1_000_000 });
    const results = await Promise.all(Array.from({ length: 100 }, () => quota.admit('alpha', 1)));
    expect(results.filter((r) => r.ok)).toHaveLength(25);
    expect(state.reads).toBe(1);
  });

  it('a released reservation frees its room; resync reads the store again (after retention deleted rows)', async () => {
    const { usage, state } = storeUsage({ rows: 0, bytes: 0 });
    const quota = new WebhookQuota({ usage, maxRows: 1, maxBytes: 1000 });
    const first = await quota.admit('alpha', 5);
    expect((await quota.admit('alpha', 5)).ok).toBe(false);
    if (first.ok) first.release();
    const again = await quota.admit('alpha', 5);
    expect(again.ok).toBe(true);
    state.rows = 1; // it was stored
    expect((await quota.admit('alpha', 5)).ok).toBe(false);
    state.rows = 0; // retention deleted it
    quota.resync();
    expect((await quota.admit('alpha', 5)).ok).toBe(true);
  });

  it('charges the answer kept with a finished delivery, so answers count towards the bytes', async () => {
    const { usage } = storeUsage({ rows: 0, bytes: 0 });
    const quota = new WebhookQuota({ usage, maxRows: 100, maxBytes: 100 });
    expect((await quota.admit('alpha', 40)).ok).toBe(true);
    quota.charge('alpha', 50);
    expect(await quota.admit('alpha', 11)).toMatchObject({ ok: false, limit: 'bytes' });
    expect((await quota.admit('alpha', 10)).ok).toBe(true);
  });

  it('re-reads a count older than resyncMs (other servers write to the same inbox)', async () => {
    let now = 0;
    const { usage, state } = storeUsage({ rows: 0, bytes: 0 });
    const quota = new WebhookQuota({ usage, maxRows: 2, maxBytes: 1000, resyncMs: 1000, now: () => now });
    expect((await quota.admit('alpha', 1)).ok).toBe(true);
    state.rows = 2;
    expect((await quota.admit('alpha', 1)).ok).toBe(true);
    now = 1000;
    expect((await quota.admit('alpha', 1)).ok).toBe(false);
  });

  it('refuses a quota that is not a positive whole number, naming it', () => {
    expect(() => new WebhookQuota({ usage: async () => ({ rows: 0, bytes: 0 }), maxRows: 0, maxBytes: 1 })).toThrow(/^webhookInboxMaxRows must be a positive whole number, got 0$/);
  });
});
