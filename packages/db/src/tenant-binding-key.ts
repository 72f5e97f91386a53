import { createHmac, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { withConnection } from './connections.ts';
import { ClockSkewError, MissingBindingKeyError } from './errors.ts';
import { keySecret } from './key-secret.ts';
import { BINDING_SCHEMA } from './roles.ts';

/**
 * How long after signing a token still binds a transaction: the replay limit. A token never leaves
 * its own transaction inside Postgres (settings are transaction-local and travel as bound
 * parameters, which `pg_stat_activity` does not show), so a replay needs one copied from outside
 * the database — a statement log with parameters, a packet capture — and is bounded by this.
 * It must cover the wait for a connection (`DB_ACQUIRE_TIMEOUT_MS`, 5 s by default) plus the
 * clock difference between the app and Postgres; the policies compare it with the transaction's
 * start, so a long transaction is not cut off half way.
 */
export const TENANT_TOKEN_LIFETIME_SECONDS = 60;

/** The clock difference between the app and Postgres that `readTenantBindingKey` refuses. */
const MAX_CLOCK_SKEW_SECONDS = TENANT_TOKEN_LIFETIME_SECONDS / 4;

/**
 * The secret that signs tenant bindings: HMAC-SHA256, checked by `tenant_binding.current_tenant_id()`
 * in the database with the same key, which only the owner can read. The secret is a private field:
 * logs, `JSON.stringify` and `util.inspect` show the id only.
 */
export class TenantBindingKey {
  readonly id: number;
  readonly #secret: Buffer;

  constructor(id: number, secret: Uint8Array) {
    this.#secret = keySecret('binding', id, secret);
    this.id = id;
  }

  /**
   * The key that a `database` tenant's own database holds instead of this one, under the same id:
   * that database (its backups, its host) then holds nothing that signs for any other tenant.
   */
  forTenantDatabase(tenantId: string): TenantBindingKey {
    return new TenantBindingKey(this.id, tenantDatabaseSecret(this.#secret, tenantId));
  }

  /**
   * The token for a transaction whose `app.tenant_id` is `tenantId` and whose `role` setting is
   * `role` ('none' without SET ROLE): `<key id>.<expiry, Unix seconds>.<HMAC, hex>`.
   */
  token(tenantId: string, role: string, nowMs = Date.now()): string {
    return this.#signed(nowMs, (expires) => `v1|${tenantId}|${role}|${this.id}|${expires}`);
  }

  /**
   * What `control.resolve_member` asks for before it says anything of a user: proof that this app,
   * having verified a JWT of `userId`, looks up that user's membership of `tenantRef`. A user id is
   * no secret, so without it SQL injected into any request could read the record of every tenant
   * whose members' ids it knew. Same form as `token`; the message is of another kind (`member-v1`),
   * so neither passes for the other.
   */
  memberLookupToken(tenantRef: string, userId: string, nowMs = Date.now()): string {
    return this.#signed(nowMs, (expires) => `member-v1|${this.id}|${expires}|${userId}|${tenantRef}`);
  }

  #signed(nowMs: number, message: (expires: number) => string): string {
    const expires = Math.floor(nowMs / 1000) + TENANT_TOKEN_LIFETIME_SECONDS;
    return `${this.id}.${expires}.${this.#mac(message(expires)).toString('hex')}`;
  }

  #mac(message: string): Buffer {
    return createHmac('sha256', this.#secret).update(message, 'utf8').digest();
  }
}

/**
 * The key the app signs with: the newest one of the main database, read once at start as the
 * owner (the runtime login cannot read it). Refuses to return one when the database's clock and
 * ours differ so much that tokens would expire early or live long.
 */
export function loadTenantBindingKey(ownerUrl: string): Promise<TenantBindingKey> {
  return withConnection(ownerUrl, readTenantBindingKey);
}

/** `loadTenantBindingKey` on a connection the caller holds as the owner. */
export async function readTenantBindingKey(owner: Kysely<any>): Promise<TenantBindingKey> {
  const { rows } = await sql<{ id: number; secret: Buffer; now: string }>`
    select key.id, key.secret, extract(epoch from clock_timestamp())::text as now
    from (select 1) as one left join ${sql.table(`${BINDING_SCHEMA}.keys`)} as key on true
    order by key.id desc limit 1`.execute(owner);
  const row = rows[0]!;
  const skew = Number(row.now) - Date.now() / 1000;
  if (Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) throw new ClockSkewError(skew, MAX_CLOCK_SKEW_SECONDS);
  if (row.id === null) throw new MissingBindingKeyError();
  return new TenantBindingKey(row.id, row.secret);
}

/** Creates the database's first binding key, unless it has one (or predates the binding schema). */
export async function ensureTenantBindingKey(owner: Kysely<any>): Promise<void> {
  const keys = sql.table(`${BINDING_SCHEMA}.keys`);
  const { rows } = await sql<{ present: boolean }>`select to_regclass(${`${BINDING_SCHEMA}.keys`}) is not null as present`.execute(owner);
  if (!rows[0]!.present) return;
  await sql`insert into ${keys} (secret) select ${randomBytes(32)} where not exists (select from ${keys})`.execute(owner);
}

/**
 * Gives a `database` tenant's own database the derivations of every key of the main database, and
 * only those: run after its migrations by provisioning and by every migration run, which is how a
 * rotated key reaches it (see the README).
 */
export async function installTenantDatabaseKeys(mainOwner: Kysely<any>, tenantDatabaseOwner: Kysely<any>, tenantId: string): Promise<void> {
  const { rows } = await sql<{ id: number; secret: Buffer }>`select id, secret from ${sql.table(`${BINDING_SCHEMA}.keys`)}`.execute(
    mainOwner,
  );
  const keys = sql.table(`${BINDING_SCHEMA}.keys`);
  await tenantDatabaseOwner.transaction().execute(async (trx) => {
    await sql`delete from ${keys} where id <> all(${rows.map((row) => row.id)}::int[])`.execute(trx);
    for (const row of rows) {
      await sql`insert into ${keys} (id, secret) values (${row.id}, ${tenantDatabaseSecret(row.secret, tenantId)})
                on conflict (id) do update set secret = excluded.secret`.execute(trx);
    }
  });
}

function tenantDatabaseSecret(secret: Uint8Array, tenantId: string): Buffer {
  return createHmac('sha256', secret).update(`tenant-database|${tenantId}`, 'utf8').digest();
}
