import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import {
  seedTenantData,
  sharedTenantBinding,
  SHARED_SCHEMA,
  type TenantDatabase,
} from '@tenant-app/db';
import { createTestDatabase, startRoundTripProxy, type TestDatabase } from '@tenant-app/db/testing';
import { PoolManager, PoolTimeoutError, SessionClosedError, TransactionRolledBackError } from './index.ts';

let database: TestDatabase;
const tenants: Record<'acme' | 'globex', { id: string; userId: string }> = {} as never;
const managers: PoolManager[] = [];

function manager(options: Partial<ConstructorParameters<typeof PoolManager>[0]> = {}): PoolManager {
  const created = new PoolManager({ connectionString: database.runtimeUrl, maxConnections: 1, ...options });
  managers.push(created);
  return created;
}

function open(pools: PoolManager, tenant: 'acme' | 'globex') {
  return pools.openSession<TenantDatabase>({
    tenantId: tenants[tenant].id,
    binding: sharedTenantBinding(tenants[tenant].id, database.bindingKey),
    schema: SHARED_SCHEMA,
  });
}

/** The names of the projects a session sees; the session is committed. */
async function projectNames({ db, session }: ReturnType<typeof open>): Promise<string[]> {
  const names = (await db.selectFrom('projects').select('name').execute()).map((row) => row.name);
  await session.commit();
  return names;
}

