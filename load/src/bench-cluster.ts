import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import {
  ACCESS_ROLE,
  MigrationFailedError,
  migrateAllTenants,
  migrateTenantTables,
  seedTenantData,
  tenantMigrations,
  tenantSchemaName,
  TenantProvisioner,
} from '@tenant-app/db';
import { startLocalPostgres, type LocalPostgres } from './local-postgres.ts';
import { planTenants, type Profile, type TenantDataShape } from './profile.ts';
import type { SeededTenant } from './seed-format.ts';
import { readSeed, seedTenants, type SeedReport } from './seeding.ts';

/** The nested read's data: 10 projects × 10 tasks × 2 comments, ~310 rows and ~40 KB a response. */
export const NESTED_DATA: TenantDataShape = { projects: 10, tasksPerProject: 10, commentsPerTask: 2 };
const SMALL_DATA: TenantDataShape = { projects: 2, tasksPerProject: 3, commentsPerTask: 1 };
const NO_DATA: TenantDataShape = { projects: 0, tasksPerProject: 0, commentsPerTask: 0 };

interface BenchGroup {
  tenants: Pick<Profile['tenants'], 'count' | 'mix' | 'tier'>;
  data: TenantDataShape;
}

/** The tenants the benchmark measures, by group. */
function benchGroups(manyTenants: number) {
  return {
    /** Items 1–4: ten tenants per strategy with the nested read's data. */
    'bench-shared': { tenants: { count: 10, mix: { shared: 1 }, tier: 'standard' }, data: NESTED_DATA },
    'bench-schema': { tenants: { count: 10, mix: { schema: 1 }, tier: 'standard' }, data: NESTED_DATA },
    'bench-db': { tenants: { count: 10, mix: { database: 1 }, tier: 'standard' }, data: NESTED_DATA },
    /** Item 1's baseline: shared tenants whose sessions the benchmark server runs with tenancy off (server-process.ts). */
    'bench-off': { tenants: { count: 10, mix: { shared: 1 }, tier: 'standard' }, data: NO_DATA },
    /** Item 5 (and 6's eviction): schema and database tenants, far more than the connection budget. */
    many: { tenants: { count: manyTenants, mix: { schema: 0.9, database: 0.1 }, tier: 'standard' }, data: SMALL_DATA },
    /** Item 7: registered tenants, no data. */
    idle: { tenants: { count: 10_000, mix: { shared: 1 }, tier: 'free' }, data: NO_DATA },
  } satisfies Record<string, BenchGroup>;
}

export type BenchGroupName = keyof ReturnType<typeof benchGroups>;

export interface BenchCluster {
  postgres: LocalPostgres;
  tenants: Record<BenchGroupName, SeededTenant[]>;
  platformKey: string;
  /** What seeding did this run (nothing but reuse once the cluster exists). */
  seeding: Record<BenchGroupName, SeedReport>;
  /** The schema that tenancy-off sessions read. */
  tenancyOffSchema: string;
}

/**
 * Kept between runs: creating two thousand schema and database tenants takes many minutes here
 * (each is a schema or database migrated by the provisioner), measuring them takes a few. The
 * folder is under the system temp folder (reachable by the `postgres` user when we are root), on a
 * fixed port because database tenants' connection URLs hold it.
 */
export const BENCH_CLUSTER_DIR = path.join(os.tmpdir(), 'tenant-app-bench');
export const BENCH_CLUSTER_PORT = 54331;

