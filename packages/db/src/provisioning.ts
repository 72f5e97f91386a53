import { CompiledQuery, Kysely, sql } from 'kysely';
import type { ControlDatabase, MemberRole, TenantStatus, TenantStrategy } from './control-database.ts';
import type { TenantDatabase } from './tenant-database.ts';
import { generateApiKey } from './api-keys.ts';
import { connect } from './connections.ts';
import { ProvisioningFailedError, UnknownHostError } from './errors.ts';
import { migrateTenantTables } from './migrate.ts';
import { ACCESS_ROLE, RUNTIME_ROLE, SHARED_SCHEMA } from './roles.ts';
import { sharedTenantBinding } from './tenant-binding.ts';
import { installTenantDatabaseKeys, readTenantBindingKey, type TenantBindingKey } from './tenant-binding-key.ts';
import { readTenantLoginKey, setLoginPassword, type TenantLoginKey } from './tenant-login-key.ts';
import { tenantRoleName, tenantSchemaName } from './tenant-names.ts';

/** The owner's view of the main database: the control plane plus the shared tenant tables. */
export type OwnerDatabase = ControlDatabase & {
  [Table in keyof TenantDatabase as `${typeof SHARED_SCHEMA}.${Table}`]: TenantDatabase[Table];
};

export interface ProvisionerOptions {
  /** The owner login on the main database (control plane, shared and schema tenants). */
  ownerUrl: string;
  /**
   * Postgres hosts for `database` tenants, by name: an owner login (CREATEDB, CREATEROLE) on any
   * database of that server. `main` defaults to the server of `ownerUrl`.
   */
  hosts?: Record<string, string>;
}

export interface NewTenant {
  slug: string;
  name: string;
  /** @default 'shared' */
  strategy?: TenantStrategy;
  /** The `role` option: run the tenant's transactions as its own role (implied by `schema`). */
  ownRole?: boolean;
  /** Host of a `database` tenant, by name. @default 'main' */
  host?: string;
  /** @default 'free' */
  tier?: string;
}

export interface ProvisionedTenant {
  id: string;
  slug: string;
  name: string;
  strategy: TenantStrategy;
  ownRole: boolean;
  tier: string;
}

/** A tenant as the control plane lists it. */
export interface TenantSummary extends ProvisionedTenant {
  status: TenantStatus;
  /** Host of a `database` tenant, by name in the host map. */
  host: string;
  /** When a migration run last found or left the tenant's own tables up to date. */
  migratedAt: Date | null;
  /** Why the last migration run failed for this tenant, until a run succeeds. */
  migrationError: string | null;
}

/** An API key as admins see it: never the key, never its hash. */
export interface ApiKeySummary {
  id: string;
  tenant_id: string;
  /** The key's first characters, to tell keys apart. */
  prefix: string;
  role: MemberRole;
  user_id: string;
  created_at: Date;
  /** Stamped at most once per registry TTL and process, so it may lag by that much. */
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const API_KEY_SUMMARY = ['id', 'tenant_id', 'prefix', 'role', 'user_id', 'created_at', 'last_used_at', 'revoked_at'] as const;

export interface NewMember {
  email: string;
  name: string;
  role: MemberRole;
}

/**
 * Creates tenants with every part their strategy needs, and writes into them as the owner. Every
 * step can run again: a tenant whose provisioning failed half way is marked `failed` and
 * `createTenant` with the same slug resumes it, so no tenant ever half exists unnoticed.
 */
export class TenantProvisioner {
  readonly owner: Kysely<OwnerDatabase>;
  readonly #options: ProvisionerOptions;
  readonly #stores = new Map<string, Kysely<TenantDatabase>>();
  /** Owner connections to `database` tenants' databases, by tenant id. */
  readonly #databaseOwners = new Map<string, Kysely<unknown>>();
  /** The key the owner's own writes are bound with, read on first use. */
  #bindingKey: Promise<TenantBindingKey> | undefined;
  /** The key `database` tenants' passwords are derived from, read on first use. */
  #loginKey: Promise<TenantLoginKey> | undefined;

