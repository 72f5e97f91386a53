import type { TenantStrategy } from './control-database.ts';

/**
 * The isolation of a tenant created without naming one: `npm run tenants -- create` without
 * `--strategy`, and the platform API's `createTenant` without `strategy`. create-tenant-app
 * replaces this whole file with the strategy chosen for a new project (templates/strategy-*).
 */
export const DEFAULT_TENANT_STRATEGY: TenantStrategy = 'shared';
