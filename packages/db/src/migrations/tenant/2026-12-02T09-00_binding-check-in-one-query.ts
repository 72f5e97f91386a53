import { type Kysely, sql } from 'kysely';
import { BINDING_SCHEMA, TENANT_SETTING, TENANT_TOKEN_SETTING } from '../../roles.ts';

/**
 * The same check as `2026-12-01T10-00_binding-check-in-plpgsql`, written as one query instead of a
 * dozen PL/pgSQL assignments and conditions. Measured with `npm run bench:binding` (4 connections,
 * 6 rounds of 4 s): the request-like transaction (three reads) ran at 0.92–0.99 of the plain
 * setting's rate with this body in four runs, against 0.75–0.79 with the one before; 20 point
 * lookups in one transaction at 0.76–0.80, against 0.80–0.85, so a call costs about what it did
 * and what went away is paid once per transaction. Every malformed part still yields NULL rather
 * than an error: the casts sit behind CASE guards, and the tenant id is cast only in the row that
 * passed the HMAC comparison. CREATE OR REPLACE keeps the owner, the grants, the search path
 * setting and the policies, which hold the function itself.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const schema = sql.id(BINDING_SCHEMA);
  await sql`create or replace function ${schema}.current_tenant_id() returns uuid
      language plpgsql stable security definer set search_path = pg_catalog, pg_temp
      as $fn$
      declare
        token text := current_setting(${sql.lit(TENANT_TOKEN_SETTING)}, true);
      begin
        return (
          select nullif(signed.tenant, '')::uuid
          from (select current_setting(${sql.lit(TENANT_SETTING)}, true) as tenant,
                       split_part(token, '.', 1) as key_id,
                       split_part(token, '.', 2) as expires) as signed
          join ${schema}.keys as key
            on key.id = case when signed.key_id ~ '^[0-9]{1,9}$' then signed.key_id::integer end
          where case when signed.expires ~ '^[0-9]{1,12}$' then signed.expires::bigint end > extract(epoch from now())
            and encode(sha256(key.outer_pad || sha256(key.inner_pad || convert_to(
                  'v1|' || signed.tenant || '|' || current_setting('role') || '|' || signed.key_id || '|' || signed.expires, 'UTF8'))), 'hex')
                = split_part(token, '.', 3)
        );
      end
      $fn$`.execute(db);
}

/** Nothing to undo: the version before is the same check, slower. */
export async function down(): Promise<void> {}
