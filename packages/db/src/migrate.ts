import {
  Kysely,
  Migrator,
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type MigrationProvider,
  type MigrationResult,
  type PostgresDialectConfig,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely';
import pg from 'pg';
import { controlMigrations, tenantMigrations } from './migrations/index.ts';
import { ACCESS_ROLE, SHARED_SCHEMA } from './roles.ts';
import { MigrationFailedError } from './errors.ts';
import { ensureTenantBindingKey } from './tenant-binding-key.ts';

export interface MigrationReport {
  /** Migrations applied by this run, in order, as `target: name`. */
  applied: string[];
}

/**
 * Brings the control plane and the shared tenant tables of one database up to date, and gives it
 * its first tenant binding key. Runs as the owner role (the login of `ownerUrl` owns what it
 * creates); the runtime role only gets grants.
 * `tenantTables` replaces the built-in tenant migrations (tests, extensions with tables of their own).
 */
export async function migrateToLatest(
  ownerUrl: string,
  tenantTables: MigrationProvider = tenantMigrations,
): Promise<MigrationReport> {
  const applied: string[] = [];
  applied.push(...(await migrateTarget(ownerUrl, 'control', controlMigrations)));
  applied.push(...(await migrateTenantTables(ownerUrl, SHARED_SCHEMA, ACCESS_ROLE, tenantTables)));
  await withOwner(ownerUrl, SHARED_SCHEMA, ensureTenantBindingKey);
  return { applied };
}

/**
 * Creates (if needed) a schema for tenant tables that only `reader` may use, and brings its tables
 * up to date: the shared schema, a `schema` tenant's own schema, or the tables inside a `database`
 * tenant's own database. Returns the migrations it applied.
 */
export async function migrateTenantTables(
  ownerUrl: string,
  schema: string,
  reader: string,
  provider: MigrationProvider = tenantMigrations,
): Promise<string[]> {
  // One connection for both steps (a run over many tenants pays a connection per tenant): its
  // search path names the schema before it exists, and Postgres looks it up again once it does.
  return withOwner(ownerUrl, schema, async (db) => {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    await sql`revoke all on schema ${sql.id(schema)} from public`.execute(db);
    await sql`grant usage on schema ${sql.id(schema)} to ${sql.id(reader)}`.execute(db);
    return migrateWith(db, schema, provider);
  });
}

/** Names of the tenant migrations not yet applied to `schema`. */
export async function pendingTenantMigrations(
  ownerUrl: string,
  schema: string,
  provider: MigrationProvider = tenantMigrations,
): Promise<string[]> {
  return pendingMigrations(ownerUrl, schema, provider);
}

/** Names of the control-plane migrations not yet applied to the database of `ownerUrl`. */
export async function pendingControlMigrations(ownerUrl: string): Promise<string[]> {
  return pendingMigrations(ownerUrl, 'control', controlMigrations);
}

async function pendingMigrations(ownerUrl: string, schema: string, provider: MigrationProvider): Promise<string[]> {
  return withOwner(ownerUrl, schema, async (db) => {
    const migrations = await new Migrator({ db, provider, migrationTableSchema: schema }).getMigrations();
    return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name);
  });
}

async function migrateTarget(ownerUrl: string, schema: string, provider: MigrationProvider): Promise<string[]> {
  return withOwner(ownerUrl, schema, (db) => migrateWith(db, schema, provider));
}

async function migrateWith(db: Kysely<unknown>, schema: string, provider: MigrationProvider): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableSchema: schema });
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new MigrationFailedError(schema, failed?.migrationName, error);
  }
  return results.filter(isApplied).map((result) => `${schema}: ${result.migrationName}`);
}

function isApplied(result: MigrationResult): boolean {
  return result.status === 'Success';
}

/**
 * Kysely's Migrator asks the introspector for every table of every schema just to learn whether its
 * own two tables exist; with 500 tenant schemas that made each tenant's migration ~5x slower than
 * the first one's. Migrations of one target only ever need that target's schema.
 */
class TargetSchemaIntrospector implements DatabaseIntrospector {
  constructor(
    readonly db: Kysely<any>,
    readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<SchemaMetadata>`select nspname as name from pg_namespace where nspname = ${this.schema}`.execute(this.db);
    return rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; is_view: boolean }>`
      select c.relname as name, n.nspname as schema, c.relkind = 'v' as is_view
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${this.schema} and c.relkind in ('r', 'p', 'v')`.execute(this.db);
    return rows.map((row) => ({ name: row.name, schema: row.schema, isView: row.is_view, columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class TargetSchemaDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    readonly schema: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new TargetSchemaIntrospector(db, this.schema);
  }
}

async function withOwner<T>(
  ownerUrl: string,
  searchPath: string,
  work: (db: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 1, options: `-c search_path=${searchPath}` });
  const db = new Kysely<unknown>({ dialect: new TargetSchemaDialect({ pool }, searchPath) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}
