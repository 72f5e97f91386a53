/**
 * What the verified tenant binding costs, side by side with the plain setting it replaced, in one
 * run on one Postgres: `npm run bench:binding [-- --seconds 3 --rounds 3 --concurrency 4]`.
 *
 * The same tenant rows are copied into three schemas of one database, each built by the project
 * tracker migration alone and differing only in their policies: `bench_verified`'s call
 * `tenant_binding.current_tenant_id()` (HMAC check) as the app's do; `bench_plain`'s compare with
 * `app.tenant_id` as before; and `bench_call`'s call a function of the same kind (PL/pgSQL,
 * SECURITY DEFINER, its own search path) that returns the plain setting unchecked. Copies all
 * three, so that no variant reads tables with another history (the app's own were written by
 * seeding). The middle variant splits the verified binding's cost into calling a function from the
 * policies at all and the check itself. Each variant runs the same
 * transactions as the runtime login — BEGIN, its binding (the plain one without token, the others
 * signed per transaction as the API does), the queries, COMMIT — in alternating slices so that drift
 * of the machine hits them alike. Throughput here is bound by the client as much as by Postgres;
 * the CPU time of the connections' own backends per transaction is the figure that isolates what
 * Postgres spends on the binding and the policies.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  ACCESS_ROLE,
  BINDING_SCHEMA,
  TENANT_SETTING,
  TenantProvisioner,
  loadTenantBindingKey,
  migrateTenantTables,
  seedTenantData,
  sessionPlanFor,
  tenantMigrations,
  type BindingStatement,
  type ProvisionedTenant,
} from '@tenant-app/db';
import { withClient } from '@tenant-app/db/testing';
import { startLocalPostgres } from './local-postgres.ts';
import { backendsCpuMs } from './postgres-cpu.ts';
import { signed } from './stats.ts';
import { textTable } from './text-table.ts';

const PLAIN_SCHEMA = 'bench_plain';
const CALL_SCHEMA = 'bench_call';
const VERIFIED_SCHEMA = 'bench_verified';
const TENANT_TABLES = ['users', 'projects', 'tasks', 'comments'] as const;

/** Shaped as `tenant_binding.current_tenant_id()` is, minus the check: what a call alone costs. */
const UNCHECKED_TENANT_FUNCTION = `create function ${CALL_SCHEMA}.current_tenant_id() returns uuid
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$ begin return nullif(current_setting('${TENANT_SETTING}', true), '')::uuid; end $fn$`;

interface Workload {
  name: string;
  /** Statements of one transaction besides BEGIN, binding and COMMIT. */
  run(client: pg.Client, schema: string, projectIds: readonly string[]): Promise<number>;
}

const workloads: Workload[] = [
  {
    name: 'request (page of projects, their tasks, comment counts)',
    async run(client, schema) {
      const projects = await client.query<{ id: string }>(`select id, name, created_at from ${schema}.projects order by created_at, id limit 20`);
      const ids = projects.rows.map((row) => row.id);
      const tasks = await client.query<{ id: string }>(
        `select id, project_id, title, status from ${schema}.tasks where project_id = any($1::uuid[])`,
        [ids],
      );
      await client.query(`select task_id, count(*) from ${schema}.comments where task_id = any($1::uuid[]) group by task_id`, [
        tasks.rows.map((row) => row.id),
      ]);
      return 3;
    },
  },
  {
    name: '20 point lookups (per-statement cost at its largest)',
    async run(client, schema, projectIds) {
      for (let index = 0; index < 20; index += 1) {
        await client.query(`select name from ${schema}.projects where id = $1`, [projectIds[Math.floor(Math.random() * projectIds.length)]]);
      }
      return 20;
    },
  },
];

