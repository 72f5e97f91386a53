import path from 'node:path';
import { migrateToLatest, prepareLocalDatabase, startEmbeddedPostgres } from '@tenant-app/db';
import type { Env } from './env.ts';

export interface OpenPostgresOptions {
  /**
   * Bring the control plane and the shared tables of a DATABASE_URL database up to date. An
   * embedded database is always prepared and migrated, as `npm start` does: this app owns it.
   * @default false
   */
  migrate?: boolean;
}

export interface AppPostgres {
  /** The owner login: migrations, provisioning. */
  ownerUrl: string;
  /** The runtime login the API serves requests with. */
  runtimeUrl: string;
  /** Owner logins of the hosts of `database` tenants, by name; `main` is the server of `ownerUrl`. */
  hosts: Record<string, string>;
  /** Where the data lives, for people: "embedded Postgres on port …" or the DATABASE_URL host. */
  description: string;
  /** Stops the embedded server if this process started it. */
  close(): Promise<void>;
}

/**
 * The Postgres of `npm start` and of the CLIs: DATABASE_URL's server, or else the embedded one for
 * DATA_DIR, which is started here unless another process (`npm start` in another terminal)
 * already runs it, in which case we connect to that one.
 */
export async function openPostgres(env: Env, options: OpenPostgresOptions = {}): Promise<AppPostgres> {
  const hosts = env.DATABASE_HOSTS ?? {};
  if (env.DATABASE_URL && env.DATABASE_RUNTIME_URL) {
    if (options.migrate) await migrateToLatest(env.DATABASE_URL);
    return {
      ownerUrl: env.DATABASE_URL,
      runtimeUrl: env.DATABASE_RUNTIME_URL,
      hosts,
      description: `Postgres at ${new URL(env.DATABASE_URL).host}`,
      close: async () => {},
    };
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(env.DATA_DIR, 'postgres'),
    port: env.EMBEDDED_POSTGRES_PORT,
    reuseRunning: true,
  });
  try {
    const urls = await prepareLocalDatabase(embedded.url(), 'tenant_app');
    const started = embedded.reused ? 'embedded Postgres (started by another process)' : 'embedded Postgres';
    return {
      ...urls,
      hosts,
      description: `${started} on port ${embedded.port}, data in ${embedded.dataDir}`,
      close: () => embedded.stop(),
    };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}
