import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '@tenant-app/db/testing';
import {
  ACCESS_ROLE,
  seedTenantData,
  sessionPlanFor,
  TENANT_TOKEN_LIFETIME_SECONDS,
  TenantBindingKey,
  tenantRoleName,
  type ProvisionedTenant,
} from './index.ts';

/**
 * SQL injected into a request runs as the request's login inside its bound transaction. Whatever
 * it does to the binding — another tenant's id, another role, no role, a forged or expired token —
 * it must see no row of another tenant and write none, in every strategy.
 */

type Table = 'users' | 'projects' | 'tasks' | 'comments';
const tables: readonly Table[] = ['users', 'projects', 'tasks', 'comments'];
const ownCounts: Record<Table, number> = { users: 1, projects: 2, tasks: 2, comments: 2 };

interface Tenant extends ProvisionedTenant {
  databaseUrl: string | null;
  /** The schema its rows live in (in its own database for a `database` tenant). */
  home: string;
}

let database: TestDatabase;
const tenants: Record<string, Tenant> = {};
const specs = [
  { slug: 'acme', strategy: 'shared' },
  { slug: 'globex', strategy: 'shared' },
  { slug: 'plain', strategy: 'shared', ownRole: true },
  { slug: 'blue', strategy: 'schema' },
  { slug: 'green', strategy: 'schema' },
  { slug: 'red', strategy: 'database' },
  { slug: 'amber', strategy: 'database' },
] as const;

beforeAll(async () => {
  database = await createTestDatabase();
  for (const spec of specs) {
    const tenant = await database.provisioner.createTenant({ name: spec.slug, ...spec });
    const { userId } = await database.provisioner.addMember(tenant, { email: `a@${spec.slug}.test`, name: 'A', role: 'admin' });
    await seedTenantData(database.provisioner, tenant, [userId], { projects: 2, tasksPerProject: 1, commentsPerTask: 1 });
    const row = await database.owner
      .selectFrom('control.tenant_databases')
      .select('connection_url')
      .where('tenant_id', '=', tenant.id)
      .executeTakeFirst();
    tenants[spec.slug] = { ...tenant, databaseUrl: row?.connection_url ?? null, home: spec.strategy === 'schema' ? `t_${spec.slug}` : 'app' };
  }
});
afterAll(() => database.close());

/** The schemas holding tenant tables that a session of `tenant` could try: every one in its database. */
function schemasNear(tenant: Tenant): string[] {
  return tenant.strategy === 'database' ? ['app'] : ['app', 't_blue', 't_green'];
}

/** Whom an attacker impersonates: a tenant of every strategy (and both kinds of shared one) but itself. */
function victimsOf(attacker: Tenant): Tenant[] {
  return ['acme', 'globex', 'plain', 'blue', 'green', 'red', 'amber']
    .map((slug) => tenants[slug]!)
    .filter((victim) => victim.id !== attacker.id)
    .filter((victim, index, all) => all.findIndex((other) => other.strategy === victim.strategy && other.ownRole === victim.ownRole) === index);
}

const literal = (value: string) => pg.escapeLiteral(value);

/**
 * Runs one statement in a savepoint, in one round trip, so that a refused attack leaves the
 * transaction usable. Values are spliced as literals: they are this file's own ids and tokens.
 */
async function attempt(client: pg.Client, text: string): Promise<{ rows: any[]; rowCount: number } | { error: string }> {
  try {
    const results = (await client.query(`savepoint attempt; ${text}; release savepoint attempt`)) as unknown as pg.QueryResult[];
    const result = results[1]!;
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  } catch (error) {
    await client.query('rollback to savepoint attempt');
    return { error: (error as Error).message };
  }
}

