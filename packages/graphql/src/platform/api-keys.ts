import type { ApiKeySummary } from '@tenant-app/db';
import { isUuid, pageSize } from '../arguments.ts';
import { errors } from '../errors.ts';
import { platformBuilder as builder } from './builder.ts';

const PlatformApiKey = builder.objectRef<ApiKeySummary>('PlatformApiKey').implement({
  description: "A tenant's API key: never the key or its hash, which are not kept or not shown.",
  fields: (t) => ({
    id: t.exposeID('id'),
    prefix: t.exposeString('prefix'),
    role: t.exposeString('role'),
    userId: t.exposeID('user_id'),
    createdAt: t.string({ resolve: (key) => key.created_at.toISOString() }),
    lastUsedAt: t.string({ nullable: true, resolve: (key) => key.last_used_at?.toISOString() ?? null }),
    revokedAt: t.string({ nullable: true, resolve: (key) => key.revoked_at?.toISOString() ?? null }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [PlatformApiKey],
    description: "A tenant's newest API keys, revoked ones too.",
    args: { tenant: t.arg.string({ required: true, description: 'slug' }), first: t.arg.int({ defaultValue: 100 }) },
    resolve: async (_root, args, ctx) => {
      const limit = pageSize('first', args.first, 100, 1000);
      const tenant = await ctx.provisioner.findTenant(args.tenant);
      if (!tenant) throw errors.notFound('tenant');
      return ctx.provisioner.listApiKeys(tenant.id, limit);
    },
  }),
}));

builder.mutationFields((t) => ({
  revokeApiKey: t.field({
    type: PlatformApiKey,
    description: "Refused from now on by this process; by others within their registry's cache TTL.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      const key = isUuid(id) ? await ctx.provisioner.revokeApiKey(id) : undefined;
      if (!key) throw errors.notFound('API key');
      ctx.tenantsChanged();
      return key;
    },
  }),
}));
