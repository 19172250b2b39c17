// SQLite: the shared Store contract, plus what only SQLite has: pragmas, migrations, constraints in the
// schema itself, several processes on one file, and durability when a writer is SIGKILLed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { LATEST_SCHEMA_VERSION } from '../../../runtime/store/sqlite-schema.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import { MIGRATIONS } from '../../../runtime/store/sqlite-schema.ts';
import { SqliteStore } from '../../../runtime/store/sqlite-store.ts';
import { webhookBytes } from '../../../runtime/store/records.ts';
import type { OrderStatus } from '../../../runtime/store/types.ts';
import { describeStoreContract } from './contract.ts';
import { ipnFor, sampleOrder } from './contract-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'payout-sandbox-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNumber = 0;
const freshFile = (): string => join(dir, `store-${process.pid}-${++fileNumber}.db`);
const removeDatabase = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};
const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

describeStoreContract('sqlite contract', {
  async freshDatabase() {
    const file = freshFile();
    return { url: `sqlite:${file}`, drop: async () => removeDatabase(file) };
  },
});

/** Reads per-connection pragmas, which a second connection cannot see. */
class PragmaProbe extends SqliteStore {
  pragma(name: string): unknown {
    return Object.values(this.db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
  }
}

describe('sqlite specifics', () => {
  test('opens in WAL with synchronous=FULL, a busy timeout and foreign keys', async () => {
    const store = new PragmaProbe(freshFile(), { busyTimeoutMs: 4321 });
    await store.init();
    expect(store.pragma('journal_mode')).toBe('wal');
    expect(store.pragma('synchronous')).toBe(2);
    expect(store.pragma('busy_timeout')).toBe(4321);
    expect(store.pragma('foreign_keys')).toBe(1);
    await store.close();
  });

  test('migrations are recorded once and a newer schema is refused with a way out', async () => {
    const file = freshFile();
    await (await openStore(`sqlite:${file}`)).close();
    await (await openStore(`sqlite:${file}`)).close();
    const raw = new DatabaseSync(file);
    const versions = raw.prepare('SELECT "version", "name" FROM schema_migrations ORDER BY "version"').all().map((r) => ({ ...r }));
    expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(999, 'from the future', new Date().toISOString());
    raw.close();
    await expect(openStore(`sqlite:${file}`)).rejects.toThrow(new RegExp(`schema version 999, newer than this build of payout-sandbox knows \\(${LATEST_SCHEMA_VERSION}\\); run the newer payout-sandbox`));
  });

  test('migration 3 counts the inbox rows a database already held towards their plugin\'s quota', async () => {
    const file = freshFile();
    const raw = new DatabaseSync(file);
    raw.exec('CREATE TABLE schema_migrations ("version" INTEGER PRIMARY KEY, "name" TEXT NOT NULL, "appliedAt" TEXT NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
    const old = { plugin: 'alpha', callback: 'final', receivedAt: new Date().toISOString(), method: 'POST', ip: '::1', headers: { 'x-sig': 'é' }, query: { a: '1' }, body: 'ü'.repeat(10), bodyEncoding: 'utf8' as const };
    raw.prepare(`INSERT INTO webhook_inbox ("_id", "plugin", "callback", "receivedAt", "method", "ip", "headers", "query", "body", "bodyEncoding", "state")
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received')`).run('a'.repeat(24), old.plugin, old.callback, old.receivedAt, old.method, old.ip, JSON.stringify(old.headers), JSON.stringify(old.query), old.body, old.bodyEncoding);
    raw.close();
    const store = await openStore(`sqlite:${file}`);
    expect(await store.webhookUsage('alpha')).toEqual({ rows: 1, bytes: webhookBytes(old) });
    await store.close();
  });

  test('migration 6 marks every attempt an older build left past PREPARED as "a request may have left"', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    const attemptOf = async (dispatch: boolean): Promise<string> => {
      const order = await store.createOrder(sampleOrder());
      const a = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w', leaseMs: 1000 }))!;
      if (dispatch) await store.updateAttempt(a._id, 1, ['PREPARED'], { state: 'DISPATCHING' });
      return a._id;
    };
    const prepared = await attemptOf(false);
    const dispatching = await attemptOf(true);
    await store.close();
    // The database as version 5 left it: no marker columns (nor what later versions added).
    const raw = new DatabaseSync(file);
    raw.exec('ALTER TABLE payout_attempts DROP COLUMN "requestLeftAt"; ALTER TABLE payout_attempts DROP COLUMN "callId"; DROP TABLE plugin_engines; DELETE FROM schema_migrations WHERE "version" >= 6');
    raw.close();
    const upgraded = await openStore(`sqlite:${file}`);
    // A DISPATCHING attempt of the older build is never read as "never sent" (it could be retried and pay twice).
    const old = (await upgraded.getAttempt(dispatching))!;
    expect(old.requestLeftAt).toBe(old.updatedAt);
    // Positive control: PREPARED never ran transfer().
    expect((await upgraded.getAttempt(prepared))!.requestLeftAt).toBeNull();
    await upgraded.close();
  });

  test('the schema itself refuses a second live attempt and a live flag that contradicts the state', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    const order = await store.createOrder(sampleOrder());
    const first = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w', leaseMs: 1000 }))!;
    await store.close();
    const raw = new DatabaseSync(file);
    const insert = raw.prepare(`INSERT INTO payout_attempts ("_id", "orderId", "plugin", "state", "live", "fence", "requestsSent",
      "createdAt", "updatedAt") VALUES (?, ?, 'alpha', ?, ?, 1, 0, 'x', 'x')`);
    expect(() => insert.run('a'.repeat(24), order._id, 'UNKNOWN', 1)).toThrow(/UNIQUE constraint failed: payout_attempts\.orderId/);
    expect(() => insert.run('b'.repeat(24), order._id, 'FAILED', 1)).toThrow(/CHECK constraint failed/);
    expect(() => insert.run('c'.repeat(24), order._id, 'DISPATCHING', 0)).toThrow(/CHECK constraint failed/);
    expect(() => raw.prepare(`UPDATE orders SET "status" = 'paid'`).run()).toThrow(/CHECK constraint failed/);
    expect(raw.prepare('SELECT COUNT(*) AS n FROM payout_attempts').get()).toEqual({ n: 1 });
    expect(raw.prepare('SELECT "_id" FROM payout_attempts WHERE "live" = 1').get()).toEqual({ _id: first._id });
    raw.close();
  });

  test('sqlite::memory: works, and two in-memory stores are separate databases', async () => {
    const one = await openStore('sqlite::memory:');
    const two = await openStore('sqlite::memory:');
    const order = await one.createOrder(sampleOrder());
    expect(await one.getOrder(order._id)).toEqual(order);
    expect(await two.getOrder(order._id)).toBeNull();
    await one.close();
    await two.close();
  });

  test('three processes on one file: one attempt per order, no IPN claimed twice, one lease holder', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    const orders = [];
    for (let i = 0; i < 12; i++) orders.push(await store.createOrder(sampleOrder()));
    const ipnIds = [];
    for (const order of orders) for (let i = 0; i < 3; i++) ipnIds.push((await store.enqueueIpn(ipnFor(order, 'new')))._id);
    const ids = orders.map((o) => o._id).join(',');
    const workers = ['w1', 'w2', 'w3'].map((owner) => {
      const child = spawn(process.execPath, [here('./race-worker.ts'), file, owner, ids], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const lines = createInterface({ input: child.stdout });
      const died = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`race worker ${owner} exited with ${code}: ${stderr}`))));
      died.catch(() => {});
      const ready = Promise.race([new Promise<void>((resolve) => lines.once('line', () => resolve())), died]);
      const result = Promise.race([new Promise<string>((resolve) => lines.on('line', (line) => { if (line !== 'ready') resolve(line); })), died]);
      return { child, ready, result };
    });
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin.end('go\n');
    const results = (await Promise.all(workers.map((w) => w.result))).map((line) => JSON.parse(line) as {
      owner: string; attempts: string[]; ipns: string[]; lease: boolean;
    });
    const wonOrders = results.flatMap((r) => r.attempts);
    expect(wonOrders.sort()).toEqual(orders.map((o) => o._id).sort());
    for (const order of orders) expect(await store.listAttempts(order._id)).toHaveLength(1);
    const claimed = results.flatMap((r) => r.ipns);
    expect(claimed).toHaveLength(ipnIds.length);
    expect(new Set(claimed)).toEqual(new Set(ipnIds));
    expect(results.filter((r) => r.lease)).toHaveLength(1);
    await store.close();
  });

  test('a writer killed with SIGKILL loses nothing it reported and leaves no half-applied transition', async () => {
    const file = freshFile();
    await (await openStore(`sqlite:${file}`)).close();
    const reported = new Map<string, OrderStatus>();
    // Several writers in turn on one file, each killed at a random moment after it has reported some
    // commits, so that kills land at every point of a transition, not always just after a commit.
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [here('./crash-writer.ts'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      let seen = 0;
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const [id, status] = line.split(' ');
          reported.set(id, status as OrderStatus);
          if (++seen === 16) setTimeout(() => { child.kill('SIGKILL'); resolve(); }, Math.random() * 12);
        });
        void exited.then((how) => reject(new Error(`crash writer ended by itself (${String(how)}): ${stderr}`)));
      });
      expect(await exited).toBe('SIGKILL');
    }

    const raw = new DatabaseSync(file);
    expect(raw.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
    raw.close();
    const store = await openStore(`sqlite:${file}`);
    const stage: Record<string, number> = { new: 0, waitPayment: 1, inProgress: 2 };
    for (const [id, status] of reported) {
      const order = await store.getOrder(id);
      expect(order, `reported order ${id}`).not.toBeNull();
      expect(stage[order!.status]).toBeGreaterThanOrEqual(stage[status]);
    }
    const all = await store.listOrders({ limit: 1000 });
    expect(all.length).toBeGreaterThanOrEqual(reported.size / 2);
    for (const order of all) {
      const reached = stage[order.status];
      const history = await store.getOrderHistory(order._id);
      const ipns = await store.listIpns(order._id);
      expect(order.version, `order ${order._id}`).toBe(reached + 1);
      expect(history.map((h) => h.toStatus)).toEqual(['waitPayment', 'inProgress'].slice(0, reached));
      expect(ipns.map((m) => m.status)).toEqual(['waitPayment', 'inProgress'].slice(0, reached));
    }
    await store.close();
  });
});
