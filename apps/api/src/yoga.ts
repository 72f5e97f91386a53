import { useGraphQlJit } from '@envelop/graphql-jit';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { TenantBindingKey, TenantLoginKey, TenantProvisioner, TenantRegistry } from '@tenant-app/db';
import { tenantSchema } from '@tenant-app/graphql';
import type { PoolManager } from '@tenant-app/pool';
import { createApiContext, type ApiContext, type ContextDependencies } from './context.ts';
import { createPlatformApi, PLATFORM_ENDPOINT } from './platform-api.ts';
import { toClientError } from './errors.ts';
import { useTenantTransaction } from './use-tenant-transaction.ts';
import { useRequestTracing } from './use-request-tracing.ts';
import { DEFAULT_ABUSE_LIMITS, useAbuseLimits, type AbuseLimits } from './abuse-limits.ts';
import { TenantRateLimiter, type TierRate } from './rate-limit.ts';
import { useRequestErrorStatus } from './use-request-error-status.ts';
import { JwtVerifier, type JwtOptions } from './jwt-verifier.ts';

export interface ApiOptions {
  pools: PoolManager;
  registry: TenantRegistry;
  logger: Logger;
  /** Signs the tenant binding of every request: `loadTenantBindingKey(ownerUrl)` at start. */
  bindingKey: TenantBindingKey;
  /**
   * Derives the password of each `database` tenant's login, which the control plane does not
   * keep: `loadTenantLoginKey(ownerUrl)` at start.
   */
  loginKey: TenantLoginKey;
  /** Serve GraphiQL at /graphql, with these request headers filled in. @default false */
  graphiql?: false | { headers?: Record<string, string> };
  /**
   * Serve the platform API at /platform/graphql, provisioning as the owner, and let tenant admins
   * list and revoke their tenant's API keys. @default off
   */
  provisioner?: TenantProvisioner;
  /**
   * How a tenant's session is opened (binding, schema, pool). The benchmark's "tenancy off"
   * baseline replaces it; a deployment with a strategy of its own could too. @default sessionPlanFor
   */
  sessionPlan?: ContextDependencies['sessionPlan'];
  /** Query, body and introspection limits of both APIs; unset ones keep their default. @default DEFAULT_ABUSE_LIMITS */
  limits?: Partial<AbuseLimits>;
  /**
   * Requests per tenant and second, by tier (after the tenant is known); `false` turns the limit
   * off, as a benchmark that floods on purpose does. @default the tier's rate in `@tenant-app/db`
   */
  rateLimit?: false | ((tier: string) => TierRate);
  /**
   * Accept `Authorization: Bearer <JWT>` besides API keys: the token's `sub` is the user, whose
   * membership of the tenant gives the role. @default off: a JWT gets 401
   */
  jwt?: JwtOptions;
}

export type Api = YogaServerInstance<Record<string, never>, ApiContext>;

/** The HTTP handler of the API, without a socket: tests call `api.fetch(...)` directly. */
export function createApi(options: ApiOptions): Api {
  const { pools, registry, logger } = options;
  const limits: AbuseLimits = { ...DEFAULT_ABUSE_LIMITS, ...options.limits };
  const rateLimiter = options.rateLimit === false ? undefined : new TenantRateLimiter(options.rateLimit);
  const jwt = options.jwt && new JwtVerifier(options.jwt);
  const platform =
    options.provisioner &&
    createPlatformApi({ pools, registry, logger, provisioner: options.provisioner, graphiql: Boolean(options.graphiql), limits });
  return createYoga<Record<string, never>, ApiContext>({
    schema: tenantSchema(),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    logging: logger,
    maxRequestBodySize: limits.maxRequestBodyBytes,
    graphiql: options.graphiql
      ? { title: 'tenant-app', headers: JSON.stringify(options.graphiql.headers ?? {}) }
      : false,
    context: ({ request }) =>
      createApiContext(request, {
        pools,
        registry,
        logger,
        bindingKey: options.bindingKey,
        loginKey: options.loginKey,
        ...(options.sessionPlan ? { sessionPlan: options.sessionPlan } : {}),
        ...(rateLimiter ? { rateLimiter } : {}),
        ...(jwt ? { jwt } : {}),
        ...(options.provisioner ? { provisioner: options.provisioner } : {}),
      }),
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const clientError = toClientError(error);
        if (clientError) return clientError;
        logger.error({ err: error }, 'request failed');
        return maskError(error, message, isDev);
      },
    },
    plugins: [
      useRequestTracing(),
      useAbuseLimits(limits),
      useRequestErrorStatus(),
      // Each operation is compiled to a function once (cached per parsed document, which Yoga's
      // parser cache bounds) instead of being interpreted on every request: the executor was the
      // largest share of server CPU per nested read. Before the transaction plugin, which wraps it.
      useGraphQlJit(),
      useTenantTransaction(),
      {
        async onRequest({ request, url, endResponse, fetchAPI }) {
          if (platform && url.pathname === PLATFORM_ENDPOINT) {
            endResponse(await platform.fetch(request));
            return;
          }
          if (url.pathname !== '/ready') return;
          try {
            await sql`select 1`.execute(pools.unbound());
            endResponse(new fetchAPI.Response('ready', { status: 200 }));
          } catch {
            endResponse(new fetchAPI.Response('database unavailable', { status: 503 }));
          }
        },
      },
    ],
  });
}
