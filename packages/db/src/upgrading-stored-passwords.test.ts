import { randomBytes, randomUUID } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { localDatabaseUrls } from './local-database.ts';
import { controlMigrations } from './migrations/index.ts';
import {
  ACCESS_ROLE,
  loadTenantBindingKey,
  loadTenantLoginKey,
  migrateAllTenants,
  migrateToLatest,
  sessionPlanFor,
  tenantRoleName,
  type BindableTenant,
} from './index.ts';

// A database migrated before passwords stopped being stored, with a `database` tenant provisioned
// the old way (a random password, kept in the control plane and inside its connection URL), must
// keep working once the new code has migrated it: `npm start` runs `migrateToLatest`, `npm run
// migrate` runs `migrateAllTenants`.

const superuserUrl = inject('postgresSuperuserUrl');
const name = `upgrade_${randomBytes(6).toString('hex')}`;
const { ownerUrl } = localDatabaseUrls(superuserUrl, name);
const tenantId = randomUUID();
const login = tenantRoleName(tenantId);
const oldPassword = randomBytes(24).toString('base64url');
let superuser: pg.Client;

beforeAll(async () => {
  superuser = new pg.Client({ connectionString: superuserUrl });
  await superuser.connect();
  await superuser.query(`create database ${name} owner tenant_app_owner`);
  // The control plane as the last release left it.
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 1, options: '-c search_path=control' });
  const owner = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    const { error } = await new Migrator({ db: owner, provider: controlMigrations, migrationTableSchema: 'control' }).migrateTo(
      '2026-11-28T10-45_tenant-migration-state',
    );
    if (error) throw error;
    // What the old provisioning did for a database tenant, as the owner.
    await sql`create role ${sql.id(login)} login password ${sql.lit(oldPassword)}`.execute(owner);
    await sql`grant ${sql.id(ACCESS_ROLE)} to ${sql.id(login)}`.execute(owner);
    await sql`create database ${sql.id(login)}`.execute(owner);
    await sql`revoke all on database ${sql.id(login)} from public`.execute(owner);
    await sql`grant connect on database ${sql.id(login)} to ${sql.id(login)}`.execute(owner);
    await sql`insert into control.tenants (id, slug, name, strategy, status) values (${tenantId}, 'legacy', 'Legacy', 'database', 'active')`.execute(owner);
    const url = new URL(ownerUrl);
    url.username = login;
    url.password = oldPassword;
    url.pathname = `/${login}`;
    await sql`insert into control.tenant_databases (tenant_id, database_name, login, password, connection_url)
              values (${tenantId}, ${login}, ${login}, ${oldPassword}, ${url.toString()})`.execute(owner);
  } finally {
    await owner.destroy();
  }
});

afterAll(async () => {
  await superuser.query(`drop database if exists ${login} with (force)`);
  await superuser.query(`drop database if exists ${name} with (force)`);
  await superuser.query(`drop role if exists ${login}`);
  await superuser.end();
});

async function canLogIn(password: string): Promise<boolean> {
  const url = new URL(ownerUrl);
  url.username = login;
  url.password = password;
  url.pathname = `/${login}`;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function storedRow(): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return (await client.query('select * from control.tenant_databases where tenant_id = $1', [tenantId])).rows[0];
  } finally {
    await client.end();
  }
}

test('migrating drops the stored password and moves the login to its derived password', async () => {
  expect(await canLogIn(oldPassword)).toBe(true);
  await migrateToLatest(ownerUrl);
  const loginKey = await loadTenantLoginKey(ownerUrl);
  const row = await storedRow();
  expect(Object.keys(row)).not.toContain('password');
  expect(row.connection_url).toBe(`postgres://${login}@${new URL(ownerUrl).host}/${login}`);
  expect(await canLogIn(oldPassword)).toBe(false);
  expect(await canLogIn(loginKey.password(tenantId))).toBe(true);
});

test('npm run migrate gives a login the migration could not reach its derived password, and the tenant is served', async () => {
  // As if the login lived on another host: the control-plane migration left its password alone.
  await superuser.query(`alter role ${login} password 'from-another-host'`);
  await migrateAllTenants({ ownerUrl });
  const loginKey = await loadTenantLoginKey(ownerUrl);
  expect(await canLogIn(loginKey.password(tenantId))).toBe(true);

  // A request's session, exactly as the API opens it: the URL the control plane returns, the
  // password derived by the app, the binding signed with the key installed by the migration run.
  const tenant: BindableTenant = {
    id: tenantId,
    slug: 'legacy',
    strategy: 'database',
    tier: 'free',
    ownRole: false,
    databaseUrl: String((await storedRow()).connection_url),
  };
  const plan = sessionPlanFor(tenant, await loadTenantBindingKey(ownerUrl), loginKey);
  const client = new pg.Client({ connectionString: plan.target!.connectionString });
  await client.connect();
  try {
    await client.query('begin');
    for (const statement of plan.binding) await client.query(statement.text, [...statement.values]);
    const { rows } = await client.query(`select current_user as login, (select count(*)::int from ${plan.schema}.projects) as projects`);
    expect(rows[0]).toEqual({ login, projects: 0 });
  } finally {
    await client.end();
  }
});
