// Order create while the payout plugin cannot take the field check: a call the sandbox refused
// before the plugin ran it (paused, busy, restarting, not loaded, arguments not handed over) says
// nothing about the order, so the merchant gets a retryable 503 ("send the same order again"), and
// no order is created. Positive control: a check that ran and failed keeps its own message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import type { Route } from '../../../runtime/store/types.ts';
import { OrderService } from '../../../runtime/orders/order-service.ts';
import { OrderFormError } from '../../../runtime/orders/order-errors.ts';
import { NOT_DISPATCHED } from '../../../runtime/sandbox/protocol.ts';
import type { FailureKind } from '../../../runtime/sandbox/protocol.ts';
import type { InvokeResult } from '../../../runtime/sandbox/sandbox-host.ts';
import { newCounters } from '../../../host-api/capability.ts';
import { stubPlugin } from '../payouts/stub-sandbox.ts';
import { validOrder } from './order-fixture.ts';

let store: Store;
let route: Route;
let failWith: FailureKind = 'circuit_open';
const audits: { rule: string | null }[] = [];

function service(): OrderService {
  return new OrderService({
    store, activePlugin: (key) => stubPlugin(key), audit: { record: (r) => audits.push(r) }, buildIpn: () => null, getFieldsWallMs: 1000,
    sandbox: {
      invoke: async (plugin, method): Promise<InvokeResult> => {
        const ctx = { plugin, callId: 'c1', method, deadline: 0, counters: newCounters() };
        return { ok: false, error: { kind: failWith, message: `stub ${failWith}` }, callId: 'c1', ctx, stats: null };
      },
    },
  });
}

beforeAll(async () => {
  store = await openStore('sqlite::memory:');
  route = await store.createRoute({ fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '41.5', minAmount: '10', maxAmount: '10000', payoutPlugin: 'alpha', autoPayout: true, active: true });
});
afterAll(async () => {
  await store.close();
});

async function refusal(): Promise<OrderFormError> {
  try {
    await service().create(validOrder(route), { ip: '203.0.113.7' });
  } catch (err) {
    expect(err).toBeInstanceOf(OrderFormError);
    return err as OrderFormError;
  }
  throw new Error('expected the create to be refused');
}

describe('order create while the payout plugin is not taking calls', () => {
  for (const kind of NOT_DISPATCHED) {
    it(`${kind}: a retryable 503, nothing created`, async () => {
      failWith = kind;
      const e = await refusal();
      expect({ status: e.status, field: e.field }).toEqual({ status: 503, field: null });
      expect(e.message).toMatch(/briefly unavailable .*nothing was checked or created: send the same order again in a minute$/);
      expect(e.message).not.toMatch(/choose another direction/);
      expect(await store.listOrders({})).toHaveLength(0);
    });
  }

  it('positive control: a field check that ran and failed keeps its message', async () => {
    failWith = 'plugin_error';
    const e = await refusal();
    expect(e.status).toBe(503);
    expect(e.message).toMatch(/unavailable right now \(its field check failed\)/);
    expect(audits.at(-1)?.rule).toBe('plugin.plugin_error');
  });
});
