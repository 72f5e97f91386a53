import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import {
  assertSafeRuntimeRole,
  RUNTIME_ROLE,
  seedTenantData,
  sharedTenantBinding,
  TENANT_SETTING,
  tenantRoleName,
  UnsafeRuntimeRoleError,
  type TenantFixtureShape,
} from '@tenant-app/db';
import { createTestDatabase, withClient, withTemporaryObjectsAllowed, type TestDatabase } from '@tenant-app/db/testing';

type Slug = 'acme' | 'globex';
type Table = 'users' | 'projects' | 'tasks' | 'comments';
const tables: readonly Table[] = ['users', 'projects', 'tasks', 'comments'];

// Different sizes, so that a count tells whose rows were seen.
const shapes: Record<Slug, { members: number; shape: TenantFixtureShape }> = {
  acme: { members: 2, shape: { projects: 3, tasksPerProject: 2, commentsPerTask: 2 } },
  globex: { members: 1, shape: { projects: 2, tasksPerProject: 1, commentsPerTask: 1 } },
};
const expectedCounts: Record<Slug, Record<Table, number>> = {
  acme: { users: 2, projects: 3, tasks: 6, comments: 12 },
  globex: { users: 1, projects: 2, tasks: 2, comments: 2 },
};

let database: TestDatabase;
const tenants = {} as Record<Slug, { id: string; userIds: string[] }>;

beforeAll(async () => {
  database = await createTestDatabase();
  for (const slug of ['acme', 'globex'] as const) {
    const { provisioner } = database;
    const tenant = await provisioner.createTenant({ slug, name: `${slug} inc.` });
    const userIds: string[] = [];
    for (let member = 1; member <= shapes[slug].members; member += 1) {
      const role = member === 1 ? 'admin' : 'member';
      userIds.push((await provisioner.addMember(tenant, { email: `user${member}@${slug}.test`, name: `user ${member}`, role })).userId);
    }
    await seedTenantData(provisioner, tenant, userIds, shapes[slug].shape);
    tenants[slug] = { id: tenant.id, userIds };
  }
});

afterAll(() => database.close());

/** A fresh connection as the runtime login (the one the API serves requests with). */
function asRuntime<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(database.runtimeUrl, work);
}

/**
 * Runs `work` in a transaction bound to `setting` (exactly as a request binds one, signed token
 * included), then rolls back.
 */
async function inTransaction<T>(client: pg.Client, setting: string | undefined, work: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    if (setting !== undefined) {
      const [binding] = sharedTenantBinding(setting, database.bindingKey);
      await client.query(binding!.text, [...binding!.values]);
    }
    return await work();
  } finally {
    await client.query('rollback');
  }
}

/** Rows seen per tenant id, e.g. `{ [acmeId]: 3 }`; `{}` when none. */
async function countsByTenant(client: pg.Client, table: Table): Promise<Record<string, number>> {
  const { rows } = await client.query<{ tenant_id: string; count: number }>(
    `select tenant_id, count(*)::int as count from app.${table} group by tenant_id`,
  );
  return Object.fromEntries(rows.map((row) => [row.tenant_id, row.count]));
}

/** What each tenant really holds, read by the superuser (which is not subject to RLS). */
async function actualCounts(): Promise<Record<Table, Record<string, number>>> {
  const client = new pg.Client({ connectionString: database.superuserUrl });
  await client.connect();
  try {
    const counts = {} as Record<Table, Record<string, number>>;
    for (const table of tables) counts[table] = await countsByTenant(client, table);
    return counts;
  } finally {
    await client.end();
  }
}

function countsOf(slug: Slug, table: Table): Record<string, number> {
  return { [tenants[slug].id]: expectedCounts[slug][table] };
}

