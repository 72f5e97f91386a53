import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, BINDING_SCHEMA, RUNTIME_ROLE } from '../../roles.ts';

const UUID_PATTERN = sql.lit('^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$');
const SEARCH_PATH = sql.raw('set search_path = pg_catalog, pg_temp');
/** What both versions return: the same columns, so the registry reads either. */
const RETURNED_COLUMNS = sql.raw(`returns table (
          tenant_found boolean,
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
          user_id uuid, role text
        )`);

/**
 * `resolve_member` answered to a user id alone, and a user id is no secret: SQL injected into any
 * request, running as the runtime login, could read the record (name, status, strategy, tier, where
 * its database is) of every tenant whose members' ids it knew. It now also takes the app's proof
 * that it verified a JWT of that user and asks about that tenant: a token like the binding's,
 * `<key id>.<expiry>.<HMAC>`, under the binding key, which the runtime login cannot read
 * (`TenantBindingKey.memberLookupToken`). Without a valid one it says nothing at all, as for an
 * unknown user. The message names its kind (`member-v1`), so a binding token is no member token.
 *
 * PL/pgSQL rather than SQL: its body is not checked against the catalog when it is created, so this
 * migration may run before the first tenant migration creates `tenant_binding.keys` (on a new
 * database it does), and its plan is kept for the session rather than made again on every call.
 * The old two-argument function is dropped: leaving it would leave the hole.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const grantees = sql.join([sql.id(RUNTIME_ROLE), sql.id(ACCESS_ROLE)]);
  const statements = [
    sql`drop function control.resolve_member(text, uuid)`,
    sql`create function control.resolve_member(tenant_ref text, member_id uuid, member_token text)
        ${RETURNED_COLUMNS}
        language plpgsql stable security definer ${SEARCH_PATH}
        as $fn$
        #variable_conflict use_column
        begin
          return query
            select t.id is not null,
                   own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
                   u.id, m.role
            from (select case when tenant_ref ~* ${UUID_PATTERN} then tenant_ref::uuid end as id,
                         case when tenant_ref !~* ${UUID_PATTERN} then tenant_ref end as slug,
                         split_part(member_token, '.', 1) as key_id,
                         split_part(member_token, '.', 2) as expires) as ref
            left join ${sql.table(`${BINDING_SCHEMA}.keys`)} as key
              on key.id = case when ref.key_id ~ '^[0-9]{1,9}$' then ref.key_id::integer end
             and case when ref.expires ~ '^[0-9]{1,12}$' then ref.expires::bigint end > extract(epoch from now())
             and encode(sha256(key.outer_pad || sha256(key.inner_pad || convert_to(
                   'member-v1|' || ref.key_id || '|' || ref.expires || '|' || member_id::text || '|' || tenant_ref, 'UTF8'))), 'hex')
                 = split_part(member_token, '.', 3)
            left join control.users u on key.id is not null and u.id = member_id
            left join control.tenants t on u.id is not null and (t.id = ref.id or t.slug = ref.slug)
            left join control.memberships m on m.tenant_id = t.id and m.user_id = u.id
            -- Only a member learns what the tenant is; a user who is none, that it exists.
            left join control.tenants own on own.id = m.tenant_id
            left join control.tenant_databases d on d.tenant_id = own.id;
        end
        $fn$`,
    sql`revoke all on function control.resolve_member(text, uuid, text) from public`,
    sql`grant execute on function control.resolve_member(text, uuid, text) to ${grantees}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

/** Back to answering to a user id (2026-12-04T09-00_indexed-tenant-lookups). */
export async function down(db: Kysely<unknown>): Promise<void> {
  const grantees = sql.join([sql.id(RUNTIME_ROLE), sql.id(ACCESS_ROLE)]);
  const statements = [
    sql`drop function control.resolve_member(text, uuid, text)`,
    sql`create function control.resolve_member(tenant_ref text, user_id uuid)
        ${RETURNED_COLUMNS}
        language sql stable security definer ${SEARCH_PATH}
        as $fn$
          select t.id is not null,
                 own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
                 u.id, m.role
          from (select case when tenant_ref ~* ${UUID_PATTERN} then tenant_ref::uuid end as id,
                       case when tenant_ref !~* ${UUID_PATTERN} then tenant_ref end as slug) as ref
          left join control.users u on u.id = resolve_member.user_id
          left join control.tenants t on u.id is not null and (t.id = ref.id or t.slug = ref.slug)
          left join control.memberships m on m.tenant_id = t.id and m.user_id = u.id
          left join control.tenants own on own.id = m.tenant_id
          left join control.tenant_databases d on d.tenant_id = own.id
        $fn$`,
    sql`revoke all on function control.resolve_member(text, uuid) from public`,
    sql`grant execute on function control.resolve_member(text, uuid) to ${grantees}`,
  ];
  for (const statement of statements) await statement.execute(db);
}
