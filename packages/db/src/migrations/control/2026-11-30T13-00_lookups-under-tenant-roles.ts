import { type Kysely, sql } from 'kysely';
import { ACCESS_ROLE } from '../../roles.ts';

/**
 * SQL injected into a request can leave a tenant's role set at session level on its connection,
 * which outlives the transaction on a pooled connection (PgBouncer's transaction mode runs no reset
 * either). Tenant bindings set the role of every transaction, so tenant queries are not affected;
 * the API-key and platform-key lookups run outside any binding, and were refused on such a
 * connection until it was recycled. `tenant_app_access` (every tenant role is a member) may now
 * call them, as it may call `resolve_member`: they are SECURITY DEFINER, and return to a tenant
 * role no more than to the runtime login.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`grant execute on function control.resolve_request(text, text), control.resolve_platform_key(text) to ${sql.id(ACCESS_ROLE)}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`revoke execute on function control.resolve_request(text, text), control.resolve_platform_key(text) from ${sql.id(ACCESS_ROLE)}`.execute(db);
}
