import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '@tenant-app/db/testing';
import { hashApiKey, tenantRoleName, type ProvisionedTenant } from './index.ts';

// SQL injected into a request runs as the runtime login. Whatever it reads or calls must not hand
// it a `database` tenant's password, or it could connect to that tenant's database as the tenant.

let database: TestDatabase;
let vault: ProvisionedTenant;
let password: string;
let keyHash: string;

beforeAll(async () => {
  database = await createTestDatabase();
  vault = await database.provisioner.createTenant({ slug: 'vault', name: 'Vault', strategy: 'database' });
  await database.provisioner.createTenant({ slug: 'plain', name: 'Plain' });
  const { userId } = await database.provisioner.addMember(vault, { email: 'a@vault.test', name: 'A', role: 'admin' });
  keyHash = hashApiKey(await database.provisioner.issueApiKey({ tenantId: vault.id, userId, role: 'admin' }));
  password = database.loginKey.password(vault.id);
});
afterAll(() => database.close());

function asRuntime<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(database.runtimeUrl, work);
}

/** Runs `query` in a savepoint; an error (no privilege, a function that refuses the arguments) gives undefined. */
async function attempt<R extends pg.QueryResultRow>(client: pg.Client, query: string, values: unknown[] = []): Promise<R[] | undefined> {
  await client.query('savepoint probe');
  try {
    return (await client.query<R>(query, values)).rows;
  } catch {
    await client.query('rollback to savepoint probe');
    return undefined;
  } finally {
    await client.query('release savepoint probe');
  }
}

async function vaultUrl(): Promise<string> {
  const row = await database.owner
    .selectFrom('control.tenant_databases')
    .select('connection_url')
    .where('tenant_id', '=', vault.id)
    .executeTakeFirstOrThrow();
  return row.connection_url;
}

test('the derived password is what logs in to the tenant database, and the stored URL alone does not', async () => {
  const stored = await vaultUrl();
  const withPassword = new pg.Client({ connectionString: database.loginKey.connectionUrl(vault.id, stored) });
  await withPassword.connect();
  await withPassword.end();
  await expect(new pg.Client({ connectionString: stored }).connect()).rejects.toThrow(/password/);
});

test('no table or view the runtime login can read holds the password, and it reads no control-plane table', async () => {
  const { searched, found, readableControl } = await asRuntime(async (client) => {
    await client.query('begin');
    const { rows: relations } = await client.query<{ name: string; schema: string }>(`
      select c.oid::regclass::text as name, n.nspname as schema
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'v', 'm', 'p', 'f')`);
    const searched: string[] = [];
    const found: string[] = [];
    const readableControl: string[] = [];
    for (const relation of relations) {
      // Every column of every row, as text.
      const rows = await attempt<{ n: number }>(
        client,
        `select count(*)::int as n from ${relation.name} as r where strpos(r::text, $1) > 0`,
        [password],
      );
      if (!rows) continue;
      searched.push(relation.name);
      if (rows[0]!.n > 0) found.push(relation.name);
      if (relation.schema === 'control' || relation.schema === 'tenant_binding') readableControl.push(relation.name);
    }
    await client.query('rollback');
    return { searched, found, readableControl };
  });
  // The search reached the catalogs the runtime login reads (roles, databases, settings).
  expect(searched).toEqual(expect.arrayContaining(['pg_roles', 'pg_database', 'pg_settings', 'pg_stat_activity']));
  expect(found).toEqual([]);
  expect(readableControl).toEqual([]);
});

test('no function the runtime login can call outside the system catalogs returns the password', async () => {
  const { calls, found, vaultRows } = await asRuntime(async (client) => {
    await client.query('begin');
    const { rows: functions } = await client.query<{ name: string; args: string[] }>(`
      select p.oid::regproc::text as name, array(select format_type(t, null) from unnest(p.proargtypes) as t) as args
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and p.prokind = 'f'
        and has_schema_privilege(n.oid, 'usage') and has_function_privilege(p.oid, 'execute')`);
    // Every combination of what an injection knows or can guess: the tenant's id and slug, and a
    // valid key's hash (what a request of the tenant sends), as every text or uuid argument.
    const candidates = [vault.id, vault.slug, keyHash];
    const calls: string[] = [];
    const found: string[] = [];
    let vaultRows = 0;
    for (const fn of functions) {
      if (!fn.args.every((type) => type === 'text' || type === 'uuid')) continue;
      let combinations: string[][] = [[]];
      for (let index = 0; index < fn.args.length; index += 1) {
        combinations = combinations.flatMap((prefix) => candidates.map((candidate) => [...prefix, candidate]));
      }
      for (const values of combinations) {
        const casts = fn.args.map((type, index) => `$${index + 1}::${type}`).join(', ');
        const rows = await attempt<{ row: string | null }>(client, `select r::text as row from ${fn.name}(${casts}) as r`, values);
        if (!rows) continue;
        calls.push(`${fn.name}(${values.join(', ')})`);
        for (const { row } of rows) {
          // A function returning void (control.touch_api_key) answers one NULL: nothing to leak.
          if (row === null) continue;
          if (row.includes(password)) found.push(`${fn.name}(${values.join(', ')})`);
          if (row.includes(tenantRoleName(vault.id))) vaultRows += 1;
        }
      }
    }
    await client.query('rollback');
    return { calls, found, vaultRows };
  });
  expect(calls).toEqual(
    expect.arrayContaining([
      `control.resolve_request(vault, ${keyHash})`,
      `control.resolve_platform_key(${keyHash})`,
      `control.touch_api_key(${keyHash})`,
    ]),
  );
  // The tenant's database was in those answers (where it is, as which login): only the password is not.
  expect(vaultRows).toBeGreaterThan(0);
  expect(found).toEqual([]);
});

test('the control plane refuses to store a connection URL with a password', async () => {
  const url = new URL(await vaultUrl());
  url.password = 'secret';
  await expect(
    database.owner.updateTable('control.tenant_databases').set({ connection_url: url.toString() }).where('tenant_id', '=', vault.id).execute(),
  ).rejects.toThrow(/tenant_databases_no_password/);
});
