import { Kysely, PostgresAdapter, PostgresDialect, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { SessionDriver } from './session-driver.ts';
import { TenantPool, type TenantPoolOptions } from './tenant-pool.ts';
import { TenantSession, type BindingStatement } from './tenant-session.ts';
import type { PoolStats } from './pool-stats.ts';

export type PoolManagerOptions = Omit<TenantPoolOptions, 'name'>;

export interface SessionOptions {
  /** Statements that bind the transaction to its tenant, sent right after BEGIN. */
  binding: readonly BindingStatement[];
  /** The schema that holds the tenant's tables; every table reference is qualified with it. */
  schema: string;
}

/** A request's transaction and the Kysely instance that runs on it. */
export interface BoundSession<DB> {
  readonly db: Kysely<DB>;
  readonly session: TenantSession;
}

/**
 * Owns every connection of the process. Code never sees a pool: it asks for a session bound to a
 * tenant, runs its queries through the session's Kysely instance, and ends the session once.
 */
export class PoolManager {
  readonly #shared: TenantPool;
  #unbound: Kysely<unknown> | undefined;

  constructor(options: PoolManagerOptions) {
    this.#shared = new TenantPool({ ...options, name: 'shared' });
  }

  /** Opens (lazily: nothing happens until the first query) a transaction bound to one tenant. */
  openSession<DB>(options: SessionOptions): BoundSession<DB> {
    const pool = this.#shared;
    const session = new TenantSession(() => pool.checkout(), options.binding, pool);
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
   * Statements that belong to no tenant (the control plane), each on its own short checkout. Under
   * Row-Level Security they see no tenant rows at all.
   */
  unbound<DB>(): Kysely<DB> {
    this.#unbound ??= new Kysely<unknown>({ dialect: new PostgresDialect({ pool: this.#shared.asDialectPool() }) });
    return this.#unbound as Kysely<DB>;
  }

  stats(): PoolStats[] {
    return [this.#shared.stats()];
  }

  async close(): Promise<void> {
    await this.#shared.close();
  }
}
