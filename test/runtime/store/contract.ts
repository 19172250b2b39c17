// The Store contract: every adapter runs exactly these tests (sqlite-store.test.ts always,
// mongo-store.test.ts when MONGODB_URL is set). Each test gets a fresh, empty database and a fake clock,
// so leases and due times move without sleeping.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { T0, iso, sampleOrder } from './contract-fixtures.ts';
import type { Fixture } from './contract-fixtures.ts';
import { registerOrderContract } from './contract-orders.ts';
import { registerTxContract } from './contract-txs.ts';
import { registerRecordsContract } from './contract-records.ts';
import { registerPluginRecordContract } from './contract-plugin-records.ts';
import { registerRetentionContract } from './contract-retention.ts';
import { registerAttemptMoveContract, registerRequestLeftContract } from './contract-attempt-moves.ts';
import { registerIpnOrderContract } from './contract-ipn-order.ts';
import { registerIdempotencyContract } from './contract-idempotency.ts';
import { registerEngineChoiceContract } from './contract-engine-choices.ts';

export interface ContractTarget {
  /** A new, empty database that `openStore(url)` opens; `drop` deletes it. */
  freshDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
}

export function describeStoreContract(title: string, target: ContractTarget | null): void {
  describe.skipIf(!target)(title, () => {
    let database: { url: string; drop(): Promise<void> };
    let opened: Store[] = [];
    let time = T0;
    const fixture: Fixture = {
      async open() {
        const store = await openStore(database.url, { now: () => time, serverSelectionTimeoutMs: 5000 });
        opened.push(store);
        return store;
      },
      clock: { now: () => time, advance: (ms) => { time += ms; }, at: () => iso(time) },
    };

    beforeEach(async () => {
      time = T0;
      opened = [];
      database = await target!.freshDatabase();
    });
    afterEach(async () => {
      for (const store of opened) await store.close();
      await database.drop();
    });

    registerOrderContract(fixture);
    registerTxContract(fixture);
    registerRecordsContract(fixture);
    registerPluginRecordContract(fixture);
    registerRetentionContract(fixture);
    registerAttemptMoveContract(fixture);
    registerRequestLeftContract(fixture);
    registerIpnOrderContract(fixture);
    registerIdempotencyContract(fixture);
    registerEngineChoiceContract(fixture);

    test('init runs again harmlessly and a reopened store sees the same data', async () => {
      const first = await fixture.open();
      const order = await first.createOrder(sampleOrder());
      await first.init();
      const second = await fixture.open();
      expect(await second.getOrder(order._id)).toEqual(order);
      expect((await second.createOrder(sampleOrder())).uid).toBe(2);
    });
  });
}
