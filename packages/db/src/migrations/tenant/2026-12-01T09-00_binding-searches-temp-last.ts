import { type Kysely, sql } from 'kysely';
import { BINDING_SCHEMA } from '../../roles.ts';

/**
 * `tenant_binding.current_tenant_id()` runs as the owner with `search_path = ''`, and Postgres still
 * searches the session's temporary schema first for tables and types when it is not named in the
 * path. SQL injected into a request could create `pg_temp.text` as a domain whose CHECK calls a
 * function of its own; the policies' call then ran that function as the owner, which reads the
 * binding keys — and with a key, any tenant's token can be forged. Naming `pg_temp` last closes
 * it (Postgres never looks up functions or operators there). Once per database, like the function
 * itself; running it again for another target of the same database changes nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const schema = sql.id(BINDING_SCHEMA);
  await sql`alter function ${schema}.current_tenant_id() set search_path = pg_catalog, pg_temp`.execute(db);
  await sql`alter function ${schema}.hmac_pad(bytea, integer) set search_path = pg_catalog, pg_temp`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const schema = sql.id(BINDING_SCHEMA);
  await sql`alter function ${schema}.current_tenant_id() set search_path = ''`.execute(db);
  await sql`alter function ${schema}.hmac_pad(bytea, integer) set search_path = ''`.execute(db);
}