  constructor(options: ProvisionerOptions) {
    this.#options = options;
    this.owner = connect<OwnerDatabase>(options.ownerUrl, 4);
  }

  async createTenant(tenant: NewTenant): Promise<ProvisionedTenant> {
    const strategy = tenant.strategy ?? 'shared';
    const host = tenant.host ?? 'main';
    if (strategy === 'database') this.#hostUrl(host);
    const existing = await this.owner
      .selectFrom('control.tenants')
      .select(['id', 'status', 'strategy'])
      .where('slug', '=', tenant.slug)
      .executeTakeFirst();
    if (existing && existing.status !== 'failed' && existing.status !== 'provisioning') {
      throw new ProvisioningFailedError(tenant.slug, `a tenant with slug "${tenant.slug}" already exists`);
    }
    const row =
      existing ??
      (await this.owner
        .insertInto('control.tenants')
        .values({
          slug: tenant.slug,
          name: tenant.name,
          strategy,
          own_role: strategy === 'schema' || (tenant.ownRole ?? false),
          host,
          tier: tenant.tier ?? 'free',
          status: 'provisioning',
        })
        .returning(['id', 'status', 'strategy'])
        .executeTakeFirstOrThrow());
    try {
      await this.#provision(row.id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.owner
        .updateTable('control.tenants')
        .set({ status: 'failed', provisioning_error: message })
        .where('id', '=', row.id)
        .execute();
      throw new ProvisioningFailedError(tenant.slug, message, error);
    }
    return this.#tenant(row.id);
  }

  /** Makes a user (created on first use, matched by e-mail) a member, with a profile in the tenant's tables. */
  async addMember(tenant: ProvisionedTenant, member: NewMember): Promise<{ userId: string }> {
    const existing = await this.owner
      .selectFrom('control.users')
      .select('id')
      .where(sql<string>`lower(email)`, '=', member.email.toLowerCase())
      .executeTakeFirst();
    const user =
      existing ??
      (await this.owner
        .insertInto('control.users')
        .values({ email: member.email, name: member.name })
        .returning('id')
        .executeTakeFirstOrThrow());
    await this.owner
      .insertInto('control.memberships')
      .values({ tenant_id: tenant.id, user_id: user.id, role: member.role })
      .onConflict((conflict) => conflict.columns(['tenant_id', 'user_id']).doUpdateSet({ role: member.role }))
      .execute();
    await this.writeAs(tenant, (db) =>
      db
        .insertInto('users')
        .values({ tenant_id: tenant.id, id: user.id, email: member.email, name: member.name })
        .onConflict((conflict) => conflict.columns(['tenant_id', 'id']).doNothing())
        .execute(),
    );
    return { userId: user.id };
  }

  /** Issues an API key for a member; the key is returned once and only its hash is kept. */
  async issueApiKey(grant: { tenantId: string; userId: string; role: MemberRole }): Promise<string> {
    const { key, prefix, hash } = generateApiKey();
    await this.owner
      .insertInto('control.api_keys')
      .values({ tenant_id: grant.tenantId, user_id: grant.userId, role: grant.role, prefix, key_hash: hash })
      .execute();
    return key;
  }

  /** A tenant's newest `limit` API keys, without their hashes. */
  async listApiKeys(tenantId: string, limit: number): Promise<ApiKeySummary[]> {
    return this.owner
      .selectFrom('control.api_keys')
      .select(API_KEY_SUMMARY)
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /**
   * Revokes a key, of `tenantId` only when given (a tenant admin's request): another tenant's key
   * is then not found, exactly like a missing one. Revoking again keeps the first `revoked_at`.
   * Returns undefined when there is no such key. Processes that cached the key keep accepting it
   * for up to their registry's TTL.
   */
  async revokeApiKey(id: string, tenantId?: string): Promise<ApiKeySummary | undefined> {
    let query = this.owner
      .updateTable('control.api_keys')
      .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
      .where('id', '=', id);
    if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId);
    return query.returning(API_KEY_SUMMARY).executeTakeFirst();
  }

