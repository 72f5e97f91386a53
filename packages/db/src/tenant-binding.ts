import type { TenantStrategy } from './control-database.ts';
import { SHARED_SCHEMA, TENANT_SETTING } from './roles.ts';
import { tenantRoleName, tenantSchemaName } from './tenant-names.ts';
import { tierLimits } from './tiers.ts';

/** A statement that binds a transaction to a tenant; the pool sends it right after BEGIN. */
export interface BindingStatement {
  text: string;
  values: readonly unknown[];
}

/** What the pool manager needs to open a tenant's session (structurally its `SessionOptions`). */
export interface TenantSessionPlan {
  tenantId: string;
  binding: BindingStatement[];
  schema: string;
  target?: { key: string; connectionString: string; maxConnections: number };
  limits: { maxConnections: number; maxQueue: number };
}

export interface BindableTenant {
  id: string;
  slug: string;
  strategy: TenantStrategy;
  tier: string;
  ownRole: boolean;
  /** A `database` tenant's own database, as its own login. */
  databaseUrl: string | null;
}

/**
 * How a tenant's transactions are bound, whatever its strategy: one statement, sent with BEGIN,
 * sets the tenant (read by the RLS policies), the tenant's own role where it has one, and the
 * tier's statement timeout — all transaction-local, gone at COMMIT or ROLLBACK. Values travel as
 * bound parameters, never spliced into SQL text.
 */
export function sessionPlanFor(tenant: BindableTenant): TenantSessionPlan {
  const limits = tierLimits(tenant.tier);
  const settings: [string, string][] = [[TENANT_SETTING, tenant.id]];
  if (tenant.ownRole || tenant.strategy === 'schema') settings.push(['role', tenantRoleName(tenant.id)]);
  // Kysely qualifies every table with the tenant's schema; the search path does the same for any
  // hand-written SQL, so an unqualified name never lands in the shared tables by mistake.
  if (tenant.strategy === 'schema') settings.push(['search_path', tenantSchemaName(tenant.slug)]);
  settings.push(['statement_timeout', String(limits.statementTimeoutMs)]);
  const binding: BindingStatement = {
    text: `select ${settings.map((_, index) => `set_config($${2 * index + 1}, $${2 * index + 2}, true)`).join(', ')}`,
    values: settings.flat(),
  };
  const plan: TenantSessionPlan = {
    tenantId: tenant.id,
    binding: [binding],
    schema: tenant.strategy === 'schema' ? tenantSchemaName(tenant.slug) : SHARED_SCHEMA,
    limits: { maxConnections: limits.maxConnections, maxQueue: limits.maxQueue },
  };
  if (tenant.strategy === 'database') {
    if (!tenant.databaseUrl) throw new Error(`database tenant ${tenant.slug} has no database yet`);
    plan.target = { key: `database:${tenant.id}`, connectionString: tenant.databaseUrl, maxConnections: limits.maxConnections };
  }
  return plan;
}

/** The binding of a `shared` tenant without a role of its own (tests, scripts). */
export function sharedTenantBinding(tenantId: string): BindingStatement[] {
  return [{ text: 'select set_config($1, $2, true)', values: [TENANT_SETTING, tenantId] }];
}
