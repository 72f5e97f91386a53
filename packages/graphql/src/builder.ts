import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { GraphQLContext } from './context.ts';
import { errors } from './errors.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: { member: boolean; admin: boolean };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ member: true, admin: ctx.viewer.role === 'admin' }),
    unauthorizedError: () => errors.forbidden(),
  },
  relay: {
    cursorType: 'String',
    clientMutationId: 'omit',
  },
});

builder.queryType({ authScopes: { member: true } });
builder.mutationType({ authScopes: { member: true } });
