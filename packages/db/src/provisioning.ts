import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ControlDatabase, MemberRole } from './control-database.ts';
import type { TenantDatabase } from './tenant-database.ts';
import { generateApiKey } from './api-keys.ts';
import { SHARED_SCHEMA, TENANT_SETTING } from './roles.ts';

/** The owner's view of one database: the control plane plus the shared tenant tables. */
export type OwnerDatabase = ControlDatabase & {
  [Table in keyof TenantDatabase as `${typeof SHARED_SCHEMA}.${Table}`]: TenantDatabase[Table];
};

export interface NewTenant {
  slug: string;
  name: string;
}

export interface ProvisionedTenant {
  id: string;
  slug: string;
  name: string;
}

/** Registers a `shared` tenant. Runs as the owner role. */
export async function createTenant(owner: Kysely<OwnerDatabase>, tenant: NewTenant): Promise<ProvisionedTenant> {
  return owner
    .insertInto('control.tenants')
    .values({ slug: tenant.slug, name: tenant.name })
    .returning(['id', 'slug', 'name'])
    .executeTakeFirstOrThrow();
}

export interface NewMember {
  email: string;
  name: string;
  role: MemberRole;
}

/**
 * Makes a user (created on first use, matched by e-mail) a member of a tenant and projects the
 * user's profile into the tenant's own tables, where resolvers read it under the tenant's binding.
 */
export async function addMember(
  owner: Kysely<OwnerDatabase>,
  tenantId: string,
  member: NewMember,
): Promise<{ userId: string }> {
  return owner.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('control.users')
      .select('id')
      .where(sql<string>`lower(email)`, '=', member.email.toLowerCase())
      .executeTakeFirst();
    const user =
      existing ??
      (await trx
        .insertInto('control.users')
        .values({ email: member.email, name: member.name })
        .returning('id')
        .executeTakeFirstOrThrow());
    await trx
      .insertInto('control.memberships')
      .values({ tenant_id: tenantId, user_id: user.id, role: member.role })
      .execute();
    await bindTenant(trx, tenantId);
    await trx
      .insertInto(`${SHARED_SCHEMA}.users`)
      .values({ tenant_id: tenantId, id: user.id, email: member.email, name: member.name })
      .execute();
    return { userId: user.id };
  });
}

/** Issues an API key for a member; the key is returned once and only its hash is kept. */
export async function issueApiKey(
  owner: Kysely<OwnerDatabase>,
  grant: { tenantId: string; userId: string; role: MemberRole },
): Promise<string> {
  const { key, prefix, hash } = generateApiKey();
  await owner
    .insertInto('control.api_keys')
    .values({ tenant_id: grant.tenantId, user_id: grant.userId, role: grant.role, prefix, key_hash: hash })
    .execute();
  return key;
}

export async function setTenantStatus(
  owner: Kysely<OwnerDatabase>,
  tenantId: string,
  status: 'active' | 'suspended',
): Promise<void> {
  await owner.updateTable('control.tenants').set({ status }).where('id', '=', tenantId).execute();
}

/**
 * Tenant tables force RLS on their owner too, so the owner writes a tenant's rows only inside a
 * transaction bound to that tenant, exactly as a request does.
 */
export async function bindTenant(trx: Kysely<OwnerDatabase>, tenantId: string): Promise<void> {
  await sql`select set_config(${TENANT_SETTING}, ${tenantId}, true)`.execute(trx);
}

/** A connection as the owner role, for provisioning and seeding; close it with `destroy()`. */
export function connectAsOwner(ownerUrl: string, maxConnections = 4): Kysely<OwnerDatabase> {
  return new Kysely<OwnerDatabase>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: ownerUrl, max: maxConnections }) }),
  });
}
