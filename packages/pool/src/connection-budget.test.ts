import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { PoolManager, PoolTimeoutError, type PoolManagerOptions, type PoolTarget } from './index.ts';

let database: TestDatabase;
let observer: pg.Client;
const managers: PoolManager[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  observer = new pg.Client({ connectionString: database.superuserUrl });
  await observer.connect();
});
afterAll(async () => {
  await Promise.all(managers.map((pools) => pools.close()));
  await observer.end();
  await database.close();
});

function manager(options: Partial<PoolManagerOptions>): PoolManager {
  const pools = new PoolManager({ connectionString: database.runtimeUrl, ...options });
  managers.push(pools);
  return pools;
}

/** A pool of its own for a tenant, as a database tenant has; here all on the test database. */
function ownTarget(tenant: string, maxConnections = 2): PoolTarget {
  return { key: `db:${tenant}`, connectionString: database.runtimeUrl, maxConnections };
}

/** Runs one short transaction for a tenant on its pool (its own, or the shared one). */
async function work(pools: PoolManager, tenantId: string, options: { target?: PoolTarget; sleepMs?: number } = {}) {
  const { db, session } = pools.openSession<unknown>({
    tenantId,
    binding: [],
    schema: 'public',
    ...(options.target ? { target: options.target } : {}),
  });
  try {
    await sql`select pg_sleep(${(options.sleepMs ?? 5) / 1000})`.execute(db);
    await session.commit();
  } catch (error) {
    await session.rollback();
    throw error;
  }
}

/** Connections of this test database as Postgres sees them. */
async function connectionsInPostgres(): Promise<number> {
  const { rows } = await observer.query<{ count: string }>(
    "select count(*) from pg_stat_activity where datname = current_database() and application_name like 'tenant-app:%'",
  );
  return Number(rows[0]!.count);
}

describe('the connection budget of a host', () => {
  test('is never exceeded in Postgres while 40 tenants with pools of their own churn through it', async () => {
    const budget = 6;
    const pools = manager({ defaultBudget: budget, acquireTimeoutMs: 10_000, maxConnections: 2 });
    let sampling = true;
    let most = 0;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await connectionsInPostgres());
      }
    })();
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, tenant) =>
        Promise.all(Array.from({ length: 3 }, () => work(pools, `t${tenant}`, { target: ownTarget(`t${tenant}`) }))),
      ),
    );
    sampling = false;
    await sampler;
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(budget);
    const [host] = pools.hostStats();
    expect(host!.open).toBeLessThanOrEqual(budget);
    expect(host!.evictions).toBeGreaterThan(0);
  });

  test('warms a tenant pool up ahead of its first request, within the budget', async () => {
    const pools = manager({ defaultBudget: 3 });
    await pools.warmUp('cold', ownTarget('cold', 2), 2);
    expect(pools.stats().find((pool) => pool.name === 'db:cold')).toMatchObject({ total: 2, idle: 2, active: 0 });
    expect(pools.hostStats()[0]).toMatchObject({ open: 2, budget: 3 });
  });

  test('closes the least recently used idle pool to make room', async () => {
    const pools = manager({ defaultBudget: 2, maxConnections: 1 });
    await work(pools, 'a', { target: ownTarget('a', 1) });
    await work(pools, 'b', { target: ownTarget('b', 1) });
    await work(pools, 'a', { target: ownTarget('a', 1) });
    await work(pools, 'c', { target: ownTarget('c', 1) });
    const names = pools.stats().map((pool) => pool.name);
    expect(names).toContain('db:a');
    expect(names).toContain('db:c');
    expect(names).not.toContain('db:b');
  });
});

