import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE, RUNTIME_ROLE } from '../../roles.ts';

/**
 * `control.api_keys` has had `last_used_at` and `revoked_at` since the control plane began, and
 * `resolve_request` already ignores revoked keys; nothing wrote `last_used_at`. The runtime login
 * may now stamp it, for one key it holds the hash of, and nothing else: the registry calls this on
 * a cache miss only, so a busy key costs one write per TTL per process, not one per request.
 * Callable under a tenant role too, like the lookups (see 2026-11-30T13-00).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create function control.touch_api_key(api_key_hash text) returns void
        language sql volatile security definer set search_path = ''
        as $fn$
          update control.api_keys set last_used_at = now()
          where key_hash = api_key_hash and revoked_at is null
        $fn$`,
    sql`revoke all on function control.touch_api_key(text) from public`,
    sql`grant execute on function control.touch_api_key(text) to ${sql.id(RUNTIME_ROLE)}, ${sql.id(ACCESS_ROLE)}`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function control.touch_api_key(text)`.execute(db);
}
