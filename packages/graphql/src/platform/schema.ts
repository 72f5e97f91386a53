import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { platformBuilder } from './builder.ts';
import './tenants.ts';
import './pool-stats.ts';
import './api-keys.ts';

let schema: GraphQLSchema | undefined;

/** The platform API's schema (operators: tenant lifecycle, pool figures), built once per process. */
export function platformSchema(): GraphQLSchema {
  schema ??= lexicographicSortSchema(platformBuilder.toSchema());
  return schema;
}
