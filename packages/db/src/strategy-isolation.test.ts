import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { seedTenantData, sessionPlanFor, tenantRoleName, type ProvisionedTenant } from './index.ts';

let database: TestDatabase;
const tenants: Record<string, ProvisionedTenant & { databaseUrl: string | null }> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  const specs = [
    { slug: 'blue', strategy: 'schema' },
    { slug: 'green', strategy: 'schema' },
    { slug: 'red', strategy: 'database' },
    { slug: 'amber', strategy: 'database' },
    { slug: 'plain', strategy: 'shared', ownRole: true },
  ] as const;
  for (const spec of specs) {
    const tenant = await database.provisioner.createTenant({ name: spec.slug, ...spec });
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${spec.slug}.test`, name: 'A', role: 'admin' });
    await seedTenantData(database.provisioner, tenant, [userId], { projects: 2, tasksPerProject: 1, commentsPerTask: 1 });
    const row = await database.owner
      .selectFrom('control.tenant_databases')
      .select('connection_url')
      .where('tenant_id', '=', tenant.id)
      .executeTakeFirst();
    tenants[spec.slug] = { ...tenant, databaseUrl: row?.connection_url ?? null };
  }
});
afterAll(() => database.close());

/** Runs statements in one transaction bound to `slug` exactly as a request would be, as the runtime login. */
async function asTenant<T>(slug: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const tenant = tenants[slug]!;
  const plan = sessionPlanFor({ ...tenant, databaseUrl: tenant.databaseUrl }, database.bindingKey, database.loginKey);
  const client = new pg.Client({ connectionString: plan.target?.connectionString ?? database.runtimeUrl });
  await client.connect();
  try {
    await client.query('begin');
    for (const statement of plan.binding) await client.query(statement.text, [...statement.values]);
    return await work(client);
  } finally {
    await client.query('rollback').catch(() => undefined);
    await client.end();
  }
}

describe('schema tenants', () => {
  test('a request runs as the tenant role, and even unqualified SQL reads its own schema', async () => {
    const { rows } = await asTenant('blue', (client) =>
      client.query('select current_user as role, (select count(*) from projects)::int as projects, (select count(*) from t_blue.projects)::int as qualified'),
    );
    expect(rows[0]).toEqual({ role: tenantRoleName(tenants.blue!.id), projects: 2, qualified: 2 });
  });

  test("explicit SQL cannot reach another tenant's schema", async () => {
    await expect(asTenant('blue', (client) => client.query('select * from t_green.projects'))).rejects.toThrow(
      /permission denied for schema t_green/,
    );
  });

  test('the runtime login without a binding reaches no tenant schema', async () => {
    const client = new pg.Client({ connectionString: database.runtimeUrl });
    await client.connect();
    try {
      await expect(client.query('select * from t_blue.projects')).rejects.toThrow(/permission denied for schema t_blue/);
    } finally {
      await client.end();
    }
  });
});

describe('database tenants', () => {
  test('read their own database', async () => {
    const { rows } = await asTenant('red', (client) => client.query('select count(*)::int as projects from app.projects'));
    expect(rows[0]).toEqual({ projects: 2 });
  });

  test("a tenant's credentials cannot connect to another tenant's database", async () => {
    const intruder = new URL(database.loginKey.connectionUrl(tenants.red!.id, tenants.red!.databaseUrl!));
    intruder.pathname = new URL(tenants.amber!.databaseUrl!).pathname;
    const client = new pg.Client({ connectionString: intruder.toString() });
    await expect(client.connect()).rejects.toThrow(/permission denied for database/);
  });

  test('the shared runtime login cannot connect to a tenant database', async () => {
    const runtime = new URL(database.runtimeUrl);
    runtime.pathname = new URL(tenants.red!.databaseUrl!).pathname;
    const client = new pg.Client({ connectionString: runtime.toString() });
    await expect(client.connect()).rejects.toThrow(/permission denied for database/);
  });
});

describe('the role option on a shared tenant', () => {
  test('runs the transaction as the tenant role, still under RLS', async () => {
    const { rows } = await asTenant('plain', (client) =>
      client.query('select current_user as role, count(*)::int as projects, count(distinct tenant_id)::int as tenants from app.projects'),
    );
    expect(rows[0]).toEqual({ role: tenantRoleName(tenants.plain!.id), projects: 2, tenants: 1 });
  });

  test('the role is gone when the transaction ends', async () => {
    const client = new pg.Client({ connectionString: database.runtimeUrl });
    await client.connect();
    try {
      const plan = sessionPlanFor({ ...tenants.plain!, databaseUrl: null }, database.bindingKey);
      await client.query('begin');
      await client.query(plan.binding[0]!.text, [...plan.binding[0]!.values]);
      await client.query('commit');
      const { rows } = await client.query("select current_user as role, current_setting('app.tenant_id', true) as tenant");
      expect(rows[0]).toEqual({ role: 'tenant_app_api', tenant: '' });
    } finally {
      await client.end();
    }
  });
});

test('a tenant whose provisioning failed is marked failed, and provisioning it again completes it', async () => {
  await expect(
    database.provisioner.createTenant({ slug: 'faraway', name: 'faraway', strategy: 'database', host: 'nowhere' }),
  ).rejects.toThrow(/no Postgres host named "nowhere"/);
  expect(await database.owner.selectFrom('control.tenants').select('id').where('slug', '=', 'faraway').execute()).toEqual([]);

  const observer = new pg.Client({ connectionString: database.superuserUrl });
  await observer.connect();
  // Make the schema step fail: a foreign object holds the schema's name.
  await observer.query('create schema t_late');
  await observer.query('create table t_late.projects (id int)');
  await expect(database.provisioner.createTenant({ slug: 'late', name: 'late', strategy: 'schema' })).rejects.toThrow(
    /provisioning tenant late failed/,
  );
  const failed = await database.owner
    .selectFrom('control.tenants')
    .select(['status', 'provisioning_error'])
    .where('slug', '=', 'late')
    .executeTakeFirstOrThrow();
  expect(failed.status).toBe('failed');
  expect(failed.provisioning_error).toMatch(/t_late/);
  await observer.query('drop schema t_late cascade');
  await observer.end();
  const late = await database.provisioner.createTenant({ slug: 'late', name: 'late', strategy: 'schema' });
  const status = await database.owner.selectFrom('control.tenants').select('status').where('id', '=', late.id).executeTakeFirstOrThrow();
  expect(status.status).toBe('active');
});
