// Turns a store URL into an open, migrated Store. Accepted forms:
//   sqlite:<file path>     relative paths resolve against the working directory; the directory must exist
//   sqlite::memory:        a private in-memory database (tests, demos)
//   mongodb://… / mongodb+srv://…   the database named in the path, payout_sandbox when none
// Every failure is a StoreOpenError saying what went wrong, where, and what to do about it.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StoreOpenError } from './errors.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

export const DEFAULT_STORE_URL = 'sqlite:./data/payout-sandbox.db';
export const STORE_URL_ENV = 'PAYOUT_SANDBOX_DB';
const FORMS = 'sqlite:<file>, sqlite::memory:, or mongodb://host:27017/payout_sandbox';

export interface OpenStoreOptions {
  /** Clock for timestamps, leases and due times; tests move it. */
  now?: () => number;
  /** SQLite: how long a write waits for another process's lock. */
  busyTimeoutMs?: number;
  /** MongoDB: how long to look for a reachable server before failing. */
  serverSelectionTimeoutMs?: number;
}

/** `--db` wins over PAYOUT_SANDBOX_DB, which wins over the default SQLite file. */
export function resolveStoreUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env[STORE_URL_ENV] || DEFAULT_STORE_URL;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new StoreOpenError(`the store URL is empty; give one of ${FORMS} (--db or ${STORE_URL_ENV})`);
  }
  if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
    // Loaded on demand so that SQLite users never load the driver.
    const { MongoStore } = await import('./mongo-store.ts');
    const store = await MongoStore.connect(url, { now: options.now, serverSelectionTimeoutMs: options.serverSelectionTimeoutMs });
    await initOrClose(store, `MongoDB database ${store.databaseName}`);
    return store;
  }
  if (url.startsWith('sqlite:')) return openSqlite(url, options);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  if (scheme) {
    throw new StoreOpenError(`unknown store scheme "${scheme}:" in ${JSON.stringify(redact(url))}; ` +
      `payout-sandbox stores data in SQLite or MongoDB: give one of ${FORMS}`);
  }
  throw new StoreOpenError(`malformed store URL ${JSON.stringify(url)}: it has no scheme. For a SQLite file write ` +
    `sqlite:${url}; for MongoDB write mongodb://host:27017/payout_sandbox`);
}

async function openSqlite(url: string, options: OpenStoreOptions): Promise<Store> {
  const target = url.slice('sqlite:'.length);
  if (target === ':memory:') {
    const store = new SqliteStore(':memory:', { now: options.now, busyTimeoutMs: options.busyTimeoutMs });
    await initOrClose(store, 'the in-memory SQLite database');
    return store;
  }
  if (target === '') throw new StoreOpenError(`malformed store URL "sqlite:": the file path is missing; e.g. ${DEFAULT_STORE_URL}`);
  if (target.startsWith('//')) {
    throw new StoreOpenError(`malformed store URL ${JSON.stringify(url)}: write the path right after "sqlite:" ` +
      '(sqlite:/absolute/path.db or sqlite:relative/path.db), without "//"');
  }
  const file = resolve(target);
  const dir = dirname(file);
  const dirStat = statSync(dir, { throwIfNoEntry: false });
  if (!dirStat) {
    throw new StoreOpenError(`cannot create the SQLite database ${file}: directory ${dir} does not exist. ` +
      `Create it (mkdir -p ${dir}) or point --db / ${STORE_URL_ENV} at a file in an existing directory`);
  }
  if (!dirStat.isDirectory()) throw new StoreOpenError(`cannot create the SQLite database ${file}: ${dir} is not a directory`);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new StoreOpenError(`cannot open the SQLite database ${file}: it is a directory; give a file path such as ${file}/payout-sandbox.db`);
  }
  let store: SqliteStore;
  try {
    store = new SqliteStore(file, { now: options.now, busyTimeoutMs: options.busyTimeoutMs });
  } catch (err) {
    const reason = (err as Error).message;
    const fix = /not a database/.test(reason)
      ? `The file exists but is not a SQLite database: point --db / ${STORE_URL_ENV} at another file`
      : 'Check that this user may read and write the file and its directory';
    throw new StoreOpenError(`cannot open the SQLite database ${file}: ${reason}. ${fix}`, { cause: err });
  }
  await initOrClose(store, `the SQLite database ${file}`);
  return store;
}

async function initOrClose(store: Store, what: string): Promise<void> {
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw new StoreOpenError(`cannot prepare ${what}: ${(err as Error).message}`, { cause: err });
  }
}

function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
