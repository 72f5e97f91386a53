import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type MigrationResult } from 'kysely';
import pg from 'pg';
import { controlMigrations, tenantMigrations } from './migrations/index.ts';
import { ACCESS_ROLE, SHARED_SCHEMA } from './roles.ts';
import { MigrationFailedError } from './errors.ts';

export interface MigrationReport {
  /** Migrations applied by this run, in order, as `target: name`. */
  applied: string[];
}

/**
 * Brings the control plane and the shared tenant tables of one database up to date. Runs as the
 * owner role (the login of `ownerUrl` owns what it creates); the runtime role only gets grants.
 */
export async function migrateToLatest(ownerUrl: string): Promise<MigrationReport> {
  const applied: string[] = [];
  applied.push(...(await migrateTarget(ownerUrl, 'control', controlMigrations)));
  applied.push(...(await migrateTenantTables(ownerUrl, SHARED_SCHEMA, ACCESS_ROLE)));
  return { applied };
}

/**
 * Creates (if needed) a schema for tenant tables that only `reader` may use, and brings its tables
 * up to date: the shared schema, a `schema` tenant's own schema, or the tables inside a `database`
 * tenant's own database. Returns the migrations it applied.
 */
export async function migrateTenantTables(ownerUrl: string, schema: string, reader: string): Promise<string[]> {
  await withOwner(ownerUrl, undefined, async (db) => {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    await sql`revoke all on schema ${sql.id(schema)} from public`.execute(db);
    await sql`grant usage on schema ${sql.id(schema)} to ${sql.id(reader)}`.execute(db);
  });
  return migrateTarget(ownerUrl, schema, tenantMigrations);
}

/** Names of the tenant migrations not yet applied to `schema`. */
export async function pendingTenantMigrations(ownerUrl: string, schema: string): Promise<string[]> {
  return withOwner(ownerUrl, schema, async (db) => {
    const migrations = await new Migrator({ db, provider: tenantMigrations, migrationTableSchema: schema }).getMigrations();
    return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name);
  });
}

async function migrateTarget(ownerUrl: string, schema: string, provider: MigrationProvider): Promise<string[]> {
  return withOwner(ownerUrl, schema, async (db) => {
    const migrator = new Migrator({ db, provider, migrationTableSchema: schema });
    const { error, results = [] } = await migrator.migrateToLatest();
    const failed = results.find((result) => result.status === 'Error');
    if (error || failed) {
      throw new MigrationFailedError(schema, failed?.migrationName, error);
    }
    return results.filter(isApplied).map((result) => `${schema}: ${result.migrationName}`);
  });
}

function isApplied(result: MigrationResult): boolean {
  return result.status === 'Success';
}

async function withOwner<T>(
  ownerUrl: string,
  searchPath: string | undefined,
  work: (db: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  const pool = new pg.Pool({
    connectionString: ownerUrl,
    max: 1,
    ...(searchPath ? { options: `-c search_path=${searchPath}` } : {}),
  });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}
