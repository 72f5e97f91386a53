import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  TenantProvisioner,
  loadTenantBindingKey,
  loadTenantLoginKey,
  seedTenantData,
  sessionPlanFor,
  type ProvisionedTenant,
  type TenantBindingKey,
  type TenantLoginKey,
  type TenantDatabase,
} from '@tenant-app/db';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { DatabaseUnavailableError, PoolManager, PoolTimeoutError } from './index.ts';
import { startExtraCluster, superuserQuery, type ExtraCluster } from './test-clusters.ts';

interface Tenant extends ProvisionedTenant {
  databaseUrl: string | null;
  /** The key of the main database its provisioner wrote to, which signs its bindings. */
  bindingKey: TenantBindingKey;
  /** And the key its database login's password is derived from. */
  loginKey: TenantLoginKey;
}

/** What one session saw: the tenant its transaction was bound to, and the projects it could read. */
interface Visit {
  setting: string;
  projects: { tenant_id: string; name: string }[];
}

/** Rejects instead of waiting past `ms`: a hang becomes a failure with a name. */
function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}

/** Waits (bounded) until `condition` holds; returns its last value for the assertion. */
async function eventually<T>(ms: number, probe: () => Promise<T> | T, condition: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (condition(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One request of a tenant: a transaction bound to it, one read of its tables, commit. */
async function visit(pools: PoolManager, tenant: Tenant, options: { sleepMs?: number } = {}): Promise<Visit> {
  const { db, session } = pools.openSession<TenantDatabase>(sessionPlanFor(tenant, tenant.bindingKey, tenant.loginKey));
  try {
    const { rows } = await sql<{ setting: string }>`
      select current_setting('app.tenant_id') as setting, pg_sleep(${(options.sleepMs ?? 0) / 1000})`.execute(db);
    const projects = await db.selectFrom('projects').select(['tenant_id', 'name']).execute();
    await session.commit();
    return { setting: rows[0]!.setting, projects };
  } catch (error) {
    await session.rollback();
    throw error;
  }
}

/** True when the visit saw exactly its tenant: the binding and the one seeded project. */
function sawOnlyItsOwn(tenant: Tenant, seen: Visit): boolean {
  return (
    seen.setting === tenant.id &&
    seen.projects.length === 1 &&
    seen.projects[0]!.tenant_id === tenant.id &&
    seen.projects[0]!.name === `${tenant.slug} project 1`
  );
}

/**
 * How a request fails when its connection goes away: a typed error of the pool, or the error of
 * the query that was on the connection (Postgres' "terminating connection" or pg's "connection
 * terminated"). Anything else, or a hang, is a bug.
 */
function kindOf(error: unknown): string {
  if (error instanceof PoolTimeoutError) return 'POOL_TIMEOUT';
  if (error instanceof DatabaseUnavailableError) return 'DATABASE_UNAVAILABLE';
  if (error instanceof pg.DatabaseError && ['57P01', '57P03', '08006'].includes(error.code ?? '')) return `postgres ${error.code}`;
  const message = error instanceof Error ? error.message : String(error);
  if (/^Connection terminated|not queryable|ECONNREFUSED|ECONNRESET|EPIPE/.test(message)) return 'connection lost';
  return `unexpected: ${message}`;
}

async function provision(
  provisioner: TenantProvisioner,
  owner: TenantProvisioner['owner'],
  bindingKey: TenantBindingKey,
  loginKey: TenantLoginKey,
  slug: string,
  strategy: Tenant['strategy'],
): Promise<Tenant> {
  const tenant = await provisioner.createTenant({ slug, name: slug, strategy });
  await seedTenantData(provisioner, tenant, [], { projects: 1, tasksPerProject: 0, commentsPerTask: 0 });
  const row = await owner
    .selectFrom('control.tenant_databases')
    .select('connection_url')
    .where('tenant_id', '=', tenant.id)
    .executeTakeFirst();
  return { ...tenant, databaseUrl: row?.connection_url ?? null, bindingKey, loginKey };
}

describe('pg_terminate_backend on our pooled connections', () => {
  let database: TestDatabase;
  let observer: pg.Client;
  const tenants: Tenant[] = [];
  const managers: PoolManager[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    observer = new pg.Client({ connectionString: database.superuserUrl });
    await observer.connect();
    for (const [slug, strategy] of [['acme', 'shared'], ['globex', 'shared'], ['hooli', 'schema']] as const) {
      tenants.push(await provision(database.provisioner, database.owner, database.bindingKey, database.loginKey, slug, strategy));
    }
  });
  afterAll(async () => {
    await Promise.all(managers.map((pools) => pools.close()));
    await observer.end();
    await database.close();
  });

  function manager(options: Partial<ConstructorParameters<typeof PoolManager>[0]> = {}): PoolManager {
    const pools = new PoolManager({ connectionString: database.runtimeUrl, maxConnections: 4, acquireTimeoutMs: 2_000, ...options });
    managers.push(pools);
    return pools;
  }

  /** Ends every backend of ours on the test database, idle or not, and waits until they are gone. */
  async function terminateOurConnections(): Promise<number> {
    const { rows } = await observer.query<{ terminated: boolean }>(
      `select pg_terminate_backend(pid, 5000) as terminated from pg_stat_activity
        where datname = current_database() and application_name like 'tenant-app:%'`,
    );
    expect(rows.every((row) => row.terminated)).toBe(true);
    return rows.length;
  }

  async function connectionsInPostgres(): Promise<number> {
    const { rows } = await observer.query<{ count: string }>(
      "select count(*) from pg_stat_activity where datname = current_database() and application_name like 'tenant-app:%'",
    );
    return Number(rows[0]!.count);
  }

  test('idle connections are dropped, open transactions fail, and the next sessions are served as their own tenant', async () => {
    const pools = manager();
    const [acme, globex] = tenants as [Tenant, Tenant];
    // Four connections: two left idle in the pool, two held by transactions that have run a query.
    await Promise.all([visit(pools, acme), visit(pools, acme), visit(pools, globex), visit(pools, globex)]);
    const held = [acme, globex].map((tenant) => pools.openSession<TenantDatabase>(sessionPlanFor(tenant, tenant.bindingKey, tenant.loginKey)));
    for (const { db } of held) await sql`select 1`.execute(db);
    expect(pools.stats()[0]).toMatchObject({ total: 4, idle: 2, active: 2 });

    expect(await terminateOurConnections()).toBe(4);

    // The idle ones are noticed by the pool on their own, without a request running into them.
    const afterIdle = await eventually(2_000, () => pools.stats()[0]!, (stats) => stats.idleErrors === 2);
    expect(afterIdle).toMatchObject({ idleErrors: 2, idle: 0 });
    // A held transaction learns it on its next statement; it is rolled back and its connection discarded.
    for (const { db, session } of held) {
      const failed = await within(5_000, sql`select 1`.execute(db).then(() => undefined, (error: unknown) => error), 'a query on a terminated connection');
      // pg marked the connection broken when the backend went away: the query is not even sent.
      expect(kindOf(failed)).toBe('connection lost');
      await within(5_000, session.rollback(), 'rolling back on a terminated connection');
    }
    expect(pools.stats()[0]).toMatchObject({ discarded: 2, active: 0, total: 0 });

    // Fresh connections, bound to whoever asks: nothing of the terminated sessions is left.
    for (const tenant of [globex, acme, globex]) {
      const seen = await within(5_000, visit(pools, tenant), `a visit of ${tenant.slug}`);
      expect(sawOnlyItsOwn(tenant, seen)).toBe(true);
    }
    const open = await eventually(2_000, async () => [pools.hostStats()[0]!.open, await connectionsInPostgres()], ([ours, postgres]) => ours === postgres);
    expect(open[0]).toBe(open[1]);
    expect(open[0]).toBeGreaterThan(0);
  });

  test('under load, every session either sees only its own tenant or fails with a known error, none hangs, and the next ones succeed', async () => {
    const acquireTimeoutMs = 2_000;
    const statementTimeoutMs = 5_000; // the free tier's
    const pools = manager({ maxConnections: 6, defaultBudget: 6, acquireTimeoutMs });
    const outcomes: string[] = [];
    let running = true;
    let index = 0;
    const load = Array.from({ length: 12 }, async () => {
      while (running) {
        const tenant = tenants[index++ % tenants.length]!;
        const outcome = await within(
          acquireTimeoutMs + statementTimeoutMs + 1_000,
          visit(pools, tenant, { sleepMs: 10 }).then((seen) => (sawOnlyItsOwn(tenant, seen) ? 'own rows' : `leak: ${JSON.stringify(seen)}`), kindOf),
          'a session under load',
        ).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
        outcomes.push(outcome);
      }
    });
    const served = () => outcomes.filter((outcome) => outcome === 'own rows').length;
    await eventually(10_000, served, (count) => count >= 50);
    let terminated = 0;
    for (let round = 0; round < 3; round += 1) {
      terminated += await terminateOurConnections();
      const before = served();
      // Load goes on between the rounds: the pool must heal each time.
      await eventually(10_000, served, (count) => count >= before + 30);
    }
    running = false;
    await Promise.all(load);

    const tally = Object.fromEntries([...new Set(outcomes)].map((kind) => [kind, outcomes.filter((outcome) => outcome === kind).length]));
    expect(Object.keys(tally).filter((kind) => !['own rows', 'connection lost', 'postgres 57P01', 'POOL_TIMEOUT'].includes(kind))).toEqual([]);
    expect(terminated).toBeGreaterThanOrEqual(3);
    for (const tenant of tenants) expect(sawOnlyItsOwn(tenant, await within(5_000, visit(pools, tenant), 'a visit after the load'))).toBe(true);
    const [stats] = pools.stats();
    expect(stats!.discarded + stats!.idleErrors).toBeGreaterThan(0);
    expect(stats!.active).toBe(0);
    const open = await eventually(2_000, async () => [pools.hostStats()[0]!.open, await connectionsInPostgres()], ([ours, postgres]) => ours === postgres);
    expect(open[0]).toBe(open[1]);
    const { rows: stuck } = await observer.query(
      "select pid from pg_stat_activity where datname = current_database() and application_name like 'tenant-app:%' and state <> 'idle'",
    );
    expect(stuck).toEqual([]);
    console.info(`terminate under load: ${terminated} backends terminated in 3 rounds; outcomes ${JSON.stringify(tally)}`);
  });
});

describe('a Postgres stop and start under load', () => {
  let cluster: ExtraCluster;
  const tenants: Tenant[] = [];

  beforeAll(async () => {
    // A cluster of this file's own (the shared one serves the other test files), kept on disk
    // across the restart.
    cluster = await startExtraCluster({ persistent: true });
    const provisioner = new TenantProvisioner({ ownerUrl: cluster.ownerUrl });
    const bindingKey = await loadTenantBindingKey(cluster.ownerUrl);
    const loginKey = await loadTenantLoginKey(cluster.ownerUrl);
    try {
      for (const [slug, strategy] of [['alpha', 'shared'], ['bravo', 'shared'], ['charlie', 'schema'], ['delta', 'database']] as const) {
        tenants.push(await provision(provisioner, provisioner.owner, bindingKey, loginKey, slug, strategy));
      }
    } finally {
      // Its idle owner connections would die with the server, and a pg pool without an error
      // listener throws their errors.
      await provisioner.close();
    }
  });
  afterAll(async () => {
    await cluster?.remove();
  });

  test('fails requests fast with known errors while down, and the same pool manager serves every tenant again once up', async () => {
    const acquireTimeoutMs = 1_000;
    const statementTimeoutMs = 5_000; // the free tier's, set per transaction
    const bound = acquireTimeoutMs + statementTimeoutMs;
    const pools = new PoolManager({ connectionString: cluster.runtimeUrl, maxConnections: 4, defaultBudget: 8, acquireTimeoutMs });
    // A session is counted in the phase it ended in: one that ends while the server is down
    // cannot have been served; one that waited through the restart may well have been.
    type Phase = 'before' | 'stopping' | 'down' | 'restarting' | 'after';
    const outcomes: { phase: Phase; tenant: string; outcome: string; ms: number }[] = [];
    let phase: Phase = 'before';
    let running = true;
    let index = 0;
    const load = Array.from({ length: 8 }, async () => {
      while (running) {
        const tenant = tenants[index++ % tenants.length]!;
        const started = performance.now();
        const outcome = await within(
          bound + 2_000,
          visit(pools, tenant, { sleepMs: 5 }).then((seen) => (sawOnlyItsOwn(tenant, seen) ? 'own rows' : `leak: ${JSON.stringify(seen)}`), kindOf),
          'a session',
        ).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
        outcomes.push({ phase, tenant: tenant.slug, outcome, ms: performance.now() - started });
        // A refused connection fails at once: without a pause the loop would spin on it.
        if (outcome !== 'own rows') await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const servedIn = (which: Phase, slug?: string) =>
      outcomes.filter((entry) => entry.phase === which && entry.outcome === 'own rows' && (!slug || entry.tenant === slug)).length;
    try {
      await eventually(10_000, () => servedIn('before'), (count) => count >= 40);
      expect(servedIn('before')).toBeGreaterThanOrEqual(40);

      phase = 'stopping';
      await cluster.stop();
      phase = 'down';
      // A second of outage: every connection attempt in it is refused.
      const downSince = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const downFor = performance.now() - downSince;

      phase = 'restarting';
      await cluster.restart();
      phase = 'after';
      // Healing is measured from the restart: every tenant is served again, by the same manager.
      const upSince = performance.now();
      const healed = await eventually(15_000, () => tenants.map((tenant) => servedIn('after', tenant.slug)), (counts) => counts.every((count) => count >= 5));
      const healedIn = performance.now() - upSince;
      expect(healed.every((count) => count >= 5)).toBe(true);

      running = false;
      await Promise.all(load);

      const kinds = (which: Phase) => {
        const entries = outcomes.filter((entry) => entry.phase === which);
        return Object.fromEntries([...new Set(entries.map((entry) => entry.outcome))].map((kind) => [kind, entries.filter((entry) => entry.outcome === kind).length]));
      };
      const known = ['own rows', 'connection lost', 'postgres 57P01', 'postgres 57P03', 'DATABASE_UNAVAILABLE', 'POOL_TIMEOUT'];
      for (const which of ['before', 'stopping', 'down', 'restarting', 'after'] as const) {
        expect(Object.keys(kinds(which)).filter((kind) => !known.includes(kind))).toEqual([]);
      }
      expect(kinds('down')['own rows'] ?? 0).toBe(0);
      expect(kinds('down')['DATABASE_UNAVAILABLE']).toBeGreaterThan(0);
      const slowest = Math.max(...outcomes.map((entry) => entry.ms));
      expect(slowest).toBeLessThan(bound);

      for (const tenant of tenants) expect(sawOnlyItsOwn(tenant, await within(5_000, visit(pools, tenant), 'a visit after the restart'))).toBe(true);
      const activity = await superuserQuery<{ datname: string; state: string }>(
        cluster.superuserUrl(),
        "select datname, state from pg_stat_activity where application_name like 'tenant-app:%'",
      );
      expect(activity.filter((backend) => backend.state !== 'idle')).toEqual([]);
      const [host] = pools.hostStats();
      expect(host).toMatchObject({ host: cluster.host, open: activity.length, pending: 0 });
      console.info(
        `stop/start under load: down ${Math.round(downFor)} ms, every tenant served again ${Math.round(healedIn)} ms after the restart, ` +
          `slowest session ${Math.round(slowest)} ms (bound ${bound} ms); before ${JSON.stringify(kinds('before'))}, ` +
          `stopping ${JSON.stringify(kinds('stopping'))}, down ${JSON.stringify(kinds('down'))}, restarting ${JSON.stringify(kinds('restarting'))}, after ${JSON.stringify(kinds('after'))}`,
      );
    } finally {
      running = false;
      await Promise.all(load);
      await pools.close();
    }
  });
});
