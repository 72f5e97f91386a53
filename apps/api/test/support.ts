import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  loadTenantBindingKey,
  loadTenantLoginKey,
  seedTenantData,
  TenantProvisioner,
  TenantRegistry,
  type NewTenant,
  type TenantFixtureShape,
  type TenantStrategy,
} from '@tenant-app/db';
import {
  createTestDatabase,
  startPgBouncer,
  startRoundTripProxy,
  type ExtraCluster,
  type PgBouncer,
  type RoundTripProxy,
  type TestDatabase,
} from '@tenant-app/db/testing';
import { PoolManager, type PoolManagerOptions } from '@tenant-app/pool';
import { createApi, type Api, type ApiOptions } from '../src/index.ts';

export interface TestTenant {
  id: string;
  slug: string;
  strategy: TenantStrategy;
  adminKey: string;
  memberKey: string;
  adminId: string;
  memberId: string;
}

export interface GraphQLResponse<Data = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: Data | null; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] };
  text: string;
}

export interface TestApi {
  api: Api;
  database: TestDatabase;
  pools: PoolManager;
  /** Between the pool and Postgres when asked for: counts round trips and records statements. */
  proxy: RoundTripProxy | undefined;
  /** Between the pool (or the proxy) and Postgres when asked for: the runtime login's requests go through it. */
  pgbouncer: PgBouncer | undefined;
  /** Sends one GraphQL operation as `tenant`'s admin (or with the given key and headers). */
  graphql<Data = Record<string, any>>(
    tenant: TestTenant | undefined,
    query: string,
    variables?: Record<string, unknown>,
    options?: { apiKey?: string; headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<GraphQLResponse<Data>>;
  /** Sends one operation to the platform API with a platform key (or none). */
  platform<Data = Record<string, any>>(
    platformKey: string | undefined,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<Data>>;
  close(): Promise<void>;
}

/** The deployment's PgBouncer settings (docker-compose.yml mounts this file): tests run the same. */
export const PGBOUNCER_INI = fileURLToPath(new URL('../../../deploy/pgbouncer/pgbouncer.ini', import.meta.url));

/**
 * The real API on a fresh, migrated database of the test cluster: no socket, no mocks. With
 * `pgbouncer`, the runtime login's connections (shared pool and control plane) go through a real
 * PgBouncer with that many server connections, as in docker-compose.yml; `database` tenants' own
 * pools connect to Postgres directly, as they do there.
 */
export async function createTestApi(
  pool: Partial<PoolManagerOptions> = {},
  options: {
    proxied?: { latencyMs?: number };
    pgbouncer?: { poolSize: number };
    /** Serve another TestApi's database (and its tenants) instead of a fresh one; its owner closes it. */
    database?: TestDatabase;
    api?: Pick<ApiOptions, 'limits' | 'rateLimit' | 'jwt'>;
    /** The registry's TTL: 0 (no cache) makes every request see the control plane as it is now. @default 0 */
    tenantCacheTtlMs?: number;
  } = {},
): Promise<TestApi> {
  const database = options.database ?? (await createTestDatabase());
  const pgbouncer = options.pgbouncer
    ? await startPgBouncer({ settingsFile: PGBOUNCER_INI, databaseUrl: database.runtimeUrl, poolSize: options.pgbouncer.poolSize })
    : undefined;
  const runtimeUrl = pgbouncer?.url ?? database.runtimeUrl;
  const proxy = options.proxied ? await startRoundTripProxy(runtimeUrl, options.proxied) : undefined;
  const pools = new PoolManager({
    connectionString: proxy?.url ?? runtimeUrl,
    maxConnections: 4,
    // Debian's PgBouncer 1.18 cannot carry named statements from one server connection to another.
    ...(pgbouncer ? { preparedStatements: false } : {}),
    ...pool,
  });
  const api = createApi({
    pools,
    registry: new TenantRegistry(pools.unbound(), database.bindingKey, { ttlMs: options.tenantCacheTtlMs ?? 0 }),
    logger: pino({ level: 'silent' }),
    bindingKey: database.bindingKey,
    loginKey: database.loginKey,
    provisioner: database.provisioner,
    // Suites send requests as fast as they can on purpose; rate-limit.test.ts turns the limit on.
    rateLimit: false,
    ...options.api,
  });
  return {
    api,
    database,
    pools,
    proxy,
    pgbouncer,
    async graphql(tenant, query, variables, options = {}) {
      const response = await api.fetch('http://test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(tenant ? { 'x-tenant-id': tenant.slug, authorization: `Bearer ${options.apiKey ?? tenant.adminKey}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
    },
    async platform(platformKey, query, variables) {
      const response = await api.fetch('http://test/platform/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(platformKey ? { authorization: `Bearer ${platformKey}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
    },
    async close() {
      await pools.close();
      await proxy?.close();
      await pgbouncer?.stop();
      if (!options.database) await database.close();
    },
  };
}

/** A tenant with an admin and a member (each with an API key) and the given amount of data. */
export async function provisionTenant(
  provisioner: TenantProvisioner,
  slug: string,
  shape: TenantFixtureShape = { projects: 3, tasksPerProject: 3, commentsPerTask: 2 },
  options: Omit<NewTenant, 'slug' | 'name'> = {},
): Promise<TestTenant> {
  const tenant = await provisioner.createTenant({ slug, name: `${slug} inc.`, ...options });
  const admin = await provisioner.addMember(tenant, { email: `admin@${slug}.test`, name: `${slug} admin`, role: 'admin' });
  const member = await provisioner.addMember(tenant, { email: `member@${slug}.test`, name: `${slug} member`, role: 'member' });
  await seedTenantData(provisioner, tenant, [admin.userId, member.userId], shape);
  return {
    id: tenant.id,
    slug,
    strategy: tenant.strategy,
    adminId: admin.userId,
    memberId: member.userId,
    adminKey: await provisioner.issueApiKey({ tenantId: tenant.id, userId: admin.userId, role: 'admin' }),
    memberKey: await provisioner.issueApiKey({ tenantId: tenant.id, userId: member.userId, role: 'member' }),
  };
}

/** Relay global id of a row, as the API encodes it. */
export function globalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64');
}

/**
 * The `tenant_app` database of a cluster of the test file's own (`startExtraCluster`), in the shape
 * `createTestApi({}, { database })` serves: for tests that restart Postgres or end the runtime
 * login's backends, which must not touch the cluster the other test files share.
 */
export async function clusterTestDatabase(cluster: ExtraCluster): Promise<TestDatabase> {
  const provisioner = new TenantProvisioner({ ownerUrl: cluster.ownerUrl });
  return {
    name: 'tenant_app',
    superuserUrl: cluster.superuserUrl('tenant_app'),
    ownerUrl: cluster.ownerUrl,
    runtimeUrl: cluster.runtimeUrl,
    provisioner,
    owner: provisioner.owner,
    bindingKey: await loadTenantBindingKey(cluster.ownerUrl),
    loginKey: await loadTenantLoginKey(cluster.ownerUrl),
    close: () => provisioner.close(),
  };
}
