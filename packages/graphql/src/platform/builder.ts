import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { errors } from '../errors.ts';
import type { PlatformContext } from './platform-context.ts';

/**
 * The platform API is a schema of its own, served on its own endpoint: tenant provisioning and
 * cross-tenant figures are not even addressable from the tenant API.
 */
export const platformBuilder = new SchemaBuilder<{
  Context: PlatformContext;
  AuthScopes: { platform: boolean };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ platform: Boolean(ctx.operator) }),
    unauthorizedError: () => errors.forbidden('a platform key is required'),
  },
});

// Every operation starts at a root field, so the roots' scope guards every field below them (as in
// the tenant API: ../builder.ts).
platformBuilder.queryType({ authScopes: { platform: true } });
platformBuilder.mutationType({ authScopes: { platform: true } });
