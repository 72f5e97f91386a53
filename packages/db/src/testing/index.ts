import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import pg from 'pg';
import { withClient } from '../connections.ts';
import { cloneDatabase, databaseUrl, localDatabaseUrls } from '../local-database.ts';
import { TenantProvisioner, type OwnerDatabase } from '../provisioning.ts';
import { loadTenantBindingKey, type TenantBindingKey } from '../tenant-binding-key.ts';
import { loadTenantLoginKey, type TenantLoginKey } from '../tenant-login-key.ts';
import { TEMPLATE_DATABASE } from './provided-context.ts';


export interface TestDatabase {
  name: string;
  superuserUrl: string;
  ownerUrl: string;
  runtimeUrl: string;
  /** Creates tenants of every strategy and writes fixtures into them, as the owner. */
  provisioner: TenantProvisioner;
  /** The owner's connection to the main database. */
  owner: Kysely<OwnerDatabase>;
  /** The key that signs tenant bindings, as the app loads it at start. */
  bindingKey: TenantBindingKey;
  /** Derives `database` tenants' passwords, as the app loads it at start. */
  loginKey: TenantLoginKey;
  /** Closes the owner connections; the databases go with the test cluster. */
  close(): Promise<void>;
}

/** A fresh, migrated database of the test cluster, for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const superuserUrl = inject('postgresSuperuserUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await cloneDatabase(superuserUrl, TEMPLATE_DATABASE, name);
  const { ownerUrl, runtimeUrl } = localDatabaseUrls(superuserUrl, name);
  const provisioner = new TenantProvisioner({ ownerUrl });
  return {
    bindingKey: await loadTenantBindingKey(ownerUrl),
    loginKey: await loadTenantLoginKey(ownerUrl),
    name,
    superuserUrl: databaseUrl(superuserUrl, name),
    ownerUrl,
    runtimeUrl,
    provisioner,
    owner: provisioner.owner,
    close: () => provisioner.close(),
  };
}

/**
 * Runs `work` on a test database whose TEMPORARY privilege an operator gave back to PUBLIC, or to
 * `role` alone: for tests of the defences that stand behind the revoke. A connection that made its
 * temporary schema in the meantime keeps it afterwards.
 */
export async function withTemporaryObjectsAllowed<T>(
  database: Pick<TestDatabase, 'name' | 'superuserUrl'>,
  work: () => Promise<T>,
  role?: string,
): Promise<T> {
  const grantee = role === undefined ? 'public' : pg.escapeIdentifier(role);
  const privilege = (verb: 'grant' | 'revoke') =>
    withClient(database.superuserUrl, (client) =>
      client.query(`${verb} temporary on database ${pg.escapeIdentifier(database.name)} ${verb === 'grant' ? 'to' : 'from'} ${grantee}`),
    );
  await privilege('grant');
  try {
    return await work();
  } finally {
    await privilege('revoke');
  }
}

export { startRoundTripProxy, type RoundTripProxy } from './round-trip-proxy.ts';
export { freePort } from '../free-port.ts';
export { withClient };
export { findPgBouncer, startPgBouncer, type PgBouncer, type PgBouncerOptions } from './pgbouncer.ts';
export { startExtraCluster, superuserQuery, type ExtraCluster } from './extra-cluster.ts';
