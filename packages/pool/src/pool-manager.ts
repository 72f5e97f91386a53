import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { ConnectionScheduler, type TenantLimits } from './connection-scheduler.ts';
import { ControlPlaneDriver, type ControlPlaneCheckout } from './control-plane-driver.ts';
import { hostOf, ManagedPool, type ConnectionSettings, type PoolTarget } from './managed-pool.ts';
import type { HostStats, PoolStats, TenantPoolStats } from './pool-stats.ts';
import { PoolTelemetry, type ObservedPool, type SessionLabels, type TracedCheckout } from './pool-telemetry.ts';
import { SessionDriver } from './session-driver.ts';
import { TenantSession, type BindingStatement } from './tenant-session.ts';

export interface PoolManagerOptions {
  /** Connection string of the runtime login (never the owner) for the shared pool. */
  connectionString: string;
  /** Connections of the shared pool. Small pools serve best: scale with processes. @default 10 */
  maxConnections?: number;
  /**
   * The most connections of all pools to one Postgres host, per `host:port`; hosts not named get
   * `defaultBudget`. Keep it below the server's max_connections minus what others need.
   */
  budgets?: Record<string, number>;
  /** @default 40 */
  defaultBudget?: number;
  /** How long a checkout may wait before it fails with POOL_TIMEOUT. @default 5000 */
  acquireTimeoutMs?: number;
  /** How long opening a connection may take before it fails with DATABASE_UNAVAILABLE. @default 5000 */
  connectTimeoutMs?: number;
  /** An idle connection is closed after this long. @default 30000 */
  idleTimeoutMs?: number;
  /** A connection is retired after this long. @default 1800 */
  maxLifetimeSeconds?: number;
  /** Upper bound of one statement, set per connection; tiers lower it per transaction. @default 30000 */
  statementTimeoutMs?: number;
  /** Postgres ends a session left idle inside a transaction after this long. @default 60000 */
  idleInTransactionTimeoutMs?: number;
  /** Send BEGIN, the tenant binding and the first query in one round trip. @default true */
  pipeline?: boolean;
  /** Limits for tenants that bring none. @default { maxConnections: 10, maxQueue: 100 } */
  defaultLimits?: TenantLimits;
  /** Called when an idle connection fails (Postgres restarted, backend terminated). */
  onIdleError?: (error: Error, pool: string) => void;
  /**
   * With a host's budget spent, how long a checkout whose pool has connections in use waits for one
   * of them before another pool's idle connection is closed to make room for a new one.
   * @default as long as opening a connection to the host takes lately
   */
  waitForOwnConnectionMs?: number;
  /**
   * Let sessions that ask for it (`SessionOptions.preparedStatements`) keep their statements
   * prepared on the connection. Turn it off behind a pooler that cannot carry named statements
   * from one server connection to another, such as PgBouncer before 1.21 in transaction mode.
   * @default true
   */
  preparedStatements?: boolean;
}

export interface SessionOptions {
  tenantId: string;
  /** Statements that bind the transaction to its tenant, sent right after BEGIN. */
  binding: readonly BindingStatement[];
  /** The schema that holds the tenant's tables; every table reference is qualified with it. */
  schema: string;
  /** The tenant's own database; the shared pool when absent. */
  target?: PoolTarget;
  limits?: TenantLimits;
  /** How the tenant is labelled on spans and metrics. @default { strategy: 'unknown', tier: 'unknown' } */
  labels?: SessionLabels;
  /**
   * The session's statement texts are those of every session of its pool (its schema is the same
   * for all of them): prepare them on the connection, so that Postgres parses and plans each once
   * per connection. Not for texts that name a schema of their own tenant, of which a connection
   * would collect thousands. @default false
   */
  preparedStatements?: boolean;
}

/** A request's transaction and the Kysely instance that runs on it. */
export interface BoundSession<DB> {
  readonly db: Kysely<DB>;
  readonly session: TenantSession;
}

const CONTROL_PLANE = '@control-plane';
const UNLABELLED: SessionLabels = { strategy: 'unknown', tier: 'unknown' };
const CONTROL_PLANE_LABELS: SessionLabels = { strategy: 'control-plane', tier: 'none' };

/**
 * Owns every connection of the process: one pool per Postgres target (the shared pool, and a small
 * one per database tenant, created on first use and closed when idle or when its host's budget
 * needs room), under one budget per host, served fairly across tenants. Code never sees a pool: it
 * asks for a session bound to a tenant and ends it once.
 */
