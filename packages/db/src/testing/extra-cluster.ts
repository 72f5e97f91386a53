// A Postgres cluster of a test file's own, beside the one the vitest global setup starts for every
// file: for tests that restart the server, change cluster-wide settings or end every backend of the
// runtime login, which would disturb the other files on the shared cluster.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded-postgres.ts';
import { withClient } from '../connections.ts';
import { freePort } from '../free-port.ts';
import { prepareLocalDatabase, type DatabaseUrls } from '../local-database.ts';

export interface ExtraCluster extends DatabaseUrls {
  /** `host:port`, the key of the cluster's connection budget in `PoolManagerOptions.budgets`. */
  host: string;
  port: number;
  /** A superuser URL for `database` (default `postgres`). */
  superuserUrl(database?: string): string;
  /** Stops the server: Postgres' fast shutdown, which ends every session at once. */
  stop(): Promise<void>;
  /** Starts the server again on the same data and port. */
  restart(): Promise<void>;
  /** Stops the server if it runs and removes its files. */
  remove(): Promise<void>;
}

/**
 * Starts another embedded Postgres on a free port, with the `tenant_app` database prepared as an
 * operator would (owner login, migrations, runtime login). `persistent` keeps the data across
 * `stop()`, so that the cluster can be restarted.
 */
export async function startExtraCluster(options: { persistent: boolean }): Promise<ExtraCluster> {
  // Under the system temp folder: the `postgres` user must be able to reach it when we are root.
  const folder = mkdtempSync(path.join(os.tmpdir(), 'tenant-app-extra-'));
  chmodSync(folder, 0o755);
  const port = await freePort();
  const start = (dataDir: string) =>
    startEmbeddedPostgres({ dataDir, port, persistent: options.persistent, fast: true, maxConnections: 100 });
  let server: EmbeddedPostgresServer | undefined = await start(path.join(folder, 'data'));
  const { dataDir, url: superuserUrl } = server;
  const urls = await prepareLocalDatabase(server.url(), 'tenant_app');
  const stop = async () => {
    const running = server;
    server = undefined;
    await running?.stop();
  };
  return {
    ...urls,
    host: `127.0.0.1:${port}`,
    port,
    superuserUrl,
    stop,
    async restart() {
      if (!server) server = await start(dataDir);
    },
    async remove() {
      await stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Runs one statement as a superuser on a short-lived connection (it never outlives a restart). */
export async function superuserQuery<Row extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  return withClient(url, async (client) => (await client.query<Row>(text, values)).rows);
}
