import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, RUNTIME_ROLE } from '../../roles.ts';

/**
 * The control plane. The runtime role reads it only through SECURITY DEFINER functions, so a
 * request can resolve its own tenant and credentials but cannot list tenants or key hashes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`do $$ begin
          if not exists (select from pg_roles where rolname = ${sql.lit(RUNTIME_ROLE)}) then
            create role ${sql.id(RUNTIME_ROLE)} nologin;
          end if;
          if not exists (select from pg_roles where rolname = ${sql.lit(ACCESS_ROLE)}) then
            create role ${sql.id(ACCESS_ROLE)} nologin;
          end if;
        end $$`,
    sql`grant ${sql.id(ACCESS_ROLE)} to ${sql.id(RUNTIME_ROLE)}`,
    sql`create schema if not exists control`,
    sql`revoke all on schema control from public`,
    sql`create table control.tenants (
          id uuid primary key default gen_random_uuid(),
          slug text not null unique check (slug ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
          name text not null check (length(name) between 1 and 200),
          status text not null default 'active' check (status in ('active', 'suspended')),
          strategy text not null default 'shared' check (strategy in ('shared')),
          tier text not null default 'free',
          created_at timestamptz not null default now()
        )`,
    sql`create table control.users (
          id uuid primary key default gen_random_uuid(),
          email text not null check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
          name text not null check (length(name) between 1 and 200),
          created_at timestamptz not null default now()
        )`,
    sql`create unique index users_email_key on control.users (lower(email))`,
    sql`create table control.memberships (
          tenant_id uuid not null references control.tenants on delete cascade,
          user_id uuid not null references control.users on delete cascade,
          role text not null check (role in ('member', 'admin')),
          created_at timestamptz not null default now(),
          primary key (tenant_id, user_id)
        )`,
    sql`create index memberships_user on control.memberships (user_id)`,
    sql`create table control.api_keys (
          id uuid primary key default gen_random_uuid(),
          tenant_id uuid not null,
          user_id uuid not null,
          role text not null check (role in ('member', 'admin')),
          prefix text not null,
          key_hash text not null unique,
          created_at timestamptz not null default now(),
          last_used_at timestamptz,
          revoked_at timestamptz,
          foreign key (tenant_id, user_id) references control.memberships on delete cascade
        )`,
    // One round trip resolves both halves of a request's identity. The key's own tenant is
    // returned too, so the caller can tell "wrong tenant" (403) from "no such key" (401).
    sql`create function control.resolve_request(tenant_ref text, api_key_hash text)
        returns table (
          tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
          tenant_strategy text, tenant_tier text,
          key_tenant_id uuid, user_id uuid, role text
        )
        language sql stable security definer set search_path = ''
        as $fn$
          select t.id, t.slug, t.name, t.status, t.strategy, t.tier, k.tenant_id, k.user_id, k.role
          from (select 1) as one
          left join control.tenants t
            on (case when tenant_ref ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     then t.id = tenant_ref::uuid else t.slug = tenant_ref end)
          left join control.api_keys k
            on k.key_hash = api_key_hash and k.revoked_at is null
        $fn$`,
    sql`revoke all on function control.resolve_request(text, text) from public`,
    sql`grant usage on schema control to ${sql.id(RUNTIME_ROLE)}`,
    sql`grant execute on function control.resolve_request(text, text) to ${sql.id(RUNTIME_ROLE)}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop schema control cascade`.execute(db);
}