describe('the runtime role', () => {
  test('the fixture holds both tenants, so an empty answer below means filtered, not absent', async () => {
    const counts = await actualCounts();
    for (const table of tables) {
      expect(counts[table]).toEqual({ ...countsOf('acme', table), ...countsOf('globex', table) });
    }
  });

  test('sees no row of any tenant table without the tenant setting', async () => {
    await asRuntime(async (client) => {
      for (const table of tables) {
        expect(await countsByTenant(client, table)).toEqual({});
        // Inside a transaction that was never bound, too.
        expect(await inTransaction(client, undefined, () => countsByTenant(client, table))).toEqual({});
      }
    });
  });

  test('sees exactly the bound tenant rows, in every table', async () => {
    await asRuntime(async (client) => {
      for (const slug of ['acme', 'globex'] as const) {
        for (const table of tables) {
          expect(await inTransaction(client, tenants[slug].id, () => countsByTenant(client, table))).toEqual(countsOf(slug, table));
        }
      }
    });
  });

  test('sees no row once the bound transaction has ended (the setting reads as empty)', async () => {
    await asRuntime(async (client) => {
      await inTransaction(client, tenants.acme.id, () => countsByTenant(client, 'projects'));
      const { rows } = await client.query<{ setting: string }>('select current_setting($1, true) as setting', [TENANT_SETTING]);
      expect(rows[0]!.setting).toBe('');
      for (const table of tables) expect(await countsByTenant(client, table)).toEqual({});
    });
  });

  test('sees no row with an empty tenant setting', async () => {
    await asRuntime(async (client) => {
      for (const table of tables) {
        expect(await inTransaction(client, '', () => countsByTenant(client, table))).toEqual({});
      }
    });
  });

  test('fails, rather than returns rows, when the tenant setting is not a uuid', async () => {
    await asRuntime(async (client) => {
      for (const garbage of ['acme', `${tenants.globex.id}' or true --`, '*', 'null']) {
        for (const table of tables) {
          await expect(inTransaction(client, garbage, () => countsByTenant(client, table))).rejects.toThrow(
            /invalid input syntax for type uuid/,
          );
        }
      }
    });
  });

  test('gets an error, not other tenants rows, with row_security = off', async () => {
    await asRuntime(async (client) => {
      await client.query('set row_security = off');
      for (const setting of [undefined, tenants.acme.id]) {
        for (const table of tables) {
          await expect(inTransaction(client, setting, () => countsByTenant(client, table))).rejects.toThrow(
            `query would be affected by row-level security policy for table "${table}"`,
          );
        }
      }
    });
  });

  test('cannot disable, unforce, drop or create a policy', async () => {
    await asRuntime(async (client) => {
      for (const table of tables) {
        await expect(client.query(`alter table app.${table} disable row level security`)).rejects.toThrow(`must be owner of table ${table}`);
        await expect(client.query(`alter table app.${table} no force row level security`)).rejects.toThrow(`must be owner of table ${table}`);
        await expect(client.query(`drop policy tenant_isolation on app.${table}`)).rejects.toThrow(`must be owner of relation ${table}`);
        await expect(client.query(`create policy open_door on app.${table} using (true)`)).rejects.toThrow(`must be owner of table ${table}`);
        await expect(client.query(`alter table app.${table} owner to tenant_app_api`)).rejects.toThrow(`must be owner of table ${table}`);
      }
      const { rows } = await client.query<{ table: string; enabled: boolean; forced: boolean; policies: string[] }>(
        `select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
                array(select polname::text from pg_policy p where p.polrelid = c.oid order by polname) as policies
         from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind = 'r' and c.relname = any($1)
         order by c.relname`,
        [tables],
      );
      expect(rows).toEqual(
        [...tables].sort().map((table) => ({ table, enabled: true, forced: true, policies: ['tenant_isolation'] })),
      );
    });
  });

  test('cannot read the control plane tables directly', async () => {
    await asRuntime(async (client) => {
      for (const table of ['tenants', 'api_keys', 'users', 'memberships']) {
        await expect(client.query(`select * from control.${table}`)).rejects.toThrow(`permission denied for table ${table}`);
      }
    });
  });

  test('cannot change the tenant_id or id of a row', async () => {
    await asRuntime(async (client) => {
      for (const table of tables) {
        for (const column of ['tenant_id', 'id']) {
          await expect(
            inTransaction(client, tenants.acme.id, () =>
              client.query(`update app.${table} set ${column} = $1::uuid`, [tenants.globex.id]),
            ),
          ).rejects.toThrow(`permission denied for table ${table}`);
        }
      }
    });
    expect((await actualCounts()).projects).toEqual({ ...countsOf('acme', 'projects'), ...countsOf('globex', 'projects') });
  });

  test('cannot insert a row for another tenant, nor any row without a tenant setting', async () => {
    await asRuntime(async (client) => {
      await expect(
        inTransaction(client, tenants.acme.id, () =>
          client.query('insert into app.projects (tenant_id, name) values ($1, $2)', [tenants.globex.id, 'planted']),
        ),
      ).rejects.toThrow('new row violates row-level security policy for table "projects"');
      await expect(
        client.query('insert into app.projects (tenant_id, name) values ($1, $2)', [tenants.acme.id, 'unbound']),
      ).rejects.toThrow('new row violates row-level security policy for table "projects"');
      // A task of acme's into a globex project: the policy refuses it before the foreign key is even looked at.
      await expect(
        inTransaction(client, tenants.globex.id, () =>
          client.query(
            `insert into app.tasks (tenant_id, project_id, title)
             select $1, id, 'planted' from app.projects limit 1`,
            [tenants.acme.id],
          ),
        ),
      ).rejects.toThrow('new row violates row-level security policy for table "tasks"');
    });
    const counts = await actualCounts();
    expect(counts.projects).toEqual({ ...countsOf('acme', 'projects'), ...countsOf('globex', 'projects') });
    expect(counts.tasks).toEqual({ ...countsOf('acme', 'tasks'), ...countsOf('globex', 'tasks') });
  });

  test('updates and deletes reach only the bound tenant rows', async () => {
    await asRuntime(async (client) => {
      await inTransaction(client, tenants.acme.id, async () => {
        const renamed = await client.query('update app.projects set name = $1 where tenant_id = $2', ['pwned', tenants.globex.id]);
        expect(renamed.rowCount).toBe(0);
        const deletedForeign = await client.query('delete from app.comments where tenant_id = $1', [tenants.globex.id]);
        expect(deletedForeign.rowCount).toBe(0);
        const deletedAll = await client.query('delete from app.comments');
        expect(deletedAll.rowCount).toBe(expectedCounts.acme.comments);
      });
    });
    expect((await actualCounts()).comments).toEqual({ ...countsOf('acme', 'comments'), ...countsOf('globex', 'comments') });
  });

  test('cannot become the owner, a superuser or a BYPASSRLS role', async () => {
    await asRuntime(async (client) => {
      await expect(client.query('set role tenant_app_owner')).rejects.toThrow('permission denied to set role "tenant_app_owner"');
      await expect(client.query('set session authorization tenant_app_owner')).rejects.toThrow(
        'permission denied to set session authorization',
      );
      await expect(client.query('alter role tenant_app_api bypassrls')).rejects.toThrow('permission denied to alter role');
      await expect(client.query(`grant tenant_app_owner to tenant_app_api`)).rejects.toThrow('permission denied to grant role');
      const { rows } = await client.query<{ role: string; super: boolean; bypass: boolean }>(
        'select current_user as role, rolsuper as super, rolbypassrls as bypass from pg_roles where rolname = current_user',
      );
      expect(rows).toEqual([{ role: 'tenant_app_api', super: false, bypass: false }]);
    });
  });
});

