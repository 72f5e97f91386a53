import { type Kysely, sql } from 'kysely';
import { RUNTIME_ROLE } from '../../roles.ts';

/**
 * Every isolation strategy, chosen per tenant. A tenant is 'provisioning' until all of its parts
 * exist, and 'failed' (with the error) if a step failed: provisioning again resumes it. The
 * credentials of a database tenant's own login sit in a table only the owner reads.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`alter table control.tenants drop constraint tenants_strategy_check`,
    sql`alter table control.tenants add constraint tenants_strategy_check
          check (strategy in ('shared', 'schema', 'database'))`,
    sql`alter table control.tenants drop constraint tenants_status_check`,
    sql`alter table control.tenants add constraint tenants_status_check
          check (status in ('provisioning', 'failed', 'active', 'suspended'))`,
    sql`alter table control.tenants
          add column own_role boolean not null default false,
          add column host text not null default 'main',
          add column provisioning_error text`,
    sql`create table control.tenant_databases (
          tenant_id uuid primary key references control.tenants on delete cascade,
          database_name text not null,
          login text not null,
          password text not null,
          connection_url text not null
        )`,
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
    sql`grant execute on function control.resolve_request(text, text) to ${sql.id(RUNTIME_ROLE)}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table control.tenant_databases`.execute(db);
  await sql`alter table control.tenants drop column own_role, drop column host, drop column provisioning_error`.execute(db);
}
