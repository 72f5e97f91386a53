import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import { cloneDatabase, databaseUrl } from '../local-database.ts';
import { connectAsOwner, type OwnerDatabase } from '../provisioning.ts';

const TEMPLATE_DATABASE = 'tenant_app_template';

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
  const withLogin = (user: string) => {
    const url = new URL(databaseUrl(superuserUrl, name));
    url.username = user;
    url.password = user;
    return url.toString();
  };
  const ownerUrl = withLogin('tenant_app_owner');
  const owner = connectAsOwner(ownerUrl);
  return {
    name,
    superuserUrl: databaseUrl(superuserUrl, name),
    ownerUrl,
    runtimeUrl: withLogin('tenant_app_api'),
    owner,
    close: () => owner.destroy(),
  };
}

export { startRoundTripProxy, type RoundTripProxy } from './round-trip-proxy.ts';
