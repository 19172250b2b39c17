// Child process for the crash-durability test: commits order transitions as fast as it can and prints
// "<orderId> <status>" after each commit returned. The parent SIGKILLs it mid-stream.
// Usage: node crash-writer.ts <sqlite file>
import { writeSync } from 'node:fs';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { OrderStatus } from '../../../runtime/store/types.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: crash-writer.ts <sqlite file>');
const store = await openStore(`sqlite:${file}`);
const path: [OrderStatus, OrderStatus][] = [['new', 'waitPayment'], ['waitPayment', 'inProgress']];

for (let i = 0; ; i++) {
  const order = await store.createOrder({
    secret: `s${i}`, status: 'new', routeId: 'r', inAmount: '1', outAmount: '1', fromXml: 'A', toXml: 'B', outSymbol: '',
    fromValues: [], toValues: [], routeValues: [], lang: 'en', agreement: true, hideOutData: false, clientCallbackUrl: null,
    ipnUrl: 'https://merchant.example/ipn', ipnSecret: 'k', partner: null, payoutModule: 'alpha', payoutStatus: null,
    orderNote: null, holdReason: null,
  });
  for (const [from, to] of path) {
    const result = await store.transitionOrder({
      orderId: order._id, expectStatus: [from], toStatus: to, history: { actor: 'system', comment: `crash test ${i}` },
      ipn: { orderId: order._id, status: to, url: 'https://merchant.example/ipn', fields: { status: to }, maxAttempts: 3 },
    });
    if (!result.ok) throw new Error(`transition ${from} -> ${to} refused: ${result.reason}`);
    // Synchronous write: the line leaves only after the commit it reports.
    writeSync(1, `${order._id} ${to}\n`);
  }
}
