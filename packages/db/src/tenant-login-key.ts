import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { withConnection } from './connections.ts';
import { MissingLoginKeyError } from './errors.ts';
import { keySecret } from './key-secret.ts';

/**
 * The secret that every `database` tenant's login password is derived from: the password of
 * `tenant_<id>` is HMAC-SHA256(secret, "tenant-login|v1|<id>"). The control plane keeps where a
 * tenant database is (host, port, database, login) and no password, so nothing the runtime login
 * can call or read holds one; the app derives it when it opens a connection, with no round trip.
 *
 * Not the binding key: Postgres keeps one password per role, so a password changes for every
 * client at once, while binding keys rotate without a cut-over (old tokens verify until their key
 * is deleted). Deriving passwords from the binding key would turn each of its rotations into a
 * password cut-over for every database tenant. The secret is a private field: logs,
 * `JSON.stringify` and `util.inspect` show the id only.
 */
export class TenantLoginKey {
  readonly id: number;
  readonly #secret: Buffer;

  constructor(id: number, secret: Uint8Array) {
    this.#secret = keySecret('login', id, secret);
    this.id = id;
  }

  /** The password of a `database` tenant's own login. */
  password(tenantId: string): string {
    return createHmac('sha256', this.#secret).update(`tenant-login|v1|${tenantId}`, 'utf8').digest('base64url');
  }

  /** `url` (a tenant's database as its login, without a password, as the control plane keeps it) with the password. */
  connectionUrl(tenantId: string, url: string): string {
    const target = new URL(url);
    target.password = this.password(tenantId);
    return target.toString();
  }
}

/** The key the app derives passwords with: the newest one, read once at start as the owner. */
export function loadTenantLoginKey(ownerUrl: string): Promise<TenantLoginKey> {
  return withConnection(ownerUrl, readTenantLoginKey);
}

/** `loadTenantLoginKey` on a connection the caller holds as the owner. */
export async function readTenantLoginKey(owner: Kysely<any>): Promise<TenantLoginKey> {
  const { rows } = await sql<{ id: number; secret: Buffer }>`
    select id, secret from control.tenant_login_keys order by id desc limit 1`
    .execute(owner)
    .catch((error: unknown) => {
      // undefined_table: a database migrated before login keys existed.
      if ((error as { code?: string }).code === '42P01') return { rows: [] };
      throw error;
    });
  const row = rows[0];
  if (!row) throw new MissingLoginKeyError();
  return new TenantLoginKey(row.id, row.secret);
}

/**
 * Creates a login with `password` or resets the password of one that exists. The statement
 * carries a SCRAM-SHA-256 verifier, never the password: Postgres stores a verifier as it comes,
 * and `ALTER ROLE` statements end up in server logs (`log_statement = 'ddl'`).
 */
export async function setLoginPassword(db: Kysely<any>, login: string, password: string): Promise<void> {
  const { rows } = await sql`select 1 from pg_roles where rolname = ${login}`.execute(db);
  const verb = sql.raw(rows.length > 0 ? 'alter' : 'create');
  await sql`${verb} role ${sql.id(login)} login password ${sql.lit(scramVerifier(password))}`.execute(db);
}

/** What Postgres stores for a SCRAM-SHA-256 password (RFC 5802/7677), as libpq's PQencryptPasswordConn builds it. */
function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  // Our passwords are base64url, which SASLprep leaves as it is.
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
