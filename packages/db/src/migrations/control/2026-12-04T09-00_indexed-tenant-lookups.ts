import { type Kysely, type RawBuilder, sql } from 'kysely';

const UUID_PATTERN = sql.lit('^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$');

/**
 * `resolve_request` and `resolve_member` found the tenant a request names by reading every row of
 * `control.tenants`: their join condition was one CASE over the row (`then t.id = … else t.slug =
 * …`), which no index can serve. A lookup took 9–17 ms with 12,000 tenants (the benchmark's
 * cluster, `EXPLAIN ANALYZE`), grew with every tenant added, and ran for each key and tenant whose
 * cached resolution had expired: amortised, more Postgres time per request than the tenant binding
 * and its checks together. The reference is now turned into an id or a slug first, each NULL unless
 * the reference has that form, and the join compares the row with both: an OR of two indexed
 * equalities, which Postgres answers with the primary key and the slug's unique index (0.1 ms). What
 * the functions return, to whom, is unchanged; CREATE OR REPLACE keeps their owner, grants and
 * search path.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const reference = sql`(select case when tenant_ref ~* ${UUID_PATTERN} then tenant_ref::uuid end as id,
               case when tenant_ref !~* ${UUID_PATTERN} then tenant_ref end as slug) as ref`;
  await replaceLookups(db, reference, sql`(t.id = ref.id or t.slug = ref.slug)`);
}

/** Back to the scan. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await replaceLookups(
    db,
    sql`(select 1) as one`,
    sql`(case when tenant_ref ~* ${UUID_PATTERN} then t.id = tenant_ref::uuid else t.slug = tenant_ref end)`,
  );
}

async function replaceLookups(db: Kysely<unknown>, from: RawBuilder<unknown>, namedTenant: RawBuilder<unknown>): Promise<void> {
  await sql`create or replace function control.resolve_request(tenant_ref text, api_key_hash text)
      returns table (
        key_valid boolean, tenant_found boolean,
        tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
        tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
        user_id uuid, role text
      )
      language sql stable security definer set search_path = pg_catalog, pg_temp
      as $fn$
        select k.id is not null, t.id is not null,
               own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
               case when own.id is not null then k.user_id end, case when own.id is not null then k.role end
        from ${from}
        left join control.api_keys k
          on k.key_hash = api_key_hash and k.revoked_at is null
        -- Only a live key may learn whether the tenant exists, and only the tenant's own what it is.
        left join control.tenants t on k.id is not null and ${namedTenant}
        left join control.tenants own on own.id = t.id and own.id = k.tenant_id
        left join control.tenant_databases d on d.tenant_id = own.id
      $fn$`.execute(db);
  await sql`create or replace function control.resolve_member(tenant_ref text, user_id uuid)
      returns table (
        tenant_found boolean,
        tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
        tenant_strategy text, tenant_tier text, tenant_own_role boolean, tenant_database_url text,
        user_id uuid, role text
      )
      language sql stable security definer set search_path = pg_catalog, pg_temp
      as $fn$
        select t.id is not null,
               own.id, own.slug, own.name, own.status, own.strategy, own.tier, own.own_role, d.connection_url,
               u.id, m.role
        from ${from}
        left join control.users u on u.id = resolve_member.user_id
        left join control.tenants t on u.id is not null and ${namedTenant}
        left join control.memberships m on m.tenant_id = t.id and m.user_id = u.id
        -- A user id is no secret: a tenant's record goes to its members' ids only.
        left join control.tenants own on own.id = m.tenant_id
        left join control.tenant_databases d on d.tenant_id = own.id
      $fn$`.execute(db);
}
