import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sessionPlanFor } from '@tenant-app/db';
import { withTemporaryObjectsAllowed } from '@tenant-app/db/testing';
import { createTestApi, provisionTenant, type TestApi, type TestTenant } from './support.ts';

/**
 * SQL injected into a request runs as the runtime login inside the tenant's bound transaction, and
 * may set session-level state (a plain SET, `set_config(..., false)`, a temporary object) that
 * outlives COMMIT on its pooled connection. With one connection, the next request — another
 * tenant's, and the control-plane lookups before it — gets that very connection.
 */

let t: TestApi;
let acme: TestTenant;
let globex: TestTenant;
let observer: pg.Client;

beforeAll(async () => {
  t = await createTestApi({ maxConnections: 1 });
  acme = await provisionTenant(t.database.provisioner, 'acme', { projects: 3, tasksPerProject: 1, commentsPerTask: 0 });
  globex = await provisionTenant(t.database.provisioner, 'globex', { projects: 2, tasksPerProject: 1, commentsPerTask: 0 });
  observer = new pg.Client({ connectionString: t.database.superuserUrl });
  await observer.connect();
});
afterAll(async () => {
  await observer.end();
  await t.close();
});


test("settings and temporary objects acme's injected SQL leaves on the connection do not reach globex or the key lookups", async () => {
  const plan = sessionPlanFor({ ...acme, tier: 'free', ownRole: false, databaseUrl: null }, t.database.bindingKey);
  const { session } = t.pools.openSession({ tenantId: acme.id, binding: plan.binding, schema: plan.schema });
  const pid = (await session.query('select pg_backend_pid() as pid', [])).rows[0] as { pid: number };
  const injected = [
    'set default_transaction_read_only = on',
    'set row_security = off',
    'set search_path = pg_temp, app',
    "select set_config('app.tenant_id', '" + acme.id + "', false)",
    "set work_mem = '64kB'",
    // A domain that shadows the type of the loaders' `$1::uuid[]` and refuses every value. The
    // runtime login may not create temporary objects; this tests the defence behind that.
    'create domain pg_temp.uuid as pg_catalog.uuid check (false)',
    // Last: it applies at once, to the injected statements too.
    'set statement_timeout = 1',
  ];
  await withTemporaryObjectsAllowed(t.database, async () => {
    for (const statement of injected) {
      await session.query(statement, []).catch(async (error) => {
        await session.rollback();
        throw error;
      });
    }
    await session.commit();
  });

  // The settings are still on the connection, outside any transaction.
  const { rows: left } = await observer.query(
    "select state from pg_stat_activity where pid = $1 and application_name = 'tenant-app:shared'",
    [pid.pid],
  );
  expect(left).toEqual([{ state: 'idle' }]);

  // While the key table is locked for a moment, the key lookup waits: under the 1 ms statement
  // timeout left behind it would be cancelled instead.
  const locker = new pg.Client({ connectionString: t.database.superuserUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table control.api_keys in access exclusive mode');
    const pending = t.graphql(globex, '{ tenant { slug } projects(first: 100) { edges { node { id tasks(first: 10) { id } } } } }');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await locker.query('commit');
    const response = await pending;
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.tenant.slug).toBe('globex');
    expect(response.body.data?.projects.edges).toHaveLength(2);
  } finally {
    await locker.end();
  }

  // Writes work (no read-only default), and land in globex only.
  const created = await t.graphql(globex, 'mutation { createProject(name: "after acme") { id } }');
  expect(created.body.errors).toBeUndefined();
  const after = await t.graphql(globex, '{ projects(first: 100) { edges { node { name } } } }');
  expect(after.body.data?.projects.edges).toHaveLength(3);
  const acmeView = await t.graphql(acme, '{ projects(first: 100) { edges { node { name } } } }');
  expect(acmeView.body.data?.projects.edges.map((edge: { node: { name: string } }) => edge.node.name)).not.toContain('after acme');
  expect(t.pools.stats()[0]).toMatchObject({ total: 1 });
});
