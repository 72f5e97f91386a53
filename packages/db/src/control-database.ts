import type { ColumnType, Generated } from 'kysely';

export type TenantStrategy = 'shared' | 'schema' | 'database';
export type TenantStatus = 'provisioning' | 'failed' | 'active' | 'suspended';
export type MemberRole = 'member' | 'admin';

type CreatedAt = ColumnType<Date, never, never>;

export interface TenantsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  status: Generated<TenantStatus>;
  strategy: Generated<TenantStrategy>;
  tier: Generated<string>;
  /** The `role` option: transactions run as the tenant's own NOLOGIN role (always so for `schema`). */
  own_role: Generated<boolean>;
  /** The Postgres host (by name in the host map) of a `database` tenant. */
  host: Generated<string>;
  provisioning_error: string | null;
  /** When a migration run last found or left the tenant's own tables up to date (`schema`, `database`). */
  migrated_at: Date | null;
  /** Why the last migration run failed for this tenant; cleared by the next run that succeeds. */
  migration_error: string | null;
  created_at: CreatedAt;
}

export interface TenantDatabasesTable {
  tenant_id: string;
  database_name: string;
  login: string;
  /**
   * How the API reaches the database, as the tenant's own login, without its password (a check
   * constraint refuses one): the app derives that (`TenantLoginKey`).
   */
  connection_url: string;
}

export interface ControlUsersTable {
  id: Generated<string>;
  email: string;
  name: string;
  created_at: CreatedAt;
}

export interface MembershipsTable {
  tenant_id: string;
  user_id: string;
  role: MemberRole;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: Generated<string>;
  tenant_id: string;
  user_id: string;
  role: MemberRole;
  /** The first characters of the key, kept in clear so an operator can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole key; the key itself is shown once and never stored. */
  key_hash: string;
  created_at: CreatedAt;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface PlatformKeysTable {
  id: Generated<string>;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

/** The control plane (schema `control`): who the tenants are and who may act for them. */
export interface ControlDatabase {
  'control.tenants': TenantsTable;
  'control.users': ControlUsersTable;
  'control.memberships': MembershipsTable;
  'control.api_keys': ApiKeysTable;
  'control.tenant_databases': TenantDatabasesTable;
  'control.platform_keys': PlatformKeysTable;
}
