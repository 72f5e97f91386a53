export type {
  TenantDatabase,
  TaskStatus,
  UserRow,
  ProjectRow,
  TaskRow,
  CommentRow,
} from './tenant-database.ts';
export type { ControlDatabase, MemberRole, TenantStatus, TenantStrategy } from './control-database.ts';
export { DEFAULT_TENANT_STRATEGY } from './default-strategy.ts';
export { RUNTIME_ROLE, ACCESS_ROLE, SHARED_SCHEMA, TENANT_SETTING, TENANT_TOKEN_SETTING, BINDING_SCHEMA } from './roles.ts';
export {
  MigrationFailedError,
  UnsafeRuntimeRoleError,
  ProvisioningFailedError,
  UnknownHostError,
  MissingBindingKeyError,
  ClockSkewError,
  MissingLoginKeyError,
} from './errors.ts';
export {
  migrateToLatest,
  migrateTenantTables,
  pendingTenantMigrations,
  pendingControlMigrations,
  type MigrationReport,
} from './migrate.ts';
export { tenantMigrations } from './migrations/index.ts';
export {
  migrateAllTenants,
  tenantMigrationStatus,
  type MigrateAllOptions,
  type MigrateAllReport,
  type MigrationProgress,
  type MigrationStatusOptions,
  type MigrationStatusReport,
  type TenantMigrationStatus,
} from './migrate-all.ts';
export {
  sessionPlanFor,
  sharedTenantBinding,
  type BindingStatement,
  type BindableTenant,
  type TenantSessionPlan,
} from './tenant-binding.ts';
export { TenantBindingKey, loadTenantBindingKey, TENANT_TOKEN_LIFETIME_SECONDS } from './tenant-binding-key.ts';
export { TenantLoginKey, loadTenantLoginKey } from './tenant-login-key.ts';
export { tenantSchemaName, tenantRoleName, TENANT_SLUG_PATTERN } from './tenant-names.ts';
export { TIERS, tierLimits, type Tier, type TierLimits } from './tiers.ts';
export {
  TenantRegistry,
  type TenantRecord,
  type Principal,
  type PlatformPrincipal,
  type RequestResolution,
  type TenantRegistryOptions,
} from './tenant-registry.ts';
export { assertSafeRuntimeRole } from './runtime-role.ts';
export { looksLikeApiKey, hashApiKey } from './api-keys.ts';
export {
  TenantProvisioner,
  connectAsOwner,
  type ProvisionerOptions,
  type OwnerDatabase,
  type NewTenant,
  type NewMember,
  type ProvisionedTenant,
  type TenantSummary,
  type ApiKeySummary,
} from './provisioning.ts';
export { seedDemoTenants, issueDemoKeys, seedTenantData, type DemoCredential, type TenantFixtureShape } from './seed.ts';
export {
  startEmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
} from './embedded-postgres.ts';
export { prepareLocalDatabase, cloneDatabase, databaseUrl, type DatabaseUrls } from './local-database.ts';
export { freePort } from './free-port.ts';
