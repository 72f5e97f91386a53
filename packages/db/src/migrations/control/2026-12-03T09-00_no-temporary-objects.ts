import { type Kysely, sql } from 'kysely';

/**
 * Nobody but the owner may create temporary tables, types or functions in the application's
 * database: PUBLIC held TEMPORARY there, as on every database Postgres creates. Temporary objects
 * outlive the transaction that made them, on a pooled connection (and behind PgBouncer on a server
 * connection) that then serves other tenants. The search paths name `pg_temp` last, so such objects
 * shadow nothing; without the privilege, SQL injected into a request cannot leave them at all.
 *
 * A database's privileges are not part of its contents: a copy made by `CREATE DATABASE …
 * TEMPLATE` or a dump restored without `--create` gives PUBLIC its TEMPORARY back, and
 * `assertSafeRuntimeRole` refuses to serve on it. A `database` tenant's own database never had it:
 * the provisioner revokes everything there from PUBLIC.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`do $$ begin execute format('revoke temporary on database %I from public', current_database()); end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`do $$ begin execute format('grant temporary on database %I to public', current_database()); end $$`.execute(db);
}
