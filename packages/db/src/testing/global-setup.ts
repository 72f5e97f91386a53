import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded-postgres.ts';
import { prepareLocalDatabase } from '../local-database.ts';
import { freePort } from '../free-port.ts';
import { TEMPLATE_DATABASE } from './provided-context.ts';


let server: EmbeddedPostgresServer | undefined;
let folder: string | undefined;

/**
 * Starts one real Postgres for the whole run and migrates a template database; each test file
 * then clones its own database from the template (`createTestDatabase`), which takes milliseconds.
 */
export async function setup(project: TestProject): Promise<void> {
  // Under the system temp folder: the `postgres` user must be able to reach it when we are root.
  folder = mkdtempSync(path.join(os.tmpdir(), 'tenant-app-test-'));
  chmodSync(folder, 0o755);
  server = await startEmbeddedPostgres({
    dataDir: path.join(folder, 'data'),
    port: await freePort(),
    persistent: false,
    fast: true,
    maxConnections: 300,
  });
  await prepareLocalDatabase(server.url(), TEMPLATE_DATABASE);
  project.provide('postgresSuperuserUrl', server.url());
  project.provide('postgresDataDir', server.dataDir);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
}
