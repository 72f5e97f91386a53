import type pg from 'pg';
import { performance } from 'node:perf_hooks';
import { DatabaseUnavailableError, PoolTimeoutError } from './errors.ts';
import type { ManagedPool } from './managed-pool.ts';
import type { TracedCheckout } from './pool-telemetry.ts';
import type { HostStats, TenantPoolStats } from './pool-stats.ts';

/** What one tenant may take from the pools, from its tier. */
export interface TenantLimits {
  /** Connections the tenant may hold at once, on the shared pool too. */
  maxConnections: number;
  /** Checkouts that may wait; one more is refused at once (load shedding). */
  maxQueue: number;
}

interface Waiter {
  tenantId: string;
  pool: ManagedPool;
  limits: TenantLimits;
  enqueuedAt: number;
  timer: NodeJS.Timeout;
  traced: TracedCheckout;
  resolve(client: pg.PoolClient): void;
  reject(error: Error): void;
}

type Decision = 'reuse' | 'create' | 'wait' | 'wait-for-own' | 'needs-room';

export interface SchedulerHooks {
  /** Pools of the host, least recently used first. */
  poolsByRecency(): Iterable<ManagedPool>;
  /** A connection of `pool` closed (retired, expired or broken). */
  connectionClosed(pool: ManagedPool): void;
  tenantStats(tenantId: string): TenantPoolStats;
}

/**
 * The connections of one Postgres host: what pg-pool cannot do across pools. pg-pool bounds one pool
 * and serves its waiters first come, first served; here the bound is the host's budget summed over
 * every pool, waiters are served round-robin across tenants (FIFO within a tenant) so that a noisy
 * tenant cannot starve the others, and each tenant is held to its own limits.
 */
export class ConnectionScheduler {
  open = 0;
  evictions = 0;
  readonly #queues = new Map<string, Waiter[]>();
  readonly #active = new Map<string, number>();
  #pending = 0;
  #pumping = false;
  /** How long opening a connection to this host takes lately (moving average); unknown until one opened. */
  #connectMs: number | undefined;
  #ownConnectionTimer: NodeJS.Timeout | undefined;
  #ownConnectionDeadline = Infinity;

  /**
   * `waitForOwnMs`: how long a checkout whose pool has connections in use waits for one of them to
   * come back before another pool's idle connection is closed to open a new one; by default, as
   * long as opening a connection to this host takes lately.
   */
  constructor(
    readonly host: string,
    readonly budget: number,
    readonly acquireTimeoutMs: number,
    readonly hooks: SchedulerHooks,
    readonly waitForOwnMs?: number,
  ) {}

  /** A connection of `pool` for `tenantId`, as soon as fairness, limits and the budget allow. */
  acquire(tenantId: string, pool: ManagedPool, limits: TenantLimits, traced: TracedCheckout): Promise<pg.PoolClient> {
    const stats = this.hooks.tenantStats(tenantId);
    const queue = this.#queues.get(tenantId);
    traced.queued(queue?.length ?? 0, this.#pending);
    if (queue && queue.length >= limits.maxQueue) {
      stats.shed += 1;
      const error = new PoolTimeoutError(pool.name, 0, 1, 'queue-full');
      traced.failed('shed', error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        tenantId,
        pool,
        limits,
        traced,
        enqueuedAt: performance.now(),
        resolve,
        reject,
        timer: setTimeout(() => this.#expire(waiter), this.acquireTimeoutMs),
      };
      if (queue) queue.push(waiter);
      else this.#queues.set(tenantId, [waiter]);
      pool.waiting += 1;
      stats.pending += 1;
      this.#pending += 1;
      this.#pump();
    });
  }

  /** Gives a connection back; `destroy` closes it instead of keeping it idle. */
  release(tenantId: string, pool: ManagedPool, client: pg.PoolClient, destroy: Error | undefined): void {
    if (!destroy && pool.isLost(client)) destroy = new Error('its session was ended by Postgres');
    pool.active -= 1;
    pool.stats.released += 1;
    if (destroy) pool.stats.discarded += 1;
    const stats = this.hooks.tenantStats(tenantId);
    stats.active -= 1;
    stats.released += 1;
    this.#setActive(tenantId, -1);
    client.release(destroy ?? false);
    this.#pump();
  }

  connectionOpened(): void {
    this.open += 1;
  }

  /** A connection of this host finished connecting, `ms` after it was created. */
  connectionConnected(ms: number): void {
    this.#connectMs = this.#connectMs === undefined ? ms : this.#connectMs + (ms - this.#connectMs) / 8;
  }

  connectionClosed(pool: ManagedPool): void {
    this.open -= 1;
    this.hooks.connectionClosed(pool);
    this.#pump();
  }

  /** Something changed outside (a pool closed): look at the queue again. */
  poke(): void {
    this.#pump();
  }

  stats(pools: number): HostStats {
    return { host: this.host, budget: this.budget, open: this.open, pending: this.#pending, pools, evictions: this.evictions };
  }

  #pump(): void {
    // Serving a waiter can settle promises synchronously inside pg; one pass at a time.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      let served = true;
      let needRoom: Set<ManagedPool> = new Set();
      while (served) {
        served = false;
        needRoom = new Set();
        for (const [tenantId, queue] of this.#queues) {
          const waiter = queue[0]!;
          const decision = this.#decide(waiter);
          if (decision === 'needs-room') needRoom.add(waiter.pool);
          if (decision === 'wait-for-own') this.#lookAgainAt(waiter.enqueuedAt + this.#ownConnectionWaitMs());
          if (decision === 'wait' || decision === 'wait-for-own' || decision === 'needs-room') continue;
          queue.shift();
          // The tenant goes to the back of the round: the others get their turn first.
          this.#queues.delete(tenantId);
          if (queue.length > 0) this.#queues.set(tenantId, queue);
          this.#start(waiter, decision);
          served = true;
          break;
        }
      }
      if (needRoom.size > 0) this.#makeRoom(needRoom);
    } finally {
      this.#pumping = false;
    }
  }

