/**
 * The API in a process of its own, for the runner and the benchmark: its CPU time and memory are
 * then the server's alone, not the load generator's. Started by `server-child.ts` with its
 * configuration as the only argument; talks back over the IPC channel.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createApi, loadEnv, startTelemetry } from '@tenant-app/api';
import {
  assertSafeRuntimeRole,
  loadTenantBindingKey,
  loadTenantLoginKey,
  sessionPlanFor,
  TenantProvisioner,
  TenantRegistry,
  type TenantBindingKey,
  type TenantRecord,
} from '@tenant-app/db';
import { PoolManager, type SessionOptions } from '@tenant-app/pool';

export interface ServerProcessConfig {
  /** The runtime login (never the owner): the API's pool. */
  runtimeUrl: string;
  /** The owner login, for the platform API (pool figures). */
  ownerUrl: string;
  /** Connections of the shared pool (DB_POOL_MAX). */
  poolMax: number;
  /** Connections of all pools to one Postgres host. */
  budget: number;
  acquireTimeoutMs: number;
  /** TENANT_CACHE_TTL_MS. */
  registryTtlMs: number;
  /** Serve the tenants whose slug starts with `slugPrefix` with tenancy off (see `tenancyOffPlan`). */
  tenancyOff?: { slugPrefix: string; schema: string };
  /** Send every connection, the shared pool's and database tenants' alike, through this local port (a round-trip counting proxy). */
  proxyPort?: number;
  /**
   * Start OpenTelemetry (as `npm start` does) and export spans and metrics over OTLP/HTTP there:
   * the spans of every request, or of `traceRatio` of them.
   */
  telemetry?: { otlpEndpoint: string; traceRatio?: number };
  logLevel: string;
}

/** Messages from the parent. */
export type ServerRequest = { type: 'usage'; id: number; gc: boolean } | { type: 'close' };

/** Messages to the parent. */
export type ServerReply =
  | { type: 'ready'; port: number }
  | { type: 'usage'; id: number; cpuMicros: number; memory: NodeJS.MemoryUsage }
  | { type: 'failed'; message: string };

/**
 * "Tenancy off": what the same API costs without multi-tenancy. The request keeps everything else
 * (HTTP, tenant and key resolution, pool manager and fair scheduling with the tenant's tier limits,
 * one transaction per request, the same resolvers and SQL) but its transaction carries no binding
 * statement and reads tables on which row-level security is disabled. Those tables sit in a schema
 * of their own holding one tenant's rows, so every query reads what the tenant's own query would.
 * Not the shared tables seen by a login that bypasses RLS: without the policies' `tenant_id = …`
 * those queries would read every tenant's rows and lose the tenant_id-led indexes, a cost that a
 * single-tenant deployment never pays. The schema is in the same database and served by the same
 * shared pool, so nothing but the binding and RLS differs from a `shared` tenant.
 */
function tenancyOffPlan(tenant: TenantRecord, key: TenantBindingKey, schema: string): SessionOptions {
  return { ...sessionPlanFor(tenant, key), binding: [], schema };
}

function throughProxy(url: string, port: number): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  return proxied.toString();
}

async function main(config: ServerProcessConfig): Promise<void> {
  const send = (reply: ServerReply) => process.send?.(reply);
  const logger = pino({ level: config.logLevel });
  if (config.telemetry) {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = config.telemetry.otlpEndpoint;
    process.env.OTEL_METRICS_EXPORTER = 'otlp';
    if (config.telemetry.traceRatio !== undefined) {
      process.env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
      process.env.OTEL_TRACES_SAMPLER_ARG = String(config.telemetry.traceRatio);
    }
    // Through the API's own seam, so that a project made without telemetry keeps this runner.
    await startTelemetry(loadEnv(process.env));
  }
  const pools = new PoolManager({
    connectionString: config.proxyPort ? throughProxy(config.runtimeUrl, config.proxyPort) : config.runtimeUrl,
    maxConnections: config.poolMax,
    defaultBudget: config.budget,
    acquireTimeoutMs: config.acquireTimeoutMs,
    onIdleError: (error) => logger.warn({ err: error }, 'idle database connection failed; it was discarded'),
  });
  await assertSafeRuntimeRole(pools.unbound());
  const provisioner = new TenantProvisioner({ ownerUrl: config.ownerUrl });
  const { tenancyOff, proxyPort } = config;
  const bindingKey = await loadTenantBindingKey(config.ownerUrl);
  const loginKey = await loadTenantLoginKey(config.ownerUrl);
  const api = createApi({
    pools,
    registry: new TenantRegistry(pools.unbound(), bindingKey, { ttlMs: config.registryTtlMs }),
    logger,
    bindingKey,
    loginKey,
    provisioner,
    // A benchmark floods on purpose: the per-tenant rate limit would measure itself.
    rateLimit: false,
    sessionPlan: (tenant) => {
      if (tenancyOff && tenant.slug.startsWith(tenancyOff.slugPrefix)) return tenancyOffPlan(tenant, bindingKey, tenancyOff.schema);
      const plan = sessionPlanFor(tenant, bindingKey, loginKey);
      if (!proxyPort || !plan.target) return plan;
      return { ...plan, target: { ...plan.target, connectionString: throughProxy(plan.target.connectionString, proxyPort) } };
    },
  });
  const server = createServer(api);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  process.on('message', (message: ServerRequest) => {
    if (message.type === 'usage') {
      if (message.gc) globalThis.gc?.();
      const { user, system } = process.cpuUsage();
      send({ type: 'usage', id: message.id, cpuMicros: user + system, memory: process.memoryUsage() });
    } else if (message.type === 'close') {
      server.closeAllConnections();
      server.close();
      void Promise.all([pools.close(), provisioner.close()]).finally(() => process.exit(0));
    }
  });
  // The parent went away without saying so (killed, crashed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
}

main(JSON.parse(process.argv[2] ?? '{}') as ServerProcessConfig).catch((error: unknown) => {
  process.send?.({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies ServerReply);
  process.exit(1);
});
