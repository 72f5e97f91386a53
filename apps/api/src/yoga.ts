import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { TenantRegistry } from '@tenant-app/db';
import { tenantSchema } from '@tenant-app/graphql';
import type { PoolManager } from '@tenant-app/pool';
import { createApiContext, type ApiContext } from './context.ts';
import { toClientError } from './errors.ts';
import { useTenantTransaction } from './use-tenant-transaction.ts';

export interface ApiOptions {
  pools: PoolManager;
  registry: TenantRegistry;
  logger: Logger;
  /** Serve GraphiQL at /graphql, with these request headers filled in. @default false */
  graphiql?: false | { headers?: Record<string, string> };
}

export type Api = YogaServerInstance<Record<string, never>, ApiContext>;

/** The HTTP handler of the API, without a socket: tests call `api.fetch(...)` directly. */
export function createApi(options: ApiOptions): Api {
  const { pools, registry, logger } = options;
  return createYoga<Record<string, never>, ApiContext>({
    schema: tenantSchema(),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    logging: logger,
    graphiql: options.graphiql
      ? { title: 'tenant-app', headers: JSON.stringify(options.graphiql.headers ?? {}) }
      : false,
    context: ({ request }) => createApiContext(request, { pools, registry, logger }),
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const clientError = toClientError(error);
        if (clientError) return clientError;
        logger.error({ err: error }, 'request failed');
        return maskError(error, message, isDev);
      },
    },
    plugins: [
      useTenantTransaction(),
      {
        async onRequest({ url, endResponse, fetchAPI }) {
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
