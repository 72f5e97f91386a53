import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TenantProvisioner, seedTenantData, sessionPlanFor, type ProvisionedTenant, type TenantDatabase } from '@tenant-app/db';
import { createTestDatabase, type TestDatabase } from '@tenant-app/db/testing';
import { PoolManager } from './index.ts';
import { startExtraCluster, type ExtraCluster } from './test-clusters.ts';

interface Tenant extends ProvisionedTenant {
  host: 'main' | 'second';
  databaseUrl: string;
  databaseName: string;
}

interface Server {
  name: 'main' | 'second';
  /** `host:port`: the key of its budget. */
  host: string;
  port: number;
  budget: number;
  observer: pg.Client;
}

const TENANTS_PER_HOST = 6;
const BUDGETS = { main: 4, second: 3 };

let database: TestDatabase;
let second: ExtraCluster;
let provisioner: TenantProvisioner;
const servers: Server[] = [];
const tenants: Tenant[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  second = await startExtraCluster({ persistent: false });
  provisioner = new TenantProvisioner({ ownerUrl: database.ownerUrl, hosts: { second: second.ownerUrl } });
  const mainUrl = new URL(database.runtimeUrl);
  for (const [name, host, superuserUrl] of [
    ['main', mainUrl.host, database.superuserUrl],
    ['second', second.host, second.superuserUrl()],
  ] as const) {
    const observer = new pg.Client({ connectionString: superuserUrl });
    await observer.connect();
    servers.push({ name, host, port: Number(host.split(':')[1]), budget: BUDGETS[name], observer });
  }
  // One at a time: provisioning database tenants concurrently races on the shared access role.
  for (let index = 0; index < TENANTS_PER_HOST * 2; index += 1) {
    const host = index % 2 === 0 ? 'main' : 'second';
    const created = await provisioner.createTenant({ slug: `${host}-${index}`, name: `${host} ${index}`, strategy: 'database', host });
    await seedTenantData(provisioner, created, [], { projects: 1, tasksPerProject: 0, commentsPerTask: 0 });
    const row = await database.owner
      .selectFrom('control.tenant_databases')
      .select(['connection_url', 'database_name'])
      .where('tenant_id', '=', created.id)
      .executeTakeFirstOrThrow();
    tenants.push({ ...created, host, databaseUrl: row.connection_url, databaseName: row.database_name });
  }
});

afterAll(async () => {
  await provisioner?.close();
  // pg-pool's end() resolves before its connections have closed. Stopping the server under one of
  // them makes Postgres send it a FATAL error, which the provisioner's pool (no error listener)
  // would throw as an uncaught exception: wait until the server has seen them go.
  const secondServer = servers.find((server) => server.name === 'second');
  for (let deadline = Date.now() + 5_000; secondServer && Date.now() < deadline; ) {
    const { rows } = await secondServer.observer.query("select 1 from pg_stat_activity where usename = 'tenant_app_owner'");
    if (rows.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(servers.map((server) => server.observer.end()));
  await database?.close();
  await second?.remove();
});

/** Connections of ours that a server shows, on the databases of its tenants. */
async function connectionsOn(server: Server): Promise<number> {
  const databases = tenants.filter((tenant) => tenant.host === server.name).map((tenant) => tenant.databaseName);
  const { rows } = await server.observer.query<{ count: string }>(
    "select count(*) from pg_stat_activity where application_name like 'tenant-app:%' and datname = any($1)",
    [databases],
  );
  return Number(rows[0]!.count);
}

describe('database tenants on two Postgres servers', () => {
  test('each server keeps its own budget, seen from Postgres, and a tenant reaches only its own server and database', async () => {
    const pools = new PoolManager({
      connectionString: database.runtimeUrl,
      budgets: { [servers[0]!.host]: BUDGETS.main, [servers[1]!.host]: BUDGETS.second },
      defaultBudget: 1,
      acquireTimeoutMs: 15_000,
    });
    const most = { main: 0, second: 0 };
    let sampling = true;
    const sampler = Promise.all(
      servers.map(async (server) => {
        while (sampling) most[server.name] = Math.max(most[server.name], await connectionsOn(server));
      }),
    );
    const seen: { tenant: Tenant; port: number; database: string; projects: { tenant_id: string; name: string }[] }[] = [];
    try {
      // Every tenant at once, 8 sessions each: far more than either budget, so pools are evicted
      // and reopened on both servers all along.
      await Promise.all(
        tenants.flatMap((tenant) =>
          Array.from({ length: 8 }, async () => {
            const { db, session } = pools.openSession<TenantDatabase>(sessionPlanFor(tenant, database.bindingKey, database.loginKey));
            try {
              const { rows } = await sql<{ port: number; database: string }>`
                select inet_server_port() as port, current_database() as database, pg_sleep(0.02)`.execute(db);
              const projects = await db.selectFrom('projects').select(['tenant_id', 'name']).execute();
              await session.commit();
              seen.push({ tenant, port: rows[0]!.port, database: rows[0]!.database, projects });
            } catch (error) {
              await session.rollback();
              throw error;
            }
          }),
        ),
      );
    } finally {
      sampling = false;
      await sampler;
    }
    const hosts = pools.hostStats().sort((a, b) => BUDGETS[nameOf(a.host)] - BUDGETS[nameOf(b.host)]);
    await pools.close();

    expect(seen).toHaveLength(TENANTS_PER_HOST * 2 * 8);
    for (const { tenant, port, database: reached, projects } of seen) {
      expect({ port, database: reached, projects }).toEqual({
        port: serverOf(tenant).port,
        database: tenant.databaseName,
        projects: [{ tenant_id: tenant.id, name: `${tenant.slug} project 1` }],
      });
    }
    expect(hosts.map(({ host, budget }) => ({ host, budget }))).toEqual([
      { host: servers[1]!.host, budget: BUDGETS.second },
      { host: servers[0]!.host, budget: BUDGETS.main },
    ]);
    expect(hosts.every((host) => host.evictions > 0 && host.pending === 0)).toBe(true);
    // Both servers were driven to their budget, never past it.
    expect(most).toEqual(BUDGETS);
    console.info(`two hosts: most connections seen ${JSON.stringify(most)}, budgets ${JSON.stringify(BUDGETS)}; evictions ${hosts.map((host) => `${host.host}=${host.evictions}`).join(', ')}`);
  });

  test("a tenant's database exists only on its own server", async () => {
    for (const server of servers) {
      const { rows } = await server.observer.query<{ datname: string }>('select datname from pg_database where datname = any($1)', [
        tenants.map((tenant) => tenant.databaseName),
      ]);
      expect(rows.map((row) => row.datname).sort()).toEqual(
        tenants.filter((tenant) => tenant.host === server.name).map((tenant) => tenant.databaseName).sort(),
      );
    }
  });
});

function serverOf(tenant: Tenant): Server {
  return servers.find((server) => server.name === tenant.host)!;
}

function nameOf(host: string): Server['name'] {
  return servers.find((server) => server.host === host)!.name;
}
