// The two stores the payout-tx façade must behave the same on: SQLite always, MongoDB when MONGODB_URL
// points at a server (each run gets its own database, dropped afterwards). As in the store contract
// suite, a skipped MongoDB run says so by name and on stderr, not only as a skipped count:
//   MONGODB_URL=mongodb://127.0.0.1:27017 npx vitest run test/host-api
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';

export interface StoreTarget {
  /** Test title: 'sqlite', 'mongodb', or 'mongodb — skipped: MONGODB_URL not set'. */
  title: string;
  skip: boolean;
  /** A store URL for a new, empty database, and how to delete it. */
  fresh(): Promise<{ url: string; drop(): Promise<void> }>;
}

function withDatabase(base: string, name: string): string {
  const [beforeQuery, query] = base.split('?', 2);
  const schemeEnd = beforeQuery.indexOf('://') + 3;
  const slash = beforeQuery.indexOf('/', schemeEnd);
  return `${slash < 0 ? beforeQuery : beforeQuery.slice(0, slash)}/${name}${query === undefined ? '' : `?${query}`}`;
}

export function storeTargets(suite: string): StoreTarget[] {
  const url = process.env.MONGODB_URL;
  if (!url) console.warn(`${suite} on mongodb — skipped: MONGODB_URL not set. To run it: MONGODB_URL=mongodb://127.0.0.1:27017 npx vitest run test/host-api`);
  return [
    { title: 'sqlite', skip: false, fresh: async () => ({ url: 'sqlite::memory:', drop: async () => {} }) },
    {
      title: url ? 'mongodb' : 'mongodb — skipped: MONGODB_URL not set',
      skip: !url,
      async fresh() {
        const name = `payout_sandbox_test_${randomBytes(6).toString('hex')}`;
        return {
          url: withDatabase(url!, name),
          async drop() {
            const client = await new MongoClient(url!, { serverSelectionTimeoutMS: 5000 }).connect();
            try {
              await client.db(name).dropDatabase();
            } finally {
              await client.close();
            }
          },
        };
      },
    },
  ];
}
