import { isInterfaceType, isObjectType, type GraphQLSchema } from 'graphql';
import { describe, expect, test } from 'vitest';
import { platformSchema, tenantSchema } from './index.ts';

/** The names of the scopes Pothos kept for a type or field (`function` for a scope function). */
function scopesOf(extensions: unknown): string[] {
  const scopes = (extensions as { pothosOptions?: { authScopes?: unknown } } | undefined)?.pothosOptions?.authScopes;
  if (typeof scopes === 'function') return ['function'];
  return typeof scopes === 'object' && scopes !== null ? Object.keys(scopes) : [];
}

/** Every scope declared on a type or a field, roots included, keyed `Type` or `Type.field`. */
function declaredScopes(schema: GraphQLSchema): Record<string, string[]> {
  const declared: Record<string, string[]> = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    if (scopesOf(type.extensions).length > 0) declared[type.name] = scopesOf(type.extensions);
    for (const field of Object.values(type.getFields())) {
      if (scopesOf(field.extensions).length > 0) declared[`${type.name}.${field.name}`] = scopesOf(field.extensions);
    }
  }
  return declared;
}

describe('scopes (@pothos/plugin-scope-auth)', () => {
  test.each([
    ['tenant API', tenantSchema, 'member', ['Query.projects', 'Query.node', 'Mutation.createProject']],
    ['platform API', platformSchema, 'platform', ['Query.tenants', 'Mutation.createTenant', 'Mutation.revokeApiKey']],
  ])('%s: the roots carry its scope, which guards every operation; below them only narrower scopes are declared', (_name, build, rootScope, rootFields) => {
    const schema = build();
    // A root type added later (Subscription) needs the scope as well.
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((root) => root != null);
    const declared = declaredScopes(schema);
    for (const root of roots) expect(declared[root.name], root.name).toEqual([rootScope]);
    const below = Object.fromEntries(Object.entries(declared).filter(([name]) => !roots.some((root) => root.name === name)));
    expect(roots.flatMap((root) => Object.keys(root.getFields()).map((field) => `${root.name}.${field}`))).toEqual(expect.arrayContaining(rootFields));
    // A type's scopes run again on each of its fields for every object returned: the root's own
    // scope declared below the root would cost that for a check already made.
    expect(Object.entries(below).filter(([, scopes]) => scopes.includes(rootScope))).toEqual([]);
  });

  test("the tenant API's admin-only surface: API keys, and creating projects", () => {
    expect(declaredScopes(tenantSchema())).toEqual({
      Query: ['member'],
      Mutation: ['member'],
      ApiKey: ['admin'],
      'Query.apiKeys': ['admin'],
      'Mutation.revokeApiKey': ['admin'],
      'Mutation.createProject': ['admin'],
    });
  });
});
