import { type Kysely, sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { MemberRole, TenantStatus, TenantStrategy } from './control-database.ts';
import { hashApiKey } from './api-keys.ts';
import type { TenantBindingKey } from './tenant-binding-key.ts';

export interface TenantRecord {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  strategy: TenantStrategy;
  tier: string;
  ownRole: boolean;
  /** A `database` tenant's own database, as its own login, without the password (see `TenantLoginKey`). */
  databaseUrl: string | null;
}

export interface PlatformPrincipal {
  keyId: string;
  name: string;
}

export interface Principal {
  userId: string;
  role: MemberRole;
}

/** What the control plane says about a (tenant, API key) or (tenant, user) pair. */
export type RequestResolution =
  | { outcome: 'unauthenticated' }
  | { outcome: 'tenant-not-found' }
  | { outcome: 'forbidden' }
  | { outcome: 'suspended'; tenant: TenantRecord }
  | { outcome: 'ok'; tenant: TenantRecord; principal: Principal };

export interface TenantRegistryOptions {
  /** How long a resolution is reused; a suspension takes effect within it. 0 turns caching off. @default 5000 */
  ttlMs?: number;
  /** @default 10000 */
  maxEntries?: number;
}

/** The tenant's record: NULL unless the credential is of that tenant (see 2026-12-01T09-00_credential-gated-lookups). */
interface TenantColumns {
  /** The tenant exists, whoever's it is; told only to a live key's holder or an existing user. */
  tenant_found: boolean;
  tenant_id: string | null;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
  tenant_strategy: TenantStrategy;
  tenant_tier: string;
  tenant_own_role: boolean;
  tenant_database_url: string | null;
}

interface ResolveRow extends TenantColumns {
  key_valid: boolean;
  user_id: string | null;
  role: MemberRole | null;
}

interface ResolveMemberRow extends TenantColumns {
  user_id: string | null;
  role: MemberRole | null;
}

/**
 * Resolves tenants and API keys (or users, for JWTs) through the control plane's SECURITY DEFINER
 * functions, so the runtime role never reads the control tables. Resolutions are cached briefly: a
 * busy tenant costs one control-plane query per TTL, not one per request.
 */
export class TenantRegistry {
  readonly #db: Kysely<unknown>;
  readonly #bindingKey: TenantBindingKey;
  readonly #cache: LRUCache<string, RequestResolution> | undefined;

  /** `bindingKey` signs the member lookups (`resolveMember`): see `TenantBindingKey.memberLookupToken`. */
  constructor(runtimeDb: Kysely<unknown>, bindingKey: TenantBindingKey, options: TenantRegistryOptions = {}) {
    this.#db = runtimeDb;
    this.#bindingKey = bindingKey;
    const ttl = options.ttlMs ?? 5_000;
    // lru-cache reads a TTL of 0 as "never expires"; here it means "do not cache".
    this.#cache = ttl > 0 ? new LRUCache({ max: options.maxEntries ?? 10_000, ttl }) : undefined;
  }

  async resolve(tenantRef: string, apiKey: string): Promise<RequestResolution> {
    const keyHash = hashApiKey(apiKey);
    const cacheKey = `${tenantRef}\u0000${keyHash}`;
    const cached = this.#cache?.get(cacheKey);
    if (cached) return cached;
    const resolution = await this.#query(tenantRef, keyHash);
    this.#cache?.set(cacheKey, resolution);
    if (resolution.outcome !== 'unauthenticated') this.#touch(keyHash);
    return resolution;
  }

  /**
   * The tenant and `userId`'s membership of it, for a caller whose identity was verified elsewhere
   * (a JWT's subject). The role is the membership's; an unknown user is `unauthenticated`.
   */
  async resolveMember(tenantRef: string, userId: string): Promise<RequestResolution> {
    // A key hash is hex and has no '@': the two kinds of entry cannot collide.
    const cacheKey = `${tenantRef}\u0000@${userId}`;
    const cached = this.#cache?.get(cacheKey);
    if (cached) return cached;
    // Signed as Postgres prints the uuid, which is how the function rebuilds the message.
    const memberId = userId.toLowerCase();
    const token = this.#bindingKey.memberLookupToken(tenantRef, memberId);
    const { rows } = await sql<ResolveMemberRow>`
      select * from control.resolve_member(${tenantRef}, ${memberId}, ${token})`.execute(this.#db);
    const row = rows[0];
    // As for keys, an unknown user learns nothing about tenants.
    const resolution: RequestResolution = !row?.user_id
      ? { outcome: 'unauthenticated' }
      : tenantOutcome(row, row.role && { userId: row.user_id, role: row.role });
    this.#cache?.set(cacheKey, resolution);
    return resolution;
  }

  /** The platform operator a key belongs to, if it is a live platform key. */
  async resolvePlatformKey(apiKey: string): Promise<PlatformPrincipal | undefined> {
    const { rows } = await sql<{ key_id: string; name: string }>`
      select * from control.resolve_platform_key(${hashApiKey(apiKey)})`.execute(this.#db);
    const row = rows[0];
    return row ? { keyId: row.key_id, name: row.name } : undefined;
  }

  /** Forgets every cached resolution, after a change made by this process. */
  invalidate(): void {
    this.#cache?.clear();
  }

  /**
   * Records the key's use, on a cache miss only: at most one write per key, TTL and process. Not
   * awaited, so the request never waits for it; a failed stamp only leaves `last_used_at` older
   * than it should be, which is no reason to fail the request.
   */
  #touch(keyHash: string): void {
    sql`select control.touch_api_key(${keyHash})`.execute(this.#db).catch(() => {});
  }

  async #query(tenantRef: string, keyHash: string): Promise<RequestResolution> {
    const { rows } = await sql<ResolveRow>`select * from control.resolve_request(${tenantRef}, ${keyHash})`.execute(
      this.#db,
    );
    const row = rows[0];
    // Unknown keys are refused before the tenant is looked at, so that a caller without a valid
    // key cannot learn which tenants exist; the function tells them nothing either.
    if (!row?.key_valid) return { outcome: 'unauthenticated' };
    return tenantOutcome(row, row.user_id && row.role ? { userId: row.user_id, role: row.role } : undefined);
  }
}

/** The outcome for a known caller: `principal` is undefined when the caller has no place in this tenant. */
function tenantOutcome(row: TenantColumns, principal: Principal | null | undefined): RequestResolution {
  if (!row.tenant_found) return { outcome: 'tenant-not-found' };
  // Another tenant's record is never returned: the caller has no place in it.
  if (!principal || !row.tenant_id) return { outcome: 'forbidden' };
  const tenant: TenantRecord = {
    id: row.tenant_id,
    slug: row.tenant_slug,
    name: row.tenant_name,
    status: row.tenant_status,
    strategy: row.tenant_strategy,
    tier: row.tenant_tier,
    ownRole: row.tenant_own_role,
    databaseUrl: row.tenant_database_url,
  };
  // A tenant still being provisioned, or whose provisioning failed, is not there yet.
  if (tenant.status === 'provisioning' || tenant.status === 'failed') return { outcome: 'tenant-not-found' };
  if (tenant.status !== 'active') return { outcome: 'suspended', tenant };
  return { outcome: 'ok', tenant, principal };
}
