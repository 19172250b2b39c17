// Child process for the cross-process test: opens the SQLite file given, prints "ready", waits for
// "go" on stdin so that all workers start together, then competes for attempts, IPN claims and a named
// lease, and prints what it won as one JSON line.
// Usage: node race-worker.ts <sqlite file> <owner> <comma-separated order ids>
import { createInterface } from 'node:readline';
import { openStore } from '../../../runtime/store/open-store.ts';

// A worker must never outlive its test: give up after a minute, or as soon as the parent is gone.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(3); }, 500).unref();
setTimeout(() => process.exit(4), 60_000).unref();

const [file, owner, ids] = process.argv.slice(2);
if (!file || !owner || !ids) throw new Error('usage: race-worker.ts <sqlite file> <owner> <order ids>');
const store = await openStore(`sqlite:${file}`, { busyTimeoutMs: 10_000 });
const input = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => input.once('line', () => resolve()));
input.close();

const attempts: string[] = [];
for (const orderId of ids.split(',')) {
  if (await store.createAttempt({ orderId, plugin: 'alpha', owner, leaseMs: 60_000 })) attempts.push(orderId);
}
const ipns: string[] = [];
for (let batch = await store.claimDueIpns(3, 60_000); batch.length > 0; batch = await store.claimDueIpns(3, 60_000)) {
  ipns.push(...batch.map((m) => m._id));
  // Sent at once: the next message of an order is claimable only after the earlier one finished.
  for (const m of batch) await store.completeIpn(m._id, { state: 'sent', lastError: null, attempt: m.attempts });
}
const lease = await store.acquireLease('cron:race', owner, 60_000);
process.stdout.write(`${JSON.stringify({ owner, attempts, ipns, lease })}\n`);
await store.close();
