import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { UnsafeRuntimeRoleError } from './errors.ts';
import { RUNTIME_ROLE, SHARED_SCHEMA } from './roles.ts';

/**
 * Refuses a runtime login that could see every tenant's rows: a superuser or BYPASSRLS role (held
 * directly or reachable through SET ROLE), the owner of the tenant tables, or a login that lacks
 * the runtime role's grants. Refuses one that can create temporary objects, which outlive its
 * transaction on a pooled connection (migration `2026-12-03T09-00_no-temporary-objects`), as
 * itself or as any role it can SET ROLE to.
 */
export async function assertSafeRuntimeRole(runtimeDb: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{
    role: string;
    database: string;
    can_bypass: boolean;
    owns_tables: boolean;
    is_runtime: boolean;
    can_create_temporary: boolean;
  }>`
    select current_user as role, current_database() as database,
      exists (select from pg_roles r
              where (r.rolsuper or r.rolbypassrls) and pg_has_role(current_user, r.oid, 'member')) as can_bypass,
      exists (select from pg_tables t
              where t.schemaname = ${SHARED_SCHEMA} and pg_has_role(current_user, t.tableowner, 'member')) as owns_tables,
      pg_has_role(current_user, ${RUNTIME_ROLE}, 'usage') as is_runtime,
      exists (select from pg_roles r
              where pg_has_role(current_user, r.oid, 'member')
                and has_database_privilege(r.oid, current_database(), 'TEMPORARY')) as can_create_temporary
  `.execute(runtimeDb);
  const check = rows[0]!;
  const reasons: string[] = [];
  const fixes: string[] = [];
  if (check.can_bypass) reasons.push('is (or can become) a superuser or BYPASSRLS role');
  if (check.owns_tables) reasons.push('owns the tenant tables');
  if (!check.is_runtime) reasons.push(`is not a member of ${RUNTIME_ROLE}`);
  if (reasons.length > 0) {
    fixes.push(
      `Set DATABASE_RUNTIME_URL to a login that is a plain member of ${RUNTIME_ROLE} ` +
        `(CREATE ROLE tenant_app_api LOGIN PASSWORD '…' IN ROLE ${RUNTIME_ROLE}).`,
    );
  }
  if (check.can_create_temporary) {
    const database = pg.escapeIdentifier(check.database);
    reasons.push(`can create temporary objects in database ${database}`);
    fixes.push(
      `As the database's owner, REVOKE TEMPORARY ON DATABASE ${database} FROM PUBLIC (the migrations do, but a database ` +
        'copied from a template or restored from a dump gets it back), and from any role that was granted it.',
    );
  }
  if (reasons.length > 0) throw new UnsafeRuntimeRoleError(check.role, reasons, fixes);
}
