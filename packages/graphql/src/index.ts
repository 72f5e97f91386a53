export { tenantSchema } from './schema.ts';
export type { GraphQLContext, TenantApiKeys } from './context.ts';
export { errors } from './errors.ts';
export { platformSchema } from './platform/schema.ts';
export type { PlatformContext } from './platform/platform-context.ts';
