import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { looksLikeApiKey, type TenantProvisioner, type TenantRegistry } from '@tenant-app/db';
import { errors, platformSchema, type PlatformContext } from '@tenant-app/graphql';
import type { PoolManager } from '@tenant-app/pool';
import { toClientError } from './errors.ts';
import { useAbuseLimits, type AbuseLimits } from './abuse-limits.ts';
import { useRequestErrorStatus } from './use-request-error-status.ts';

export interface PlatformApiOptions {
  pools: PoolManager;
  registry: TenantRegistry;
  /** Owner-side tools: the platform API changes tenants. */
  provisioner: TenantProvisioner;
  logger: Logger;
  graphiql: boolean;
  /** The tenant API's limits: an unauthenticated caller reaches parsing and validation here too. */
  limits: AbuseLimits;
}

export const PLATFORM_ENDPOINT = '/platform/graphql';

/**
 * The operators' API on an endpoint of its own, authenticated by platform keys (which belong to
 * no tenant). Each operation is a single provisioning step or a read of the control plane, so it
 * runs on the owner's connections and needs no request transaction.
 */
export function createPlatformApi(options: PlatformApiOptions): YogaServerInstance<Record<string, never>, PlatformContext> {
  const { pools, registry, provisioner, logger } = options;
  return createYoga<Record<string, never>, PlatformContext>({
    schema: platformSchema(),
    graphqlEndpoint: PLATFORM_ENDPOINT,
    landingPage: false,
    logging: logger,
    graphiql: options.graphiql ? { title: 'tenant-app platform' } : false,
    maxRequestBodySize: options.limits.maxRequestBodyBytes,
    plugins: [useAbuseLimits(options.limits), useRequestErrorStatus()],
    context: async ({ request }) => {
      const [scheme, key, ...rest] = (request.headers.get('authorization') ?? '').split(' ');
      if (scheme?.toLowerCase() !== 'bearer' || !key || rest.length > 0 || !looksLikeApiKey(key)) throw errors.unauthenticated();
      const operator = await registry.resolvePlatformKey(key);
      if (!operator) throw errors.unauthenticated();
      return {
        operator,
        provisioner,
        poolStats: () => ({ hosts: pools.hostStats(), pools: pools.stats(), tenants: pools.tenantStats() }),
        tenantsChanged: () => registry.invalidate(),
      };
    },
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const clientError = toClientError(error);
        if (clientError) return clientError;
        logger.error({ err: error }, 'platform request failed');
        return maskError(error, message, isDev);
      },
    },
  });
}
