import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { GraphQLContext } from './context.ts';
import { errors } from './errors.ts';

const NODE_TYPES = new Set(['User', 'Project', 'Task', 'Comment']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids are checked before any resolver or SQL sees them: a malformed id, or one of a type this API
 * does not have, is the client's mistake (BAD_USER_INPUT), never a server error that echoes it.
 */
function decodeGlobalID(globalID: string): { typename: string; id: string } {
  const decoded = Buffer.from(globalID, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  const typename = decoded.slice(0, separator);
  const id = decoded.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.has(typename) || !UUID.test(id)) throw errors.badInput('not an id of this API');
  return { typename, id: id.toLowerCase() };
}

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
    // A list argument is bounded like a page: each id may cost a row read.
    nodesQueryOptions: {
      resolve: (_root, args, _ctx, _info, resolveNodes) => {
        if (args.ids.length > 100) throw errors.badInput('ids must have at most 100 ids');
        return resolveNodes(args.ids);
      },
    },
    cursorType: 'String',
    clientMutationId: 'omit',
    decodeGlobalID,
  },
});

// Every operation starts at a root field, so the roots' scope guards every field below them. Below
// the roots, only scopes that narrow it (admin) are declared: a type's scopes run again on each of
// its fields for every object returned, and `member` on every type cost the nested read 7–10% of
// its throughput for a check the root had already made (load/README.md, "Scopes below the roots").
// Pothos's `runScopesOnType`, which would run them once per object, relies on `isTypeOf`, which
// graphql-jit calls without the context and does not await: it must stay off.
builder.queryType({ authScopes: { member: true } });
builder.mutationType({ authScopes: { member: true } });
