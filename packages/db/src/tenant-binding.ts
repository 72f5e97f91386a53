import type { TenantStrategy } from './control-database.ts';
import { ACCESS_ROLE, SHARED_SCHEMA, TENANT_SETTING, TENANT_TOKEN_SETTING } from './roles.ts';
import type { TenantBindingKey } from './tenant-binding-key.ts';
import type { TenantLoginKey } from './tenant-login-key.ts';
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
  /** How the tenant appears on spans and metrics (never its id on a metric). */
  labels: { strategy: string; tier: string };
  /** Keep its statements prepared on the connection: their texts are the same for every tenant of the pool. */
  preparedStatements: boolean;
}

export interface BindableTenant {
  id: string;
  slug: string;
  strategy: TenantStrategy;
  tier: string;
  ownRole: boolean;
  /** A `database` tenant's own database, as its own login, without the password (the control plane has none). */
  databaseUrl: string | null;
}

/**
 * How a tenant's transactions are bound, whatever its strategy: one statement, sent with BEGIN,
 * sets the tenant, the tenant's own role where it has one, a token signed with `key` over both
 * (the only thing the RLS policies trust: SQL that changes either after binding sees no rows), and
 * the tier's statement timeout — all transaction-local, gone at COMMIT or ROLLBACK. Values travel
 * as bound parameters, never spliced into SQL text. Call it per transaction: the token expires
 * (`TENANT_TOKEN_LIFETIME_SECONDS`). A `database` tenant's session connects as its own login, with
 * the password derived by `passwords` (`loadTenantLoginKey`), which only `database` tenants need.
 */
export function sessionPlanFor(tenant: BindableTenant, key: TenantBindingKey, passwords?: TenantLoginKey): TenantSessionPlan {
  const limits = tierLimits(tenant.tier);
  // The role is set even when the tenant has none of its own: a role that injected SQL left at
  // session level on a pooled connection (a PgBouncer server connection outlives every client)
  // would otherwise stay in force and fail the token check. A shared tenant runs as the group that
  // holds the table privileges rather than as the login: the login is a member of every tenant
  // role, and Postgres walks those thousands of memberships when the policies' SECURITY DEFINER
  // check switches users — measured 3.8 ms against 1.2 ms for a 10-row read with 2,000 tenants.
  // A database tenant's own login has no such list ('none': the login itself).
  const role =
    tenant.ownRole || tenant.strategy === 'schema' ? tenantRoleName(tenant.id) : tenant.strategy === 'shared' ? ACCESS_ROLE : NO_ROLE;
  const settings: [string, string][] = [[TENANT_SETTING, tenant.id], ['role', role]];
  const signer = tenant.strategy === 'database' ? key.forTenantDatabase(tenant.id) : key;
  settings.push([TENANT_TOKEN_SETTING, signer.token(tenant.id, role)]);
  // Kysely qualifies every table with the tenant's schema; the search path does the same for any
  // hand-written SQL, so an unqualified name never lands in the shared tables by mistake. It names
  // `pg_temp` last: otherwise Postgres searches the session's temporary schema first for tables
  // and types, and a `pg_temp.uuid` domain that SQL injected into an earlier request left on this
  // pooled connection would run its CHECK, code of that request's choosing, on this tenant's
  // `$1::uuid[]`, inside this tenant's binding.
  const schema = tenant.strategy === 'schema' ? tenantSchemaName(tenant.slug) : SHARED_SCHEMA;
  settings.push(['search_path', `${schema}, pg_temp`]);
  settings.push(['statement_timeout', String(limits.statementTimeoutMs)]);
  const plan: TenantSessionPlan = {
    tenantId: tenant.id,
    binding: [setConfigStatement(settings)],
    schema,
    limits: { maxConnections: limits.maxConnections, maxQueue: limits.maxQueue },
    labels: { strategy: tenant.strategy, tier: tenant.tier },
    // Parsing, rewriting with the policies and planning cost more than running a nested read's
    // statements; prepared, they are done once per connection. A schema tenant's texts name its
    // own schema, so a shared-pool connection would keep a set per tenant.
    preparedStatements: tenant.strategy !== 'schema',
  };
  if (tenant.strategy === 'database') {
    if (!tenant.databaseUrl) throw new Error(`database tenant ${tenant.slug} has no database yet`);
    if (!passwords) throw new TypeError(`database tenant ${tenant.slug} needs the login key (loadTenantLoginKey) to connect`);
    plan.target = {
      key: `database:${tenant.id}`,
      connectionString: passwords.connectionUrl(tenant.id, tenant.databaseUrl),
      maxConnections: limits.maxConnections,
    };
  }
  return plan;
}

/**
 * A binding without a role: a `shared` tenant's without a role of its own (tests, scripts), or the
 * owner's writes into any tenant's tables — with `key.forTenantDatabase(id)` for a `database` tenant.
 */
export function sharedTenantBinding(tenantId: string, key: TenantBindingKey): BindingStatement[] {
  return [setConfigStatement([[TENANT_SETTING, tenantId], [TENANT_TOKEN_SETTING, key.token(tenantId, NO_ROLE)]])];
}

/** What `current_setting('role')` reads in a transaction that did not SET ROLE. */
const NO_ROLE = 'none';

function setConfigStatement(settings: [string, string][]): BindingStatement {
  return {
    text: `select ${settings.map((_, index) => `set_config($${2 * index + 1}, $${2 * index + 2}, true)`).join(', ')}`,
    values: settings.flat(),
  };
}
