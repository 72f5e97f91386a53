import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import { errors } from '../errors.ts';
import { UserRef, userById } from './user.ts';

const TenantRef = builder.objectRef<GraphQLContext['tenant']>('Tenant').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
  }),
});

builder.queryFields((t) => ({
  tenant: t.field({ type: TenantRef, resolve: (_root, _args, ctx) => ctx.tenant }),
  viewer: t.field({
    type: UserRef,
    resolve: async (_root, _args, ctx) => {
      const viewer = await userById(ctx).load(ctx.viewer.userId);
      // A key whose member was removed from the tenant's directory must not act in it.
      if (!viewer) throw errors.forbidden('this key belongs to no member of the tenant');
      return viewer;
    },
  }),
}));
