import { sql, type MigrationProvider } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '@tenant-app/db/testing';
import {
  migrateAllTenants,
  seedTenantData,
  tenantMigrationStatus,
  tenantMigrations,
  tenantRoleName,
  type MigrationProgress,
  type ProvisionedTenant,
} from './index.ts';

// Dated far ahead, so that it comes after every real migration, whenever those are written.
const UNIQUE_NAMES = '2099-01-01T00-00_unique-project-names';

/** The built-in tenant migrations plus one that fails on a tenant with two projects of one name. */
const withUniqueProjectNames: MigrationProvider = {
  getMigrations: async () => ({
    ...(await tenantMigrations.getMigrations()),
    [UNIQUE_NAMES]: {
      up: async (db) => {
        await sql`create unique index projects_unique_name on projects (tenant_id, name)`.execute(db);
      },
    },
  }),
};

let database: TestDatabase;
const tenants: Record<string, ProvisionedTenant> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  const specs = [
    { slug: 'acme', strategy: 'shared' },
    { slug: 'blue', strategy: 'schema' },
    { slug: 'green', strategy: 'schema' },
    { slug: 'teal', strategy: 'schema' },
    { slug: 'red', strategy: 'database' },
  ] as const;
  for (const spec of specs) {
    const tenant = await database.provisioner.createTenant({ name: spec.slug, ...spec });
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${spec.slug}.test`, name: 'A', role: 'admin' });
    // green alone has two projects of the same name: the cause of its failure.
    const names = spec.slug === 'green' ? ['Twin', 'Twin'] : ['One', 'Two'];
    await seedTenantData(database.provisioner, tenant, [userId], { projects: 2, tasksPerProject: 1, commentsPerTask: 0 }, names);
    tenants[spec.slug] = tenant;
  }
});
afterAll(() => database.close());

async function hasUniqueNamesIndex(slug: string): Promise<boolean> {
  const tenant = tenants[slug]!;
  const [url, schema] =
    tenant.strategy === 'database'
      ? [new URL(`/${tenantRoleName(tenant.id)}`, database.superuserUrl).toString(), 'app']
      : [database.superuserUrl, tenant.strategy === 'schema' ? `t_${slug}` : 'app'];
  return withClient(url, async (client) => {
    const { rowCount } = await client.query(
      `select 1 from pg_indexes where schemaname = $1 and indexname = 'projects_unique_name'`,
      [schema],
    );
    return rowCount === 1;
  });
}

function lastRuns() {
  return database.owner
    .selectFrom('control.tenants')
    .select(['slug', 'migrated_at', 'migration_error'])
    .orderBy('slug')
    .execute();
}

test("one tenant's failing migration is reported and recorded, and leaves the others migrated", async () => {
  const before = await lastRuns();
  const events: MigrationProgress[] = [];
  const report = await migrateAllTenants({
    ownerUrl: database.ownerUrl,
    tenantMigrations: withUniqueProjectNames,
    concurrency: 2,
    onProgress: (progress) => events.push(progress),
  });

  expect(report.shared).toEqual([`app: ${UNIQUE_NAMES}`]);
  expect(report.migrated.map((tenant) => tenant.slug).sort()).toEqual(['blue', 'red', 'teal']);
  expect(report.migrated.find((tenant) => tenant.slug === 'blue')?.applied).toEqual([`t_blue: ${UNIQUE_NAMES}`]);
  expect(report.upToDate).toBe(0);
  expect(report.failed).toEqual([
    { slug: 'green', strategy: 'schema', error: expect.stringMatching(/migration 2099-01-01T00-00_unique-project-names of t_green failed: could not create unique index/) },
  ]);
  // What the CLI turns into exit status 1: some tenant failed although every other one is done.
  expect(report.failed.length).toBeGreaterThan(0);

  for (const slug of ['acme', 'blue', 'teal', 'red']) expect(await hasUniqueNamesIndex(slug), slug).toBe(true);
  expect(await hasUniqueNamesIndex('green')).toBe(false);

  const after = await lastRuns();
  const recorded = Object.fromEntries(after.map((row) => [row.slug, row]));
  expect(recorded.green!.migration_error).toBe(report.failed[0]!.error);
  // A failed tenant keeps the time it was last up to date (here: when it was provisioned).
  expect(recorded.green!.migrated_at).toEqual(before.find((row) => row.slug === 'green')!.migrated_at);
  for (const slug of ['blue', 'teal', 'red']) {
    expect(recorded[slug]!.migration_error).toBeNull();
    expect(recorded[slug]!.migrated_at!.getTime()).toBeGreaterThan(recorded.green!.migrated_at!.getTime());
  }
  expect(recorded.acme!.migrated_at).toBeNull(); // shared tenants follow the shared schema

  const final = events.at(-1)!;
  expect({ done: final.done, total: final.total, failed: final.failed }).toEqual({ done: 4, total: 4, failed: 1 });
  expect(events.filter((event) => event.state === 'running').map((event) => event.current).sort()).toEqual([
    'blue',
    'green',
    'red',
    'teal',
  ]);
  let running = 0;
  let mostAtOnce = 0;
  for (const event of events) {
    running += event.state === 'running' ? 1 : -1;
    mostAtOnce = Math.max(mostAtOnce, running);
  }
  expect(mostAtOnce).toBe(2);
});

test('the status lists the migration still pending for the failed tenant', async () => {
  const status = await tenantMigrationStatus({ ownerUrl: database.ownerUrl, tenantMigrations: withUniqueProjectNames });
  expect(status.controlPlane).toEqual([]);
  expect(status.shared).toEqual([]);
  expect(status.tenants.map(({ slug, strategy, pending }) => ({ slug, strategy, pending }))).toEqual([
    { slug: 'blue', strategy: 'schema', pending: [] },
    { slug: 'green', strategy: 'schema', pending: [UNIQUE_NAMES] },
    { slug: 'red', strategy: 'database', pending: [] },
    { slug: 'teal', strategy: 'schema', pending: [] },
  ]);
  expect(status.tenants.find((tenant) => tenant.slug === 'green')?.migrationError).toMatch(/could not create unique index/);
});

test('a run after the cause is removed completes the failed tenant and leaves the rest alone', async () => {
  await database.provisioner.writeAs(tenants.green!, (db) =>
    db.updateTable('projects').set({ name: 'Twin too' }).where('name', '=', 'Twin').where(
      'id',
      '=',
      db.selectFrom('projects').select('id').where('name', '=', 'Twin').limit(1),
    ).execute(),
  );

  const report = await migrateAllTenants({ ownerUrl: database.ownerUrl, tenantMigrations: withUniqueProjectNames });

  expect(report).toEqual({
    shared: [],
    migrated: [{ slug: 'green', strategy: 'schema', applied: [`t_green: ${UNIQUE_NAMES}`] }],
    failed: [],
    upToDate: 3,
  });
  expect(await hasUniqueNamesIndex('green')).toBe(true);
  expect((await lastRuns()).find((row) => row.slug === 'green')?.migration_error).toBeNull();
  const status = await tenantMigrationStatus({ ownerUrl: database.ownerUrl, tenantMigrations: withUniqueProjectNames });
  expect(status.tenants.every((tenant) => tenant.pending.length === 0 && tenant.migrationError === null)).toBe(true);
});

test('a concurrency below 1 is refused with the value it got', async () => {
  await expect(migrateAllTenants({ ownerUrl: database.ownerUrl, concurrency: 0 })).rejects.toThrow(
    /concurrency must be a whole number of tenants of at least 1, but got: 0/,
  );
});
