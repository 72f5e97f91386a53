import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sessionPlanFor, TENANT_SETTING, TENANT_TOKEN_SETTING, type NewTenant } from '@tenant-app/db';
import { findPgBouncer, startPgBouncer } from '@tenant-app/db/testing';
import { PoolManager } from '@tenant-app/pool';
import { sql } from 'kysely';
import { createTestApi, globalId, PGBOUNCER_INI, provisionTenant, type TestApi, type TestTenant } from './support.ts';

/**
 * The API behind a real PgBouncer in transaction mode, configured from deploy/pgbouncer/pgbouncer.ini
 * as docker-compose.yml runs it: more client connections than server connections, so every server
 * connection serves many tenants in turn. tenant-isolation.test.ts runs its whole suite through
 * PgBouncer as well; this file adds what only shows under sharing: concurrency, state left on a
 * server connection, round trips, prepared statements and throughput.
 */

/** Server connections PgBouncer keeps to Postgres, and the API's client connections to PgBouncer. */
const SERVER_CONNECTIONS = 3;
const CLIENT_CONNECTIONS = 8;

const specs: { slug: string; projects: number; placement: Omit<NewTenant, 'slug' | 'name'> }[] = [
  { slug: 'acme', projects: 5, placement: { strategy: 'shared' } },
  { slug: 'globex', projects: 2, placement: { strategy: 'shared' } },
  { slug: 'hooli', projects: 3, placement: { strategy: 'shared' } },
  { slug: 'umbrella', projects: 4, placement: { strategy: 'shared', ownRole: true } },
  { slug: 'initech', projects: 6, placement: { strategy: 'schema' } },
  { slug: 'soylent', projects: 1, placement: { strategy: 'schema' } },
];

const QUERY = '{ tenant { slug } projects(first: 100) { edges { node { id name tasks(first: 100) { id title } } } } }';

let t: TestApi;
const tenants: TestTenant[] = [];
/** What QUERY must answer for each tenant, built from the owner's reading of its rows. */
const expected = new Map<string, unknown>();

const pgBouncerMissing = findPgBouncer() === undefined;