interface Variant {
  name: 'plain setting' | 'function call, no check' | 'verified token';
  schema: string;
  binding(): BindingStatement;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '4' } },
  });
  const seconds = positive('seconds', values.seconds);
  const rounds = positive('rounds', values.rounds);
  const concurrency = positive('concurrency', values.concurrency);

  const postgres = await startLocalPostgres();
  const provisioner = new TenantProvisioner({ ownerUrl: postgres.ownerUrl });
  try {
    process.stdout.write(`binding cost on ${postgres.description}\n`);
    const key = await loadTenantBindingKey(postgres.ownerUrl);
    const tenants: ProvisionedTenant[] = [];
    for (const slug of ['bench-a', 'bench-b']) {
      const tenant = await provisioner.createTenant({ slug, name: slug, strategy: 'shared' });
      const { userId } = await provisioner.addMember(tenant, { email: `a@${slug}.test`, name: 'A', role: 'admin' });
      await seedTenantData(provisioner, tenant, [userId], { projects: 100, tasksPerProject: 10, commentsPerTask: 2 });
      tenants.push(tenant);
    }
    await copyTenantRows(postgres.ownerUrl, postgres.superuserUrl, PLAIN_SCHEMA);
    await copyTenantRows(postgres.ownerUrl, postgres.superuserUrl, CALL_SCHEMA, {
      create: UNCHECKED_TENANT_FUNCTION,
      call: `${CALL_SCHEMA}.current_tenant_id()`,
    });
    await copyTenantRows(postgres.ownerUrl, postgres.superuserUrl, VERIFIED_SCHEMA, { call: `${BINDING_SCHEMA}.current_tenant_id()` });
    const tenant = { ...tenants[0]!, databaseUrl: null };
    const projectIds = await tenantProjectIds(postgres.superuserUrl, tenant.id);

    const variants: Variant[] = [
      {
        name: 'plain setting',
        schema: PLAIN_SCHEMA,
        // The binding as it was: the tenant and the tier's statement timeout, no token.
        binding: () => ({
          text: 'select set_config($1, $2, true), set_config($3, $4, true)',
          values: [TENANT_SETTING, tenant.id, 'statement_timeout', '5000'],
        }),
      },
      { name: 'function call, no check', schema: CALL_SCHEMA, binding: () => sessionPlanFor(tenant, key).binding[0]! },
      { name: 'verified token', schema: VERIFIED_SCHEMA, binding: () => sessionPlanFor(tenant, key).binding[0]! },
    ];
    // A broken binding would read no rows, fast: make sure every variant sees the tenant's projects.
    for (const variant of variants) await assertSeesTenant(postgres.runtimeUrl, variant, projectIds.length);
    const rows: (string | number)[][] = [['workload', 'policy', 'transactions/s', 'statements/s', 'vs plain', 'Postgres CPU µs/transaction', 'over plain']];
    for (const workload of workloads) {
      const totals = new Map<Variant['name'], { transactions: number; statements: number; ms: number; postgresMs: number }>();
      for (let round = 0; round < rounds; round += 1) {
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          const result = await measure(postgres.runtimeUrl, variant, workload, projectIds, concurrency, seconds * 1000);
          const total = totals.get(variant.name) ?? { transactions: 0, statements: 0, ms: 0, postgresMs: 0 };
          totals.set(variant.name, {
            transactions: total.transactions + result.transactions,
            statements: total.statements + result.statements,
            ms: total.ms + result.ms,
            postgresMs: total.postgresMs + result.postgresMs,
          });
        }
      }
      const rate = (name: Variant['name']) => {
        const total = totals.get(name)!;
        return {
          tps: (total.transactions * 1000) / total.ms,
          sps: (total.statements * 1000) / total.ms,
          postgresMicros: (total.postgresMs * 1000) / total.transactions,
        };
      };
      const plain = rate('plain setting');
      for (const { name } of variants) {
        const figures = rate(name);
        rows.push([
          workload.name,
          name,
          Math.round(figures.tps),
          Math.round(figures.sps),
          Number((figures.tps / plain.tps).toFixed(3)),
          Math.round(figures.postgresMicros),
          signed(Math.round(figures.postgresMicros - plain.postgresMicros)),
        ]);
      }
    }
    process.stdout.write(
      `\n${concurrency} connections, ${rounds} rounds of ${seconds} s per variant and workload, variants alternating\n\n` +
        textTable(rows) +
        '\n',
    );
  } finally {
    await provisioner.close();
    await postgres.stop();
  }
}