export class PoolManager {
  readonly #settings: ConnectionSettings;
  readonly #sharedTarget: PoolTarget;
  readonly #options: PoolManagerOptions;
  readonly #defaultLimits: TenantLimits;
  /** In recency order: a pool moves to the end each time a session opens on it. */
  readonly #pools = new Map<string, ManagedPool>();
  readonly #schedulers = new Map<string, ConnectionScheduler>();
  readonly #closing = new Set<Promise<void>>();
  readonly #tenantStats = new LRUCache<string, TenantPoolStats>({ max: 20_000 });
  readonly #telemetry: PoolTelemetry;
  #unbound: Kysely<unknown> | undefined;

  constructor(options: PoolManagerOptions) {
    this.#options = options;
    this.#settings = {
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxLifetimeSeconds: options.maxLifetimeSeconds ?? 1_800,
      statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 60_000,
      pipeline: options.pipeline ?? true,
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    };
    this.#sharedTarget = { key: 'shared', connectionString: options.connectionString, maxConnections: options.maxConnections ?? 10 };
    this.#defaultLimits = options.defaultLimits ?? { maxConnections: options.maxConnections ?? 10, maxQueue: 100 };
    this.#telemetry = new PoolTelemetry(() => this.#observedPools());
  }

  /** Opens (lazily: nothing happens until the first query) a transaction bound to one tenant. */
  openSession<DB>(options: SessionOptions): BoundSession<DB> {
    const target = options.target ?? this.#sharedTarget;
    const limits = options.limits ?? this.#defaultLimits;
    const labels = options.labels ?? UNLABELLED;
    let traced: TracedCheckout | undefined;
    let held: { pool: ManagedPool; scheduler: ConnectionScheduler } | undefined;
    const session = new TenantSession(
      {
        // The pool is looked up when the first query needs it, not when the session opens: an
        // empty tenant pool is closed and dropped, and a session opened before must not use it.
        checkout: () => {
          const pool = this.#poolFor(target);
          held = { pool, scheduler: this.#schedulerFor(pool.host) };
          traced = this.#telemetry.checkout(options.tenantId, pool.name, pool.metricName, labels);
          return held.scheduler.acquire(options.tenantId, pool, limits, traced);
        },
        release: (client, destroy) => {
          traced?.released(destroy !== undefined);
          held!.scheduler.release(options.tenantId, held!.pool, client, destroy);
        },
        send: (statement) => (traced ? traced.within(statement) : statement()),
      },
      options.binding,
      { preparedStatements: options.preparedStatements === true && this.#options.preparedStatements !== false },
    );
    const db = new Kysely<DB>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new SessionDriver(session),
        createIntrospector: (kysely) => new PostgresIntrospector(kysely),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    }).withSchema(options.schema);
    return { db, session };
  }

  /**
   * Runs `work` in a transaction bound to one tenant, outside any HTTP request (jobs, scripts):
   * commits when it resolves, rolls back when it throws.
   */
  async withTenant<DB, T>(options: SessionOptions, work: (db: Kysely<DB>) => Promise<T>): Promise<T> {
    const { db, session } = this.openSession<DB>(options);
    let result: T;
    try {
      result = await work(db);
    } catch (error) {
      await session.rollback();
      throw error;
    }
    await session.commit();
    return result;
  }

  /**
   * Statements that belong to no tenant (the control plane), each in a transaction of its own on a
   * short checkout of the shared pool (see `ControlPlaneDriver`), scheduled like any tenant's. Under
   * Row-Level Security they see no tenant rows. It has no transactions of several statements.
   */
  unbound<DB>(): Kysely<DB> {
    this.#unbound ??= new Kysely<unknown>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new ControlPlaneDriver(() => this.#controlPlaneCheckout()),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    });
    return this.#unbound as Kysely<DB>;
  }

  /** Opens `count` connections of a database tenant's pool ahead of its first request. */
  async warmUp(tenantId: string, target: PoolTarget, count = 1): Promise<void> {
    const sessions = Array.from({ length: Math.min(count, target.maxConnections) }, () =>
      this.openSession<unknown>({ tenantId, target, binding: [], schema: 'public' }),
    );
    await Promise.all(sessions.map(({ session }) => session.query('select 1', [])));
    await Promise.all(sessions.map(({ session }) => session.commit()));
  }

  stats(): PoolStats[] {
    return [...this.#pools.values()].map((pool) => pool.snapshot(pool.waiting));
  }

  hostStats(): HostStats[] {
    return [...this.#schedulers.values()].map((scheduler) =>
      scheduler.stats([...this.#pools.values()].filter((pool) => pool.host === scheduler.host).length),
    );
  }

  tenantStats(tenantId?: string): TenantPoolStats[] {
    if (tenantId) {
      const stats = this.#tenantStats.get(tenantId);
      return stats ? [{ ...stats }] : [];
    }
    return [...this.#tenantStats.values()].filter((stats) => stats.tenantId !== CONTROL_PLANE).map((stats) => ({ ...stats }));
  }

  async close(): Promise<void> {
    this.#telemetry.close();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all([...pools.map((pool) => pool.pg.end()), ...this.#closing]);
  }

  #poolFor(target: PoolTarget): ManagedPool {
    let pool = this.#pools.get(target.key);
    if (pool) {
      this.#pools.delete(target.key);
    } else {
      const host = hostOf(target.connectionString);
      const scheduler = this.#schedulerFor(host);
      const metricName = `${target.key === this.#sharedTarget.key ? 'shared' : 'tenant-databases'}@${host}`;
      pool = new ManagedPool(
        target,
        this.#settings,
        {
          opened: () => scheduler.connectionOpened(),
          connected: (_pool, ms) => {
            scheduler.connectionConnected(ms);
            this.#telemetry.connectionCreated(metricName, ms / 1000);
          },
          closed: (closedPool) => scheduler.connectionClosed(closedPool),
        },
        metricName,
      );
    }
    this.#pools.set(target.key, pool);
    return pool;
  }

  #schedulerFor(host: string): ConnectionScheduler {
    let scheduler = this.#schedulers.get(host);
    if (!scheduler) {
      scheduler = new ConnectionScheduler(
        host,
        this.#options.budgets?.[host] ?? this.#options.defaultBudget ?? 40,
        this.#options.acquireTimeoutMs ?? 5_000,
        {
          poolsByRecency: () => [...this.#pools.values()].filter((pool) => pool.host === host),
          connectionClosed: (pool) => this.#dropIfEmpty(pool),
          tenantStats: (tenantId) => this.#statsOf(tenantId),
        },
        this.#options.waitForOwnConnectionMs,
      );
      this.#schedulers.set(host, scheduler);
    }
    return scheduler;
  }

  /**
   * A tenant database's pool whose last connection closed (retired for room, or expired idle) and
   * that nobody waits for is dropped, so that thousands of tenants passing through leave no pools
   * behind; its next request makes a new one. The shared pool stays.
   */
  #dropIfEmpty(pool: ManagedPool): void {
    if (pool.name === this.#sharedTarget.key || this.#pools.get(pool.name) !== pool) return;
    if (pool.live > 0 || pool.active > 0 || pool.waiting > 0) return;
    this.#pools.delete(pool.name);
    const closed = pool.pg.end().finally(() => this.#closing.delete(closed));
    this.#closing.add(closed);
  }

  *#observedPools(): Iterable<ObservedPool> {
    for (const pool of this.#pools.values()) {
      const shared = pool.name === this.#sharedTarget.key;
      yield {
        metricName: pool.metricName,
        used: pool.active,
        idle: pool.pg.idleCount,
        // Tenant databases of a host are reported as one pool, bounded by the host's budget.
        max: shared ? pool.max : (this.#schedulers.get(pool.host)?.budget ?? pool.max),
        pending: pool.waiting,
      };
    }
  }

  #statsOf(tenantId: string): TenantPoolStats {
    let stats = this.#tenantStats.get(tenantId);
    if (!stats) {
      stats = { tenantId, active: 0, pending: 0, acquired: 0, released: 0, timeouts: 0, shed: 0, waitMsSum: 0, waitMsMax: 0 };
      this.#tenantStats.set(tenantId, stats);
    }
    return stats;
  }

  async #controlPlaneCheckout(): Promise<ControlPlaneCheckout> {
    const limits = { maxConnections: this.#sharedTarget.maxConnections, maxQueue: 10_000 };
    const pool = this.#poolFor(this.#sharedTarget);
    const scheduler = this.#schedulerFor(pool.host);
    const traced = this.#telemetry.checkout(CONTROL_PLANE, pool.name, pool.metricName, CONTROL_PLANE_LABELS);
    const client = await scheduler.acquire(CONTROL_PLANE, pool, limits, traced);
    return {
      client,
      send: (statement) => traced.within(statement),
      release: (destroy) => {
        traced.released(destroy !== undefined);
        scheduler.release(CONTROL_PLANE, pool, client, destroy);
      },
    };
  }
}
