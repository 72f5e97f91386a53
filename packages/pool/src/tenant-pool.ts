import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { DatabaseUnavailableError, PoolTimeoutError } from './errors.ts';
import type { PoolCounters, PoolStats } from './pool-stats.ts';

export interface TenantPoolOptions {
  /** Shown in stats and errors. */
  name: string;
  /** Connection string of the runtime login (never the owner). */
  connectionString: string;
  /** The most connections this pool opens. Small pools serve best: scale with processes. @default 10 */
  maxConnections?: number;
  /** How long a checkout may wait before it fails with POOL_TIMEOUT; pg's own default waits forever. @default 5000 */
  acquireTimeoutMs?: number;
  /** An idle connection is closed after this long. @default 30000 */
  idleTimeoutMs?: number;
  /** A connection is retired after this long, so that load rebalances and leaks cannot build up. @default 1800 */
  maxLifetimeSeconds?: number;
  /** Upper bound of one statement, set per connection. @default 30000 */
  statementTimeoutMs?: number;
  /** Postgres ends a session left idle inside a transaction after this long. @default 60000 */
  idleInTransactionTimeoutMs?: number;
  /** Send BEGIN, the tenant binding and the first query in one round trip. @default true */
  pipeline?: boolean;
  /** Called when an idle connection fails (Postgres restarted, backend terminated). */
  onIdleError?: (error: Error) => void;
}

/**
 * A pg pool with what pg-pool leaves to its user: a bounded acquire wait that ends in a typed error,
 * handling of idle connection errors, and the counters behind `poolStats`.
 */
export class TenantPool implements PoolCounters {
  readonly name: string;
  readonly #pool: pg.Pool;
  readonly #acquireTimeoutMs: number;
  readonly #max: number;
  readonly #stats = {
    acquired: 0,
    released: 0,
    discarded: 0,
    timeouts: 0,
    idleErrors: 0,
    waitMsSum: 0,
    waitMsMax: 0,
  };

  constructor(options: TenantPoolOptions) {
    this.name = options.name;
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? 5_000;
    this.#max = options.maxConnections ?? 10;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: this.#max,
      connectionTimeoutMillis: this.#acquireTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      maxLifetimeSeconds: options.maxLifetimeSeconds ?? 1_800,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
      application_name: `tenant-app:${options.name}`,
      pipeline: options.pipeline ?? true,
    } as pg.PoolConfig);
    this.#pool.on('error', (error) => {
      this.#stats.idleErrors += 1;
      options.onIdleError?.(error);
    });
  }

  /** A connection for one session; the caller returns it with `release(destroy)`. */
  async checkout(): Promise<pg.PoolClient> {
    const started = performance.now();
    try {
      const client = await this.#pool.connect();
      const waited = performance.now() - started;
      this.#stats.acquired += 1;
      this.#stats.waitMsSum += waited;
      this.#stats.waitMsMax = Math.max(this.#stats.waitMsMax, waited);
      return client;
    } catch (error) {
      const waited = performance.now() - started;
      if (waited >= this.#acquireTimeoutMs * 0.95) {
        this.#stats.timeouts += 1;
        throw new PoolTimeoutError(this.name, Math.round(waited), Math.max(1, Math.ceil(this.#acquireTimeoutMs / 1000)));
      }
      throw new DatabaseUnavailableError(this.name, error);
    }
  }

  released(discarded: boolean): void {
    this.#stats.released += 1;
    if (discarded) this.#stats.discarded += 1;
  }

  /**
   * The pool as Kysely's PostgresDialect sees it, for statements that need no tenant (the control
   * plane). Checkouts go through `checkout`, so they wait, time out and count like any other.
   */
  asDialectPool(): { connect(): Promise<pg.PoolClient>; end(): Promise<void> } {
    return {
      connect: async () => {
        const client = await this.checkout();
        const release = client.release;
        client.release = (destroy?: Error | boolean) => {
          this.released(Boolean(destroy));
          release.call(client, destroy);
        };
        return client;
      },
      // The pool outlives any Kysely instance built on it; `close` ends it.
      end: async () => {},
    };
  }

  stats(): PoolStats {
    const total = this.#pool.totalCount;
    const idle = this.#pool.idleCount;
    return {
      name: this.name,
      total,
      max: this.#max,
      idle,
      active: total - idle,
      pending: this.#pool.waitingCount,
      ...this.#stats,
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
