// openStore: each way of getting the URL wrong gets an error that says what, where, and how to fix it.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { StoreOpenError } from '../../../runtime/store/errors.ts';
import { DEFAULT_STORE_URL, openStore, resolveStoreUrl } from '../../../runtime/store/open-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'payout-sandbox-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('openStore', () => {
  test('opens sqlite:<relative path> against the working directory', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const store = await openStore('sqlite:relative.db');
      expect(store.kind).toBe('sqlite');
      await store.close();
    } finally {
      process.chdir(cwd);
    }
  });

  test.each([
    ['', /store URL is empty; give one of sqlite:<file>, sqlite::memory:, or mongodb:\/\//],
    ['./data/x.db', /malformed store URL "\.\/data\/x\.db": it has no scheme\. For a SQLite file write sqlite:\.\/data\/x\.db/],
    ['postgres://user:hunter2@db/x', /unknown store scheme "postgres:" in "postgres:\/\/user:\*\*\*@db\/x"/],
    ['sqlite:', /file path is missing; e\.g\. sqlite:\.\/data\/payout-sandbox\.db/],
    ['sqlite:///tmp/x.db', /write the path right after "sqlite:" .* without "\/\/"/],
    ['mongodb://host:notaport/db', /malformed MongoDB URL mongodb:\/\/host:notaport\/db/],
  ])('refuses %j with a specific reason', async (url, message) => {
    const attempt = openStore(url);
    await expect(attempt).rejects.toThrow(StoreOpenError);
    await expect(openStore(url)).rejects.toThrow(message);
  });

  test('a password in a URL never appears in the error', async () => {
    const error = await openStore('mysql://admin:s3cret@h/db').catch((e: Error) => e);
    expect(String(error)).not.toContain('s3cret');
  });

  test('a file in a missing directory names the directory and the fix', async () => {
    const missing = join(dir, 'no', 'such', 'dir');
    await expect(openStore(`sqlite:${missing}/x.db`)).rejects.toThrow(
      `cannot create the SQLite database ${missing}/x.db: directory ${missing} does not exist. Create it (mkdir -p ${missing})`);
  });

  test('a directory, a file used as a directory, and a file that is not SQLite are refused', async () => {
    mkdirSync(join(dir, 'adir'));
    writeFileSync(join(dir, 'afile'), 'x');
    writeFileSync(join(dir, 'garbage.db'), 'this is not a database file, it only has a .db name'.repeat(100));
    await expect(openStore(`sqlite:${dir}/adir`)).rejects.toThrow(`cannot open the SQLite database ${dir}/adir: it is a directory`);
    await expect(openStore(`sqlite:${dir}/afile/x.db`)).rejects.toThrow(`${dir}/afile is not a directory`);
    await expect(openStore(`sqlite:${dir}/garbage.db`)).rejects.toThrow(new RegExp(`${dir}/garbage\\.db.*not a database`));
  });

  // Fast means within the deadline it was given, which the error names; a driver left at its own
  // 30 s default would instead outlive this test's timeout. No clock is read.
  test('an unreachable MongoDB server fails fast and names the host:port it tried', async () => {
    const port = await closedPort();
    const error = await openStore(`mongodb://127.0.0.1:${port}/payout_test`, { serverSelectionTimeoutMs: 300 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(StoreOpenError);
    expect((error as Error).message).toMatch(new RegExp(`could not reach MongoDB at 127\\.0\\.0\\.1:${port} \\(database payout_test\\) within 300 ms`));
    expect((error as Error).message).toMatch(/Check that mongod is running/);
  }, 15_000);

  test('--db wins over PAYOUT_SANDBOX_DB, which wins over the default file', () => {
    expect(resolveStoreUrl('sqlite:flag.db', { PAYOUT_SANDBOX_DB: 'mongodb://env/x' })).toBe('sqlite:flag.db');
    expect(resolveStoreUrl(undefined, { PAYOUT_SANDBOX_DB: 'mongodb://env/x' })).toBe('mongodb://env/x');
    expect(resolveStoreUrl(undefined, {})).toBe(DEFAULT_STORE_URL);
    expect(DEFAULT_STORE_URL).toBe('sqlite:./data/payout-sandbox.db');
  });
});
