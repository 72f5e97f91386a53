import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { seedTenantData, tenantRoleName, type NewTenant, type ProvisionedTenant } from './index.ts';

let database: TestDatabase;
let superuser: pg.Client;
const tenants: Record<string, ProvisionedTenant> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  superuser = new pg.Client({ connectionString: database.superuserUrl });
  await superuser.connect();
  const specs: NewTenant[] = [
    { slug: 'keep', name: 'keep', strategy: 'shared' },
    { slug: 'gone', name: 'gone', strategy: 'shared', ownRole: true },
    { slug: 'slate', name: 'slate', strategy: 'schema' },
    { slug: 'vault', name: 'vault', strategy: 'database' },
  ];
  for (const spec of specs) {
    const tenant = await database.provisioner.createTenant(spec);
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${spec.slug}.test`, name: 'A', role: 'admin' });
    await database.provisioner.issueApiKey({ tenantId: tenant.id, userId, role: 'admin' });
    await seedTenantData(database.provisioner, tenant, [userId], { projects: 2, tasksPerProject: 2, commentsPerTask: 1 });
    tenants[spec.slug] = tenant;
  }
});
afterAll(async () => {
  await superuser.end();
  await database.close();
});

async function count(query: string, values: unknown[] = []): Promise<number> {
  const { rows } = await superuser.query<{ n: number }>(`select count(*)::int as n from (${query}) as found`, values);
  return rows[0]!.n;
}

test('deleting a tenant of each strategy removes its rows, schema, database, roles and control rows, and nothing of the others', async () => {
  // An idle session on the tenant's database, as the API's pool keeps one: deleting ends it.
  const { connection_url } = await database.owner
    .selectFrom('control.tenant_databases')
    .select('connection_url')
    .where('tenant_id', '=', tenants.vault!.id)
    .executeTakeFirstOrThrow();
  const pooled = new pg.Client({ connectionString: database.loginKey.connectionUrl(tenants.vault!.id, connection_url) });
  pooled.on('error', () => {});
  await pooled.connect();

  for (const slug of ['gone', 'slate', 'vault']) expect(await database.provisioner.deleteTenant(slug), slug).toBe(true);

  const deleted = ['gone', 'slate', 'vault'].map((slug) => tenants[slug]!.id);
  for (const table of ['tenants', 'memberships', 'api_keys', 'tenant_databases']) {
    const column = table === 'tenants' ? 'id' : 'tenant_id';
    expect(await count(`select 1 from control.${table} where ${column} = any($1::uuid[])`, [deleted]), table).toBe(0);
  }
  for (const table of ['users', 'projects', 'tasks', 'comments']) {
    expect(await count(`select 1 from app.${table} where tenant_id = $1`, [tenants.gone!.id]), table).toBe(0);
    expect(await count(`select 1 from app.${table} where tenant_id = $1`, [tenants.keep!.id]), table).toBeGreaterThan(0);
  }
  expect(await count(`select 1 from pg_namespace where nspname = 't_slate'`)).toBe(0);
  expect(await count(`select 1 from pg_database where datname = $1`, [tenantRoleName(tenants.vault!.id)])).toBe(0);
  expect(await count(`select 1 from pg_roles where rolname = any($1)`, [deleted.map(tenantRoleName)])).toBe(0);
  expect((await database.provisioner.listTenants()).map((tenant) => tenant.slug)).toEqual(['keep']);
});

test('deleting is idempotent: a tenant already gone is nothing to delete', async () => {
  expect(await database.provisioner.deleteTenant('slate')).toBe(false);
  expect(await database.provisioner.deleteTenant('never-was')).toBe(false);
});
