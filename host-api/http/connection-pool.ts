// Keep-alive connections for plugin requests, one pool per plugin. Every request still passes the
// whole guard first (grant, rate caps, DNS check); what keeps reuse as strict as a fresh connection:
//   - a pool belongs to one plugin: no plugin can use, exhaust or observe another's connections;
//   - a connection serves one origin (scheme, host, port: so one TLS name) and stays pinned to the
//     address it was opened to; a request reuses it only when that address is among the answers
//     the request itself has just resolved and checked, so a DNS change between two requests
//     (rebinding) is decided by the address policy before anything is sent;
//   - its connector opens a socket only to an address the current request checked, and verifies
//     where that socket went, for the first connection and for any reconnect alike;
//   - sockets are bounded per plugin and per origin: a request beyond the bound waits for one
//     (its own deadline still applies) instead of opening more.
// The host's own traffic (merchant IPN, installer downloads) does not use these pools.

import { Client } from 'undici';
import type { AddressInfo, Target } from './address-policy.ts';

export interface PoolLimits {
  /** Connections one plugin may hold open (busy or idle), all origins together. */
  socketsPerPlugin: number;
  /** Connections one plugin may hold open to one origin. */
  socketsPerOrigin: number;
  /** An idle connection is closed after this long (and sooner if the server says so). */
  idleMs: number;
}

export const DEFAULT_POOL_LIMITS: Readonly<PoolLimits> = Object.freeze({ socketsPerPlugin: 8, socketsPerOrigin: 4, idleMs: 4_000 });

/**
 * The request a connection currently serves: the connector checks and counts through it. `pins`
 * are the addresses this request checked; `counted` says whether it was already counted as sent.
 */
export interface ConnectionUse {
  pins: AddressInfo[];
  signal: AbortSignal;
  counted: boolean;
  /** Set by the egress engine: checks the socket and counts the request. */
  onSocket: (pin: AddressInfo, remote: string | undefined) => Error | null;
}

/** One HTTP/1.1 connection (an undici Client with one socket), pinned once it has connected. */
export class Connection {
  readonly origin: string;
  readonly client: Client;
  /** The address it connected to; null until then. Never changes afterwards. */
  address: string | null = null;
  use: ConnectionUse | null;
  busy = true;
  alive = true;
  lastUsed = 0;

  constructor(origin: string, use: ConnectionUse, makeClient: (conn: Connection) => Client) {
    this.origin = origin;
    this.use = use;
    this.client = makeClient(this);
  }

  /** The addresses the connector may use for the current request: a pinned connection only its own. */
  candidates(): AddressInfo[] {
    const pins = this.use?.pins ?? [];
    return this.address === null ? pins : pins.filter((p) => p.address === this.address);
  }

  destroy(): void {
    this.alive = false;
    this.client.destroy().catch(() => {});
  }
}

interface Waiter {
  origin: string;
  attempt: () => Connection | null;
  resolve: (c: Connection) => void;
  reject: (e: unknown) => void;
}

/** The connections of one plugin. */
class PluginPool {
  readonly byOrigin = new Map<string, Connection[]>();
  total = 0;
  readonly waiters: Waiter[] = [];

  list(origin: string): Connection[] {
    let l = this.byOrigin.get(origin);
    if (!l) {
      l = [];
      this.byOrigin.set(origin, l);
    }
    return l;
  }

  oldestIdle(origin?: string): Connection | null {
    let best: Connection | null = null;
    const lists = origin === undefined ? [...this.byOrigin.values()] : [this.byOrigin.get(origin) ?? []];
    for (const l of lists) for (const c of l) if (!c.busy && (!best || c.lastUsed < best.lastUsed)) best = c;
    return best;
  }
}

export class ConnectionPools {
  private readonly pools = new Map<string, PluginPool>();
  private readonly limits: PoolLimits;
  private readonly makeClient: (t: Target, conn: Connection) => Client;

