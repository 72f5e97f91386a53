import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, RUNTIME_ROLE } from '../../roles.ts';

/**
 * A request signed in with a JWT names a user, not a key: `resolve_member` resolves the tenant and
 * that user's membership of it in one round trip, as `resolve_request` does for keys, and returns
 * the same tenant columns (a `database` tenant's URL carries no password since
 * 2026-11-30T09-00_derived-tenant-passwords). The role comes from the membership only, so a token
 * cannot grant itself one. The user is returned apart from the membership, so the caller can tell
 * "no such user" (401) from "not a member of this tenant" (403).
 *
 * `tenant_app_access` may call it too (with USAGE on the schema, which exposes nothing else: every
 * function in `control` revokes PUBLIC's EXECUTE and no table is granted): a pooled connection whose
 * session role was left at a tenant's role, a member of that group but not of the runtime role, can
 * still resolve the next request.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
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
    sql`grant execute on function control.resolve_member(text, uuid) to ${sql.id(RUNTIME_ROLE)}, ${sql.id(ACCESS_ROLE)}`,
    sql`grant usage on schema control to ${sql.id(ACCESS_ROLE)}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`revoke usage on schema control from ${sql.id(ACCESS_ROLE)}`.execute(db);
  await sql`drop function control.resolve_member(text, uuid)`.execute(db);
}
