import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { isConnectionLost } from './errors.ts';
import type { PoolStats } from './pool-stats.ts';

/** Where a pool's connections go, and how many it may hold. */
export interface PoolTarget {
  /** Identifies the pool: one pool per distinct target. */
  key: string;
  connectionString: string;
  /** The most connections this pool opens; tenant databases get small pools. */
  maxConnections: number;
}

export interface ConnectionSettings {
  /** Bounds connecting; the wait for a free connection is bounded by the scheduler. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeSeconds: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  pipeline: boolean;
  onIdleError?: (error: Error, pool: string) => void;
}

export function hostOf(connectionString: string): string {
  const url = new URL(connectionString);
  return `${url.hostname}:${url.port || '5432'}`;
}

export interface ConnectionLifecycle {
  /** A connection object was created: from now on it may hold a Postgres backend. */
  opened(pool: ManagedPool): void;
  /** It finished connecting, `ms` after it was created. */
  connected(pool: ManagedPool, ms: number): void;
  /** Its socket is closed: the backend is gone. */
  closed(pool: ManagedPool): void;
}

/**
 * One pg pool and what the scheduler needs to know about it. pg-pool creates, reuses, times out
 * and retires connections; it is only ever asked for a connection it can hand out at once, so its
 * own (unfair, unbounded) wait queue stays empty. Connections are counted by pg-pool's public
 * `Client` option, from construction to the socket's end: pg-pool forgets a connection before its
 * socket closes, and a budget checked against Postgres must not.
 */
export class ManagedPool {
  readonly name: string;
  readonly host: string;
  /** The name its figures are reported under in metrics, shared by every tenant database of a host. */
  readonly metricName: string;
  readonly max: number;
  readonly pg: pg.Pool;
  /** Connections checked out now. */
  active = 0;
  /** Connections that exist: connecting, idle, in use, or closing. */
  live = 0;
  /** Checkouts waiting in the scheduler for this pool. */
  waiting = 0;
  /** Checkouts handed an idle connection that pg-pool has not delivered yet. */
  reusing = 0;
  /** Idle connections being closed to make room under the budget, until their sockets end. */
  retiring = 0;
  readonly #retiringClients = new WeakSet<pg.Client>();
  /** Connections that answered a statement with "your session is gone" (see `isLost`). */
  readonly #lostClients = new WeakSet<pg.Client>();
  lastUsed = 0;
  readonly stats = {
    acquired: 0,
    released: 0,
    discarded: 0,
    timeouts: 0,
    evictions: 0,
    idleErrors: 0,
    waitMsSum: 0,
    waitMsMax: 0,
  };

  constructor(target: PoolTarget, settings: ConnectionSettings, lifecycle: ConnectionLifecycle, metricName: string) {
    this.name = target.key;
    this.host = hostOf(target.connectionString);
    this.metricName = metricName;
    this.max = target.maxConnections;
    const pool = this;
    class CountedClient extends pg.Client {
      // Postgres ends a session (pg_terminate_backend, shutdown) with an error for the statement
      // running, and only then closes the socket: in between, pg still calls the connection
      // queryable, and pg-pool would keep it as idle and hand it to the next checkout.
      override query(...args: unknown[]): any {
        const result: unknown = (super.query as (...queryArgs: unknown[]) => unknown)(...args);
        if (result instanceof Promise) {
          result.catch((error: unknown) => {
            if (isConnectionLost(error)) pool.#lostClients.add(this);
          });
        }
        return result;
      }

      constructor(config?: string | pg.ClientConfig) {
        super(config);
        const createdAt = performance.now();
        pool.live += 1;
        lifecycle.opened(pool);
        this.once('connect', () => lifecycle.connected(pool, performance.now() - createdAt));
        // pg-pool listens for errors only while a connection is idle. A checked-out connection
        // whose backend goes away between statements (pg_terminate_backend, a Postgres restart)
        // emits 'error' with no listener: Node throws it as an uncaught exception, and pg never
        // emits 'end', so the connection would stay counted against the budget forever. The
        // session learns of it from its next statement, and discards the connection.
        this.on('error', () => undefined);
        this.once('end', () => {
          if (pool.#retiringClients.delete(this)) pool.retiring -= 1;
          pool.live -= 1;
          lifecycle.closed(pool);
        });
      }
    }
    this.pg = new pg.Pool({
      Client: CountedClient,
      connectionString: target.connectionString,
      max: target.maxConnections,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      idleTimeoutMillis: settings.idleTimeoutMs,
      maxLifetimeSeconds: settings.maxLifetimeSeconds,
      statement_timeout: settings.statementTimeoutMs,
      idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
      application_name: `tenant-app:${target.key}`.slice(0, 63),
      pipeline: settings.pipeline,
    } as pg.PoolConfig);
    this.pg.on('error', (error) => {
      this.stats.idleErrors += 1;
      settings.onIdleError?.(error, this.name);
    });
  }

  /**
   * True once a statement on `client` failed because its session or socket is gone: such a
   * connection is destroyed on release, never kept idle, whoever held it (a tenant session or
   * a control-plane lookup through Kysely, which releases without telling why).
   */
  isLost(client: pg.Client): boolean {
    return this.#lostClients.has(client);
  }

  /** Idle connections not yet promised to a checkout. */
  get spareIdle(): number {
    return this.pg.idleCount - this.reusing;
  }

  /**
   * Closes one idle connection to make room for another pool. pg-pool has no call for that, so
   * the connection is checked out (an idle one is handed over at once) and given back destroyed.
   */
  retireIdle(): void {
    this.reusing += 1;
    this.retiring += 1;
    this.stats.evictions += 1;
    this.pg.connect().then(
      (client) => {
        this.reusing -= 1;
        this.#retiringClients.add(client);
        client.release(new Error('closed to make room under the connection budget'));
      },
      () => {
        this.reusing -= 1;
        this.retiring -= 1;
      },
    );
  }

  snapshot(pending: number): PoolStats {
    const total = this.pg.totalCount;
    return {
      name: this.name,
      host: this.host,
      total,
      max: this.max,
      idle: this.pg.idleCount,
      active: this.active,
      pending,
      ...this.stats,
    };
  }
}
