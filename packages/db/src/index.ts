export type {
  TenantDatabase,
  TaskStatus,
  UserRow,
  ProjectRow,
  TaskRow,
  CommentRow,
} from './tenant-database.ts';
export type { ControlDatabase, MemberRole, TenantStatus, TenantStrategy } from './control-database.ts';
export { RUNTIME_ROLE, SHARED_SCHEMA, TENANT_SETTING } from './roles.ts';
export { MigrationFailedError, UnsafeRuntimeRoleError } from './errors.ts';
export { migrateToLatest, type MigrationReport } from './migrate.ts';
export { sharedTenantBinding, type BindingStatement } from './tenant-binding.ts';
export {
  TenantRegistry,
  type TenantRecord,
  type Principal,
  type RequestResolution,
  type TenantRegistryOptions,
} from './tenant-registry.ts';
export { assertSafeRuntimeRole } from './runtime-role.ts';
export { looksLikeApiKey } from './api-keys.ts';
export {
  createTenant,
  addMember,
  issueApiKey,
  setTenantStatus,
  connectAsOwner,
  type OwnerDatabase,
  type NewTenant,
  type NewMember,
  type ProvisionedTenant,
} from './provisioning.ts';
export { seedDemoTenants, issueDemoKeys, seedTenantData, type DemoCredential, type TenantFixtureShape } from './seed.ts';
export {
  startEmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
} from './embedded-postgres.ts';
export { prepareLocalDatabase, cloneDatabase, databaseUrl, type DatabaseUrls } from './local-database.ts';
