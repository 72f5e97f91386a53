import type { Kysely } from 'kysely';
import type { ApiKeySummary, MemberRole, TenantDatabase } from '@tenant-app/db';

/** What every resolver gets: the request's tenant, who is asking, and a database bound to the tenant. */
export interface GraphQLContext {
  tenant: { id: string; slug: string; name: string };
  viewer: { userId: string; role: MemberRole };
  /** Bound to `tenant` for this request only; there is no other way to reach the database. */
  db: Kysely<TenantDatabase>;
  /** The tenant's API keys, which live in the control plane: `db` cannot reach them. */
  apiKeys: TenantApiKeys;
}

/** A tenant's API keys, and no other tenant's: another tenant's key id is not found. */
export interface TenantApiKeys {
  /** The newest `limit` keys, revoked ones too. */
  list(limit: number): Promise<ApiKeySummary[]>;
  /** The key, revoked from the next request on; undefined when this tenant has no such key. */
  revoke(id: string): Promise<ApiKeySummary | undefined>;
}