beforeAll(async () => {
  database = await createTestDatabase();
  for (const slug of ['acme', 'globex'] as const) {
    const tenant = await database.provisioner.createTenant({ slug, name: slug });
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${slug}.test`, name: 'A', role: 'admin' });
    await seedTenantData(database.provisioner, tenant, [userId], { projects: slug === 'acme' ? 3 : 2, tasksPerProject: 1, commentsPerTask: 0 });
    tenants[slug] = { id: tenant.id, userId };
  }
});

afterAll(async () => {
  await Promise.all(managers.map((pools) => pools.close()));
  await database.close();
});

describe('the control plane (unbound statements)', () => {
  test('runs each statement after the session reset, in a transaction of its own, and one statement per text', async () => {
    const pools = manager();
    // SQL injected into a tenant's transaction leaves a session-level setting on the one connection.
    const { db, session } = open(pools, 'acme');
    await sql`select set_config('statement_timeout', '1', false), set_config('app.left_behind', 'yes', false)`.execute(db);
    await session.commit();

    // 10 ms asleep: under the leftover timeout of 1 ms the statement would be cancelled.
    const { rows } = await sql<{ left: string | null }>`select current_setting('app.left_behind', true) as left, pg_sleep(0.01)`.execute(
      pools.unbound(),
    );
    expect(rows).toEqual([{ left: '', pg_sleep: '' }]);

    await expect(sql.raw(`select 1; insert into ${SHARED_SCHEMA}.projects (tenant_id, name) values ('${tenants.globex.id}', 'smuggled')`).execute(pools.unbound())).rejects.toThrow(/multiple commands/);
    await expect(sql`select 1 / 0`.execute(pools.unbound())).rejects.toThrow(/division by zero/);
    await expect(pools.unbound().transaction().execute(async () => undefined)).rejects.toThrow(/transaction of its own/);
    expect((await sql<{ one: number }>`select 1 as one`.execute(pools.unbound())).rows).toEqual([{ one: 1 }]);
    expect(await projectNames(open(pools, 'globex'))).not.toContain('smuggled');
    expect(pools.stats()[0]).toMatchObject({ discarded: 0, active: 0, total: 1 });
  });
});

describe('a tenant session', () => {
  test('sees only the rows of its own tenant', async () => {
    const pools = manager();
    for (const [slug, count] of [['acme', 3], ['globex', 2]] as const) {
      const { db, session } = open(pools, slug);
      const projects = await db.selectFrom('projects').select(['tenant_id', 'name']).execute();
      await session.commit();
      expect(projects).toHaveLength(count);
      expect(new Set(projects.map((project) => project.tenant_id))).toEqual(new Set([tenants[slug].id]));
    }
  });

  test('sends BEGIN, the session reset, the binding and the first query in one round trip', async () => {
    for (const [pipeline, expected] of [[true, 2], [false, 5]] as const) {
      const proxy = await startRoundTripProxy(database.runtimeUrl, { latencyMs: 10 });
      const pools = manager({ connectionString: proxy.url, pipeline });
      await pools.unbound().selectNoFrom(sql<number>`1`.as('warm')).execute();
      proxy.reset();
      const { db, session } = open(pools, 'acme');
      expect(proxy.turns()).toBe(0);
      await db.selectFrom('projects').selectAll().execute();
      await session.commit();
      // pipelined: [BEGIN + RESET ALL + binding + query] and [COMMIT]; otherwise each waits for the one before.
      expect(proxy.turns()).toBe(expected);
      await proxy.close();
    }
  });

  test('reports a COMMIT that Postgres turned into a rollback, and writes nothing', async () => {
    const pools = manager();
    const { db, session } = open(pools, 'acme');
    await db.insertInto('projects').values({ tenant_id: tenants.acme.id, name: 'never committed' }).execute();
    await expect(db.insertInto('projects').values({ tenant_id: tenants.acme.id, name: '' }).execute()).rejects.toThrow(
      /check constraint/,
    );
    await expect(session.commit()).rejects.toBeInstanceOf(TransactionRolledBackError);
    const check = open(pools, 'acme');
    const names = await check.db.selectFrom('projects').select('name').execute();
    await check.session.commit();
    expect(names.map((row) => row.name)).not.toContain('never committed');
  });

  test('leaves no tenant state on the connection after a failed transaction', async () => {
    const pools = manager();
    const failed = open(pools, 'acme');
    const { rows: before } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(failed.db);
    await expect(sql`select 1 / 0`.execute(failed.db)).rejects.toThrow(/division by zero/);
    await failed.session.rollback();
    const observer = new pg.Client({ connectionString: database.superuserUrl });
    await observer.connect();
    const { rows: activity } = await observer.query('select state from pg_stat_activity where pid = $1', [before[0]!.pid]);
    await observer.end();
    expect(activity[0]?.state).toBe('idle');

    const next = open(pools, 'globex');
    const { rows } = await sql<{ pid: number; setting: string }>`
      select pg_backend_pid() as pid, current_setting('app.tenant_id') as setting`.execute(next.db);
    const projects = await next.db.selectFrom('projects').select('tenant_id').execute();
    await next.session.commit();
    expect(rows[0]!.pid).toBe(before[0]!.pid);
    expect(rows[0]!.setting).toBe(tenants.globex.id);
    expect(projects.every((project) => project.tenant_id === tenants.globex.id)).toBe(true);

    const { rows: outside } = await sql<{ setting: string }>`select current_setting('app.tenant_id', true) as setting`.execute(
      pools.unbound(),
    );
    expect(outside[0]!.setting).toBe('');
  });

  test('turns a nested transaction into a savepoint of the request transaction', async () => {
    const pools = manager();
    const { db, session } = open(pools, 'acme');
    await db.insertInto('projects').values({ tenant_id: tenants.acme.id, name: 'kept' }).execute();
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('projects').values({ tenant_id: tenants.acme.id, name: 'undone' }).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await session.commit();
    const check = open(pools, 'acme');
    const names = (await check.db.selectFrom('projects').select('name').execute()).map((row) => row.name);
    await check.session.commit();
    expect(names).toContain('kept');
    expect(names).not.toContain('undone');
  });

  test('runs one statement per query: SQL text that would COMMIT and go on unbound is refused, and nothing of it runs', async () => {
    const pools = manager();
    const { db, session } = open(pools, 'acme');
    const injected = sql.raw(`select 1; commit; insert into ${SHARED_SCHEMA}.projects (tenant_id, name) values ('${tenants.globex.id}', 'smuggled')`);
    await expect(injected.execute(db)).rejects.toThrow(/multiple commands/);
    await expect(session.commit()).rejects.toBeInstanceOf(TransactionRolledBackError);
    const names = await projectNames(open(pools, 'globex'));
    expect(names).not.toContain('smuggled');
    expect(names).toHaveLength(2);
  });

  test('refuses queries once it has ended', async () => {
    const pools = manager();
    const { db, session } = open(pools, 'acme');
    await db.selectFrom('projects').selectAll().execute();
    await session.commit();
    await expect(db.selectFrom('projects').selectAll().execute()).rejects.toBeInstanceOf(SessionClosedError);
  });

  test('rolls back when aborted, also with a query in flight, and frees the connection', async () => {
    const pools = manager();
    const { db, session } = open(pools, 'acme');
    await db.insertInto('projects').values({ tenant_id: tenants.acme.id, name: 'aborted' }).execute();
    const slow = sql`select pg_sleep(0.2)`.execute(db);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await session.abort();
    await slow;
    expect(session.state).toBe('aborted');
    const check = open(pools, 'acme');
    const names = (await check.db.selectFrom('projects').select('name').execute()).map((row) => row.name);
    await check.session.commit();
    expect(names).not.toContain('aborted');
    expect(pools.stats()[0]).toMatchObject({ discarded: 0, active: 0 });
  });

  test('fails with POOL_TIMEOUT when no connection frees up in time', async () => {
    const pools = manager({ acquireTimeoutMs: 200 });
    const holder = open(pools, 'acme');
    await holder.db.selectFrom('projects').selectAll().execute();
    const waiter = open(pools, 'globex');
    const error = await waiter.db.selectFrom('projects').selectAll().execute().catch((caught: unknown) => caught);
    await holder.session.commit();
    expect(error).toBeInstanceOf(PoolTimeoutError);
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT', poolName: 'shared' });
    expect(pools.stats()[0]).toMatchObject({ timeouts: 1, acquired: 1 });
  });
});

describe('prepared statements', () => {
  function openPrepared(pools: PoolManager, tenant: 'acme' | 'globex') {
    return pools.openSession<TenantDatabase>({
      tenantId: tenants[tenant].id,
      binding: sharedTenantBinding(tenants[tenant].id, database.bindingKey),
      schema: SHARED_SCHEMA,
      preparedStatements: true,
    });
  }

  /** Statements of the (one) connection, seen from a session that prepares nothing. */
  async function preparedOnConnection(pools: PoolManager): Promise<{ fromProtocol: number; pid: number }> {
    const { db, session } = open(pools, 'acme');
    const { rows } = await sql<{ fromProtocol: number; pid: number }>`
      select count(*) filter (where not from_sql)::int as "fromProtocol", pg_backend_pid() as pid from pg_prepared_statements`.execute(db);
    await session.commit();
    return rows[0]!;
  }

  test('a session that asks for it prepares each statement once per connection, and sees only its own rows', async () => {
    const pools = manager();
    for (const tenant of ['acme', 'globex', 'acme'] as const) {
      const { db, session } = openPrepared(pools, tenant);
      const projects = await db.selectFrom('projects').select('tenant_id').execute();
      await session.commit();
      expect(new Set(projects.map((project) => project.tenant_id))).toEqual(new Set([tenants[tenant].id]));
    }
    // Two texts (the binding's and the query's), prepared once, used by both tenants; the
    // unprepared session adds nothing.
    expect((await preparedOnConnection(pools)).fromProtocol).toBe(2);
  });

  test('nothing is prepared when the pool manager turns them off, whatever the session asks', async () => {
    const pools = manager({ preparedStatements: false });
    const { db, session } = openPrepared(pools, 'acme');
    await db.selectFrom('projects').selectAll().execute();
    await session.commit();
    expect((await preparedOnConnection(pools)).fromProtocol).toBe(0);
  });

  test('a statement that SQL prepared on the connection fails the next transaction before its query runs, and the connection is closed', async () => {
    const pools = manager();
    await projectNames(openPrepared(pools, 'acme'));
    const { pid } = await preparedOnConnection(pools);
    // What injected SQL could do: put its own text under the name of one of ours.
    const injected = open(pools, 'acme');
    const [ours] = (await sql<{ name: string }>`select name from pg_prepared_statements where not from_sql`.execute(injected.db)).rows;
    await sql.raw(`deallocate "${ours!.name}"`).execute(injected.db);
    await sql.raw(`prepare "${ours!.name}" as insert into ${SHARED_SCHEMA}.projects (tenant_id, name) values (current_setting('app.tenant_id')::uuid, 'planted') returning name`).execute(injected.db);
    await injected.session.commit();

    const victim = openPrepared(pools, 'globex');
    await expect(victim.db.selectFrom('projects').select('name').execute()).rejects.toThrow(/statements prepared by SQL on this connection/);
    await victim.session.rollback();
    const after = await preparedOnConnection(pools);
    expect(after.pid).not.toBe(pid);
    const names = await projectNames(openPrepared(pools, 'globex'));
    expect(names).not.toContain('planted');
    expect(names).toHaveLength(2);
  });

  test('a binding statement that SQL replaced never runs: the check for statements prepared by SQL comes first', async () => {
    const pools = manager();
    await projectNames(openPrepared(pools, 'acme'));
    const lockKey = 4242_4242;
    // A session-level advisory lock outlives the rollback of the transaction that took it: proof
    // that the replacement ran, whatever became of the transaction.
    const injected = open(pools, 'acme');
    const [binding] = (
      await sql<{ name: string }>`select name from pg_prepared_statements where not from_sql and statement like 'select set_config(%'`.execute(injected.db)
    ).rows;
    await sql.raw(`deallocate "${binding!.name}"`).execute(injected.db);
    await sql.raw(`prepare "${binding!.name}"(text, text, text, text) as select pg_advisory_lock(${lockKey}), $1, $2, $3, $4`).execute(injected.db);
    await injected.session.commit();

    const victim = openPrepared(pools, 'globex');
    await expect(victim.db.selectFrom('projects').select('name').execute()).rejects.toThrow(/statements prepared by SQL on this connection/);
    // Looked at while the victim still holds its connection: closing it would drop the lock.
    const { rows } = await sql<{ held: number }>`select count(*)::int as held from pg_locks where locktype = 'advisory' and objid = ${lockKey}`.execute(
      database.owner,
    );
    await victim.session.rollback();
    expect(rows[0]!.held).toBe(0);
  });

  test('a statement of ours that SQL deallocated fails its query, and the connection is closed rather than failing every later one', async () => {
    const pools = manager();
    await projectNames(openPrepared(pools, 'acme'));
    const { pid } = await preparedOnConnection(pools);
    const injected = open(pools, 'acme');
    await sql.raw('deallocate all').execute(injected.db);
    await injected.session.commit();

    const failed = openPrepared(pools, 'globex');
    await expect(failed.db.selectFrom('projects').select('name').execute()).rejects.toMatchObject({ code: '26000' });
    await failed.session.rollback();
    expect((await preparedOnConnection(pools)).pid).not.toBe(pid);
    const next = openPrepared(pools, 'globex');
    expect(await next.db.selectFrom('projects').select('name').execute()).toHaveLength(2);
    await next.session.commit();
  });
});