describe.skipIf(pgBouncerMissing)(
  `through PgBouncer in transaction mode${pgBouncerMissing ? ' (skipped: pgbouncer is not installed; apt-get install pgbouncer)' : ''}`,
  () => {
    beforeAll(async () => {
      t = await createTestApi({ maxConnections: CLIENT_CONNECTIONS }, { pgbouncer: { poolSize: SERVER_CONNECTIONS } });
      for (const spec of specs) {
        const tenant = await provisionTenant(t.database.provisioner, spec.slug, { projects: spec.projects, tasksPerProject: 2, commentsPerTask: 0 }, spec.placement);
        tenants.push(tenant);
        expected.set(tenant.slug, await expectedAnswer(tenant));
      }
    });
    afterAll(() => t?.close());

    test('concurrent requests of six tenants share three server connections, and each sees exactly its own rows', async () => {
      const sampler = sampleConnections(t);
      const answers = await requests(t, 120, 24);
      const { servers, clients } = await sampler.stop();
      expect(answers.mismatches).toEqual([]);
      expect(answers.count).toBe(120);
      // Postgres saw at most three backends of the runtime login, while PgBouncer had more clients:
      // the six tenants' transactions took turns on the same server connections.
      expect(Math.max(...servers)).toBeLessThanOrEqual(SERVER_CONNECTIONS);
      expect(Math.max(...servers)).toBeGreaterThan(0);
      expect(Math.max(...clients)).toBeGreaterThan(SERVER_CONNECTIONS);
    });

    test('BEGIN, the binding and the first query still share one round trip, and no statement is named', async () => {
      // The same requests on the same rows, through a proxy that counts round trips: once straight
      // to Postgres, once through PgBouncer. Named prepared statements would break here (a server
      // connection serves whoever comes next), so the API must send unnamed ones only.
      const direct = await createTestApi({ maxConnections: 1, preparedStatements: false }, { proxied: { latencyMs: 5 }, database: t.database });
      const bounced = await createTestApi({ maxConnections: 1 }, { proxied: { latencyMs: 5 }, pgbouncer: { poolSize: 1 }, database: t.database });
      try {
        for (const tenant of [tenants[0]!, tenants[4]!]) {
          const rounds = [];
          for (const api of [direct, bounced]) rounds.push(await roundTripsOf(api, tenant));
          expect(rounds[1]).toEqual(rounds[0]);
          expect(rounds[0]![0]).toEqual(['begin', 'reset all', expect.stringMatching(/^select \*.* from "[a-z_]+"\."projects"/), expect.stringMatching(/^select set_config\(\$1, \$2, true\)/)]);
        }
        expect(bounced.proxy!.statements().length).toBeGreaterThan(0);
        expect(bounced.proxy!.preparedNames()).toEqual([]);
      } finally {
        await direct.close();
        await bounced.close();
      }
    });

    test('throughput through PgBouncer and straight to Postgres, same requests, same run', async () => {
      const direct = await createTestApi({ maxConnections: CLIENT_CONNECTIONS }, { database: t.database });
      try {
        const elapsed = { direct: 0, pgbouncer: 0 };
        // Alternating slices, so that whatever else runs on the machine hits both alike.
        for (let round = 0; round < 2; round += 1) {
          for (const [name, api] of [['direct', direct], ['pgbouncer', t]] as const) {
            const started = performance.now();
            const answers = await requests(api, 120, 16);
            elapsed[name] += performance.now() - started;
            expect(answers.mismatches).toEqual([]);
          }
        }
        const perSecond = (ms: number) => Math.round((240 * 1000) / ms);
        console.log(
          `requests/s (QUERY, 16 at a time, ${CLIENT_CONNECTIONS} client connections): direct ${perSecond(elapsed.direct)}, ` +
            `through PgBouncer with ${SERVER_CONNECTIONS} server connections ${perSecond(elapsed.pgbouncer)}`,
        );
      } finally {
        await direct.close();
      }
    });

    test('settings a request leaves at session level on server connections never show another tenant rows', async () => {
      // What SQL injected into a request could do before its transaction commits: copy its valid
      // binding (tenant, signed token, role, search path) into session-level settings, which
      // outlive the transaction on that server connection (PgBouncer runs no reset query in
      // transaction mode). One server connection each for a schema tenant, a shared tenant with
      // its own role and a plain shared tenant.
      const victims = ['initech', 'umbrella', 'acme'].map((slug) => tenants.find((tenant) => tenant.slug === slug)!);
      const poisoned = await onEveryServerConnection(async (client, index) => {
        const victim = victims[index]!;
        const plan = sessionPlanFor(
          { ...victim, tier: 'standard', ownRole: specs.find((spec) => spec.slug === victim.slug)!.placement.ownRole ?? false, databaseUrl: null },
          t.database.bindingKey,
        );
        for (const statement of plan.binding) await client.query(statement.text, [...statement.values]);
        await client.query(
          `select set_config($1, current_setting($1), false), set_config($2, current_setting($2), false),
                  set_config('role', current_setting('role'), false), set_config('search_path', current_setting('search_path'), false)`,
          [TENANT_SETTING, TENANT_TOKEN_SETTING],
        );
      });

      // Every answer is exactly the tenant's own rows: the binding sets tenant, token and role for
      // its transaction (a plain shared tenant's role too), and the key lookup, which runs outside
      // any binding, may be called by any tenant role.
      const answers = await requests(t, 120, 12);
      expect(answers.mismatches).toEqual([]);

      // The requests' session reset, sent inside their transactions, ran on those same server
      // connections and committed: no tenant setting is left on any of them. (RESET ALL leaves the
      // role; the binding sets it in every transaction.)
      const after = await onEveryServerConnection(async (client) => {
        const { rows } = await client.query(`select current_setting($1) as tenant, current_setting('search_path') as path`, [TENANT_SETTING]);
        return rows[0] as { tenant: string; path: string };
      });
      expect(new Set(after.map((connection) => connection.pid))).toEqual(new Set(poisoned.map((connection) => connection.pid)));
      expect(after.map((connection) => connection.result)).toEqual(Array(SERVER_CONNECTIONS).fill({ tenant: '', path: '"$user", public' }));
    });

    test('a control-plane statement runs where its session reset ran, whichever server connection PgBouncer hands out next', async () => {
      // Key lookups run outside any tenant transaction. Round robin makes PgBouncer hand a client's
      // every statement outside a transaction to another server connection, as a busy one does.
      const bouncer = await startPgBouncer({
        settingsFile: PGBOUNCER_INI,
        databaseUrl: t.database.runtimeUrl,
        poolSize: SERVER_CONNECTIONS,
        serverRoundRobin: true,
      });
      const pools = new PoolManager({ connectionString: bouncer.url, maxConnections: 2, preparedStatements: false });
      try {
        // What SQL injected into a request can leave on its server connection: here a marker, in
        // an attack a statement timeout of 1 ms that fails every key lookup there.
        await onEveryServerConnection((client) => client.query("select set_config('app.left_behind', 'yes', false)"), bouncer.url);
        const seen: string[] = [];
        for (let lookup = 0; lookup < 2 * SERVER_CONNECTIONS; lookup += 1) {
          const { rows } = await sql<{ left: string | null }>`select current_setting('app.left_behind', true) as left`.execute(pools.unbound());
          seen.push(rows[0]!.left ?? '');
        }
        expect(seen).toEqual(Array(2 * SERVER_CONNECTIONS).fill(''));
      } finally {
        await pools.close();
        await bouncer.stop();
      }
    });
  },
);

