import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  assertSafeRuntimeRole,
  loadTenantBindingKey,
  loadTenantLoginKey,
  TenantProvisioner,
  TenantRegistry,
  type DemoCredential,
} from '@tenant-app/db';
import { PoolManager } from '@tenant-app/pool';
import type { Env } from './env.ts';
import { demoCredentials } from './demo-credentials.ts';
import { openPostgres } from './postgres.ts';
import { createApi } from './yoga.ts';
import { describeTelemetry, startTelemetry } from './telemetry.ts';
import { apiLimitsFromEnv } from './limits-env.ts';
import { jwtOptionsFromEnv } from './jwt-env.ts';

export interface RunningServer {
  /** The GraphQL endpoint. */
  url: string;
  /** Demo tenants' API keys, when demo data was seeded. */
  credentials: DemoCredential[];
  /** A key for the platform API, when demo data was seeded. */
  platformKey: string | undefined;
  /** Where the data lives: "embedded Postgres in <folder>" or the DATABASE_URL host. */
  database: string;
  /** Where traces and metrics go, in words; undefined when OpenTelemetry is off. */
  telemetry: string | undefined;
  close(): Promise<void>;
}

/**
 * Everything `npm start` does: Postgres (embedded unless DATABASE_URL is set), migrations, demo
 * data, the pool, a check that the runtime login cannot bypass RLS, and the HTTP server.
 */
export async function startServer(env: Env, logger: Logger): Promise<RunningServer> {
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const telemetry = await startTelemetry(env);
    cleanups.push(() => telemetry.shutdown());
    const postgres = await openPostgres(env, { migrate: true });
    cleanups.push(() => postgres.close());
    const demo = (env.SEED_DEMO ?? !env.DATABASE_URL) ? await demoCredentials(postgres.ownerUrl, env.DATA_DIR) : undefined;
    const credentials = demo?.tenants ?? [];
    const provisioner = new TenantProvisioner({ ownerUrl: postgres.ownerUrl, hosts: postgres.hosts });
    cleanups.push(() => provisioner.close());

    const pools = new PoolManager({
      connectionString: postgres.runtimeUrl,
      maxConnections: env.DB_POOL_MAX,
      defaultBudget: env.DB_CONNECTION_BUDGET,
      acquireTimeoutMs: env.DB_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      preparedStatements: env.DB_PREPARED_STATEMENTS,
      onIdleError: (error) => logger.warn({ err: error }, 'idle database connection failed; it was discarded'),
    });
    cleanups.push(() => pools.close());
    await assertSafeRuntimeRole(pools.unbound());

    const first = credentials[0];
    const jwt = jwtOptionsFromEnv(env);
    // The one place the app reads its keys: as the owner, which the runtime login is not.
    const bindingKey = await loadTenantBindingKey(postgres.ownerUrl);
    const api = createApi({
      pools,
      registry: new TenantRegistry(pools.unbound(), bindingKey, { ttlMs: env.TENANT_CACHE_TTL_MS }),
      logger,
      bindingKey,
      loginKey: await loadTenantLoginKey(postgres.ownerUrl),
      provisioner,
      ...apiLimitsFromEnv(env),
      ...(jwt ? { jwt } : {}),
      graphiql:
        (env.GRAPHIQL ?? env.NODE_ENV !== 'production') &&
        (first ? { headers: { 'x-tenant-id': first.slug, authorization: `Bearer ${first.apiKey}` } } : {}),
    });
    const server = createServer(api);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(env.PORT, env.HOST, resolve);
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;
    const host = ['127.0.0.1', '0.0.0.0', '::', '::1'].includes(env.HOST) ? 'localhost' : env.HOST;
    return {
      url: `http://${host}:${port}/graphql`,
      credentials,
      platformKey: demo?.platformKey,
      database: postgres.description,
      telemetry: telemetry.enabled ? describeTelemetry(process.env) : undefined,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
