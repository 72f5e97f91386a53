import type { Kysely } from 'kysely';
import type { MemberRole, TenantDatabase } from '@tenant-app/db';

/** What every resolver gets: the request's tenant, who is asking, and a database bound to the tenant. */
export interface GraphQLContext {
  tenant: { id: string; slug: string; name: string };
  viewer: { userId: string; role: MemberRole };
  /** Bound to `tenant` for this request only; there is no other way to reach the database. */
  db: Kysely<TenantDatabase>;
}
