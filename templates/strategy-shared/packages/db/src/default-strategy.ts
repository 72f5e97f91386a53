import type { TenantStrategy } from './control-database.ts';

/**
 * The isolation of a tenant created without naming one: `npm run tenants -- create` without
 * `--strategy`, and the platform API's `createTenant` without `strategy`. Chosen when the
 * project was created (create-tenant-app --strategy); any tenant can still name its own.
 */
export const DEFAULT_TENANT_STRATEGY: TenantStrategy = 'shared';