  /** Issues a key for a platform operator (scope `platform`); returned once, kept as a hash. */
  async issuePlatformKey(name: string): Promise<string> {
    const { key, prefix, hash } = generateApiKey();
    await this.owner.insertInto('control.platform_keys').values({ name, prefix, key_hash: hash }).execute();
    return key;
  }

  /** Every tenant, by slug. */
  async listTenants(): Promise<TenantSummary[]> {
    return this.#summaries().orderBy('slug').execute();
  }

  async findTenant(slug: string): Promise<TenantSummary | undefined> {
    return this.#summaries().where('slug', '=', slug).executeTakeFirst();
  }

  /**
   * Removes a tenant and every part of it: its rows in the shared tables, its schema, its database
   * and login, its own role, and its control-plane rows (members, keys). Users stay: they may
   * belong to other tenants. The control-plane row goes last, so a deletion that failed half way
   * is finished by deleting again. Returns false when there was no such tenant.
   */
  async deleteTenant(slug: string): Promise<boolean> {
    const tenant = await this.findTenant(slug);
    if (!tenant) return false;
    // Requests stop being served (within the registry's cache TTL) before the parts go.
    await this.owner
      .updateTable('control.tenants')
      .set({ status: 'suspended' })
      .where('id', '=', tenant.id)
      .where('status', '=', 'active')
      .execute();
    const role = tenantRoleName(tenant.id);
    if (tenant.strategy === 'shared') {
      await this.writeAs(tenant, async (db) => {
        // Tasks and comments go with their projects (on delete cascade).
        await db.deleteFrom('projects').where('tenant_id', '=', tenant.id).execute();
        await db.deleteFrom('users').where('tenant_id', '=', tenant.id).execute();
      });
    }
    if (tenant.strategy === 'schema') {
      await sql`drop schema if exists ${sql.id(tenantSchemaName(tenant.slug))} cascade`.execute(this.owner);
    }
    if (tenant.strategy === 'database') {
      await this.#forgetStore(tenant);
      const hostOwner = connect<unknown>(this.#hostUrl(tenant.host), 1);
      try {
        // Ending another login's sessions takes that login's privileges: as the role's creator
        // (CREATEROLE) we may grant them to ourselves, until the role is dropped below.
        const { rows } = await sql`select 1 from pg_roles where rolname = ${role}`.execute(hostOwner);
        if (rows.length > 0) await sql`grant ${sql.id(role)} to current_user`.execute(hostOwner);
        const { rows: exists } = await sql`select 1 from pg_database where datname = ${role}`.execute(hostOwner);
        if (exists.length > 0) {
          // No new session may start (the API's pools would reconnect); the tenant's own sessions,
          // such as the API's idle pooled connections, are ended; DROP waits for them to go, and
          // stops an autovacuum worker on the database itself. Not DROP ... WITH (FORCE): it
          // refuses when a worker is there, since a worker runs as a superuser.
          await sql`alter database ${sql.id(role)} with allow_connections false`.execute(hostOwner);
          await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${role} and usename = ${role}`.execute(hostOwner);
          await sql`drop database ${sql.id(role)}`.execute(hostOwner);
        }
        await sql`drop role if exists ${sql.id(role)}`.execute(hostOwner);
      } finally {
        await hostOwner.destroy();
      }
    }
    if (tenant.ownRole) await sql`drop role if exists ${sql.id(role)}`.execute(this.owner);
    await this.owner.deleteFrom('control.tenants').where('id', '=', tenant.id).execute();
    return true;
  }

  async setStatus(tenantId: string, status: 'active' | 'suspended'): Promise<void> {
    await this.owner.updateTable('control.tenants').set({ status }).where('id', '=', tenantId).execute();
  }

  /**
   * Runs `work` as the owner on the tenant's own tables, in a transaction bound to the tenant: the
   * tables force RLS on their owner too, so the owner writes a tenant's rows exactly as a request does.
   */
  async writeAs<T>(tenant: { id: string; slug: string; strategy: TenantStrategy }, work: (db: Kysely<TenantDatabase>) => Promise<T>): Promise<T> {
    const store = await this.#store(tenant);
    const key = await this.#key();
    const [binding] = sharedTenantBinding(tenant.id, tenant.strategy === 'database' ? key.forTenantDatabase(tenant.id) : key);
    return store.transaction().execute(async (trx) => {
      await trx.executeQuery(CompiledQuery.raw(binding!.text, [...binding!.values]));
      return work(trx);
    });
  }

  async close(): Promise<void> {
    // Stores are views (withSchema) of these connections; closing the connections closes them.
    await Promise.all([...this.#databaseOwners.values()].map((db) => db.destroy()));
    await this.owner.destroy();
  }

  #key(): Promise<TenantBindingKey> {
    this.#bindingKey ??= readTenantBindingKey(this.owner).catch((error: unknown) => {
      this.#bindingKey = undefined;
      throw error;
    });
    return this.#bindingKey;
  }

  #passwords(): Promise<TenantLoginKey> {
    this.#loginKey ??= readTenantLoginKey(this.owner).catch((error: unknown) => {
      this.#loginKey = undefined;
      throw error;
    });
    return this.#loginKey;
  }

  async #provision(tenantId: string): Promise<void> {
    const tenant = await this.#tenant(tenantId);
    const role = tenantRoleName(tenant.id);
    if (tenant.ownRole) {
      await ensureRole(this.owner, role);
      await sql`grant ${sql.id(ACCESS_ROLE)} to ${sql.id(role)}`.execute(this.owner);
      // The runtime login may switch to the role, but does not hold its privileges outside that switch.
      await sql`grant ${sql.id(role)} to ${sql.id(RUNTIME_ROLE)} with inherit false, set true`.execute(this.owner);
    }
    if (tenant.strategy === 'schema') {
      await migrateTenantTables(this.#options.ownerUrl, tenantSchemaName(tenant.slug), role);
    }
    if (tenant.strategy === 'database') await this.#provisionDatabase(tenant, role);
    await this.owner
      .updateTable('control.tenants')
      .set({
        status: 'active',
        provisioning_error: null,
        ...(tenant.strategy === 'shared' ? {} : { migrated_at: sql<Date>`now()`, migration_error: null }),
      })
      .where('id', '=', tenant.id)
      .where('status', 'in', ['provisioning', 'failed'])
      .execute();
  }

  async #provisionDatabase(tenant: ProvisionedTenant, login: string): Promise<void> {
    const { host } = await this.owner.selectFrom('control.tenants').select('host').where('id', '=', tenant.id).executeTakeFirstOrThrow();
    const hostUrl = this.#hostUrl(host);
    const password = (await this.#passwords()).password(tenant.id);
    const hostOwner = connect<unknown>(hostUrl, 1);
    const databaseUrl = withDatabase(hostUrl, login);
    try {
      for (const group of [ACCESS_ROLE]) await ensureRole(hostOwner, group);
      await setLoginPassword(hostOwner, login, password);
      await sql`grant ${sql.id(ACCESS_ROLE)} to ${sql.id(login)}`.execute(hostOwner);
      const { rows } = await sql`select 1 from pg_database where datname = ${login}`.execute(hostOwner);
      if (rows.length === 0) await sql`create database ${sql.id(login)}`.execute(hostOwner);
      await sql`revoke all on database ${sql.id(login)} from public`.execute(hostOwner);
      await sql`grant connect on database ${sql.id(login)} to ${sql.id(login)}`.execute(hostOwner);
    } finally {
      await hostOwner.destroy();
    }
    await migrateTenantTables(databaseUrl, SHARED_SCHEMA, ACCESS_ROLE);
    const databaseOwner = connect<unknown>(databaseUrl, 1);
    try {
      await installTenantDatabaseKeys(this.owner, databaseOwner, tenant.id);
    } finally {
      await databaseOwner.destroy();
    }
    // Where the database is and as whom, never the password: the runtime login can read this URL.
    const runtimeUrl = new URL(databaseUrl);
    runtimeUrl.username = login;
    runtimeUrl.password = '';
    runtimeUrl.searchParams.delete('password');
    await this.owner
      .insertInto('control.tenant_databases')
      .values({ tenant_id: tenant.id, database_name: login, login, connection_url: runtimeUrl.toString() })
      .onConflict((conflict) => conflict.column('tenant_id').doUpdateSet({ connection_url: runtimeUrl.toString() }))
      .execute();
  }

  async #tenant(tenantId: string): Promise<ProvisionedTenant> {
    const row = await this.owner
      .selectFrom('control.tenants')
      .select(['id', 'slug', 'name', 'strategy', 'own_role', 'tier'])
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return { id: row.id, slug: row.slug, name: row.name, strategy: row.strategy, ownRole: row.own_role, tier: row.tier };
  }

  async #store(tenant: { id: string; slug: string; strategy: TenantStrategy }): Promise<Kysely<TenantDatabase>> {
    const key = tenant.strategy === 'database' ? tenant.id : tenant.strategy === 'schema' ? tenant.slug : '@shared';
    let store = this.#stores.get(key);
    if (store) return store;
    if (tenant.strategy === 'database') {
      const { host } = await this.owner.selectFrom('control.tenants').select('host').where('id', '=', tenant.id).executeTakeFirstOrThrow();
      const ownerOfDatabase = connect<TenantDatabase>(withDatabase(this.#hostUrl(host), tenantRoleName(tenant.id)), 2);
      this.#databaseOwners.set(tenant.id, ownerOfDatabase as Kysely<unknown>);
      store = ownerOfDatabase.withSchema(SHARED_SCHEMA);
    } else {
      const schema = tenant.strategy === 'schema' ? tenantSchemaName(tenant.slug) : SHARED_SCHEMA;
      store = (this.owner as unknown as Kysely<TenantDatabase>).withSchema(schema);
    }
    this.#stores.set(key, store);
    return store;
  }

  async #forgetStore(tenant: { id: string }): Promise<void> {
    this.#stores.delete(tenant.id);
    await this.#databaseOwners.get(tenant.id)?.destroy();
    this.#databaseOwners.delete(tenant.id);
  }

  #summaries() {
    return this.owner
      .selectFrom('control.tenants')
      .select([
        'id',
        'slug',
        'name',
        'strategy',
        'own_role as ownRole',
        'tier',
        'status',
        'host',
        'migrated_at as migratedAt',
        'migration_error as migrationError',
      ]);
  }

  #hostUrl(host: string): string {
    try {
      return hostOwnerUrl(this.#options, host);
    } catch (error) {
      throw new ProvisioningFailedError(host, error instanceof Error ? error.message : String(error), error);
    }
  }
}

/** The owner URL of a Postgres host by name in the host map; `main` defaults to the server of `ownerUrl`. */
export function hostOwnerUrl(options: ProvisionerOptions, host: string): string {
  const url = options.hosts?.[host] ?? (host === 'main' ? options.ownerUrl : undefined);
  if (!url) throw new UnknownHostError(host, ['main', ...Object.keys(options.hosts ?? {})]);
  return url;
}

/** A connection as the owner role; close it with `destroy()`. */
export function connectAsOwner(ownerUrl: string, maxConnections = 4): Kysely<OwnerDatabase> {
  return connect<OwnerDatabase>(ownerUrl, maxConnections);
}

/** The same server and login as `url`, on another database. */
export function withDatabase(url: string, database: string): string {
  const target = new URL(url);
  target.pathname = `/${database}`;
  return target.toString();
}

/**
 * Creates a NOLOGIN role unless it exists. One that exists is left alone: altering it from
 * provisionings running side by side fails with "tuple concurrently updated", and creating it
 * from two at once is settled by ignoring the loser's duplicate.
 */
async function ensureRole(db: Kysely<any>, role: string): Promise<void> {
  const { rows } = await sql`select 1 from pg_roles where rolname = ${role}`.execute(db);
  if (rows.length > 0) return;
  try {
    await sql`create role ${sql.id(role)} nologin`.execute(db);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '42710' && code !== '23505') throw error;
  }
}
