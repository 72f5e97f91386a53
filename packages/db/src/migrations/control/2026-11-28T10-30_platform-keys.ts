import { type Kysely, sql } from 'kysely';
import { RUNTIME_ROLE } from '../../roles.ts';

/**
 * Keys of the platform's operators, who provision tenants and read cross-tenant stats. They belong
 * to no tenant, so they live apart from tenant API keys; like those, only their hashes are kept.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table control.platform_keys (
          id uuid primary key default gen_random_uuid(),
          name text not null check (length(name) between 1 and 100),
          prefix text not null,
          key_hash text not null unique,
          created_at timestamptz not null default now(),
          revoked_at timestamptz
        )`,
    sql`create function control.resolve_platform_key(api_key_hash text)
        returns table (key_id uuid, name text)
        language sql stable security definer set search_path = ''
        as $fn$
          select id, name from control.platform_keys where key_hash = api_key_hash and revoked_at is null
        $fn$`,
    sql`revoke all on function control.resolve_platform_key(text) from public`,
    sql`grant execute on function control.resolve_platform_key(text) to ${sql.id(RUNTIME_ROLE)}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function control.resolve_platform_key(text)`.execute(db);
  await sql`drop table control.platform_keys`.execute(db);
}
