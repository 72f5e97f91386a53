import { type Kysely, sql } from 'kysely';
import { UnsafeRuntimeRoleError } from './errors.ts';
import { RUNTIME_ROLE, SHARED_SCHEMA } from './roles.ts';

/**
 * Refuses a runtime login that could see every tenant's rows: a superuser or BYPASSRLS role (held
 * directly or reachable through SET ROLE), the owner of the tenant tables, or a login that lacks
 * the runtime role's grants.
 */
export async function assertSafeRuntimeRole(runtimeDb: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{
    role: string;
    can_bypass: boolean;
    owns_tables: boolean;
    is_runtime: boolean;
  }>`
    select current_user as role,
      exists (select from pg_roles r
              where (r.rolsuper or r.rolbypassrls) and pg_has_role(current_user, r.oid, 'member')) as can_bypass,
      exists (select from pg_tables t
              where t.schemaname = ${SHARED_SCHEMA} and pg_has_role(current_user, t.tableowner, 'member')) as owns_tables,
      pg_has_role(current_user, ${RUNTIME_ROLE}, 'usage') as is_runtime
  `.execute(runtimeDb);
  const check = rows[0]!;
  const reasons: string[] = [];
  if (check.can_bypass) reasons.push('is (or can become) a superuser or BYPASSRLS role');
  if (check.owns_tables) reasons.push('owns the tenant tables');
  if (!check.is_runtime) reasons.push(`is not a member of ${RUNTIME_ROLE}`);
  if (reasons.length > 0) throw new UnsafeRuntimeRoleError(check.role, reasons);
}
