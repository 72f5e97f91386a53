export { tenantSchema } from './schema.ts';
export type { GraphQLContext } from './context.ts';
export { errors } from './errors.ts';
