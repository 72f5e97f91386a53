import { type Kysely, sql } from 'kysely';
import { BINDING_SCHEMA, TENANT_SETTING, TENANT_TOKEN_SETTING } from '../../roles.ts';

/**
 * `2026-11-29T09-00_verified-tenant-binding` first created `tenant_binding.current_tenant_id()` as
 * an SQL function and was then changed in place to PL/pgSQL, so a database migrated in between
 * still has the SQL version: Postgres plans it again for every statement and its `{64}` regular
 * expression is slow. Measured on the benchmark's cluster, which is such a database: 0.8 ms per
 * call against ~12 µs, which made Postgres spend 9.1 against 3.3 ms of CPU per nested read of a
 * shared tenant against tenancy off. This brings every database to the PL/pgSQL check, with
 * `pg_temp` searched last as `2026-12-01T09-00_binding-searches-temp-last` set. CREATE OR REPLACE
 * keeps the owner and the grants; on a database that has this version already it changes nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const schema = sql.id(BINDING_SCHEMA);
  await sql`create or replace function ${schema}.current_tenant_id() returns uuid
      language plpgsql stable security definer set search_path = pg_catalog, pg_temp
      as $fn$
      declare
        tenant text := current_setting(${sql.lit(TENANT_SETTING)}, true);
        token text := current_setting(${sql.lit(TENANT_TOKEN_SETTING)}, true);
        key_id text := split_part(token, '.', 1);
        expires text := split_part(token, '.', 2);
        pads record;
      begin
        if token is null or key_id !~ '^[0-9]{1,9}$' or expires !~ '^[0-9]{1,12}$' then
          return null;
        end if;
        if expires::bigint <= extract(epoch from now()) then
          return null;
        end if;
        select inner_pad, outer_pad into pads from ${schema}.keys where id = key_id::integer;
        if not found then
          return null;
        end if;
        if encode(sha256(pads.outer_pad || sha256(pads.inner_pad || convert_to(
             'v1|' || tenant || '|' || current_setting('role') || '|' || key_id || '|' || expires, 'UTF8'))), 'hex')
           is distinct from split_part(token, '.', 3) then
          return null;
        end if;
        return nullif(tenant, '')::uuid;
      end
      $fn$`.execute(db);
}

/** Nothing to undo: the version before is the same check, slower. */
export async function down(): Promise<void> {}
