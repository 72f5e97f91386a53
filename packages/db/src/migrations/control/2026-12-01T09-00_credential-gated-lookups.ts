import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, RUNTIME_ROLE } from '../../roles.ts';

/**
 * The lookups the runtime login may call answered for any tenant: `resolve_request(slug, anything)`
 * returned a tenant's name, status, strategy, tier and database location to whoever asked, so SQL
 * injected into one tenant's request could enumerate every other tenant's record. From here on a
 * lookup reveals a tenant's record only to a caller who presents a credential of that tenant:
 *
 * - `resolve_request`: a live key's hash, of a key of that tenant. With a live key of another
 *   tenant it says only that the tenant exists (`tenant_found`: 403 rather than 404, as the HTTP API
 *   says to that key's holder anyway); with an unknown key, nothing at all.
 * - `resolve_member`: a JWT is verified by the app, so the database sees only its subject, a user id,
 *   which is no secret (ids travel in logs, URLs and other tenants' exports). The lookup therefore
 *   returns a tenant's record and the role only when that user is a member of that tenant: what the
 *   tenant's own members may read through the API. Whoever learns a member's id can still read that
 *   one tenant's record (no key, no password, no rows); that the user exists, and that a tenant
 *   exists, is all it says otherwise.
 *
 * Every SECURITY DEFINER function callable by the runtime login now searches `pg_temp` last. With
 * `search_path = ''`, Postgres still searches the session's temporary schema first for tables and
 * types: injected SQL could create `pg_temp.text` as a domain whose CHECK calls a function of its
 * own, and that function then ran as the functions' owner, reading every key hash and binding key.
 * (The binding's own function gets the same fix in the tenant migration of the same date.)
 */
const SEARCH_PATH = sql.raw('set search_path = pg_catalog, pg_temp');

export async function up(db: Kysely<unknown>): Promise<void> {
  const grantees = sql.join([sql.id(RUNTIME_ROLE), sql.id(ACCESS_ROLE)]);
  const statements = [
    sql`drop function control.resolve_request(text, text)`,
    sql`create function control.resolve_request(tenant_ref text, api_key_hash text)
        returns table (
          key_valid boolean, tenant_found boolean,
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
          user_id uuid, role text
        )
        language sql stable security definer ${SEARCH_PATH}
        as $fn$
          select k.id is not null, t.id is not null,
                 own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
                 case when own.id is not null then k.user_id end, case when own.id is not null then k.role end
          from (select 1) as one
          left join control.api_keys k
            on k.key_hash = api_key_hash and k.revoked_at is null
          -- Only a live key may learn whether the tenant exists, and only the tenant's own what it is.
          left join control.tenants t
            on k.id is not null
           and (case when tenant_ref ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     then t.id = tenant_ref::uuid else t.slug = tenant_ref end)
          left join control.tenants own on own.id = t.id and own.id = k.tenant_id
          left join control.tenant_databases d on d.tenant_id = own.id
        $fn$`,
    sql`revoke all on function control.resolve_request(text, text) from public`,
    sql`grant execute on function control.resolve_request(text, text) to ${grantees}`,

    sql`drop function control.resolve_member(text, uuid)`,
    sql`create function control.resolve_member(tenant_ref text, user_id uuid)
        returns table (
          tenant_found boolean,
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
          user_id uuid, role text
        )
        language sql stable security definer ${SEARCH_PATH}
        as $fn$
          select t.id is not null,
                 own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
                 u.id, m.role
          from (select 1) as one
          left join control.users u on u.id = resolve_member.user_id
          left join control.tenants t
            on u.id is not null
           and (case when tenant_ref ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     then t.id = tenant_ref::uuid else t.slug = tenant_ref end)
          left join control.memberships m on m.tenant_id = t.id and m.user_id = u.id
          -- A user id is no secret: a tenant's record goes to its members' ids only.
          left join control.tenants own on own.id = m.tenant_id
          left join control.tenant_databases d on d.tenant_id = own.id
        $fn$`,
    sql`revoke all on function control.resolve_member(text, uuid) from public`,
    sql`grant execute on function control.resolve_member(text, uuid) to ${grantees}`,

    // These two need a secret already (a live key's hash) and reveal nothing else.
    sql`alter function control.resolve_platform_key(text) ${SEARCH_PATH}`,
    sql`alter function control.touch_api_key(text) ${SEARCH_PATH}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

/** Back to answering for any tenant (2026-11-30T12-00 and 2026-11-30T13-00), and to `search_path = ''`. */
export async function down(db: Kysely<unknown>): Promise<void> {
  const grantees = sql.join([sql.id(RUNTIME_ROLE), sql.id(ACCESS_ROLE)]);
  const statements = [
    sql`drop function control.resolve_request(text, text)`,
    sql`create function control.resolve_request(tenant_ref text, api_key_hash text)
        returns table (
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
          key_tenant_id uuid, user_id uuid, role text
        )
        language sql stable security definer set search_path = ''
        as $fn$
          select t.id, t.slug, t.name, t.status, t.strategy, t.tier, t.own_role, d.connection_url,
                 k.tenant_id, k.user_id, k.role
          from (select 1) as one
          left join control.tenants t
            on (case when tenant_ref ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     then t.id = tenant_ref::uuid else t.slug = tenant_ref end)
          left join control.tenant_databases d on d.tenant_id = t.id
          left join control.api_keys k
            on k.key_hash = api_key_hash and k.revoked_at is null
        $fn$`,
    sql`revoke all on function control.resolve_request(text, text) from public`,
    sql`grant execute on function control.resolve_request(text, text) to ${grantees}`,
    sql`drop function control.resolve_member(text, uuid)`,
    sql`create function control.resolve_member(tenant_ref text, user_id uuid)
        returns table (
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
          user_id uuid, role text
        )
        language sql stable security definer set search_path = ''
        as $fn$
          select t.id, t.slug, t.name, t.status, t.strategy, t.tier, t.own_role, d.connection_url,
                 u.id, m.role
          from (select 1) as one
          left join control.tenants t
            on (case when tenant_ref ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     then t.id = tenant_ref::uuid else t.slug = tenant_ref end)
          left join control.tenant_databases d on d.tenant_id = t.id
          left join control.users u on u.id = resolve_member.user_id
          left join control.memberships m on m.tenant_id = t.id and m.user_id = u.id
        $fn$`,
    sql`revoke all on function control.resolve_member(text, uuid) from public`,
    sql`grant execute on function control.resolve_member(text, uuid) to ${grantees}`,
    sql`alter function control.resolve_platform_key(text) set search_path = ''`,
    sql`alter function control.touch_api_key(text) set search_path = ''`,
  ];
  for (const statement of statements) await statement.execute(db);
}