/** Rows visible per schema.table and tenant id; a schema the session may not read shows none. */
async function visibleRows(client: pg.Client, tenant: Tenant): Promise<Record<string, Record<string, number>>> {
  const seen: Record<string, Record<string, number>> = {};
  for (const schema of schemasNear(tenant)) {
    const union = tables
      .map((table) => `select '${schema}.${table}' as "table", tenant_id::text as tenant, count(*)::int as count from ${schema}.${table} group by 2`)
      .join(' union all ');
    const result = await attempt(client, union);
    for (const row of 'rows' in result ? (result.rows as { table: string; tenant: string; count: number }[]) : []) {
      (seen[row.table] ??= {})[row.tenant] = row.count;
    }
  }
  return seen;
}

function foreignRows(seen: Record<string, Record<string, number>>, tenant: Tenant): string[] {
  return Object.entries(seen).flatMap(([table, counts]) =>
    Object.keys(counts)
      .filter((id) => id !== tenant.id)
      .map((id) => `${counts[id]} rows of ${id} in ${table}`),
  );
}

/**
 * Tries to write the victim's rows anywhere, rows of its own into another tenant's own schema, and
 * to change or delete other tenants' rows; returns the writes that went through. (A schema
 * tenant's role may write rows of its own id into the shared schema: no tenant but itself can see
 * them, so they are not foreign rows.)
 */
async function foreignWrites(client: pg.Client, tenant: Tenant, victim: Tenant): Promise<string[]> {
  const through: string[] = [];
  for (const schema of schemasNear(tenant)) {
    const owners = [victim, ...(schema.startsWith('t_') && schema !== tenant.home ? [tenant] : [])].filter((owner) => owner.id !== tenant.id || schema !== tenant.home);
    for (const owner of owners) {
      const insert = await attempt(client, `insert into ${schema}.projects (tenant_id, name) values (${literal(owner.id)}, 'planted')`);
      if ('rowCount' in insert && insert.rowCount > 0) through.push(`insert of ${owner.slug}'s project into ${schema}`);
    }
    const update = await attempt(client, `update ${schema}.projects set name = 'pwned' where tenant_id <> ${literal(tenant.id)}`);
    if ('rowCount' in update && update.rowCount > 0) through.push(`update of ${update.rowCount} foreign projects in ${schema}`);
    const remove = await attempt(client, `delete from ${schema}.comments where tenant_id <> ${literal(tenant.id)}`);
    if ('rowCount' in remove && remove.rowCount > 0) through.push(`delete of ${remove.rowCount} foreign comments in ${schema}`);
  }
  return through;
}

/** A connection as the login a request of `tenant` runs as: the runtime login, or its own. */
async function connectAs(tenant: Tenant): Promise<pg.Client> {
  const { target } = sessionPlanFor(tenant, database.bindingKey, database.loginKey);
  const client = new pg.Client({ connectionString: target?.connectionString ?? database.runtimeUrl });
  await client.connect();
  return client;
}

/** Opens a transaction bound exactly as a request of `tenant` is. */
async function bind(client: pg.Client, tenant: Tenant): Promise<void> {
  const [binding] = sessionPlanFor(tenant, database.bindingKey, database.loginKey).binding;
  await client.query('begin');
  await client.query(binding!.text, [...binding!.values]);
}

interface Attack {
  name: string;
  /** Statements run after the binding, as injected SQL would; each may be refused. */
  statements(victim: Tenant): string[];
  /** It names no other tenant: one run is enough. */
  alone?: true;
}

const setting = (name: string, value: string) => `select set_config(${literal(name)}, ${literal(value)}, true)`;
const forgedKey = new TenantBindingKey(1, randomBytes(32));

/** Tokens that are not `<key id>.<expiry>.<HMAC>` as the signer writes them, or name no key. */
const MALFORMED_TOKENS = [
  '',
  '..',
  'x.y.z',
  `1.${'9'.repeat(13)}.${'0'.repeat(64)}`,
  `${'9'.repeat(10)}.4102444800.${'0'.repeat(64)}`,
  "1' or true --.1.x",
  `-1.4102444800.${'0'.repeat(64)}`,
  ` 1.4102444800.${'0'.repeat(64)}`,
  `1.4.1e12.${'0'.repeat(64)}`,
  `1.not-a-number.${'0'.repeat(64)}`,
];