describe('the owner role', () => {
  test('is subject to FORCE RLS: no row without the tenant setting, only the bound tenant rows with it', async () => {
    const { owner } = database;
    for (const table of tables) {
      const unbound = await owner.selectFrom(`app.${table}`).select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
      expect(Number(unbound.count)).toBe(0);
    }
    const bound = await owner.transaction().execute(async (trx) => {
      const [binding] = sharedTenantBinding(tenants.globex.id, database.bindingKey);
      await trx.executeQuery(CompiledQuery.raw(binding!.text, [...binding!.values]));
      return trx.selectFrom('app.tasks').select('tenant_id').execute();
    });
    expect(bound.map((row) => row.tenant_id)).toEqual(Array(expectedCounts.globex.tasks).fill(tenants.globex.id));
  });
});

describe('assertSafeRuntimeRole', () => {
  async function check(url: string): Promise<unknown> {
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
    try {
      await assertSafeRuntimeRole(db);
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await db.destroy();
    }
  }

  test('accepts the runtime login', async () => {
    expect(await check(database.runtimeUrl)).toBeUndefined();
  });

  test('refuses the owner login, which owns the tenant tables', async () => {
    const error = await check(database.ownerUrl);
    expect(error).toBeInstanceOf(UnsafeRuntimeRoleError);
    expect(error).toMatchObject({ code: 'UNSAFE_RUNTIME_ROLE', role: 'tenant_app_owner' });
    expect((error as UnsafeRuntimeRoleError).reasons).toContain('owns the tenant tables');
    expect((error as UnsafeRuntimeRoleError).reasons).not.toContain('is (or can become) a superuser or BYPASSRLS role');
  });

  test('refuses the superuser', async () => {
    const error = await check(database.superuserUrl);
    expect(error).toBeInstanceOf(UnsafeRuntimeRoleError);
    expect(error).toMatchObject({ code: 'UNSAFE_RUNTIME_ROLE', role: new URL(database.superuserUrl).username });
    expect((error as UnsafeRuntimeRoleError).reasons).toContain('is (or can become) a superuser or BYPASSRLS role');
  });

  test('refuses a runtime login that can create temporary objects, as itself or through a role it can set', async () => {
    const refusal = await withTemporaryObjectsAllowed(database, () => check(database.runtimeUrl));
    expect(refusal).toBeInstanceOf(UnsafeRuntimeRoleError);
    expect((refusal as UnsafeRuntimeRoleError).reasons).toEqual([`can create temporary objects in database "${database.name}"`]);
    expect((refusal as UnsafeRuntimeRoleError).message).toMatch(`REVOKE TEMPORARY ON DATABASE "${database.name}" FROM PUBLIC`);
    expect((refusal as UnsafeRuntimeRoleError).message).not.toMatch('DATABASE_RUNTIME_URL');

    const tenant = await database.provisioner.createTenant({ slug: 'temporary', name: 'Temporary', strategy: 'schema', tier: 'free' });
    const throughTenantRole = await withTemporaryObjectsAllowed(database, () => check(database.runtimeUrl), tenantRoleName(tenant.id));
    expect(throughTenantRole).toMatchObject({ reasons: [`can create temporary objects in database "${database.name}"`] });
    expect(await check(database.runtimeUrl)).toBeUndefined();
  });

  test(`refuses a login that is not a member of ${RUNTIME_ROLE}`, async () => {
    const superuser = new pg.Client({ connectionString: database.superuserUrl });
    await superuser.connect();
    const login = `rls_stranger_${database.name}`;
    try {
      await superuser.query(`create role ${login} login password 'stranger'`);
      const url = new URL(database.runtimeUrl);
      url.username = login;
      url.password = 'stranger';
      const error = await check(url.toString());
      expect(error).toBeInstanceOf(UnsafeRuntimeRoleError);
      expect((error as UnsafeRuntimeRoleError).reasons).toEqual([`is not a member of ${RUNTIME_ROLE}`]);
    } finally {
      await superuser.query(`drop role if exists ${login}`);
      await superuser.end();
    }
  });
});
