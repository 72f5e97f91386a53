import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** A Kysely instance on a small pool of `url`'s login; close it with `destroy()`. */
export function connect<DB>(url: string, max: number): Kysely<DB> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle owner connection that dies (Postgres restarted, a database dropped) is simply replaced
  // on next use; without a listener pg would raise it as an uncaught exception.
  pool.on('error', () => undefined);
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Runs `work` on a plain pg client of `url`'s login, opened for it and closed after. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` on one connection of `url`'s login, opened for it and closed after. */
export async function withConnection<T>(url: string, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = connect<unknown>(url, 1);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}
