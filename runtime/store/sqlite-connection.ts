// The SQLite connection under SqliteStore: opening, pragmas, the statement cache and the write
// transaction. Its durability and concurrency rules are explained at the top of sqlite-store.ts.
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { newId } from './ids.ts';
import { isoAt } from './records.ts';
import { fromRow, migrate, q, toParams } from './sqlite-schema.ts';
import type { TableSpec } from './sqlite-schema.ts';
import type { SqlParam } from './sqlite-tx-sql.ts';

export interface SqliteStoreOptions {
  /** Clock for timestamps, leases and due times (tests move it); defaults to Date.now. */
  now?: () => number;
  /** How long a write waits for another process's write lock before failing. */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;
const SQLITE_BUSY = 5;
const STATEMENT_CACHE_SIZE = 256;
const MAX_ROWS_PER_INSERT = 32;

function insertRowsSql(spec: TableSpec, rows: number): string {
  const row = `(${spec.columns.map(() => '?').join(', ')})`;
  return `INSERT INTO ${spec.table} (${spec.columns.map(q).join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`;
}

export class SqliteConnection {
  readonly file: string;
  protected readonly db: DatabaseSync;
  protected readonly now: () => number;
  protected readonly busyTimeoutMs: number;
  protected readonly statements = new Map<string, StatementSync>();

  /** Opens the connection and sets its pragmas; `init()` creates or migrates the schema. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.now = options.now ?? Date.now;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.db = new DatabaseSync(file, { timeout: this.busyTimeoutMs, enableForeignKeyConstraints: true });
    try {
      const mode = this.db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (file !== ':memory:' && mode !== 'wal') {
        throw new Error(`SQLite could not switch ${file} to WAL (journal_mode is ${String(mode)}); WAL needs a local file system`);
      }
      this.db.exec('PRAGMA synchronous = FULL');
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  async init(): Promise<void> {
    migrate(this.db, this.file, this.iso());
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    this.statements.clear();
  }

  protected iso(): string { return isoAt(this.now()); }

  protected stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      // Tx queries are built from plugin input, so their shapes are not a fixed set: keep the cache bounded.
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  protected run(sql: string, ...params: (SqlParam | Record<string, SqlParam>)[]): number {
    return Number(this.stmt(sql).run(...(params as SqlParam[])).changes);
  }

  protected get(sql: string, ...params: SqlParam[]): Row | undefined {
    return this.stmt(sql).get(...params);
  }

  protected one<R>(spec: TableSpec, sql: string, ...params: SqlParam[]): R | null {
    const row = this.get(sql, ...params);
    return row ? fromRow<R>(spec, row) : null;
  }

  protected all<R>(spec: TableSpec, sql: string, ...params: SqlParam[]): R[] {
    return this.stmt(sql).all(...params).map((row) => fromRow<R>(spec, row));
  }

  /**
   * Rows in multi-row INSERTs of 32, 16, … 1 rows (so at most six statement shapes per table): a
   * statement per row cost the audit log's batch writer a crossing into SQLite per host call.
   */
  protected insertBatch(spec: TableSpec, records: object[]): void {
    if (records.length === 0) return;
    this.write(() => {
      let at = 0;
      for (let rows = MAX_ROWS_PER_INSERT; rows >= 1; rows >>= 1) {
        for (; records.length - at >= rows; at += rows) {
          const params: SqlParam[] = [];
          for (let i = at; i < at + rows; i++) {
            const row = toParams(spec, { _id: newId(this.now()), ...records[i] });
            for (const c of spec.columns) params.push(row[c]);
          }
          this.run(insertRowsSql(spec, rows), ...params);
        }
      }
    });
  }

  /** BEGIN IMMEDIATE ... COMMIT around `work`, which must stay synchronous (no await inside). */
  protected write<R>(work: () => R): R {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (((err as { errcode?: number }).errcode ?? 0) % 256 === SQLITE_BUSY) {
        throw new Error(`SQLite database ${this.file} stayed locked by another connection for more than ${this.busyTimeoutMs} ms`, { cause: err });
      }
      throw err;
    }
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }
}