/**
 * Copies every tenant's rows into `schema`, built by the project tracker migration alone: its
 * policies compare with the plain setting, or take the tenant from `policyTenant.call`, a function
 * that `policyTenant.create` makes when it is not the app's own.
 */
async function copyTenantRows(
  ownerUrl: string,
  superuserUrl: string,
  schema: string,
  policyTenant?: { create?: string; call: string },
): Promise<void> {
  const all = await tenantMigrations.getMigrations();
  const projectTracker = Object.keys(all).sort()[0]!;
  await migrateTenantTables(ownerUrl, schema, ACCESS_ROLE, { getMigrations: async () => ({ [projectTracker]: all[projectTracker]! }) });
  // As the superuser, whom row-level security does not apply to: the owner's policies are forced,
  // and the owner may not take the tenant role a verified binding sets.
  await withClient(superuserUrl, async (superuser) => {
    if (policyTenant?.create) await superuser.query(policyTenant.create);
    for (const table of TENANT_TABLES) {
      if (policyTenant) {
        const tenant = `(select ${policyTenant.call})`;
        await superuser.query(`alter policy tenant_isolation on ${schema}.${table} using (tenant_id = ${tenant}) with check (tenant_id = ${tenant})`);
      }
      await superuser.query(`insert into ${schema}.${table} select * from app.${table}`);
    }
    await superuser.query(`analyze ${TENANT_TABLES.map((table) => `${schema}.${table}, app.${table}`).join(', ')}`);
  });
}

async function tenantProjectIds(superuserUrl: string, tenantId: string): Promise<string[]> {
  const { rows } = await withClient(superuserUrl, (client) =>
    client.query<{ id: string }>('select id from app.projects where tenant_id = $1', [tenantId]),
  );
  return rows.map((row) => row.id);
}

async function assertSeesTenant(runtimeUrl: string, variant: Variant, projects: number): Promise<void> {
  const { rows } = await withClient(runtimeUrl, async (client) => {
    const binding = variant.binding();
    await client.query('begin');
    await client.query(binding.text, [...binding.values]);
    const seen = await client.query<{ count: number }>(`select count(*)::int as count from ${variant.schema}.projects`);
    await client.query('rollback');
    return seen;
  });
  if (rows[0]!.count !== projects) throw new Error(`${variant.name} sees ${rows[0]!.count} projects, not the tenant's ${projects}`);
}

/** Runs `workload` on `concurrency` connections for `ms`, with the CPU time of their backends. */
async function measure(
  runtimeUrl: string,
  variant: Variant,
  workload: Workload,
  projectIds: readonly string[],
  concurrency: number,
  ms: number,
): Promise<{ transactions: number; statements: number; ms: number; postgresMs: number }> {
  const clients = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const client = new pg.Client({ connectionString: runtimeUrl });
      await client.connect();
      return client;
    }),
  );
  let transactions = 0;
  let statements = 0;
  let postgresMs: number;
  let started: number;
  try {
    const backends = await Promise.all(
      clients.map(async (client) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid),
    );
    const postgresBefore = backendsCpuMs(backends);
    started = performance.now();
    const deadline = started + ms;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const binding = variant.binding();
          await client.query('begin');
          await client.query(binding.text, [...binding.values]);
          const ran = await workload.run(client, variant.schema, projectIds);
          await client.query('commit');
          transactions += 1;
          statements += ran;
        }
      }),
    );
    postgresMs = backendsCpuMs(backends) - postgresBefore;
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  if (statements === 0) throw new Error(`${variant.name}: no statement ran`);
  return { transactions, statements, ms: performance.now() - started, postgresMs };
}

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new RangeError(`--${name} must be a whole number of at least 1, but got: ${value}`);
  return number;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