  #decide(waiter: Waiter): Decision {
    const { pool } = waiter;
    if ((this.#active.get(waiter.tenantId) ?? 0) >= waiter.limits.maxConnections) return 'wait';
    if (pool.active >= pool.max) return 'wait';
    if (pool.spareIdle > 0) return 'reuse';
    if (this.open < this.budget) return 'create';
    // The budget is spent. Making room means closing another pool's idle connection and opening
    // one here: a fork, an authentication and cold caches in Postgres, and a connect's latency
    // for this waiter. When this pool has connections in use, one of them usually comes back
    // sooner than that, so the waiter first waits for it, for about as long as a connect takes.
    // Without this, database tenants sharing a tight budget kept closing each other's connections
    // under steady load (15–25 new connections every 8 s in the benchmark's database variant).
    if (pool.active > 0 && performance.now() - waiter.enqueuedAt < this.#ownConnectionWaitMs()) return 'wait-for-own';
    return 'needs-room';
  }

  #ownConnectionWaitMs(): number {
    return Math.min(this.waitForOwnMs ?? this.#connectMs ?? 0, this.acquireTimeoutMs / 2);
  }

  /** Pumps again at `deadline`, when a waiter stops waiting for its own pool's connections. */
  #lookAgainAt(deadline: number): void {
    if (deadline >= this.#ownConnectionDeadline) return;
    clearTimeout(this.#ownConnectionTimer);
    this.#ownConnectionDeadline = deadline;
    this.#ownConnectionTimer = setTimeout(
      () => {
        this.#ownConnectionDeadline = Infinity;
        this.#pump();
      },
      Math.max(0, deadline - performance.now()),
    );
    this.#ownConnectionTimer.unref();
  }

  /**
   * The budget is spent and some waiters need a new connection: close idle connections, one at a
   * time, of the least recently used pools (the shared pool's too), until the connections on their
   * way out cover the need. Closing single connections rather than whole pools keeps a pool that
   * is still in use warm, and lets the shared pool's idle connections give way to tenant databases.
   */
  #makeRoom(needy: Set<ManagedPool>): void {
    const pools = [...this.hooks.poolsByRecency()];
    let coming = pools.reduce((sum, pool) => sum + pool.retiring, 0);
    for (const pool of pools) {
      if (needy.has(pool)) continue;
      while (coming < needy.size && pool.spareIdle > 0) {
        pool.retireIdle();
        this.evictions += 1;
        coming += 1;
      }
      if (coming >= needy.size) return;
    }
  }

  #start(waiter: Waiter, decision: Exclude<Decision, 'wait'>): void {
    clearTimeout(waiter.timer);
    const { pool, tenantId } = waiter;
    const stats = this.hooks.tenantStats(tenantId);
    pool.waiting -= 1;
    stats.pending -= 1;
    this.#pending -= 1;
    pool.active += 1;
    stats.active += 1;
    this.#setActive(tenantId, 1);
    if (decision === 'reuse') pool.reusing += 1;
    pool.lastUsed = Date.now();
    waiter.traced.waiting(() => pool.pg.connect()).then(
      (client) => {
        if (decision === 'reuse') pool.reusing -= 1;
        const waited = performance.now() - waiter.enqueuedAt;
        pool.stats.acquired += 1;
        pool.stats.waitMsSum += waited;
        pool.stats.waitMsMax = Math.max(pool.stats.waitMsMax, waited);
        stats.acquired += 1;
        stats.waitMsSum += waited;
        stats.waitMsMax = Math.max(stats.waitMsMax, waited);
        waiter.traced.acquired(waited, decision === 'create');
        waiter.resolve(client);
      },
      (error: unknown) => {
        if (decision === 'reuse') pool.reusing -= 1;
        pool.active -= 1;
        stats.active -= 1;
        this.#setActive(tenantId, -1);
        const unavailable = new DatabaseUnavailableError(pool.name, error);
        waiter.traced.failed('error', unavailable);
        waiter.reject(unavailable);
        this.#pump();
      },
    );
  }

  #expire(waiter: Waiter): void {
    const queue = this.#queues.get(waiter.tenantId);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(waiter.tenantId);
    const stats = this.hooks.tenantStats(waiter.tenantId);
    waiter.pool.waiting -= 1;
    waiter.pool.stats.timeouts += 1;
    stats.pending -= 1;
    stats.timeouts += 1;
    this.#pending -= 1;
    const error = new PoolTimeoutError(
      waiter.pool.name,
      Math.round(performance.now() - waiter.enqueuedAt),
      Math.max(1, Math.ceil(this.acquireTimeoutMs / 1000)),
      'timeout',
    );
    waiter.traced.failed('timeout', error);
    waiter.reject(error);
    // A pool that only this waiter kept from eviction may now make room for another.
    this.#pump();
  }

  #setActive(tenantId: string, delta: number): void {
    const next = (this.#active.get(tenantId) ?? 0) + delta;
    if (next === 0) this.#active.delete(tenantId);
    else this.#active.set(tenantId, next);
  }
}
