import type { ApiKeySummary } from '@tenant-app/db';
import { isUuid, pageSize } from '../arguments.ts';
import { builder } from '../builder.ts';
import { errors } from '../errors.ts';

const ApiKeyRef = builder.objectRef<ApiKeySummary>('ApiKey').implement({
  description: 'An API key of this tenant: never the key, which is shown once, nor its hash.',
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    prefix: t.exposeString('prefix', { description: "The key's first characters, to tell keys apart." }),
    role: t.exposeString('role'),
    userId: t.exposeID('user_id'),
    createdAt: t.string({ resolve: (key) => key.created_at.toISOString() }),
    lastUsedAt: t.string({
      nullable: true,
      description: "May lag by the server's tenant cache TTL: a key's use is recorded once per TTL.",
      resolve: (key) => key.last_used_at?.toISOString() ?? null,
    }),
    revokedAt: t.string({ nullable: true, resolve: (key) => key.revoked_at?.toISOString() ?? null }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyRef],
    authScopes: { admin: true },
    description: "This tenant's newest API keys, revoked ones too.",
    args: { first: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) => ctx.apiKeys.list(pageSize('first', args.first, 50, 100)),
  }),
}));

builder.mutationFields((t) => ({
  revokeApiKey: t.field({
    type: ApiKeyRef,
    authScopes: { admin: true },
    description: "Refused from the next request on (by other server processes within their tenant cache TTL).",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      // Another tenant's key is not found, exactly like a missing one.
      const key = isUuid(id) ? await ctx.apiKeys.revoke(id) : undefined;
      if (!key) throw errors.notFound('API key');
      return key;
    },
  }),
}));
