import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './modules/tenant.ts';
import './modules/user.ts';
import './modules/project.ts';
import './modules/task.ts';
import './modules/comment.ts';
import './modules/api-key.ts';

let schema: GraphQLSchema | undefined;

/** The tenant API's schema, built once per process. */
export function tenantSchema(): GraphQLSchema {
  schema ??= lexicographicSortSchema(builder.toSchema());
  return schema;
}