  constructor(limits: PoolLimits, makeClient: (t: Target, conn: Connection) => Client) {
    for (const [k, v] of Object.entries(limits)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`http pool: ${k} must be a whole number of at least 1`);
    }
    this.limits = limits;
    this.makeClient = makeClient;
  }

  /** A connection of `owner` for `t` usable with `use.pins`: an idle one pinned to one of them, or a new one. */
  acquire(owner: string, t: Target, use: ConnectionUse): Promise<Connection> {
    let pool = this.pools.get(owner);
    if (!pool) {
      pool = new PluginPool();
      this.pools.set(owner, pool);
    }
    const p = pool;
    const attempt = (): Connection | null => this.tryAcquire(owner, p, t, use);
    // Waiting requests were served when room was last freed, so trying at once jumps no queue.
    const got = attempt();
    if (got) return Promise.resolve(got);
    if (use.signal.aborted) return Promise.reject(use.signal.reason);
    return new Promise<Connection>((resolve, reject) => {
      const waiter: Waiter = {
        origin: t.origin,
        attempt,
        resolve: (c) => {
          use.signal.removeEventListener('abort', onAbort);
          resolve(c);
        },
        reject,
      };
      const onAbort = (): void => {
        const i = p.waiters.indexOf(waiter);
        if (i !== -1) p.waiters.splice(i, 1);
        reject(use.signal.reason);
      };
      use.signal.addEventListener('abort', onAbort, { once: true });
      p.waiters.push(waiter);
    });
  }

  /** Hands the connection back: kept for the next request when `reusable`, closed otherwise. */
  release(owner: string, conn: Connection, reusable: boolean): void {
    const pool = this.pools.get(owner);
    conn.use = null;
    if (!pool) {
      conn.destroy();
      return;
    }
    if (reusable && conn.alive && conn.address !== null) {
      conn.busy = false;
      conn.lastUsed = performance.now();
    } else {
      this.remove(owner, pool, conn);
    }
    this.wake(owner, pool);
  }

  /** The connection's socket closed (idle timeout, server's close): it no longer counts. */
  closed(owner: string, conn: Connection): void {
    conn.alive = false;
    const pool = this.pools.get(owner);
    if (!pool || conn.busy) return;
    this.remove(owner, pool, conn);
    this.wake(owner, pool);
  }

  /** Open connections of a plugin, per origin (tests and stats). */
  openConnections(owner: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [origin, l] of this.pools.get(owner)?.byOrigin ?? []) if (l.length > 0) out[origin] = l.length;
    return out;
  }

  async close(): Promise<void> {
    for (const pool of this.pools.values()) {
      for (const l of pool.byOrigin.values()) for (const c of l) c.destroy();
      for (const w of pool.waiters) w.reject(new Error('http: the connection pools are closed'));
    }
    this.pools.clear();
  }

  private tryAcquire(owner: string, pool: PluginPool, t: Target, use: ConnectionUse): Connection | null {
    const list = pool.list(t.origin);
    const idle = list.find((c) => !c.busy && c.alive && use.pins.some((p) => p.address === c.address));
    if (idle) {
      idle.busy = true;
      idle.use = use;
      return idle;
    }
    // Room for one more: close an idle connection that cannot serve this request if need be (of
    // this origin when the origin is full, of any origin when the plugin is).
    if (list.length >= this.limits.socketsPerOrigin) {
      const victim = pool.oldestIdle(t.origin);
      if (!victim) return null;
      this.removeFrom(pool, victim);
    }
    if (pool.total >= this.limits.socketsPerPlugin) {
      const victim = pool.oldestIdle();
      if (!victim) return null;
      this.removeFrom(pool, victim);
    }
    const conn = new Connection(t.origin, use, (c) => this.makeClient(t, c));
    conn.client.on('disconnect', () => this.closed(owner, conn));
    list.push(conn);
    pool.total++;
    return conn;
  }

  private removeFrom(pool: PluginPool, conn: Connection): void {
    const list = pool.byOrigin.get(conn.origin);
    const i = list ? list.indexOf(conn) : -1;
    if (i !== -1) {
      list!.splice(i, 1);
      pool.total--;
      if (list!.length === 0) pool.byOrigin.delete(conn.origin);
    }
    conn.destroy();
  }

  private remove(owner: string, pool: PluginPool, conn: Connection): void {
    this.removeFrom(pool, conn);
    if (pool.total === 0 && pool.waiters.length === 0) this.pools.delete(owner);
  }

  /** Serves waiting requests, first come first served, as far as the freed room allows. */
  private wake(owner: string, pool: PluginPool): void {
    for (let i = 0; i < pool.waiters.length; ) {
      const w = pool.waiters[i];
      const c = w.attempt();
      if (!c) {
        i++;
        continue;
      }
      pool.waiters.splice(i, 1);
      w.resolve(c);
    }
    if (pool.total === 0 && pool.waiters.length === 0 && this.pools.get(owner) === pool) this.pools.delete(owner);
  }
}
