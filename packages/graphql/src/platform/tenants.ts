import { GraphQLError } from 'graphql';
import { DEFAULT_TENANT_STRATEGY, ProvisioningFailedError, TIERS, type TenantStatus, type TenantStrategy } from '@tenant-app/db';
import { pageSize } from '../arguments.ts';
import { errors } from '../errors.ts';
import { platformBuilder as builder } from './builder.ts';
import type { PlatformContext } from './platform-context.ts';

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  strategy: TenantStrategy;
  tier: string;
  status: TenantStatus;
  own_role: boolean;
  host: string;
  provisioning_error: string | null;
  created_at: Date;
}

const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;

const StrategyEnum = builder.enumType('TenantStrategy', {
  values: { SHARED: { value: 'shared' }, SCHEMA: { value: 'schema' }, DATABASE: { value: 'database' } } as const,
});

const StatusEnum = builder.enumType('TenantStatus', {
  values: {
    PROVISIONING: { value: 'provisioning' },
    FAILED: { value: 'failed' },
    ACTIVE: { value: 'active' },
    SUSPENDED: { value: 'suspended' },
  } as const,
});

const TenantInfo = builder.objectRef<TenantRow>('TenantInfo').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    strategy: t.field({ type: StrategyEnum, resolve: (tenant) => tenant.strategy }),
    status: t.field({ type: StatusEnum, resolve: (tenant) => tenant.status }),
    tier: t.exposeString('tier'),
    ownRole: t.exposeBoolean('own_role'),
    host: t.exposeString('host'),
    provisioningError: t.exposeString('provisioning_error', { nullable: true }),
    createdAt: t.string({ resolve: (tenant) => tenant.created_at.toISOString() }),
  }),
});

const CreatedTenant = builder.objectRef<{ tenant: TenantRow; adminApiKey: string }>('CreatedTenant').implement({
  fields: (t) => ({
    tenant: t.field({ type: TenantInfo, resolve: (created) => created.tenant }),
    adminApiKey: t.exposeString('adminApiKey', { description: 'Shown once: only its hash is kept.' }),
  }),
});

function tenantQuery(ctx: PlatformContext) {
  return ctx.provisioner.owner
    .selectFrom('control.tenants')
    .select(['id', 'slug', 'name', 'strategy', 'tier', 'status', 'own_role', 'host', 'provisioning_error', 'created_at']);
}

async function tenantBySlug(ctx: PlatformContext, slug: string): Promise<TenantRow> {
  const tenant = await tenantQuery(ctx).where('slug', '=', slug).executeTakeFirst();
  if (!tenant) throw errors.notFound('tenant');
  return tenant;
}

builder.queryFields((t) => ({
  tenants: t.field({
    type: [TenantInfo],
    description: 'Tenants by slug, a page at a time: pass the last slug of a page as `after` for the next.',
    args: { status: t.arg({ type: StatusEnum }), first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
    resolve: (_root, args, ctx) => {
      let query = tenantQuery(ctx).orderBy('slug').limit(pageSize('first', args.first, 100, 1000));
      if (args.status) query = query.where('status', '=', args.status);
      if (args.after) query = query.where('slug', '>', args.after);
      return query.execute();
    },
  }),
}));

async function setStatus(ctx: PlatformContext, slug: string, status: 'active' | 'suspended'): Promise<TenantRow> {
  const tenant = await tenantBySlug(ctx, slug);
  if (tenant.status !== 'active' && tenant.status !== 'suspended') {
    throw errors.badInput(`tenant ${slug} is ${tenant.status}: only active and suspended tenants can change status`);
  }
  await ctx.provisioner.setStatus(tenant.id, status);
  ctx.tenantsChanged();
  return { ...tenant, status };
}

builder.mutationFields((t) => ({
  createTenant: t.field({
    type: CreatedTenant,
    args: {
      slug: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      strategy: t.arg({ type: StrategyEnum, defaultValue: DEFAULT_TENANT_STRATEGY }),
      host: t.arg.string(),
      tier: t.arg.string({ defaultValue: 'free' }),
      ownRole: t.arg.boolean({ defaultValue: false }),
      adminEmail: t.arg.string({ required: true }),
      adminName: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => {
      if (!SLUG.test(args.slug)) throw errors.badInput('slug must be 3 to 40 characters of a-z, 0-9 and "-", starting with a letter');
      const tier = args.tier ?? 'free';
      if (!(tier in TIERS)) throw errors.badInput(`tier must be one of ${Object.keys(TIERS).join(', ')}`);
      if (!/^[^@\s]+@[^@\s]+$/.test(args.adminEmail)) throw errors.badInput('adminEmail must be an e-mail address');
      const strategy = args.strategy ?? DEFAULT_TENANT_STRATEGY;
      try {
        const tenant = await ctx.provisioner.createTenant({
          slug: args.slug,
          name: args.name,
          strategy,
          tier,
          ownRole: args.ownRole ?? false,
          ...(args.host ? { host: args.host } : {}),
        });
        const admin = await ctx.provisioner.addMember(tenant, {
          email: args.adminEmail,
          name: args.adminName ?? args.adminEmail,
          role: 'admin',
        });
        const adminApiKey = await ctx.provisioner.issueApiKey({ tenantId: tenant.id, userId: admin.userId, role: 'admin' });
        ctx.tenantsChanged();
        return { tenant: await tenantBySlug(ctx, tenant.slug), adminApiKey };
      } catch (error) {
        if (error instanceof ProvisioningFailedError) {
          throw new GraphQLError(error.message, { extensions: { code: 'PROVISIONING_FAILED' } });
        }
        throw error;
      }
    },
  }),
  suspendTenant: t.field({
    type: TenantInfo,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => setStatus(ctx, args.slug, 'suspended'),
  }),
  resumeTenant: t.field({
    type: TenantInfo,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => setStatus(ctx, args.slug, 'active'),
  }),
  deleteTenant: t.boolean({
    description: 'Removes the tenant and all its data, schema, database and roles. `confirm` must repeat the slug.',
    args: { slug: t.arg.string({ required: true }), confirm: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      if (args.confirm !== args.slug) throw errors.badInput('confirm must repeat the slug of the tenant to delete');
      const deleted = await ctx.provisioner.deleteTenant(args.slug);
      if (!deleted) throw errors.notFound('tenant');
      ctx.tenantsChanged();
      return true;
    },
  }),
}));
