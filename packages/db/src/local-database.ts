import pg from 'pg';
import { withClient } from './connections.ts';
import { migrateToLatest } from './migrate.ts';
import { RUNTIME_ROLE } from './roles.ts';

export interface DatabaseUrls {
  /** The owner login: migrations, provisioning, seeds. */
  ownerUrl: string;
  /** The runtime login the API serves requests with: a plain member of the runtime role. */
  runtimeUrl: string;
}

const OWNER = { user: 'tenant_app_owner', password: 'tenant_app_owner' };
const RUNTIME = { user: 'tenant_app_api', password: 'tenant_app_api' };

/** The URL of a local database as its owner and as the runtime login. */
export function localDatabaseUrls(superuserUrl: string, database: string): DatabaseUrls {
  const urlFor = (login: { user: string; password: string }) => {
    const url = new URL(superuserUrl);
    url.username = login.user;
    url.password = login.password;
    url.pathname = `/${database}`;
    return url.toString();
  };
  return { ownerUrl: urlFor(OWNER), runtimeUrl: urlFor(RUNTIME) };
}

/**
 * Prepares a database on a server we control (the embedded one, or a test cluster) the way an
 * operator would on a managed one: an owner login, the database it owns, migrations run as that
 * owner, and a runtime login that is only a member of the runtime role. The passwords are fixed
 * because such a server listens on loopback only.
 */
export async function prepareLocalDatabase(superuserUrl: string, database: string): Promise<DatabaseUrls> {
  await withClient(superuserUrl, async (client) => {
    await ensureLogin(client, OWNER, 'createdb createrole');
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) {
      await client.query(`create database ${pg.escapeIdentifier(database)} owner ${OWNER.user}`);
    }
  });
  const urls = localDatabaseUrls(superuserUrl, database);
  await migrateToLatest(urls.ownerUrl);
  await withClient(superuserUrl, async (client) => {
    await ensureLogin(client, RUNTIME, '');
    await client.query(`grant ${RUNTIME_ROLE} to ${RUNTIME.user}`);
  });
  return urls;
}

/**
 * A new database cloned from a migrated one: how each test file gets its own. The template's
 * privileges do not come with its contents, so the clone gets the migrations' revoke again.
 */
export async function cloneDatabase(superuserUrl: string, template: string, database: string): Promise<void> {
  await withClient(superuserUrl, async (client) => {
    await client.query(
      `create database ${pg.escapeIdentifier(database)} template ${pg.escapeIdentifier(template)} owner ${OWNER.user}`,
    );
    await client.query(`revoke temporary on database ${pg.escapeIdentifier(database)} from public`);
  });
}

export function databaseUrl(url: string, database: string): string {
  const target = new URL(url);
  target.pathname = `/${database}`;
  return target.toString();
}

async function ensureLogin(client: pg.Client, login: { user: string; password: string }, attributes: string) {
  const found = await client.query('select 1 from pg_roles where rolname = $1', [login.user]);
  const verb = found.rowCount === 0 ? 'create' : 'alter';
  await client.query(
    `${verb} role ${pg.escapeIdentifier(login.user)} login ${attributes} password ${pg.escapeLiteral(login.password)}`,
  );
}

