import { type Kysely, sql } from 'kysely';

/**
 * What the last migration run did to each tenant with tables of its own (`schema`, `database`):
 * when its tables were last found or left up to date, and why the last attempt failed, if it did.
 * A failed tenant keeps its old `migrated_at`, so an operator sees how far behind it is.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table control.tenants
              add column migrated_at timestamptz,
              add column migration_error text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table control.tenants drop column migrated_at, drop column migration_error`.execute(db);
}