export async function openBenchCluster(options: {
  fresh: boolean;
  manyTenants: number;
  dataDir: string;
  port: number;
  onProgress?: (group: string, done: number, total: number) => void;
}): Promise<BenchCluster> {
  if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
  let postgres: LocalPostgres;
  try {
    postgres = await startLocalPostgres({ dataDir: options.dataDir, port: options.port });
  } catch (error) {
    if (!(error instanceof MigrationFailedError)) throw error;
    throw new Error(
      `the benchmark cluster in ${options.dataDir} was made with migrations that no longer match the code ` +
        `(${error.message}): run \`npm run bench -- --fresh\` to make it again`,
      { cause: error },
    );
  }
  try {
    await migrateKeptTenants(postgres.ownerUrl, options.dataDir, options.onProgress);
    const groups = benchGroups(options.manyTenants);
    const tenants = {} as BenchCluster['tenants'];
    const seeding = {} as BenchCluster['seeding'];
    let platformKey: string | undefined;
    for (const [name, group] of Object.entries(groups) as [BenchGroupName, BenchGroup][]) {
      const file = path.join(options.dataDir, `seed-${name}.jsonl`);
      seeding[name] = await seedTenants({
        ownerUrl: postgres.ownerUrl,
        tenants: planTenants(name, group.tenants),
        data: group.data,
        file,
        onProgress: (done, total) => options.onProgress?.(name, done, total),
      });
      const seeded = readSeed(file);
      tenants[name] = seeded.tenants.slice(0, group.tenants.count);
      platformKey ??= seeded.platformKey;
    }
    return { postgres, tenants, platformKey: platformKey!, seeding, tenancyOffSchema: await prepareTenancyOff(postgres.ownerUrl) };
  } catch (error) {
    await postgres.stop();
    throw error;
  }
}

/**
 * A kept cluster's schema and database tenants were made with the tenant migrations of their day:
 * bring them to the code's, once per change of the migration list (a no-op run over 2,000
 * tenants still takes a minute or two), so that every strategy is measured as it now runs.
 */
async function migrateKeptTenants(
  ownerUrl: string,
  dataDir: string,
  onProgress: ((group: string, done: number, total: number) => void) | undefined,
): Promise<void> {
  const marker = path.join(dataDir, 'tenant-migrations.json');
  const current = JSON.stringify(Object.keys(await tenantMigrations.getMigrations()).sort());
  if (existsSync(marker) && readFileSync(marker, 'utf8') === current) return;
  const report = await migrateAllTenants({
    ownerUrl,
    concurrency: 4,
    onProgress: ({ done, total }) => onProgress?.('migrating kept tenants', done, total),
  });
  if (report.failed.length > 0) {
    throw new Error(`${report.failed.length} tenants of the benchmark cluster failed to migrate (first: ${report.failed[0]!.error}): run with --fresh`);
  }
  writeFileSync(marker, current);
}

const TENANT_TABLES = ['users', 'projects', 'tasks', 'comments'] as const;

/**
 * The tables that tenancy-off sessions read (see `tenancyOffPlan` in server-process.ts): the
 * tenant tables, migrated as for any tenant, then with row-level security disabled, holding the
 * nested read's data for a single tenant. Made again each run, so it always matches the migrations.
 */
async function prepareTenancyOff(ownerUrl: string): Promise<string> {
  const slug = 'tenancy-off';
  const schema = tenantSchemaName(slug);
  const provisioner = new TenantProvisioner({ ownerUrl });
  try {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(provisioner.owner);
    await migrateTenantTables(ownerUrl, schema, ACCESS_ROLE);
    for (const table of TENANT_TABLES) {
      await sql`alter table ${sql.id(schema, table)} no force row level security, disable row level security`.execute(provisioner.owner);
    }
    // Written through the provisioner as a schema tenant's rows would be: it writes into t_<slug>.
    const tenant = { id: randomUUID(), slug, name: slug, strategy: 'schema' as const, ownRole: false, tier: 'standard' };
    const userId = randomUUID();
    await provisioner.writeAs(tenant, (db) =>
      db.insertInto('users').values({ tenant_id: tenant.id, id: userId, email: `admin@${slug}.load.test`, name: `${slug} admin` }).execute(),
    );
    await seedTenantData(provisioner, tenant, [userId], NESTED_DATA);
  } finally {
    await provisioner.close();
  }
  return schema;
}