const attacks: Attack[] = [
  { name: "set_config of another tenant's id, keeping its own token", statements: (victim) => [setting('app.tenant_id', victim.id)] },
  {
    name: 'its own token copied back after changing the id to another tenant',
    statements: (victim) => [`${setting('app.tenant_id', victim.id)}, set_config('app.tenant_token', current_setting('app.tenant_token'), true)`],
  },
  {
    name: "another tenant's id with a token signed by a key the database does not hold",
    statements: (victim) => [setting('app.tenant_id', victim.id), setting('app.tenant_token', forgedKey.token(victim.id, 'none'))],
  },
  {
    name: "another tenant's id with a token of its own that expired (a replayed one)",
    statements: (victim) => {
      const key = victim.strategy === 'database' ? database.bindingKey.forTenantDatabase(victim.id) : database.bindingKey;
      const role = victim.ownRole ? tenantRoleName(victim.id) : 'none';
      const expired = key.token(victim.id, role, Date.now() - (TENANT_TOKEN_LIFETIME_SECONDS + 1) * 1000);
      return [setting('app.tenant_id', victim.id), setting('role', role), setting('app.tenant_token', expired)];
    },
  },
  {
    name: "its own token with the expiry pushed a century on, and another tenant's id",
    statements: (victim) => [
      `select set_config('app.tenant_token', split_part(token, '.', 1) || '.4102444800.' || split_part(token, '.', 3), true) from current_setting('app.tenant_token') as token`,
      setting('app.tenant_id', victim.id),
    ],
  },
  ...MALFORMED_TOKENS.map(
    (token): Attack => ({
      name: `another tenant's id with the token "${token}"`,
      statements: (victim) => [setting('app.tenant_id', victim.id), setting('app.tenant_token', token)],
    }),
  ),
  {
    name: "SET ROLE to another tenant's role, with its search path",
    statements: (victim) => [`set local role ${tenantRoleName(victim.id)}`, setting('search_path', victim.home)],
  },
  {
    name: "SET ROLE to another tenant's role and set_config of its id",
    statements: (victim) => [`set local role ${tenantRoleName(victim.id)}`, setting('app.tenant_id', victim.id)],
  },
  { name: "RESET ROLE and set_config of another tenant's id", statements: (victim) => ['reset role', setting('app.tenant_id', victim.id)] },
  { name: 'RESET ROLE', statements: () => ['reset role'], alone: true },
  { name: 'SET ROLE to the runtime group role', statements: () => ['set local role tenant_app_runtime'], alone: true },
  { name: 'SET SESSION AUTHORIZATION DEFAULT', statements: () => ['set session authorization default'], alone: true },
  { name: 'SET SESSION AUTHORIZATION to the owner', statements: () => ['set session authorization tenant_app_owner'], alone: true },
  {
    name: "row_security off with another tenant's id",
    statements: (victim) => ['set local row_security = off', setting('app.tenant_id', victim.id)],
  },
];

const attackers = specs.map((spec) => spec.slug);