/** The statements of one QUERY request grouped by the round trip they travelled in (the control plane's statements left out). */
async function roundTripsOf(api: TestApi, tenant: TestTenant): Promise<string[][]> {
  // A first request opens the connections, so that the measured one only reuses them.
  await api.graphql(tenant, QUERY);
  const proxy = api.proxy!;
  proxy.reset();
  expect((await api.graphql(tenant, QUERY)).body).toEqual(expected.get(tenant.slug));
  return proxy.tenantTurns().map((statements) => statements.sort());
}

/** QUERY's answer for `tenant`, from its rows as the owner reads them. */
async function expectedAnswer(tenant: TestTenant) {
  const { projects, tasks } = await t.database.provisioner.writeAs(tenant, async (db) => ({
    projects: await db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id').execute(),
    tasks: await db.selectFrom('tasks').selectAll().orderBy('created_at').orderBy('id').execute(),
  }));
  return {
    data: {
      tenant: { slug: tenant.slug },
      projects: {
        edges: projects.map((project) => ({
          node: {
            id: globalId('Project', project.id),
            name: project.name,
            tasks: tasks.filter((task) => task.project_id === project.id).map((task) => ({ id: globalId('Task', task.id), title: task.title })),
          },
        })),
      },
    },
  };
}

/**
 * Sends `count` requests, `concurrency` at a time, of the tenants in turn; every answer is compared
 * with its tenant's rows, and each one that differs is returned.
 */
async function requests(api: TestApi, count: number, concurrency: number) {
  const mismatches: { tenant: string; status: number; body: unknown }[] = [];
  let sent = 0;
  let answered = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < count) {
        const tenant = tenants[sent % tenants.length]!;
        sent += 1;
        const response = await api.graphql(tenant, QUERY);
        answered += 1;
        if (response.status !== 200 || JSON.stringify(response.body) !== JSON.stringify(expected.get(tenant.slug))) {
          mismatches.push({ tenant: tenant.slug, status: response.status, body: response.body });
        }
      }
    }),
  );
  return { count: answered, mismatches };
}

/**
 * Runs `work` in a transaction on each of PgBouncer's server connections, all at once: while the
 * transactions stay open each holds its own server connection, so together they cover all of them.
 * Connects as the runtime login through PgBouncer, as the API does.
 */
async function onEveryServerConnection<T>(work: (client: pg.Client, index: number) => Promise<T>, pgbouncerUrl = t.pgbouncer!.url) {
  const clients = Array.from({ length: SERVER_CONNECTIONS }, () => new pg.Client({ connectionString: pgbouncerUrl }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const pids = await Promise.all(
      clients.map(async (client) => {
        await client.query('begin');
        return (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      }),
    );
    expect(new Set(pids).size).toBe(SERVER_CONNECTIONS);
    const results = await Promise.all(clients.map((client, index) => work(client, index)));
    await Promise.all(clients.map((client) => client.query('commit')));
    return pids.map((pid, index) => ({ pid, result: results[index]! }));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/**
 * Samples, until stopped, how many backends of the runtime login Postgres has for the test
 * database, and how many client connections of that login PgBouncer has.
 */
function sampleConnections(api: TestApi) {
  const servers: number[] = [];
  const clients: number[] = [];
  const superuser = new pg.Client({ connectionString: api.database.superuserUrl });
  let running = true;
  const loop = (async () => {
    await superuser.connect();
    const login = new URL(api.database.runtimeUrl).username;
    while (running) {
      const { rows } = await superuser.query<{ count: number }>(
        'select count(*)::int as count from pg_stat_activity where datname = $1 and usename = $2',
        [api.database.name, login],
      );
      servers.push(rows[0]!.count);
      clients.push((await api.pgbouncer!.show('clients')).filter((row) => row['user'] === login).length);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await superuser.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { servers, clients };
    },
  };
}
