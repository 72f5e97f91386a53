import { isInterfaceType, isObjectType, type GraphQLSchema } from 'graphql';
import { describe, expect, test } from 'vitest';
import { platformSchema, tenantSchema } from './index.ts';

/** The `authScopes` Pothos kept for a type or field: a map with at least one scope, or a scope function. */
function hasScope(extensions: unknown): boolean {
  const scopes = (extensions as { pothosOptions?: { authScopes?: unknown } } | undefined)?.pothosOptions?.authScopes;
  if (typeof scopes === 'function') return true;
  return typeof scopes === 'object' && scopes !== null && Object.keys(scopes).length > 0;
}

/** Every field of every object and interface type, with whether it or its type carries a scope. */
function fieldsOf(schema: GraphQLSchema): { name: string; guarded: boolean }[] {
  return Object.values(schema.getTypeMap())
    .filter((type) => !type.name.startsWith('__'))
    .flatMap((type) =>
      isObjectType(type) || isInterfaceType(type)
        ? Object.values(type.getFields()).map((field) => ({
            name: `${type.name}.${field.name}`,
            guarded: hasScope(type.extensions) || hasScope(field.extensions),
          }))
        : [],
    );
}

describe('every field is guarded by a scope (@pothos/plugin-scope-auth)', () => {
  test.each([
    ['tenant API', tenantSchema, ['Query.projects', 'Task.comments', 'QueryProjectsConnectionEdge.node', 'PageInfo.endCursor', 'Mutation.revokeApiKey', 'ApiKey.prefix']],
    ['platform API', platformSchema, ['Query.tenants', 'Mutation.createTenant', 'PoolStats.tenants', 'CreatedTenant.adminApiKey', 'Mutation.revokeApiKey', 'PlatformApiKey.lastUsedAt']],
  ])('%s', (_name, schema, samples) => {
    const fields = fieldsOf(schema());
    // The walk sees the fields it must: generated Relay types and nested types included.
    expect(fields.map((field) => field.name)).toEqual(expect.arrayContaining(samples));
    expect(fields.filter((field) => !field.guarded).map((field) => field.name)).toEqual([]);
  });
});
