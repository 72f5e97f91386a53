import type { HostStats, PoolStats, TenantPoolStats } from '@tenant-app/pool';
import { pageSize } from '../arguments.ts';
import { platformBuilder as builder } from './builder.ts';

const HostPoolStats = builder.objectRef<HostStats>('HostPoolStats').implement({
  description: 'The connection budget of one Postgres host, summed over its pools.',
  fields: (t) => ({
    host: t.exposeString('host'),
    budget: t.exposeInt('budget'),
    open: t.exposeInt('open'),
    pending: t.exposeInt('pending'),
    pools: t.exposeInt('pools'),
    evictions: t.exposeInt('evictions'),
  }),
});

const ConnectionPoolStats = builder.objectRef<PoolStats>('ConnectionPoolStats').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    host: t.exposeString('host'),
    total: t.exposeInt('total'),
    max: t.exposeInt('max'),
    idle: t.exposeInt('idle'),
    active: t.exposeInt('active'),
    pending: t.exposeInt('pending'),
    acquired: t.exposeInt('acquired'),
    released: t.exposeInt('released'),
    discarded: t.exposeInt('discarded'),
    timeouts: t.exposeInt('timeouts'),
    evictions: t.exposeInt('evictions'),
    healthFailures: t.exposeInt('idleErrors'),
    waitMsSum: t.exposeFloat('waitMsSum'),
    waitMsMax: t.exposeFloat('waitMsMax'),
  }),
});

const TenantConnectionStats = builder.objectRef<TenantPoolStats>('TenantConnectionStats').implement({
  fields: (t) => ({
    tenantId: t.exposeID('tenantId'),
    active: t.exposeInt('active'),
    pending: t.exposeInt('pending'),
    acquired: t.exposeInt('acquired'),
    released: t.exposeInt('released'),
    timeouts: t.exposeInt('timeouts'),
    shed: t.exposeInt('shed'),
    waitMsSum: t.exposeFloat('waitMsSum'),
    waitMsMax: t.exposeFloat('waitMsMax'),
  }),
});

const PoolStatsRef = builder.objectRef<ReturnType<import('./platform-context.ts').PlatformContext['poolStats']>>('PoolStats').implement({
  fields: (t) => ({
    hosts: t.field({ type: [HostPoolStats], resolve: (stats) => stats.hosts }),
    pools: t.field({
      type: [ConnectionPoolStats],
      description: 'Pools with the most connections first; one per database tenant, so there may be many.',
      args: { first: t.arg.int({ defaultValue: 100 }) },
      resolve: (stats, args) => [...stats.pools].sort((a, b) => b.total - a.total).slice(0, pageSize('first', args.first, 100, 1000)),
    }),
    tenants: t.field({
      type: [TenantConnectionStats],
      description: 'Tenants with the most waiting first.',
      args: { first: t.arg.int({ defaultValue: 50 }) },
      resolve: (stats, args) =>
        [...stats.tenants].sort((a, b) => b.waitMsSum - a.waitMsSum).slice(0, pageSize('first', args.first, 50, 1000)),
    }),
  }),
});

builder.queryFields((t) => ({
  poolStats: t.field({ type: PoolStatsRef, resolve: (_root, _args, ctx) => ctx.poolStats() }),
}));
