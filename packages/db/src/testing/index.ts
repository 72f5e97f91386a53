import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import { cloneDatabase, databaseUrl, localDatabaseUrls } from '../local-database.ts';
import { connectAsOwner, type OwnerDatabase } from '../provisioning.ts';
import { TEMPLATE_DATABASE } from './provided-context.ts';


export interface TestDatabase {
  name: string;
  superuserUrl: string;
  ownerUrl: string;
  runtimeUrl: string;
  /** The owner's connection, for provisioning fixtures. */
  owner: Kysely<OwnerDatabase>;
  /** Closes the owner connection; the database goes with the test cluster. */
  close(): Promise<void>;
}

/** A fresh, migrated database of the test cluster, for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const superuserUrl = inject('postgresSuperuserUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await cloneDatabase(superuserUrl, TEMPLATE_DATABASE, name);
  const { ownerUrl, runtimeUrl } = localDatabaseUrls(superuserUrl, name);
  const owner = connectAsOwner(ownerUrl);
  return {
    name,
    superuserUrl: databaseUrl(superuserUrl, name),
    ownerUrl,
    runtimeUrl,
    owner,
    close: () => owner.destroy(),
  };
}

export { startRoundTripProxy, type RoundTripProxy } from './round-trip-proxy.ts';