describe.each(attackers)('a request of %s', (slug) => {
  test('sees exactly its own rows through a legitimate binding', async () => {
    const tenant = tenants[slug]!;
    const client = await connectAs(tenant);
    try {
      await bind(client, tenant);
      const seen = await visibleRows(client, tenant);
      await client.query('rollback');
      expect(seen).toEqual(Object.fromEntries(tables.map((table) => [`${tenant.home}.${table}`, { [tenant.id]: ownCounts[table] }])));
    } finally {
      await client.end();
    }
  });

  test.each(attacks.map((attack) => [attack.name, attack] as const))('sees and writes no foreign row after: %s', async (_, attack) => {
    const attacker = tenants[slug]!;
    const client = await connectAs(attacker);
    try {
      for (const victim of attack.alone ? victimsOf(attacker).slice(0, 1) : victimsOf(attacker)) {
        await bind(client, attacker);
        for (const statement of attack.statements(victim)) await attempt(client, statement);
        expect(foreignRows(await visibleRows(client, attacker), attacker), `victim ${victim.slug}`).toEqual([]);
        expect(await foreignWrites(client, attacker, victim), `victim ${victim.slug}`).toEqual([]);
        // Committed: whatever got through would stay, and the check after all attacks would see it.
        await client.query('commit');
        // RESET ROLE and SET SESSION AUTHORIZATION outlive a transaction; the next victim starts clean.
        await client.query('discard all');
      }
    } finally {
      await client.end();
    }
  });

  test('cannot read the binding keys nor call the verifying function, forged settings or not', async () => {
    const attacker = tenants[slug]!;
    const client = await connectAs(attacker);
    try {
      await bind(client, attacker);
      expect(await attempt(client, 'select * from tenant_binding.keys')).toEqual({ error: 'permission denied for schema tenant_binding' });
      await attempt(client, setting('app.tenant_id', tenants.globex!.id));
      expect(await attempt(client, 'select tenant_binding.current_tenant_id()')).toEqual({
        error: 'permission denied for schema tenant_binding',
      });
      // Nor would naming it help: the login holds no SELECT on the key table (checked without USAGE).
      expect(await attempt(client, "select count(*) from pg_catalog.pg_class where relname = 'keys' and has_table_privilege(oid, 'select')")).toEqual({
        rows: [{ count: '0' }],
        rowCount: 1,
      });
    } finally {
      await client.end();
    }
  });
});

test.each(MALFORMED_TOKENS)('the token "%s" binds no tenant: reads see no row, and no error breaks the transaction', async (token) => {
  // The check casts nothing of a token before its HMAC matched, so a bad one cannot raise instead.
  const tenant = tenants.acme!;
  const client = await connectAs(tenant);
  try {
    await bind(client, tenant);
    await client.query(setting('app.tenant_token', token));
    const { rows } = await client.query<{ count: number }>('select count(*)::int as count from app.projects');
    expect(rows).toEqual([{ count: 0 }]);
  } finally {
    await client.query('rollback');
    await client.end();
  }
});

test("the probes do see foreign rows when the binding is really another tenant's: a leaked token, within its lifetime", async () => {
  // The documented limit of the replay window, and the proof that the probes above can fail.
  const [attacker, victim] = [tenants.acme!, tenants.globex!];
  const client = await connectAs(attacker);
  try {
    await bind(client, attacker);
    await attempt(client, `${setting('app.tenant_id', victim.id)}, set_config('app.tenant_token', ${literal(database.bindingKey.token(victim.id, ACCESS_ROLE))}, true)`);
    expect(foreignRows(await visibleRows(client, attacker), attacker)).toEqual(
      tables.map((table) => `${ownCounts[table]} rows of ${victim.id} in app.${table}`),
    );
  } finally {
    await client.query('rollback');
    await client.end();
  }
});

test('after every attack, every tenant still holds exactly its own rows, in every database', async () => {
  const found: Record<string, Record<string, Record<string, number>>> = {};
  const expected: typeof found = {};
  for (const tenant of Object.values(tenants)) {
    const url = tenant.strategy === 'database' ? new URL(`/${tenantRoleName(tenant.id)}`, database.superuserUrl).toString() : database.superuserUrl;
    const place = tenant.strategy === 'shared' ? 'app' : tenant.strategy === 'database' ? `${tenant.slug}'s database` : tenant.home;
    expected[place] ??= {};
    for (const table of tables) (expected[place]![table] ??= {})[tenant.id] = ownCounts[table];
    if (found[place]) continue;
    found[place] = {};
    await withClient(url, async (client) => {
      for (const table of tables) {
        const { rows } = await client.query<{ tenant: string; count: number }>(
          `select tenant_id::text as tenant, count(*)::int as count from ${tenant.home}.${table} group by 1`,
        );
        found[place]![table] = Object.fromEntries(rows.map((row) => [row.tenant, row.count]));
      }
      const { rows } = await client.query(`select name from ${tenant.home}.projects where name in ('planted', 'pwned')`);
      expect(rows).toEqual([]);
    });
  }
  expect(found).toEqual(expected);
});