describe('with the budget spent, a pool whose connections are in use', () => {
  /** Tenant `b` leaves an idle connection, tenant `a` holds one in a transaction: the budget of 2 is spent. */
  async function budgetSpent(waitForOwnConnectionMs: number) {
    const pools = manager({ defaultBudget: 2, waitForOwnConnectionMs });
    await work(pools, 'b', { target: ownTarget('b', 1) });
    const holder = pools.openSession<unknown>({ tenantId: 'a', target: ownTarget('a', 2), binding: [], schema: 'public' });
    await sql`select 1`.execute(holder.db);
    expect(pools.hostStats()[0]).toMatchObject({ open: 2, evictions: 0 });
    return { pools, holder };
  }

  test("waits for one of them to come back instead of closing another pool's idle connection", async () => {
    const { pools, holder } = await budgetSpent(5_000);
    const second = work(pools, 'a', { target: ownTarget('a', 2) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pools.stats().find((pool) => pool.name === 'db:b')).toMatchObject({ total: 1, idle: 1 });
    await holder.session.commit();
    await second;
    expect(pools.hostStats()[0]).toMatchObject({ open: 2, evictions: 0 });
    expect(pools.stats().find((pool) => pool.name === 'db:a')).toMatchObject({ total: 1, acquired: 2 });
  });

  test('makes room once that wait is over', async () => {
    const { pools, holder } = await budgetSpent(50);
    await work(pools, 'a', { target: ownTarget('a', 2) });
    await holder.session.commit();
    expect(pools.hostStats()[0]).toMatchObject({ open: 2, evictions: 1 });
    expect(pools.stats().find((pool) => pool.name === 'db:a')).toMatchObject({ total: 2 });
    expect(pools.stats().map((pool) => pool.name)).not.toContain('db:b');
  });

  test('of its own has none in use: it makes room at once', async () => {
    // Were it to wait for its own pool, it would wait a minute and the test would time out.
    const pools = manager({ defaultBudget: 1, waitForOwnConnectionMs: 60_000, acquireTimeoutMs: 120_000 });
    await work(pools, 'b', { target: ownTarget('b', 1) });
    await work(pools, 'a', { target: ownTarget('a', 1) });
    expect(pools.hostStats()[0]).toMatchObject({ open: 1, evictions: 1 });
  });
});

describe('per-tenant limits and fair waiting', () => {
  test('a tenant never holds more connections than its limit, even with room in the pool', async () => {
    const pools = manager({ maxConnections: 6, defaultLimits: { maxConnections: 2, maxQueue: 100 } });
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { db, session } = pools.openSession<unknown>({ tenantId: 'greedy', binding: [], schema: 'public' });
        await sql`select 1`.execute(db);
        most = Math.max(most, pools.tenantStats('greedy')[0]!.active);
        await sql`select pg_sleep(0.01)`.execute(db);
        await session.commit();
      }),
    );
    expect(most).toBe(2);
  });

  test('a full queue refuses at once instead of waiting', async () => {
    const pools = manager({ maxConnections: 1, defaultLimits: { maxConnections: 1, maxQueue: 2 } });
    const holder = pools.openSession<unknown>({ tenantId: 'busy', binding: [], schema: 'public' });
    await sql`select 1`.execute(holder.db);
    const queued = [work(pools, 'busy'), work(pools, 'busy')];
    const shed = await work(pools, 'busy').catch((error: unknown) => error);
    expect(shed).toBeInstanceOf(PoolTimeoutError);
    expect(shed).toMatchObject({ reason: 'queue-full', code: 'POOL_TIMEOUT' });
    await holder.session.commit();
    await Promise.all(queued);
    expect(pools.tenantStats('busy')[0]).toMatchObject({ shed: 1, acquired: 3, timeouts: 0 });
  });

  test('a tenant flooding the shared pool does not keep a quiet tenant from being served in time', async () => {
    // 150 loops of the noisy tenant keep ~150 checkouts queued on 2 connections all the time:
    // served in arrival order, the quiet tenant would wait behind them past its 1 s timeout;
    // served round-robin, it waits for the next free connection.
    const pools = manager({ maxConnections: 2, acquireTimeoutMs: 1_000, defaultLimits: { maxConnections: 2, maxQueue: 1_000 } });
    let flooding = true;
    const flood = Array.from({ length: 150 }, async () => {
      while (flooding) await work(pools, 'noisy', { sleepMs: 10 }).catch(() => undefined);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const queuedAhead = pools.tenantStats('noisy')[0]!.pending;
    const quiet = [];
    for (let request = 0; request < 5; request += 1) {
      quiet.push(await work(pools, 'quiet', { sleepMs: 1 }).then(() => 'served', (error: unknown) => error));
    }
    flooding = false;
    await Promise.all(flood);
    expect(quiet).toEqual(['served', 'served', 'served', 'served', 'served']);
    // The quiet tenant arrived behind a deep queue of the noisy one.
    expect(queuedAhead).toBeGreaterThan(100);
  });
});
