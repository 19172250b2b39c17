// The setup the payout-flow tests share: a real SQLite store in memory on the test's clock, a stub
// sandbox, the audit records the test reads back, and an orchestrator over them. A test passes
// its own clock (it moves it) and overrides only the dependencies it is about.
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { buildIpn } from '../../../runtime/ipn/ipn-message.ts';
import { PayoutOrchestrator } from '../../../runtime/payouts/orchestrator.ts';
import type { OrchestratorDeps } from '../../../runtime/payouts/orchestrator.ts';
import type { AuditLog } from '../../../host-api/audit.ts';
import { StubSandbox, stubPlugin } from './stub-sandbox.ts';

export interface SeenAudit { capability: string; summary: string }

export interface PayoutFixture {
  store: Store;
  sandbox: StubSandbox;
  /** Every audit record written, in order. */
  audits: SeenAudit[];
  deps: OrchestratorDeps;
  orchestrator: PayoutOrchestrator;
}

export async function openPayoutFixture(now: () => number, overrides: Partial<OrchestratorDeps> = {}): Promise<PayoutFixture> {
  const store = await openStore('sqlite::memory:', { now });
  const sandbox = new StubSandbox();
  const audits: SeenAudit[] = [];
  const deps: OrchestratorDeps = {
    store, owner: 'test', now,
    audit: { record: (r: SeenAudit) => audits.push(r) } as unknown as AuditLog,
    buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1, now: now() }),
    invoke: (key, method, args) => sandbox.invoke(key, method, args),
    activePlugin: (key) => stubPlugin(key),
    transferWallMs: 1000, acceptedReviewAfterMs: 3600_000, unknownReviewAfterMs: 900_000,
    ...overrides,
  };
  return { store, sandbox, audits, deps, orchestrator: new PayoutOrchestrator(deps) };
}
